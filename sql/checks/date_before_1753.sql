-- date_before_1753 (error) — dates Dataverse cannot store.
--
-- Protects against: a push failing on a date before 1753-01-01, the minimum
-- of Dataverse's DateTime columns (SQL Server datetime range), typically a
-- year typed with a digit missing ("0202", "1202") — SPEC §8.4 "dates
-- before 1753". Every date and time field of SPEC §8.1 has a branch below
-- (dates compare as midnight UTC).
-- Fix: correct the date in ServiceTracker and extract again, or waive the
-- finding and clear the value in the transform.

WITH

dates AS (
    SELECT 'customers' AS object, id, 'created_at' AS field, TRY_CAST(created_at AS TIMESTAMPTZ) AS value, created_at::VARCHAR AS text FROM raw.customers_current
    UNION ALL SELECT 'customers', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.customers_current
    UNION ALL SELECT 'contacts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.contacts_current
    UNION ALL SELECT 'contacts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.contacts_current
    UNION ALL SELECT 'sites', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.sites_current
    UNION ALL SELECT 'sites', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.sites_current
    UNION ALL SELECT 'technicians', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.technicians_current
    UNION ALL SELECT 'technicians', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.technicians_current
    UNION ALL SELECT 'contracts', id, 'start_date', TRY_CAST(start_date AS TIMESTAMPTZ), start_date::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'end_date', TRY_CAST(end_date AS TIMESTAMPTZ), end_date::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'contracts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.contracts_current
    UNION ALL SELECT 'parts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.parts_current
    UNION ALL SELECT 'parts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.parts_current
    UNION ALL SELECT 'work_orders', id, 'completed_at', TRY_CAST(completed_at AS TIMESTAMPTZ), completed_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_orders', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.work_orders_current
    UNION ALL SELECT 'work_order_parts', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.work_order_parts_current
    UNION ALL SELECT 'work_order_parts', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.work_order_parts_current
    UNION ALL SELECT 'dispatches', id, 'scheduled_start', TRY_CAST(scheduled_start AS TIMESTAMPTZ), scheduled_start::VARCHAR FROM raw.dispatches_current
    UNION ALL SELECT 'dispatches', id, 'scheduled_end', TRY_CAST(scheduled_end AS TIMESTAMPTZ), scheduled_end::VARCHAR FROM raw.dispatches_current
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
    UNION ALL SELECT 'equipment', id, 'warranty_end', TRY_CAST(warranty_end AS TIMESTAMPTZ), warranty_end::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.equipment_current
    UNION ALL SELECT 'equipment_sites', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.equipment_sites_current
    UNION ALL SELECT 'equipment_sites', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.equipment_sites_current
    UNION ALL SELECT 'workflows', id, 'created_at', TRY_CAST(created_at AS TIMESTAMPTZ), created_at::VARCHAR FROM raw.workflows_current
    UNION ALL SELECT 'workflows', id, 'modified_at', TRY_CAST(modified_at AS TIMESTAMPTZ), modified_at::VARCHAR FROM raw.workflows_current
)

SELECT
    'error'                                   AS severity,
    object,
    id                                        AS record_id,
    field,
    'date_before_1753'                        AS rule,
    object || '.' || field || ' is ' || text
        || ', before 1753-01-01, the earliest date Dataverse can store; correct it in ServiceTracker (a mistyped year?) '
        || 'and extract again, or waive this finding and clear the value in the transform.'
                                              AS message
FROM dates
WHERE value < TIMESTAMPTZ '1753-01-01 00:00:00+00'
