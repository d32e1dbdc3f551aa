-- invalid_option_translation (error) — mapping/optionsets.csv points at an option the target column does not have.
--
-- Protects against: a typo in the option-set translations (statuscode 55
-- for 5, a status paired with the wrong state) that Dataverse would refuse
-- record by record at push time ("value out of range", invalid state/status
-- pair). Values below 100000000 must be one of the column's shipped options
-- (map.target_options, from the reference schema, SPEC §9); publisher-range
-- values are new options, reported by publisher_option_values instead. A
-- statuscode must belong to the statecode the same source value gets.
-- One finding per translation line (record_id = the source value).
-- Fix: correct the line of mapping/optionsets.csv named in the message.

WITH

unknown AS (
    SELECT o.*, 'is not an option of ' || o.target_table || '.' || o.target_column AS problem
    FROM map.optionset AS o
    WHERE o.target_value < 100000000
      AND EXISTS (SELECT 1 FROM map.target_options AS t
                  WHERE t.table_name = o.target_table AND t.column_name = o.target_column)
      AND NOT EXISTS (SELECT 1 FROM map.target_options AS t
                      WHERE t.table_name = o.target_table AND t.column_name = o.target_column
                        AND t.value = o.target_value)
),

mismatched_status AS (
    -- statuscode whose state differs from the statecode of the same source value
    SELECT s.*, 'belongs to state ' || t.state || ', but the same value gets statecode ' || c.target_value AS problem
    FROM map.optionset AS s
    JOIN map.optionset AS c
      ON c.source_object = s.source_object AND c.source_field = s.source_field
     AND c.source_value = s.source_value AND c.target_table = s.target_table
     AND c.target_column = 'statecode'
    JOIN map.target_options AS t
      ON t.table_name = s.target_table AND t.column_name = 'statuscode' AND t.value = s.target_value
    WHERE s.target_column = 'statuscode' AND t.state IS DISTINCT FROM c.target_value
)

SELECT
    'error'                                       AS severity,
    source_object                                 AS object,
    source_value                                  AS record_id,
    source_field                                  AS field,
    'invalid_option_translation'                  AS rule,
    format('mapping/optionsets.csv line {}: {}.{} "{}" → {}.{} = {} {}; use a value the target has (see map.target_options)',
           line, source_object, source_field, source_value, target_table, target_column, target_value, problem) AS message
FROM (SELECT * FROM unknown UNION ALL SELECT * FROM mismatched_status)
