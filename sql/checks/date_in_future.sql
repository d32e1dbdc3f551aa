-- date_in_future (warning) — things that happened after the data was exported.
--
-- Protects against: impossible history loading as if it were true — an
-- activity "occurred" in 2056 because a year was mistyped on the mobile app
-- (SPEC §8.4 "dates ... in the future"). Such a date keeps its value
-- through overriddencreatedon and sorts every timeline wrong.
--
-- Only fields that record something that has already happened are checked:
-- creation and modification times, activities.occurred_at,
-- work_orders.completed_at, equipment.install_date and
-- billing_history.invoice_date. Forward-looking fields (contract start and
-- end dates, warranty ends, dispatch schedules, custom follow-up dates) are
-- legitimately in the future and not checked.
-- "Now" is when the newest extract read the source (meta.extracts: the later
-- of its start and the export's own timestamp), so the result does not
-- depend on when `ferry validate` runs; dates compare as midnight UTC.

WITH

extracted AS (
    SELECT coalesce(
               max(greatest(started_at, coalesce(TRY_CAST(exported_at AS TIMESTAMPTZ), started_at))),
               now()
           ) AS at
    FROM meta.extracts
),

dates AS (
    SELECT 'customers' AS object, id, 'created_at' AS field, TRY_CAST(created_at AS TIMESTAMPTZ) AS value, created_at::VARCHAR AS text FROM raw.customers_current
    UNION ALL SELECT 'customers', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.customers_current
    UNION ALL SELECT 'contacts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.contacts_current
    UNION ALL SELECT 'contacts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.contacts_current
    UNION ALL SELECT 'sites', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.sites_current
    UNION ALL SELECT 'sites', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.sites_current
    UNION ALL SELECT 'technicians', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.technicians_current
    UNION ALL SELECT 'technicians', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.technicians_current
    UNION ALL SELECT 'contracts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'parts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.parts_current
    UNION ALL SELECT 'parts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.parts_current
    UNION ALL SELECT 'work_orders', id, 'completed_at', TRY_CAST(completed_at AS TIMESTAMPTZ), completed_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_order_parts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.work_order_parts_current
    UNION ALL SELECT 'work_order_parts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.work_order_parts_current
    UNION ALL SELECT 'dispatches', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.dispatches_current
    UNION ALL SELECT 'dispatches', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.dispatches_current
    UNION ALL SELECT 'attachments', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.attachments_current
    UNION ALL SELECT 'attachments', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.attachments_current
    UNION ALL SELECT 'activities', id, 'occurred_at', TRY_CAST(occurred_at AS TIMESTAMPTZ), occurred_at::VARCHAR FROM raw.activities_current
    UNION ALL SELECT 'activities', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.activities_current
    UNION ALL SELECT 'activities', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.activities_current
    UNION ALL SELECT 'notes', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.notes_current
    UNION ALL SELECT 'notes', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.notes_current
    UNION ALL SELECT 'billing_history', id, 'invoice_date', TRY_CAST(invoice_date AS TIMESTAMPTZ), invoice_date::VARCHAR FROM raw.billing_history_current
    UNION ALL SELECT 'billing_history', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.billing_history_current
    UNION ALL SELECT 'billing_history', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.billing_history_current
    UNION ALL SELECT 'equipment', id, 'install_date', TRY_CAST(install_date AS TIMESTAMPTZ), install_date::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment_sites', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.equipment_sites_current
    UNION ALL SELECT 'equipment_sites', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.equipment_sites_current
    UNION ALL SELECT 'workflows', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.workflows_current
    UNION ALL SELECT 'workflows', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.workflows_current
)

SELECT
    'warning'                                 AS severity,
    d.object,
    d.id                                      AS record_id,
    d.field,
    'date_in_future'                          AS rule,
    d.object || '.' || d.field || ' is ' || d.text || ', after the source was extracted ('
        || strftime(e.at::TIMESTAMP, '%Y-%m-%d %H:%M') || ' UTC), so it cannot have happened yet; '
        || 'correct it in ServiceTracker (a mistyped year?) and extract again, or waive this finding.'
                                              AS message
FROM dates AS d
CROSS JOIN extracted AS e
WHERE d.value > e.at
