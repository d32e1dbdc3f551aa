-- publisher_option_values (warning) — records using an option value the target does not have yet.
--
-- Protects against: a push failing with "value out of range" on a standard
-- option set. Some source values have no standard option: incident
-- prioritycode has 1 High, 2 Normal, 3 Low, so a `Critical` priority is
-- translated into a new option in the publisher's range (100000000 and up),
-- which must be inserted into the target (InsertOptionValue, `ferry plan
-- --apply`) before any record uses it (SPEC §9 incident, §8.4 "Critical
-- priority"). Values of columns ferry creates itself (custom columns) come
-- with their column and are not reported.
--
-- Which values need inserting: a map.optionset target_value that the
-- target column's shipped options (map.target_options, from the reference
-- schema) do not include, in the publisher range (100000000 and up; lower
-- unknown values are typos, reported by invalid_option_translation).
-- Option sets Microsoft ships in a solution publisher's range (Field Service
-- msdyn_systemstatus 690970000–690970005, SPEC §9) are among the shipped
-- options and are not reported.
-- One finding per staged record holding such a value (a cell of
-- meta.stg_cells equal to it).

WITH

publisher_options AS (
    SELECT
        o.source_object,
        o.target_table,
        o.target_column,
        o.target_value,
        min(o.source_field)                            AS source_field,
        string_agg(DISTINCT o.source_value, ', ')      AS source_values,
        min(o.target_label)                            AS target_label
    FROM map.optionset AS o
    WHERE o.target_value >= 100000000
      AND EXISTS (
            SELECT 1 FROM map.target_options AS t
            WHERE t.table_name = o.target_table AND t.column_name = o.target_column
          )
      AND NOT EXISTS (
            SELECT 1 FROM map.target_options AS t
            WHERE t.table_name = o.target_table AND t.column_name = o.target_column
              AND t.value = o.target_value
          )
    GROUP BY 1, 2, 3, 4
)

SELECT
    'warning'                                 AS severity,
    v.source_object                           AS object,
    v.record_id,
    o.source_field                            AS field,
    'publisher_option_values'                 AS rule,
    v.source_object || '.' || o.source_field || ' "' || o.source_values || '" becomes ' || v.target_table || '.'
        || v.column_name || ' = ' || v.value || coalesce(' (' || o.target_label || ')', '')
        || ', an option in the publisher range that the target does not have out of the box; '
        || 'insert it before the push (`ferry plan --apply` inserts it), or map the value to an existing option in mapping/optionsets.csv.'
                                              AS message
FROM meta.stg_cells AS v
JOIN publisher_options AS o
  ON o.target_table = v.target_table
 AND o.target_column = v.column_name
 AND o.source_object = v.source_object
 AND v.value = o.target_value::VARCHAR
