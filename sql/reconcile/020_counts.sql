-- Counts through every stage (SPEC §1, §11), per source object and per
-- target table.
--
-- One source object may feed several target tables (contracts → contract
-- and the PM-routine note; attachments, notes, billing history and the
-- dispatch lists → annotation), so the source side is counted per object
-- and the target side per table, with reconcile.flows linking the two.
--
-- reconcile.objects  one row per ServiceTracker object: export manifest
--                    rows, landed, quarantined, unchanged (delta extracts),
--                    current records in raw, and where each went (own stg
--                    rows, folded into another record, excluded by a
--                    transform rule), plus what its stg rows became.
-- reconcile.tables   one row per stg table: staged rows, push outcomes,
--                    skipped, never pushed, expected in the target, found
--                    there, missing, unexpected.
-- reconcile.flows    one row per (source object, target table).
-- reconcile.stages   the same counts as a long table (stage, scope, name,
--                    records) for charts and ad-hoc SQL; name '(all)' is
--                    the total of a stage.

CREATE OR REPLACE TABLE reconcile.objects AS
WITH manifest AS (
    SELECT object,
           count(*)                          AS extracts,
           CAST(sum(source_rows) AS BIGINT)                  AS source_rows,
           CAST(sum(landed_rows) AS BIGINT)                  AS landed_rows,
           CAST(sum(quarantined_rows) AS BIGINT)             AS quarantined_rows,
           CAST(sum(coalesce(unchanged_rows, 0)) AS BIGINT)  AS unchanged_rows
    FROM meta.extract_objects
    GROUP BY object
),
current_records AS (
    SELECT object, count(*) AS current_records
    FROM reconcile.source_records
    GROUP BY object
),
own_rows AS (
    SELECT DISTINCT source_object AS object, record_id FROM reconcile.staged_records
),
placed AS (
    SELECT
        r.object,
        count(*) FILTER (o.record_id IS NOT NULL)                     AS in_stg,
        count(*) FILTER (f.record_id IS NOT NULL)                     AS folded,
        count(*) FILTER (e.record_id IS NOT NULL)                     AS excluded,
        count(*) FILTER (o.record_id IS NULL AND f.record_id IS NULL AND e.record_id IS NULL) AS unaccounted,
        count(*) FILTER ((o.record_id IS NOT NULL)::INT + (f.record_id IS NOT NULL)::INT
                         + (e.record_id IS NOT NULL)::INT > 1)        AS in_several_places
    FROM reconcile.source_records AS r
    LEFT JOIN own_rows AS o ON o.object = r.object AND o.record_id = r.record_id
    LEFT JOIN (SELECT DISTINCT object, record_id FROM map.folded) AS f
           ON f.object = r.object AND f.record_id = r.record_id
    LEFT JOIN (SELECT DISTINCT object, record_id FROM map.excluded) AS e
           ON e.object = r.object AND e.record_id = r.record_id
    GROUP BY r.object
),
pushed AS (
    SELECT source_object AS object,
           string_agg(DISTINCT target_table, ', ' ORDER BY target_table) AS target_tables,
           count(*)                                        AS stg_rows,
           count(*) FILTER (category = 'pushed')           AS pushed_rows,
           count(*) FILTER (category = 'failed')           AS failed_rows,
           count(*) FILTER (category = 'skipped')          AS skipped_rows,
           count(*) FILTER (category = 'not_pushed')       AS not_pushed_rows,
           count(*) FILTER (in_target)                     AS rows_in_target
    FROM reconcile.records
    GROUP BY source_object
)
SELECT
    coalesce(m.object, c.object)                     AS object,
    coalesce(m.extracts, 0)                          AS extracts,
    coalesce(m.source_rows, 0)                       AS source_rows,
    coalesce(m.landed_rows, 0)                       AS landed_rows,
    coalesce(m.quarantined_rows, 0)                  AS quarantined_rows,
    coalesce(m.unchanged_rows, 0)                    AS unchanged_rows,
    coalesce(c.current_records, 0)                   AS current_records,
    coalesce(p.in_stg, 0)                            AS in_stg,
    coalesce(p.folded, 0)                            AS folded,
    coalesce(p.excluded, 0)                          AS excluded,
    coalesce(p.unaccounted, 0)                       AS unaccounted,
    coalesce(p.in_several_places, 0)                 AS in_several_places,
    u.target_tables,
    coalesce(u.stg_rows, 0)                          AS stg_rows,
    coalesce(u.pushed_rows, 0)                       AS pushed_rows,
    coalesce(u.failed_rows, 0)                       AS failed_rows,
    coalesce(u.skipped_rows, 0)                      AS skipped_rows,
    coalesce(u.not_pushed_rows, 0)                   AS not_pushed_rows,
    coalesce(u.rows_in_target, 0)                    AS rows_in_target
FROM manifest AS m
FULL JOIN current_records AS c ON c.object = m.object
LEFT JOIN placed AS p ON p.object = coalesce(m.object, c.object)
LEFT JOIN pushed AS u ON u.object = coalesce(m.object, c.object);

CREATE OR REPLACE TABLE reconcile.tables AS
WITH staged AS (
    SELECT target_table,
           any_value(sent_as)                                          AS sent_as,
           string_agg(DISTINCT source_object, ', ' ORDER BY source_object) AS source_objects,
           count(*)                                                    AS staged,
           count(*) FILTER (category = 'pushed' AND outcome = 'created')   AS created,
           count(*) FILTER (category = 'pushed' AND outcome = 'updated')   AS updated,
           count(*) FILTER (category = 'pushed' AND outcome = 'unchanged') AS unchanged,
           count(*) FILTER (category = 'pushed')                       AS pushed,
           count(*) FILTER (category = 'failed')                       AS failed,
           count(*) FILTER (category = 'skipped')                      AS skipped,
           count(*) FILTER (category = 'not_pushed')                   AS not_pushed,
           count(*) FILTER (expected_in_target)                        AS expected_in_target,
           count(*) FILTER (expected_in_target AND in_target)          AS present,
           count(*) FILTER (expected_in_target AND NOT in_target)      AS missing,
           count(*) FILTER (expected_in_target AND in_target IS NULL)  AS not_read,
           count(*) FILTER (in_target)                                 AS staged_in_target
    FROM reconcile.records
    GROUP BY target_table
),
target AS (
    SELECT target_table, count(*) AS target_records
    FROM reconcile.target_records
    GROUP BY target_table
),
unexpected AS (
    SELECT target_table, count(*) AS unexpected
    FROM reconcile.unexpected
    GROUP BY target_table
)
SELECT
    s.*,
    coalesce(rt.read_back, false)          AS read_back,
    rt.read_at,
    coalesce(t.target_records, 0)          AS target_records,
    coalesce(u.unexpected, 0)              AS unexpected
FROM staged AS s
LEFT JOIN reconcile.read_tables AS rt USING (target_table)
LEFT JOIN target AS t USING (target_table)
LEFT JOIN unexpected AS u USING (target_table);

CREATE OR REPLACE TABLE reconcile.flows AS
SELECT
    s.source_object,
    s.target_table,
    count(*)                                                   AS stg_rows,
    count(*) FILTER (r.record_id IS NOT NULL)                  AS from_source_records,
    count(*) FILTER (r.record_id IS NULL)                      AS derived_rows,
    count(*) FILTER (s.category = 'pushed')                    AS pushed,
    count(*) FILTER (s.category = 'failed')                    AS failed,
    count(*) FILTER (s.category = 'skipped')                   AS skipped,
    count(*) FILTER (s.category = 'not_pushed')                AS not_pushed,
    count(*) FILTER (s.in_target)                              AS in_target
FROM reconcile.records AS s
LEFT JOIN reconcile.source_records AS r
       ON r.object = s.source_object AND r.record_id = s.record_id
GROUP BY ALL;

CREATE OR REPLACE TABLE reconcile.stages AS
WITH per_object AS (
    UNPIVOT (
        SELECT object AS name, source_rows, landed_rows, quarantined_rows, unchanged_rows,
               current_records, in_stg, folded, excluded
        FROM reconcile.objects
    )
    ON source_rows, landed_rows, quarantined_rows, unchanged_rows, current_records, in_stg, folded, excluded
    INTO NAME measure VALUE records
),
per_table AS (
    UNPIVOT (
        SELECT target_table AS name, staged, created, updated, unchanged, failed, skipped,
               not_pushed, present, missing, unexpected
        FROM reconcile.tables
    )
    ON staged, created, updated, unchanged, failed, skipped, not_pushed, present, missing, unexpected
    INTO NAME measure VALUE records
),
stage_names(stage_no, measure, scope, stage, explanation) AS (
    VALUES
        (1,  'source_rows',      'object', 'source rows',         'rows the export manifest (or API) reported, over every extract'),
        (2,  'landed_rows',      'object', 'landed',              'rows written to landing Parquet'),
        (3,  'quarantined_rows', 'object', 'quarantined',         'rows the reader rejected, each with its reason in raw._quarantine'),
        (4,  'unchanged_rows',   'object', 'unchanged (delta)',   'delta extracts: rows not landed again because they had not changed'),
        (5,  'current_records',  'object', 'staged',              'current source records in raw (newest version, deletions left out)'),
        (6,  'in_stg',           'object', 'transformed',         'source records with a stg row of their own'),
        (7,  'folded',           'object', 'folded',              'source records that became part of another record (map.folded)'),
        (8,  'excluded',         'object', 'excluded',            'source records a transform left out, with its rule (map.excluded; excluded_records findings)'),
        (9,  'staged',           'table',  'stg rows',            'rows of stg.* to load'),
        (10, 'created',          'table',  'pushed: created',     'latest push outcome created'),
        (11, 'updated',          'table',  'pushed: updated',     'latest push outcome updated'),
        (12, 'unchanged',        'table',  'pushed: unchanged',   'latest push outcome unchanged (already as staged)'),
        (13, 'failed',           'table',  'failed',              'latest push outcome failed, with Dataverse''s error'),
        (14, 'skipped',          'table',  'skipped',             'not a record of its own, or rolled back, each with its reason'),
        (15, 'not_pushed',       'table',  'never pushed',        'no push run has an outcome for the row'),
        (16, 'present',          'table',  'in the target',       'found by the read-back (dv.*) among the rows expected there'),
        (17, 'missing',          'table',  'missing in target',   'expected in the target, not found by the read-back'),
        (18, 'unexpected',       'table',  'unexpected in target','in the target under a ferry record id, not accounted for by a staged row')
),
long AS (
    SELECT measure, name, records FROM per_object
    UNION ALL
    SELECT measure, name, records FROM per_table
)
SELECT n.stage_no, n.stage, n.scope, l.name, l.records, n.explanation
FROM long AS l
JOIN stage_names AS n USING (measure)
UNION ALL
SELECT n.stage_no, n.stage, n.scope, '(all)' AS name, CAST(sum(l.records) AS BIGINT) AS records, n.explanation
FROM long AS l
JOIN stage_names AS n USING (measure)
GROUP BY ALL
ORDER BY stage_no, name = '(all)' DESC, name;
