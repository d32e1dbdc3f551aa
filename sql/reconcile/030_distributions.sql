-- reconcile.distributions — picklist distributions, source against target.
--
-- For every option-set translation of mapping/optionsets.csv (map.optionset:
-- source object and field → target table and column), one row per target
-- value: the source values that translate to it (the mapping file read
-- backwards), how many staged rows carry those source values in
-- ServiceTracker (read from raw, not from the transform), how many hold the
-- value in stg, how many of those the audit says are in the target, and how
-- many the read-back found holding it. Source values the file does not
-- translate (and empty ones) form the row whose target_value is NULL.
--
-- status: match        — the target holds exactly what the source translates to
--         explained    — counts differ, and every record whose target value is
--                        not its translation carries a validation finding on
--                        that field (an unmapped value, waived or not)
--         differs      — counts differ without such a finding: look at the records
--                        (reconcile.option_mismatches)
--         not read back — the table was not read back (run `ferry verify`)

CREATE OR REPLACE TABLE reconcile.option_mismatches AS
SELECT
    o.source_object, o.source_field, o.target_table, o.target_column,
    o.record_id, o.guid, o.source_value, o.translated_value, o.staged_value, o.target_value,
    EXISTS (
        SELECT 1 FROM "check".findings AS f
        WHERE f.object = o.source_object AND f.record_id = o.record_id AND f.field = o.source_field
    ) AS has_finding
FROM reconcile.option_records AS o
JOIN reconcile.records AS r
  ON r.target_table = o.target_table AND r.guid = o.guid AND r.sent_as = 'record'
WHERE r.in_target AND o.target_value IS DISTINCT FROM o.translated_value;

CREATE OR REPLACE TABLE reconcile.distributions AS
WITH rows AS (
    SELECT o.*, r.expected_in_target, r.in_target
    FROM reconcile.option_records AS o
    JOIN reconcile.records AS r
      ON r.target_table = o.target_table AND r.guid = o.guid AND r.sent_as = 'record'
),
mappings AS (
    SELECT DISTINCT r.source_object, r.source_field, r.target_table, r.target_column,
           coalesce(t.read_back, false) AS read_back
    FROM rows AS r
    LEFT JOIN reconcile.read_tables AS t USING (target_table)
),
per_value AS (
    SELECT source_object, source_field, target_table, target_column, translated_value AS target_value,
           count(*) AS source_records, 0 AS staged, 0 AS expected_in_target, 0 AS in_target
    FROM rows GROUP BY ALL
    UNION ALL
    SELECT source_object, source_field, target_table, target_column, staged_value, 0, count(*), 0, 0
    FROM rows GROUP BY ALL
    UNION ALL
    SELECT source_object, source_field, target_table, target_column, translated_value, 0, 0, count(*), 0
    FROM rows WHERE expected_in_target GROUP BY ALL
    UNION ALL
    SELECT source_object, source_field, target_table, target_column, target_value, 0, 0, 0, count(*)
    FROM rows WHERE in_target GROUP BY ALL
),
totals AS (
    SELECT source_object, source_field, target_table, target_column, target_value,
           CAST(sum(source_records) AS BIGINT)     AS source_records,
           CAST(sum(staged) AS BIGINT)             AS staged,
           CAST(sum(expected_in_target) AS BIGINT) AS expected_in_target,
           CAST(sum(in_target) AS BIGINT)          AS in_target
    FROM per_value
    GROUP BY ALL
),
labels AS (
    SELECT source_object, source_field, target_table, target_column, target_value,
           any_value(target_label) AS target_label,
           string_agg(DISTINCT source_value, ', ' ORDER BY source_value) AS mapped_from
    FROM map.optionset
    GROUP BY ALL
),
untranslated AS (
    SELECT source_object, source_field, target_table, target_column,
           string_agg(DISTINCT coalesce(source_value, '(empty)'), ', ' ORDER BY coalesce(source_value, '(empty)')) AS values_seen
    FROM rows
    WHERE translated_value IS NULL
    GROUP BY ALL
),
unexplained AS (
    SELECT source_object, source_field, target_table, target_column,
           count(*) AS mismatched,
           count(*) FILTER (NOT has_finding) AS unexplained
    FROM reconcile.option_mismatches
    GROUP BY ALL
)
SELECT
    t.source_object,
    t.source_field,
    t.target_table,
    t.target_column,
    t.target_value,
    CASE WHEN t.target_value IS NULL THEN '(no translation)' ELSE coalesce(l.target_label, '(not in the mapping file)') END AS target_label,
    CASE WHEN t.target_value IS NULL THEN u.values_seen ELSE l.mapped_from END AS source_values,
    t.source_records,
    t.staged,
    t.expected_in_target,
    CASE WHEN m.read_back THEN t.in_target END AS in_target,
    CASE WHEN m.read_back THEN t.in_target - t.expected_in_target END AS difference,
    CASE
        WHEN NOT m.read_back                          THEN 'not read back'
        WHEN t.in_target = t.expected_in_target      THEN 'match'
        WHEN coalesce(x.unexplained, 0) = 0
         AND coalesce(x.mismatched, 0) > 0            THEN 'explained'
        ELSE 'differs'
    END AS status
FROM totals AS t
JOIN mappings AS m USING (source_object, source_field, target_table, target_column)
LEFT JOIN labels AS l
       ON l.source_object = t.source_object AND l.source_field = t.source_field
      AND l.target_table = t.target_table AND l.target_column = t.target_column
      AND l.target_value = t.target_value
LEFT JOIN untranslated AS u USING (source_object, source_field, target_table, target_column)
LEFT JOIN unexplained AS x USING (source_object, source_field, target_table, target_column)
ORDER BY t.source_object, t.source_field, t.target_table, t.target_column, t.target_value NULLS LAST;
