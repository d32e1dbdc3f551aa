-- Reconciliation report (`ferry reconcile`, or `ferry report reconcile`
-- after it), rendered through templates/reconcile.html.j2 into
-- reports/reconcile.html (+ .json).
--
-- The data comes from the reconcile.* tables `ferry reconcile` rebuilds
-- (sql/reconcile/*.sql); edit freely, the template only needs the columns
-- it names.

-- requires: reconcile.checks, reconcile.target by ferry reconcile

-- name: headline
WITH c AS (
    SELECT count(*) FILTER (status = 'break')     AS breaks,
           count(*) FILTER (status = 'explained') AS explained,
           count(*)                               AS checks
    FROM reconcile.checks
),
t AS (
    SELECT sum(staged) AS staged, sum(pushed) AS pushed, sum(failed) AS failed,
           sum(present) AS present, sum(missing) AS missing, sum(unexpected) AS unexpected
    FROM reconcile.tables
)
SELECT key, label, value, status
FROM c, t,
LATERAL (VALUES
    (1, 'conservation', 'conservation',
        CASE WHEN c.breaks = 0 THEN 'adds up' ELSE c.breaks || ' break(s)' END,
        CASE WHEN c.breaks = 0 THEN 'ok' ELSE 'problem' END),
    (2, 'explained',  'checks explained by a reason', CAST(c.explained AS VARCHAR), CASE WHEN c.explained = 0 THEN 'ok' ELSE 'review' END),
    (3, 'staged',     'stg rows',                     CAST(t.staged AS VARCHAR),    'info'),
    (4, 'pushed',     'pushed',                       CAST(t.pushed AS VARCHAR),    'info'),
    (5, 'failed',     'failed',                       CAST(t.failed AS VARCHAR),    CASE WHEN t.failed = 0 THEN 'ok' ELSE 'review' END),
    (6, 'present',    'found in the target',          CAST(t.present AS VARCHAR),   'info'),
    (7, 'missing',    'missing in the target',        CAST(t.missing AS VARCHAR),   CASE WHEN t.missing = 0 THEN 'ok' ELSE 'problem' END),
    (8, 'unexpected', 'unexpected in the target',     CAST(t.unexpected AS VARCHAR), CASE WHEN t.unexpected = 0 THEN 'ok' ELSE 'problem' END)
) AS v(position, key, label, value, status)
ORDER BY position;

-- name: totals
SELECT
    count(*)                                   AS checks,
    count(*) FILTER (status = 'ok')            AS ok,
    count(*) FILTER (status = 'explained')     AS explained,
    count(*) FILTER (status = 'not read back') AS not_read_back,
    count(*) FILTER (status = 'break')         AS breaks,
    (SELECT latest_push_run FROM reconcile.target)                     AS latest_push_run,
    (SELECT target_name FROM reconcile.target)                         AS target_name,
    (SELECT url FROM reconcile.target)                                 AS target_url,
    (SELECT CAST(max(read_at) AS VARCHAR) FROM reconcile.read_tables)  AS read_at
FROM reconcile.checks;

-- name: stages
SELECT stage_no, stage, scope, records, explanation
FROM reconcile.stages
WHERE name = '(all)'
ORDER BY stage_no;

-- name: checks
SELECT check_no, check_name, scope, name, expected, actual, difference, status, explanation
FROM reconcile.checks
ORDER BY status = 'ok', status = 'not read back', check_no, name;

-- name: objects
SELECT *
FROM reconcile.objects
ORDER BY object;

-- name: tables
SELECT * EXCLUDE (read_at), CAST(read_at AS VARCHAR) AS read_at
FROM reconcile.tables
ORDER BY target_table;

-- name: flows
SELECT *
FROM reconcile.flows
ORDER BY source_object, target_table;

-- name: failures
-- Failed and skipped rows, grouped by reason, with a few record ids each.
SELECT
    target_table,
    category,
    coalesce(error_code, '') AS error_code,
    regexp_replace(reason, 'run [0-9]+', 'run N') AS reason,
    count(*) AS records,
    list(record_id ORDER BY record_id)[1:5] AS examples
FROM reconcile.records
WHERE category IN ('failed', 'skipped', 'not_pushed')
GROUP BY ALL
ORDER BY category, records DESC, target_table;

-- name: unexpected
SELECT target_table, record_id, CAST(guid AS VARCHAR) AS guid, reason
FROM reconcile.unexpected
ORDER BY target_table, record_id
LIMIT 200;

-- name: missing
SELECT target_table, source_object, record_id, CAST(target_guid AS VARCHAR) AS guid, outcome, run_id
FROM reconcile.records
WHERE expected_in_target AND NOT in_target
ORDER BY target_table, record_id
LIMIT 200;

-- name: distributions
-- One entry per translated column, each carrying its values.
WITH values AS (
    SELECT *,
           greatest(max(source_records) OVER w, max(coalesce(in_target, 0)) OVER w) AS largest
    FROM reconcile.distributions
    WINDOW w AS (PARTITION BY source_object, source_field, target_table, target_column)
)
SELECT
    source_object, source_field, target_table, target_column,
    bool_or(status = 'differs')   AS differs,
    bool_or(status = 'explained') AS explained,
    list({
        'target_value': target_value,
        'target_label': target_label,
        'source_values': source_values,
        'source_records': source_records,
        'staged': staged,
        'expected_in_target': expected_in_target,
        'in_target': in_target,
        'difference': difference,
        'status': status,
        'source_bar': CASE WHEN largest > 0 THEN source_records / largest ELSE 0 END,
        'target_bar': CASE WHEN largest > 0 THEN coalesce(in_target, 0) / largest ELSE 0 END
    } ORDER BY target_value NULLS LAST) AS value_list
FROM values
GROUP BY ALL
ORDER BY source_object, source_field, target_table, target_column;

-- name: spot_checks
-- One entry per sampled record, carrying its fields side by side.
SELECT
    target_table,
    record_id,
    CAST(guid AS VARCHAR) AS guid,
    pick,
    bool_and(matches) AS all_match,
    list({
        'column_name': column_name,
        'target_column': target_column,
        'kind': kind,
        'staged_value': staged_value,
        'target_value': target_value,
        'matches': matches,
        'rule': rule
    } ORDER BY position) AS fields
FROM reconcile.spot_checks
GROUP BY ALL
ORDER BY target_table, pick;
