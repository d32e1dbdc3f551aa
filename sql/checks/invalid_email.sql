-- invalid_email (error) — e-mail addresses that are not addresses.
--
-- Protects against: malformed addresses (`name@@domain.com`, `name at
-- domain.com`, a domain without a dot, `domain..com`) reaching
-- account/contact emailaddress1, where Dataverse's e-mail format rejects
-- them in forms and server-side e-mail matching never finds them (SPEC §8.4
-- "invalid e-mails"); and technician addresses that cannot match a
-- systemuser's internalemailaddress (SPEC §9 systemuser).
--
-- The pattern is the source inventory's (src/stage/inventory.rs
-- EMAIL_PATTERN): a local part of the characters RFC 5322 allows unquoted,
-- one `@`, and a domain of at least two dot-separated labels. An empty
-- e-mail is not invalid here: an account without one is `no_email_domain`.

WITH

emails AS (
    SELECT 'customers' AS object, id, email, map.clean_text(email) AS value
    FROM raw.customers_current
    UNION ALL
    SELECT 'contacts', id, email, map.clean_text(email)
    FROM raw.contacts_current
    UNION ALL
    SELECT 'technicians', id, email, map.clean_text(email)
    FROM raw.technicians_current
)

SELECT
    'error'                                   AS severity,
    object,
    id                                        AS record_id,
    'email'                                   AS field,
    'invalid_email'                           AS rule,
    'E-mail "' || value || '" is not a valid address (one @, a domain with a dot, no spaces); '
        || 'correct it in ServiceTracker and extract again, or clear it there if the real address is unknown.'
                                              AS message
FROM emails
WHERE value IS NOT NULL
  AND NOT regexp_full_match(
        value,
        '[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+'
      )
