-- reconcile.checks — the conservation checks of SPEC §11, one named row per
-- check and object or table, with what was expected, what was found, the
-- difference (actual − expected) and a sentence saying what it means.
--
-- status: ok         — adds up
--         explained  — adds up once the listed reasons are counted (failed
--                      records with Dataverse's error, skipped rows with
--                      their reason, differences carried by findings)
--         break      — does not add up, or a difference has no reason:
--                      `ferry reconcile` exits 1
--         not read back — the target side could not be counted (N:N links
--                      are not read back; their outcomes are in audit.records)
--
-- Checks, in order:
--   source_rows_conserved     source rows = landed + quarantined (+ unchanged in delta extracts)
--   source_records_accounted  current source records = in stg + folded + excluded, each once
--   staged_rows_pushed        stg rows = pushed + failed + skipped, each skipped with a reason
--   pushed_rows_in_target     rows the audit says are in the target = rows the read-back found
--   nothing_unexpected        target records under a ferry record id that no staged row accounts for = 0
--   picklist_distribution     option values whose source and target counts differ = 0
--   spot_check                sampled fields that match = sampled fields compared

CREATE OR REPLACE TABLE reconcile.checks AS
WITH

source_rows AS (
    SELECT 1 AS check_no, 'source_rows_conserved' AS check_name, 'object' AS scope, object AS name,
           source_rows AS expected,
           landed_rows + quarantined_rows + unchanged_rows AS actual,
           CASE
               WHEN landed_rows + quarantined_rows + unchanged_rows = source_rows AND quarantined_rows = 0
                   THEN 'ok'
               WHEN landed_rows + quarantined_rows + unchanged_rows = source_rows
                   THEN 'explained'
               ELSE 'break'
           END AS status,
           CASE
               WHEN landed_rows + quarantined_rows + unchanged_rows = source_rows
                   THEN source_rows || ' source rows: ' || landed_rows || ' landed'
                        || CASE WHEN quarantined_rows > 0 THEN ', ' || quarantined_rows || ' quarantined (reasons in raw._quarantine)' ELSE '' END
                        || CASE WHEN unchanged_rows > 0 THEN ', ' || unchanged_rows || ' unchanged since the previous extract' ELSE '' END
               ELSE 'the manifests report ' || source_rows || ' source rows but ' || landed_rows || ' landed + '
                    || quarantined_rows || ' quarantined + ' || unchanged_rows
                    || ' unchanged: rows were lost between the source and the landing zone; extract again and compare landing/*/_manifest.json'
           END AS explanation
    FROM reconcile.objects
    WHERE extracts > 0
),

source_records AS (
    SELECT 2, 'source_records_accounted', 'object', object,
           current_records,
           in_stg + folded + excluded,
           CASE
               WHEN unaccounted > 0 OR in_several_places > 0 THEN 'break'
               WHEN excluded > 0 THEN 'explained'
               ELSE 'ok'
           END,
           CASE
               WHEN unaccounted > 0 OR in_several_places > 0
                   THEN current_records || ' current records, ' || unaccounted || ' in no stg table, map.folded or map.excluded and '
                        || in_several_places || ' in more than one: a transform drops or double-counts records; `ferry validate` lists them (rule conservation)'
               ELSE current_records || ' current records: ' || in_stg || ' transformed'
                    || CASE WHEN folded > 0 THEN ', ' || folded || ' folded into another record' ELSE '' END
                    || CASE WHEN excluded > 0 THEN ', ' || excluded || ' excluded by a transform rule (map.excluded, each an excluded_records finding)' ELSE '' END
           END
    FROM reconcile.objects
    WHERE current_records > 0
),

staged_rows AS (
    SELECT 3, 'staged_rows_pushed', 'table', t.target_table,
           t.staged,
           t.pushed + t.failed + t.skipped,
           CASE
               WHEN t.not_pushed > 0 THEN 'break'
               WHEN t.failed + t.skipped > 0 THEN 'explained'
               ELSE 'ok'
           END,
           CASE
               WHEN t.not_pushed > 0
                   THEN t.not_pushed || ' of ' || t.staged || ' stg rows have no push outcome: run `ferry push` (without --only/--sample) to load them'
               ELSE t.staged || ' stg rows: ' || t.pushed || ' pushed (' || t.created || ' created, ' || t.updated || ' updated, '
                    || t.unchanged || ' unchanged)'
                    || CASE WHEN t.failed > 0 THEN ', ' || t.failed || ' failed (' || coalesce(f.reasons, '') || ')' ELSE '' END
                    || CASE WHEN t.skipped > 0 THEN ', ' || t.skipped || ' skipped (' || coalesce(s.reasons, '') || ')' ELSE '' END
           END
    FROM reconcile.tables AS t
    LEFT JOIN (
        SELECT target_table, string_agg(n || '× ' || code, '; ' ORDER BY n DESC, code) AS reasons
        FROM (SELECT target_table, coalesce(error_code, 'no code') AS code, count(*) AS n
              FROM reconcile.records WHERE category = 'failed' GROUP BY ALL)
        GROUP BY target_table
    ) AS f USING (target_table)
    LEFT JOIN (
        SELECT target_table, string_agg(n || '× ' || reason, '; ' ORDER BY n DESC, reason) AS reasons
        FROM (SELECT target_table, regexp_replace(reason, 'run [0-9]+', 'run N') AS reason, count(*) AS n
              FROM reconcile.records WHERE category = 'skipped' GROUP BY ALL)
        GROUP BY target_table
    ) AS s USING (target_table)
),

-- Activity parties travel inside their activity and get ids of
-- Dataverse's own, so they are counted rather than matched: those found in
-- the target plus those the loader left out (a disabled or missing user,
-- in audit.substitutions) should make up the staged ones.
left_out AS (
    SELECT count(*) AS parties
    FROM (SELECT DISTINCT s.table_name, s.guid, s.wanted
          FROM audit.substitutions AS s
          JOIN reconcile.records AS r
            ON r.target_table = s.table_name AND r.guid = s.guid AND r.expected_in_target
          WHERE s.column_name = 'activityparty' AND s.used = 'party left out')
),

in_target AS (
    SELECT 4, 'pushed_rows_in_target', 'table', target_table,
           expected_in_target,
           CASE
               WHEN sent_as = 'inline' AND read_back THEN target_records + (SELECT parties FROM left_out)
               WHEN read_back THEN present
           END,
           CASE
               WHEN NOT read_back THEN 'not read back'
               WHEN sent_as = 'inline' AND target_records + (SELECT parties FROM left_out) = expected_in_target THEN 'ok'
               WHEN sent_as = 'inline' THEN 'explained'
               WHEN missing > 0 THEN 'break'
               WHEN not_read > 0 THEN 'explained'
               ELSE 'ok'
           END,
           CASE
               WHEN sent_as = 'inline'
                   THEN expected_in_target || ' of ' || staged || ' staged rows belong to parent records in the target: '
                        || target_records || ' found there, '
                        || (SELECT parties FROM left_out) || ' left out by the loader (user disabled or missing: audit.substitutions)'
                        || CASE WHEN target_records + (SELECT parties FROM left_out) <> expected_in_target
                                THEN '; the counts differ: compare dv.' || target_table || ' with stg.' || target_table ELSE '' END
               WHEN NOT read_back AND sent_as = 'link'
                   THEN 'N:N links are not read back (the Web API serves them per record); each link''s outcome is in audit.records'
               WHEN NOT read_back
                   THEN 'not read back: run `ferry verify` (or `ferry reconcile` again) to read the target'
               WHEN missing > 0
                   THEN missing || ' of ' || expected_in_target || ' rows the audit says are in the target were not found there: deleted in the target after the push, or a write was lost; see reconcile.records WHERE expected_in_target AND NOT in_target, then run `ferry push` again'
               WHEN not_read > 0
                   THEN present || ' of ' || expected_in_target || ' rows the audit says are in the target found; '
                        || not_read || ' base unit(s) Dataverse created with their unit group carry no ferry record id, so the read-back cannot see them (push matched them: audit.guid_map)'
               ELSE expected_in_target || ' rows the audit says are in the target, all found'
           END
    FROM reconcile.tables
),

unexpected AS (
    SELECT 5, 'nothing_unexpected', 'table', t.target_table,
           0,
           t.unexpected,
           CASE WHEN t.unexpected > 0 THEN 'break' ELSE 'ok' END,
           CASE
               WHEN t.unexpected > 0
                   THEN t.unexpected || ' record(s) in the target carry a ferry record id but no staged row accounts for them ('
                        || (SELECT string_agg(DISTINCT reason, '; ') FROM reconcile.unexpected AS u WHERE u.target_table = t.target_table)
                        || '); see reconcile.unexpected'
               ELSE 'every record the target holds under a ferry record id was pushed by ferry'
           END
    FROM reconcile.tables AS t
    WHERE t.read_back AND t.sent_as <> 'inline'
),

distributions AS (
    SELECT 6, 'picklist_distribution', 'column', target_table || '.' || target_column || ' ← ' || source_object || '.' || source_field,
           0,
           count(*) FILTER (status IN ('differs', 'explained')),
           CASE
               WHEN bool_or(status = 'differs') THEN 'break'
               WHEN bool_or(status = 'explained') THEN 'explained'
               WHEN bool_and(status = 'not read back') THEN 'not read back'
               ELSE 'ok'
           END,
           CASE
               WHEN bool_or(status = 'differs')
                   THEN count(*) FILTER (status = 'differs') || ' value(s) whose target count differs from the source''s translation without a finding: see reconcile.option_mismatches'
               WHEN bool_or(status = 'explained')
                   THEN count(*) FILTER (status = 'explained') || ' value(s) differ, each record concerned carrying a validation finding on ' || source_field || ' (untranslated source values)'
               WHEN bool_and(status = 'not read back') THEN 'not read back'
               ELSE count(*) || ' value(s), source and target counts equal'
           END
    FROM reconcile.distributions
    GROUP BY source_object, source_field, target_table, target_column
),

spot AS (
    SELECT 7, 'spot_check', 'table', target_table,
           count(*),
           count(*) FILTER (matches),
           CASE WHEN bool_and(matches) THEN 'ok' ELSE 'break' END,
           count(DISTINCT guid) || ' sampled record(s), ' || count(*) || ' field(s) compared'
           || CASE WHEN bool_and(matches) THEN ', all equal'
                   ELSE ', ' || count(*) FILTER (NOT matches) || ' differ (' ||
                        string_agg(DISTINCT column_name, ', ') FILTER (NOT matches) || '): see reconcile.spot_checks and `ferry verify`'
              END
    FROM reconcile.spot_checks
    GROUP BY target_table
)

SELECT check_no, check_name, scope, name, expected, actual,
       actual - expected AS difference, status, explanation
FROM (
    SELECT * FROM source_rows
    UNION ALL SELECT * FROM source_records
    UNION ALL SELECT * FROM staged_rows
    UNION ALL SELECT * FROM in_target
    UNION ALL SELECT * FROM unexpected
    UNION ALL SELECT * FROM distributions
    UNION ALL SELECT * FROM spot
)
ORDER BY check_no, name;
