-- unmapped_option_values (error) — picklist values with no option-set translation.
--
-- Protects against: a value outside the documented list (a work-order status
-- "Waiting Parts", a priority "Urgent" — SPEC §8.4) reaching a Dataverse
-- option-set column untranslated. Option sets store integers (SPEC §9), and
-- the transforms translate through mapping/optionsets.csv (map.optionset),
-- leaving the column NULL when no row matches: the record would load with
-- its status or priority silently lost.
--
-- A field is checked when map.optionset translates it into a table of the
-- workspace's profile: for work orders the profile's work-order table
-- (map.settings.work_order_table: incident or msdyn_workorder), for other
-- objects a table the transforms build in stg. A value is translated when a
-- row has its trimmed text as source_value for such a table — as the
-- transforms join it. Empty values are not reported.
-- Fix: add the value's row(s) to mapping/optionsets.csv and run
-- `ferry transform` again, or correct the record in ServiceTracker.
--
-- Every picklist field of SPEC §8.1 has a branch below; a field gains checks
-- as soon as optionsets.csv translates it.

WITH

cells AS (
    SELECT 'customers' AS object, id, 'invoice_method' AS field, map.clean_text(invoice_method) AS value FROM raw.customers_current
    UNION ALL SELECT 'customers', id, 'payment_terms', map.clean_text(payment_terms) FROM raw.customers_current
    UNION ALL SELECT 'customers', id, 'status', map.clean_text(status) FROM raw.customers_current
    UNION ALL SELECT 'contacts', id, 'is_primary', map.clean_text(is_primary) FROM raw.contacts_current
    UNION ALL SELECT 'sites', id, 'site_type', map.clean_text(site_type) FROM raw.sites_current
    UNION ALL SELECT 'sites', id, 'country', map.clean_text(country) FROM raw.sites_current
    UNION ALL SELECT 'technicians', id, 'active', map.clean_text(active) FROM raw.technicians_current
    UNION ALL SELECT 'contracts', id, 'billing_terms', map.clean_text(billing_terms) FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'pm_frequency', map.clean_text(pm_frequency) FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'status', map.clean_text(status) FROM raw.contracts_current
    UNION ALL SELECT 'parts', id, 'unit_of_measure', map.clean_text(unit_of_measure) FROM raw.parts_current
    UNION ALL SELECT 'parts', id, 'active', map.clean_text(active) FROM raw.parts_current
    UNION ALL SELECT 'work_orders', id, 'status', map.clean_text(status) FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'priority', map.clean_text(priority) FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'type', map.clean_text(type) FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'sync_status', map.clean_text(sync_status) FROM raw.work_orders_current
    UNION ALL SELECT 'dispatches', id, 'dispatch_status', map.clean_text(dispatch_status) FROM raw.dispatches_current
    UNION ALL SELECT 'attachments', id, 'parent_type', map.clean_text(parent_type) FROM raw.attachments_current
    UNION ALL SELECT 'attachments', id, 'content_type', map.clean_text(content_type) FROM raw.attachments_current
    UNION ALL SELECT 'activities', id, 'type', map.clean_text(type) FROM raw.activities_current
    UNION ALL SELECT 'activities', id, 'direction', map.clean_text(direction) FROM raw.activities_current
    UNION ALL SELECT 'notes', id, 'parent_type', map.clean_text(parent_type) FROM raw.notes_current
    UNION ALL SELECT 'billing_history', id, 'status', map.clean_text(status) FROM raw.billing_history_current
    UNION ALL SELECT 'workflows', id, 'active', map.clean_text(active) FROM raw.workflows_current
),

profile_options AS (
    -- the translations that apply to this workspace's profile
    SELECT o.*
    FROM map.optionset AS o
    CROSS JOIN map.settings AS s
    WHERE CASE WHEN o.source_object = 'work_orders'
               THEN o.target_table = s.work_order_table
               ELSE o.target_table IN (SELECT table_name FROM duckdb_tables() WHERE schema_name = 'stg')
          END
),

fields AS (
    SELECT source_object, source_field, string_agg(DISTINCT target_table, ', ' ORDER BY target_table) AS tables
    FROM profile_options
    GROUP BY 1, 2
)

SELECT
    'error'                                   AS severity,
    c.object,
    c.id                                      AS record_id,
    c.field,
    'unmapped_option_values'                  AS rule,
    c.object || '.' || c.field || ' "' || c.value || '" has no translation into ' || f.tables
        || ' in mapping/optionsets.csv, so the record would load with that option empty; '
        || 'add a row for "' || c.value || '" to mapping/optionsets.csv and run `ferry transform`, '
        || 'or correct the value in ServiceTracker.'
                                              AS message
FROM cells AS c
JOIN fields AS f ON f.source_object = c.object AND f.source_field = c.field
WHERE c.value IS NOT NULL
  AND NOT EXISTS (
        SELECT 1 FROM profile_options AS o
        WHERE o.source_object = c.object AND o.source_field = c.field AND o.source_value = c.value
      )
