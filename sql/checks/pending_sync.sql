-- pending_sync (error) — work orders edited offline and not yet synced.
--
-- Protects against: migrating a stale copy of a work order. A record edited
-- in the mobile app offline carries sync_status = 'Pending' until it syncs;
-- what ServiceTracker exported is not what the technician last saw, and "a
-- migration must not start while any are pending (report them)" (SPEC §8).
-- `ferry extract` refuses to start while any are pending unless
-- --allow-pending; this check keeps push blocked until they are synced and
-- extracted again (or waived one by one).

SELECT
    'error'                                   AS severity,
    'work_orders'                             AS object,
    id                                        AS record_id,
    'sync_status'                             AS field,
    'pending_sync'                            AS rule,
    'Work order ' || coalesce(map.clean_text(number), id) || ' has sync_status "' || map.clean_text(sync_status)
        || '": it was edited offline on the mobile app and has not synced, so the export may be stale; '
        || 'have the technician sync the device, then run `ferry extract` and `ferry stage` again.'
                                              AS message
FROM raw.work_orders_current
WHERE lower(map.clean_text(sync_status)) = 'pending'
