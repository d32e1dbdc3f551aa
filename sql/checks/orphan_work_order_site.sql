-- orphan_work_order_site (warning) — work orders at a site that does not exist.
--
-- Protects against: a case or work order losing where the work was done.
-- The work order's site_id names no ServiceTracker site (SPEC §8.4 dirt;
-- SPEC §8.1 work_orders.site_id → sites). The record still loads — its
-- customer is known — but no service address can be linked to it; the
-- transform keeps the raw site id as text ({{prefix}}_siteid on the case).

SELECT
    'warning'                                 AS severity,
    'work_orders'                             AS object,
    w.id                                      AS record_id,
    'site_id'                                 AS field,
    'orphan_work_order_site'                  AS rule,
    'Work order ' || coalesce(map.clean_text(w.number), w.id) || ' names site ' || map.clean_text(w.site_id)
        || ', which is not in ServiceTracker; it loads without a service address — '
        || 'correct the site in ServiceTracker, or waive this finding to accept it.'
                                              AS message
FROM raw.work_orders_current AS w
WHERE map.clean_text(w.site_id) IS NOT NULL
  AND NOT EXISTS (
        SELECT 1 FROM raw.sites_current AS s
        WHERE s.id = map.clean_text(w.site_id)
      )
