-- duplicate_customers (review) — the same company entered twice.
--
-- Protects against: two accounts for one company (same name and same
-- phone), which splits its contacts, cases and history across two records
-- in Dataverse (SPEC §8.4 "duplicate customers (same name + phone)").
--
-- Names compare case-insensitively with white space collapsed; phones by
-- their digits (a leading US country code 1 dropped). One finding per
-- duplicate: every customer of a group except the first by id (the
-- original), whose id the message names. Ids compare by length, then text,
-- so CUS-1000000 sorts after CUS-999999.

WITH

keyed AS (
    SELECT
        id,
        map.clean_text(company_name)                                        AS name,
        map.clean_text(phone)                                               AS phone,
        lower(regexp_replace(map.clean_text(company_name), '\s+', ' ', 'g')) AS name_key,
        regexp_replace(regexp_replace(phone, '[^0-9]', '', 'g'), '^1(\d{10})$', '\1') AS phone_key
    FROM raw.customers_current
),

grouped AS (
    SELECT
        *,
        first_value(id) OVER (
            PARTITION BY name_key, phone_key ORDER BY length(id), id
        ) AS original_id
    FROM keyed
    WHERE name_key IS NOT NULL AND phone_key <> ''
)

SELECT
    'review'                                  AS severity,
    'customers'                               AS object,
    id                                        AS record_id,
    'company_name'                            AS field,
    'duplicate_customers'                     AS rule,
    'Customer "' || name || '" (phone ' || phone || ') duplicates ' || original_id
        || ', which has the same name and phone; merge the two in ServiceTracker before the migration, '
        || 'or waive this finding if they are different companies.'
                                              AS message
FROM grouped
WHERE id <> original_id
