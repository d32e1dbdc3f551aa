-- Push audit report (`ferry report push`), rendered through
-- templates/push.html.j2 into reports/push.html (+ .json).
--
-- What the loader did, from audit.* (SPEC §6 Audit): every run with its
-- options and request counts, per table what the latest push created,
-- updated, left unchanged or failed (one outcome per record over all its
-- steps, counted as `ferry push` counts them), every failure with
-- Dataverse's error code and message, every owner or party the loader
-- replaced, and the rollbacks.
--
-- requires: audit.runs by ferry push

-- name: headline
WITH latest AS (
    SELECT * FROM audit.runs WHERE kind = 'push' ORDER BY run_id DESC LIMIT 1
)
SELECT h.key, h.label, h.value, h.status
FROM latest,
LATERAL (VALUES
    (1, 'created',   'created',          latest.created,   'info'),
    (2, 'updated',   'updated',          latest.updated,   'info'),
    (3, 'unchanged', 'unchanged',        latest.unchanged, 'info'),
    (4, 'failed',    'failed',           latest.failed,    CASE WHEN coalesce(latest.failed, 0) = 0 THEN 'ok' ELSE 'problem' END),
    (5, 'requests',  'requests sent',    latest.requests,  'info'),
    (6, 'throttled', '429 responses',    latest.throttled, CASE WHEN coalesce(latest.throttled, 0) = 0 THEN 'ok' ELSE 'review' END)
) AS h(position, key, label, value, status)
ORDER BY position;

-- name: runs
SELECT
    run_id,
    kind,
    rollback_of,
    coalesce(target_name, 'default')                              AS target_name,
    target,
    status,
    options,
    strftime(started_at, '%Y-%m-%d %H:%M:%S')                     AS started_at,
    strftime(finished_at, '%Y-%m-%d %H:%M:%S')                    AS finished_at,
    round(epoch(finished_at) - epoch(started_at), 1)              AS seconds,
    created, updated, unchanged, failed,
    requests,
    throttled
FROM audit.runs
ORDER BY run_id DESC;

-- name: latest_run
SELECT run_id, status, options, target, coalesce(target_name, 'default') AS target_name
FROM audit.runs WHERE kind = 'push' ORDER BY run_id DESC LIMIT 1;

-- name: tables
-- The latest push run per table; a record counts once (failed if any step
-- failed it, created if the run created it, updated if any step changed it).
WITH latest AS (
    SELECT max(run_id) AS run_id FROM audit.runs WHERE kind = 'push'
),
per_record AS (
    SELECT table_name, guid, related_guid,
           bool_or(operation = 'failed')  AS failed,
           bool_or(operation = 'created') AS created,
           bool_or(operation = 'updated') AS updated
    FROM audit.records
    WHERE run_id = (SELECT run_id FROM latest) AND step <> 'base_unit'
    GROUP BY ALL
)
SELECT
    table_name,
    count(*)                                              AS records,
    count(*) FILTER (NOT failed AND created)              AS created,
    count(*) FILTER (NOT failed AND NOT created AND updated) AS updated,
    count(*) FILTER (NOT failed AND NOT created AND NOT updated) AS unchanged,
    count(*) FILTER (failed)                              AS failed
FROM per_record
GROUP BY table_name
ORDER BY records DESC, table_name;

-- name: steps
-- The latest push run step by step, in load order.
SELECT
    step_no, step, table_name, label,
    records, created, updated, unchanged, failed,
    read_requests, write_requests, requests, throttled,
    round(seconds, 1) AS seconds
FROM audit.steps
WHERE run_id = (SELECT max(run_id) FROM audit.runs WHERE kind = 'push')
ORDER BY step_no;

-- name: failure_codes
-- Failures of the latest push run by table and error code.
SELECT
    table_name,
    coalesce(error_code, '(none)')  AS error_code,
    http_status,
    count(*)                        AS failures,
    min(message)                    AS example
FROM audit.records
WHERE run_id = (SELECT max(run_id) FROM audit.runs WHERE kind = 'push')
  AND operation = 'failed'
GROUP BY ALL
ORDER BY failures DESC, table_name, error_code;

-- name: failures
-- Every failure of the latest push run.
SELECT
    table_name,
    step,
    record_id,
    CAST(guid AS VARCHAR) AS guid,
    http_status,
    error_code,
    message
FROM audit.records
WHERE run_id = (SELECT max(run_id) FROM audit.runs WHERE kind = 'push')
  AND operation = 'failed'
ORDER BY table_name, record_id, step;

-- name: substitutions
-- Owners and activity parties the loader replaced (disabled or unmatched
-- users → the fallback owner), grouped, with the records affected.
SELECT
    table_name,
    column_name,
    wanted,
    reason,
    used,
    count(*)                                   AS records,
    list(record_id ORDER BY record_id)[1:25]   AS record_ids
FROM audit.substitutions
WHERE run_id = (SELECT max(run_id) FROM audit.runs WHERE kind = 'push')
GROUP BY ALL
ORDER BY records DESC, table_name, column_name;

-- name: rollbacks
SELECT
    r.run_id,
    r.rollback_of,
    r.status,
    strftime(r.started_at, '%Y-%m-%d %H:%M:%S')  AS started_at,
    strftime(r.finished_at, '%Y-%m-%d %H:%M:%S') AS finished_at,
    count(a.guid) FILTER (a.operation = 'deleted')  AS deleted,
    count(a.guid) FILTER (a.operation = 'restored') AS restored,
    count(a.guid) FILTER (a.operation = 'gone')     AS gone,
    count(a.guid) FILTER (a.operation = 'failed')   AS failed
FROM audit.runs AS r
LEFT JOIN audit.records AS a ON a.run_id = r.run_id
WHERE r.kind = 'rollback'
GROUP BY ALL
ORDER BY r.run_id DESC;
