-- Validation findings report (`ferry report findings`), rendered through
-- templates/findings.html.j2 into reports/findings.html (+ .json).
--
-- What `ferry validate` found in check.findings (one row per finding, from
-- sql/checks/<rule>.sql) and which findings mapping/waivers.csv waived, by
-- rule, severity and object, with every finding listed (at most
-- `per_rule_cap` per rule, with the count of the rest — the full list is
-- one query away: SELECT * FROM "check".findings WHERE rule = '...').
--
-- "What to do" is data: edit the VALUES list in `advice` below to give your
-- team its own instructions per rule.
--
-- requires: check.runs by ferry validate

-- name: headline
SELECT h.key, h.label, h.value, h.status
FROM (
    SELECT
        count(*) FILTER (NOT waived)                               AS open_findings,
        count(*) FILTER (NOT waived AND severity = 'error')        AS open_errors,
        count(*) FILTER (NOT waived AND severity = 'warning')      AS warnings,
        count(*) FILTER (NOT waived AND severity = 'review')       AS reviews,
        count(*) FILTER (waived)                                   AS waived
    FROM "check".findings
) AS t,
LATERAL (VALUES
    (1, 'findings', 'findings open',            t.open_findings, CASE WHEN t.open_findings = 0 THEN 'ok' ELSE 'review' END),
    (2, 'errors',   'errors open (push refuses)', t.open_errors, CASE WHEN t.open_errors = 0 THEN 'ok' ELSE 'problem' END),
    (3, 'warnings', 'warnings',                 t.warnings,      CASE WHEN t.warnings = 0 THEN 'ok' ELSE 'review' END),
    (4, 'reviews',  'for review',               t.reviews,       'info'),
    (5, 'waived',   'waived',                   t.waived,        'info')
) AS h(position, key, label, value, status)
ORDER BY position;

-- name: by_severity
SELECT
    severity,
    count(*) FILTER (NOT waived) AS open,
    count(*) FILTER (waived)     AS waived
FROM "check".findings
GROUP BY severity
ORDER BY CASE severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END;

-- name: by_object
SELECT
    coalesce(object, '(none)')   AS object,
    count(*) FILTER (NOT waived) AS open,
    count(*) FILTER (waived)     AS waived,
    count(*)                     AS total
FROM "check".findings
GROUP BY ALL
ORDER BY open DESC, object;

-- name: checks
-- Every check file that ran, including those that found nothing.
SELECT check_file, findings, duration_ms
FROM "check".runs
ORDER BY findings DESC, check_file;

-- name: rules
-- One row per rule and severity: counts, advice, and its findings (capped).
WITH advice(rule, what_to_do) AS (
    VALUES
    ('attachment_too_large',       'Compress or split the file at the source, raise the org''s maxuploadfilesize (up to 128 MB), or waive it and keep the file outside Dataverse; the note says where it is.'),
    ('conservation',               'A source record is in no target table, not folded and not excluded (or in more than one): fix the transform that should carry it, then run `ferry transform` and `ferry validate`.'),
    ('date_before_1753',           'Correct the date in ServiceTracker (usually a mistyped year) and extract again, or clear it in the transform; Dataverse cannot store dates before 1753.'),
    ('date_in_future',             'Check the date with the technician or office; correct it at the source or waive it if it is a planned date.'),
    ('disabled_user_owner',        'Re-enable the user, map the technician to another user in mapping/users.csv, or accept the fallback owner (waive).'),
    ('duplicate_customers',        'Merge the duplicates in ServiceTracker before the cutover, or waive one of them with the reason.'),
    ('excluded_records',           'The transform left these records out (reason in the message): fix their parent at the source, or waive them to leave them behind on purpose.'),
    ('file_name_path_chars',       'Nothing to do unless the name matters: ferry keeps only the last path part as the file name.'),
    ('free_mail_domain',           'Confirm the account is a real company (or a sole trader) and add its company e-mail at the source if there is one.'),
    ('inactive_technician_owner',  'Decide who owns these records now: map the technician to a current user in mapping/users.csv or accept the fallback owner.'),
    ('invalid_email',              'Correct the address in ServiceTracker and extract again, or clear it in the transform and waive.'),
    ('invalid_option_translation', 'Fix the line of mapping/optionsets.csv named in the message (value or state/status pair), then `ferry transform`.'),
    ('max_length',                 'Shorten the value at the source, or have the transform cut it (it will be reported as truncated by verify), or widen the custom column.'),
    ('no_email_domain',            'Find the company''s e-mail or web domain and add it at the source, or waive for accounts that have none.'),
    ('orphan_contact',             'The contact will load without a company: link it to the right customer at the source, or waive.'),
    ('orphan_work_order_site',     'The case loads without a service address: fix the site at the source, or waive.'),
    ('pending_sync',               'Have the technicians sync their mobile apps, then extract again; do not cut over while work orders are pending.'),
    ('precision_loss',             'Round the value at the source or accept the rounding (waive); Dataverse keeps the column''s precision only.'),
    ('publisher_option_values',    'Run `ferry plan --apply` so the new option values exist in the target before the push.'),
    ('required_columns',           'Fill the value at the source or give the transform a default; Dataverse refuses the record without it.'),
    ('state_name_not_code',        'Normalise the state to its 2-letter code at the source or in the transform.'),
    ('technician_without_user',    'Create or find the Dataverse user and map the technician in mapping/users.csv; until then the fallback owner is used.'),
    ('unmapped_option_values',     'Add the value to mapping/optionsets.csv (`ferry map propose` suggests one), then `ferry transform`.')
),
per_rule_cap AS (SELECT 50 AS n),
numbered AS (
    SELECT
        f.*,
        row_number() OVER (PARTITION BY f.rule, f.severity ORDER BY f.waived, f.object, f.record_id, f.field) AS n
    FROM "check".findings AS f
),
grouped AS (
    SELECT
        rule,
        severity,
        min(check_file)                                AS check_file,
        count(*)                                       AS total,
        count(*) FILTER (NOT waived)                   AS open,
        count(*) FILTER (waived)                       AS waived,
        string_agg(DISTINCT coalesce(object, '(none)'), ', ' ORDER BY coalesce(object, '(none)')) AS objects,
        list({
            'object': object,
            'record_id': record_id,
            'field': field,
            'message': message,
            'waived': waived,
            'waiver_reason': waiver_reason
        } ORDER BY n) FILTER (n <= (SELECT n FROM per_rule_cap)) AS findings
    FROM numbered
    GROUP BY rule, severity
)
SELECT
    g.rule,
    g.severity,
    g.check_file,
    g.objects,
    g.total,
    g.open,
    g.waived,
    len(g.findings)                                AS shown,
    g.total - len(g.findings)                      AS not_shown,
    coalesce(a.what_to_do, 'See the comment at the top of sql/checks/' || g.check_file || '.sql.') AS what_to_do,
    g.findings
FROM grouped AS g
LEFT JOIN advice AS a USING (rule)
ORDER BY CASE g.severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END, g.open DESC, g.rule;

-- name: waivers
-- Each line of mapping/waivers.csv and how many findings it waived; a
-- waiver that matches nothing is stale or mistyped.
SELECT
    w.line,
    w.rule,
    w.object,
    w.record_id,
    w.reason,
    count(f.rule) AS matched
FROM "check".waivers AS w
LEFT JOIN "check".findings AS f
    ON f.rule = w.rule AND f.object = w.object
   AND (w.record_id IS NULL OR w.record_id = f.record_id)
GROUP BY ALL
ORDER BY w.line;
