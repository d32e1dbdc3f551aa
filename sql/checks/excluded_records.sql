-- excluded_records (error) — source records the transforms left out.
--
-- Protects against: losing records silently. A transform that cannot turn a
-- source record into a target row (a site, case or contract whose customer
-- is missing, a work-order line without its case, ...) records it in
-- map.excluded with its rule and reason (sql/README.md; SPEC §11 "never
-- loses a row silently"). Every such record is an error: it will not be in
-- Dataverse unless someone fixes the source or accepts the loss by waiving
-- it (mapping/waivers.csv: excluded_records,<object>,<record id>,<reason>).
-- The conservation check proves nothing escapes map.excluded, map.folded
-- and stg; this rule makes sure everything in map.excluded is seen.

SELECT
    'error'                                   AS severity,
    e.object,
    e.record_id,
    NULL                                      AS field,
    'excluded_records'                        AS rule,
    'Not migrated (transform rule ' || coalesce(e.rule, 'unnamed') || '): '
        || coalesce(e.message, 'no reason given')
        || ' — fix the record in ServiceTracker and extract again, or waive this finding to accept that it is left out.'
                                              AS message
FROM map.excluded AS e
