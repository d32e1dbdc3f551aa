-- conservation (error) — every source record is accounted for, exactly once.
--
-- Protects against: records vanishing between ServiceTracker and Dataverse
-- without a trace, and records counted twice. Per object, every id of
-- raw.<object>_current must be in exactly one of:
--   - stg.*        a row of its own (meta.stg_rows by source_object and
--                  record_id; one record may give rows in several tables,
--                  e.g. a work order's case and its resolution);
--   - map.folded   part of another record (a dispatch in its case);
--   - map.excluded left out, with the rule that says why.
-- SPEC §11 "counts are conserved"; sql/README.md. A record in none of them
-- was dropped by a transform without a word; a record in two was both
-- loaded and excluded/folded, so the reports would count it twice. Either
-- way the transform is wrong — fix it (see `ferry transform status` for
-- which file changed), not the data.
-- One branch per object of SPEC §8.1.

WITH

source AS (
    SELECT 'customers' AS object, id FROM raw.customers_current
    UNION ALL SELECT 'contacts', id FROM raw.contacts_current
    UNION ALL SELECT 'sites', id FROM raw.sites_current
    UNION ALL SELECT 'technicians', id FROM raw.technicians_current
    UNION ALL SELECT 'contracts', id FROM raw.contracts_current
    UNION ALL SELECT 'parts', id FROM raw.parts_current
    UNION ALL SELECT 'work_orders', id FROM raw.work_orders_current
    UNION ALL SELECT 'work_order_parts', id FROM raw.work_order_parts_current
    UNION ALL SELECT 'dispatches', id FROM raw.dispatches_current
    UNION ALL SELECT 'attachments', id FROM raw.attachments_current
    UNION ALL SELECT 'activities', id FROM raw.activities_current
    UNION ALL SELECT 'notes', id FROM raw.notes_current
    UNION ALL SELECT 'billing_history', id FROM raw.billing_history_current
    UNION ALL SELECT 'equipment', id FROM raw.equipment_current
    UNION ALL SELECT 'equipment_sites', id FROM raw.equipment_sites_current
    UNION ALL SELECT 'workflows', id FROM raw.workflows_current
),

-- Plain aggregates over a DISTINCT, not string_agg(DISTINCT … ORDER BY …):
-- ordered and distinct aggregates keep every group in memory, which runs
-- out of memory on millions of records; these spill to disk.
staged_tables AS (
    SELECT DISTINCT source_object AS object, record_id, target_table
    FROM meta.stg_rows
),

staged AS (
    SELECT
        object,
        record_id,
        CASE WHEN count(*) = 1 THEN min(target_table)
             ELSE min(target_table) || ' and ' || max(target_table)
                  || CASE WHEN count(*) > 2 THEN ' (' || count(*) || ' tables)' ELSE '' END
        END AS tables
    FROM staged_tables
    GROUP BY 1, 2
),

folded AS (
    SELECT object, record_id, min(coalesce(target_table, '-') || coalesce(' ' || target_record_id, '')) AS into_
    FROM map.folded
    GROUP BY 1, 2
),

excluded AS (
    SELECT object, record_id, min(coalesce(rule, '-')) AS rule
    FROM map.excluded
    GROUP BY 1, 2
),

accounted AS (
    SELECT
        s.object,
        s.id,
        st.tables,
        f.into_,
        e.rule,
        (st.tables IS NOT NULL)::INTEGER + (f.into_ IS NOT NULL)::INTEGER + (e.rule IS NOT NULL)::INTEGER AS places
    FROM source AS s
    LEFT JOIN staged AS st   ON st.object = s.object AND st.record_id = s.id
    LEFT JOIN folded AS f    ON f.object = s.object AND f.record_id = s.id
    LEFT JOIN excluded AS e  ON e.object = s.object AND e.record_id = s.id
)

SELECT
    'error'                                   AS severity,
    object,
    id                                        AS record_id,
    NULL                                      AS field,
    'conservation'                            AS rule,
    CASE WHEN places = 0
         THEN 'Source record ' || id || ' (' || object || ') is in no stg table, not in map.folded and not in map.excluded: '
              || 'a transform dropped it without a word; make the transform that owns ' || object
              || ' stage it, fold it or exclude it with a reason, then run `ferry transform` again.'
         ELSE 'Source record ' || id || ' (' || object || ') is accounted for ' || places || ' times: '
              || concat_ws('; ',
                     'staged in ' || tables,
                     'folded into ' || into_,
                     'excluded by ' || rule)
              || '; a record is staged, folded or excluded — fix the transforms so only one holds it, then run `ferry transform` again.'
    END                                       AS message
FROM accounted
WHERE places <> 1
