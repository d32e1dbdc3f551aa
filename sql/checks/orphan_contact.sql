-- orphan_contact (warning) — contacts whose customer does not exist.
--
-- Protects against: losing the link between a person and their company
-- without anyone noticing. ServiceTracker deleted the customer without
-- cascading, so the contact's customer_id points nowhere (SPEC §8.4
-- "contacts whose customer does not exist"). A contact can stand alone in
-- Dataverse, so the transform (V020) loads it with parentcustomerid empty
-- (SPEC §9 contact.parentcustomerid is optional); this finding says so.

SELECT
    'warning'                                 AS severity,
    'contacts'                                AS object,
    c.id                                      AS record_id,
    'customer_id'                             AS field,
    'orphan_contact'                          AS rule,
    'Contact ' || concat_ws(' ', map.clean_text(c.first_name), map.clean_text(c.last_name))
        || ' names customer ' || map.clean_text(c.customer_id)
        || ', which is not in ServiceTracker (deleted or never exported); the contact loads without a parent account — '
        || 'set its customer in ServiceTracker, or waive this finding to accept it.'
                                              AS message
FROM raw.contacts_current AS c
WHERE map.clean_text(c.customer_id) IS NOT NULL
  AND NOT EXISTS (
        SELECT 1 FROM raw.customers_current AS p
        WHERE p.id = map.clean_text(c.customer_id)
      )
