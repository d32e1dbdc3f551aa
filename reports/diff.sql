-- Field-level diff report (`ferry verify`, or `ferry report diff` after it),
-- rendered through templates/diff.html.j2 into reports/diff.html (+ .json).
--
-- The data comes from the tables `ferry verify` rebuilds on every run:
--   dv.read_backs, dv.columns   what was read back from the target, and how
--                               each column is compared
--   dv.read_from                which target ([targets.<name>]) it was
--   verify.tables               per table: matched / differing / truncated /
--                               missing / unexpected / not pushed records
--   verify.columns              the same per column
--   verify.differences          one row per differing or truncated value
--   verify.records              every record that is not a match
-- The comparison rules themselves are in sql/verify/normalise.sql.
--
-- requires: verify.tables, dv.read_backs, dv.read_from by ferry verify

-- name: headline
WITH t AS (
    SELECT coalesce(sum(compared), 0) AS compared, coalesce(sum(matched), 0) AS matched,
           coalesce(sum(differing), 0) AS differing, coalesce(sum(truncated), 0) AS truncated,
           coalesce(sum(missing), 0) AS missing, coalesce(sum(unexpected), 0) AS unexpected,
           coalesce(sum(not_pushed), 0) AS not_pushed
    FROM verify.tables
)
SELECT h.key, h.label, h.value, h.status
FROM t,
LATERAL (VALUES
    (1, 'differences', 'records that differ (differing, truncated, missing, unexpected)',
        t.differing + t.truncated + t.missing + t.unexpected,
        CASE WHEN t.differing + t.truncated + t.missing + t.unexpected = 0 THEN 'ok' ELSE 'problem' END),
    (2, 'compared',   'records compared',  t.compared,   'info'),
    (3, 'matched',    'matched',           t.matched,    'ok'),
    (4, 'differing',  'differing',         t.differing,  CASE WHEN t.differing = 0 THEN 'ok' ELSE 'problem' END),
    (5, 'truncated',  'truncated',         t.truncated,  CASE WHEN t.truncated = 0 THEN 'ok' ELSE 'review' END),
    (6, 'missing',    'missing',           t.missing,    CASE WHEN t.missing = 0 THEN 'ok' ELSE 'problem' END),
    (7, 'unexpected', 'unexpected',        t.unexpected, CASE WHEN t.unexpected = 0 THEN 'ok' ELSE 'problem' END),
    (8, 'not_pushed', 'not pushed (see the push audit)', t.not_pushed, 'info')
) AS h(position, key, label, value, status)
ORDER BY position;

-- name: totals
SELECT
    count(*)                              AS tables,
    coalesce(sum(staged), 0)              AS staged,
    coalesce(sum(target), 0)              AS target,
    coalesce(sum(compared), 0)            AS compared,
    coalesce(sum(matched), 0)             AS matched,
    coalesce(sum(differing), 0)           AS differing,
    coalesce(sum(truncated), 0)           AS truncated,
    coalesce(sum(missing), 0)             AS missing,
    coalesce(sum(unexpected), 0)          AS unexpected,
    coalesce(sum(not_pushed), 0)          AS not_pushed,
    (SELECT count(*) FROM verify.differences) AS differences,
    CAST(max(verified_at) AS VARCHAR)     AS verified_at,
    (SELECT CAST(max(read_at) AS VARCHAR) FROM dv.read_backs) AS read_at,
    (SELECT any_value(target_name) FROM dv.read_from)          AS target_name,
    (SELECT any_value(url) FROM dv.read_from)                  AS target_url
FROM verify.tables;

-- name: tables
-- Worst first: tables with problems, then by size.
SELECT
    table_name, staged, target, compared, matched, differing, truncated,
    missing, unexpected, not_pushed,
    differing + truncated + missing + unexpected AS problems,
    CASE WHEN compared + missing = 0 THEN NULL
         ELSE matched / (compared + missing) END AS matched_share
FROM verify.tables
ORDER BY problems DESC, staged DESC, table_name;

-- name: columns
-- Every compared column; columns with problems first within each table.
SELECT
    table_name, column_name, kind, target_column, compared, matched,
    differing, truncated, missing, unexpected, rule,
    differing + truncated AS value_problems
FROM verify.columns
ORDER BY table_name, value_problems DESC, column_name;

-- name: samples
-- Side by side, at most 10 values per column, by record id.
SELECT
    d.table_name, d.column_name, d.record_id, CAST(d.id AS VARCHAR) AS id,
    d.kind, d.staged_value, d.target_value,
    length(d.staged_value) AS staged_length,
    length(d.target_value) AS target_length,
    c.max_length
FROM verify.differences d
LEFT JOIN dv.columns c USING (table_name, column_name)
QUALIFY row_number() OVER (PARTITION BY d.table_name, d.column_name ORDER BY d.record_id, d.id) <= 10
ORDER BY d.table_name, d.column_name, d.record_id;

-- name: records
-- Missing and unexpected records, at most 25 per table and status.
SELECT table_name, status, record_id, CAST(id AS VARCHAR) AS id, note
FROM verify.records
WHERE status IN ('missing', 'unexpected')
QUALIFY row_number() OVER (PARTITION BY table_name, status ORDER BY record_id, id) <= 25
ORDER BY table_name, status, record_id;

-- name: not_pushed
-- Staged records no push put in the target, grouped by what audit says.
SELECT
    table_name,
    regexp_replace(coalesce(note, ''), '\(run [0-9]+\)', '(run …)') AS reason,
    count(*) AS records,
    min(record_id) AS example
FROM verify.records
WHERE status = 'not_pushed'
GROUP BY ALL
ORDER BY table_name, records DESC
LIMIT 200;

-- name: rules
-- Dataverse behaviours the comparison allows for (sql/verify/normalise.sql).
SELECT table_name, column_name, rule, target_column, reason
FROM verify.rules
ORDER BY table_name, column_name;

-- name: read_backs
SELECT table_name, entity_set, records, CAST(read_at AS VARCHAR) AS read_at
FROM dv.read_backs
ORDER BY table_name;
