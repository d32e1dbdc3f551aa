-- reconcile.records — every staged row and what became of it.
--
-- One row per row of stg.* (reconcile.staged_records, built by ferry from
-- the catalogue), with the outcome of the push run that last touched it,
-- counted the way `ferry push` counts its totals (src/push/audit.rs
-- finish_run): within one run a record is failed if any step failed it,
-- created if the run created it, updated if any step changed it, else
-- unchanged. A rollback run that deleted or restored the record after that
-- is the latest word. Records Dataverse created under its own id (a unit
-- group's base unit) are looked up in the target through audit.guid_map.
-- Only the runs of the target being reconciled count (temp.target_runs:
-- `ferry reconcile --target NAME`), so a sample in a test org never stands
-- for production.
--
-- outcome:   created | updated | unchanged | failed | deleted | gone |
--            restored | NULL (no push run has an outcome for it)
-- category:  pushed | failed | skipped | not_pushed — the terms of
--            SPEC §11 "staged = pushed + failed + skipped, each with a reason"
-- reason:    why a skipped row is not in the target as a record of its own,
--            or Dataverse's message for a failed one (its code: error_code)
-- expected_in_target: the last successful write was not undone (a failed
--            update of a record an earlier run created still leaves it there);
--            for a row sent inside another record, that record's
-- in_target: the read-back found it (NULL when the table is not read back,
--            for a base unit, which carries no ferry record id, and for rows
--            sent inside another record, which are counted instead)

CREATE OR REPLACE TABLE reconcile.run_outcomes AS
WITH steps AS (
    SELECT r.run_id, u.kind, r.table_name, r.guid,
           -- A base unit's related_guid is the id Dataverse gave it, not
           -- the other side of a link.
           CASE WHEN r.step = 'base_unit' THEN NULL ELSE r.related_guid END AS related_guid,
           r.step, r.operation,
           r.error_code, r.message, r.http_status, r.recorded_at
    FROM audit.records AS r
    JOIN temp.target_runs AS u USING (run_id)
    WHERE r.step IN ('records', 'deferred', 'state', 'associate', 'base_unit', 'rollback')
)
SELECT
    run_id,
    any_value(kind)                                   AS kind,
    table_name,
    guid,
    related_guid,
    CASE
        WHEN bool_or(operation = 'failed')    THEN 'failed'
        WHEN bool_or(operation = 'created')   THEN 'created'
        WHEN bool_or(operation = 'updated')   THEN 'updated'
        WHEN bool_or(operation = 'deleted')   THEN 'deleted'
        WHEN bool_or(operation = 'restored')  THEN 'restored'
        WHEN bool_or(operation = 'gone')      THEN 'gone'
        ELSE 'unchanged'
    END                                               AS outcome,
    -- The first failure's reason (a record fails at most once per step).
    arg_min(error_code, CASE WHEN operation = 'failed' THEN recorded_at END) FILTER (operation = 'failed') AS error_code,
    arg_min(message, CASE WHEN operation = 'failed' THEN recorded_at END) FILTER (operation = 'failed')    AS message,
    arg_min(step, CASE WHEN operation = 'failed' THEN recorded_at END) FILTER (operation = 'failed')       AS failed_step,
    max(recorded_at)                                  AS recorded_at
FROM steps
GROUP BY run_id, table_name, guid, related_guid;

CREATE OR REPLACE TABLE reconcile.latest_outcomes AS
WITH ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY table_name, guid, related_guid ORDER BY run_id DESC) AS newest,
           row_number() OVER (PARTITION BY table_name, guid, related_guid
                              ORDER BY (outcome = 'failed'), run_id DESC)                AS newest_write
    FROM reconcile.run_outcomes
)
SELECT
    l.table_name, l.guid, l.related_guid, l.run_id, l.kind, l.outcome,
    l.error_code, l.message, l.failed_step, l.recorded_at,
    w.outcome IN ('created', 'updated', 'unchanged', 'restored') AS written
FROM ranked AS l
JOIN ranked AS w
  ON w.table_name = l.table_name AND w.guid = l.guid
 AND w.related_guid IS NOT DISTINCT FROM l.related_guid AND w.newest_write = 1
WHERE l.newest = 1;

CREATE OR REPLACE TABLE reconcile.records AS
WITH keyed AS (
    SELECT s.*, coalesce(g.target_guid, s.guid) AS target_guid
    FROM reconcile.staged_records AS s
    LEFT JOIN audit.guid_map AS g ON g.table_name = s.target_table AND g.staged_guid = s.guid
)
SELECT
    k.target_table,
    k.source_object,
    k.record_id,
    k.guid,
    k.related_guid,
    k.target_guid,
    k.sent_as,
    k.parent_guid,
    o.run_id,
    o.outcome,
    CASE
        WHEN k.sent_as = 'inline'                                  THEN 'skipped'
        WHEN o.outcome IN ('created', 'updated', 'unchanged')      THEN 'pushed'
        WHEN o.outcome = 'failed'                                  THEN 'failed'
        WHEN o.outcome IN ('deleted', 'gone', 'restored')          THEN 'skipped'
        ELSE 'not_pushed'
    END                                                            AS category,
    CASE
        WHEN k.sent_as = 'inline'
            THEN 'sent inside its parent record (activity parties travel in <activity>_activity_parties)'
        WHEN o.outcome IN ('deleted', 'gone')
            THEN 'rolled back by run ' || o.run_id || ' (deleted from the target)'
        WHEN o.outcome = 'restored'
            THEN 'rolled back by run ' || o.run_id || ' (restored to what the target held before the push)'
        WHEN o.outcome = 'failed'
            THEN coalesce(o.message, 'no message (error code ' || coalesce(o.error_code, 'none') || ')')
                 || ' (run ' || o.run_id || ', step ' || coalesce(o.failed_step, '?') || ')'
        WHEN o.outcome IS NULL
            THEN 'no push run has an outcome for this row'
    END                                                            AS reason,
    o.error_code,
    CASE
        -- A row sent inside its parent is there when the parent is.
        WHEN k.sent_as = 'inline'
            THEN coalesce(p.written, false) AND p.outcome NOT IN ('deleted', 'gone')
        ELSE coalesce(o.written, false) AND o.outcome NOT IN ('deleted', 'gone')
    END                                                            AS expected_in_target,
    -- A unit group's base unit is made by Dataverse without a ferry record
    -- id, so the read-back (records carrying one) cannot see it.
    -- Rows sent inside another record get ids of Dataverse's own, so they
    -- are counted (reconcile.checks) rather than matched one by one.
    CASE WHEN rt.read_back AND NOT k.base_unit AND k.sent_as <> 'inline' THEN t.guid IS NOT NULL END AS in_target,
    k.base_unit
FROM keyed AS k
LEFT JOIN reconcile.latest_outcomes AS o
       ON o.table_name = k.target_table AND o.guid = k.guid
      AND o.related_guid IS NOT DISTINCT FROM k.related_guid
LEFT JOIN (SELECT guid, any_value(written) AS written, any_value(outcome) AS outcome
           FROM reconcile.latest_outcomes WHERE related_guid IS NULL GROUP BY guid) AS p
       ON p.guid = k.parent_guid
LEFT JOIN reconcile.read_tables AS rt ON rt.target_table = k.target_table
LEFT JOIN reconcile.target_records AS t
       ON t.target_table = k.target_table AND t.guid = k.target_guid
      AND t.related_guid IS NOT DISTINCT FROM k.related_guid;

-- reconcile.unexpected — records the target holds under a ferry record id
-- that no staged row accounts for: never pushed by ferry, pushed but no
-- longer staged (a transform changed since), or deleted by a rollback
-- and back again. SPEC §11: nothing in the target that was not pushed.
CREATE OR REPLACE TABLE reconcile.unexpected AS
SELECT
    t.target_table,
    t.record_id,
    t.guid,
    CASE
        WHEN s.guid IS NULL AND o.outcome IN ('created', 'updated', 'unchanged')
            THEN 'pushed by run ' || o.run_id || ' (' || o.outcome || ') but no longer staged: a transform or the source changed since the push'
        WHEN s.guid IS NULL AND o.outcome IS NOT NULL
            THEN 'last outcome in the audit is ' || o.outcome || ' (run ' || o.run_id || ') and it is no longer staged'
        WHEN s.guid IS NULL
            THEN 'not staged and never pushed by ferry: created in the target by someone else, with a ferry record id'
        ELSE 'staged, but the audit says it should not be in the target (last outcome ' || coalesce(s.outcome, 'none') || ')'
    END AS reason
FROM reconcile.target_records AS t
LEFT JOIN reconcile.records AS s
       ON s.target_table = t.target_table AND s.target_guid = t.guid
      AND s.related_guid IS NOT DISTINCT FROM t.related_guid
LEFT JOIN reconcile.latest_outcomes AS o
       ON o.table_name = t.target_table AND o.guid = t.guid
      AND o.related_guid IS NOT DISTINCT FROM t.related_guid
WHERE (s.guid IS NULL OR NOT s.expected_in_target)
  -- Rows sent inside another record have no push outcome of their own.
  AND t.target_table NOT IN (SELECT DISTINCT target_table FROM reconcile.staged_records WHERE sent_as = 'inline');
