-- no_email_domain (review) — accounts without an e-mail domain.
--
-- Protects against: an account arriving with no e-mail at all, so nothing
-- ties it to a company domain (duplicate detection, e-mail tracking and
-- server-side sync match on it). SPEC §10: "accounts without an e-mail
-- domain flagged for review"; SPEC §8.4 lists them as dirt to catch.
--
-- Flags customers whose e-mail is empty. A malformed e-mail is
-- `invalid_email`, a free-mail one `free_mail_domain`: each customer is
-- reported by the rule that says what is wrong with it.

SELECT
    'review'                                  AS severity,
    'customers'                               AS object,
    id                                        AS record_id,
    'email'                                   AS field,
    'no_email_domain'                         AS rule,
    'Customer "' || coalesce(map.clean_text(company_name), id) || '" has no e-mail, so the account has no e-mail domain'
        || CASE WHEN map.clean_text(website) IS NOT NULL
                THEN ' (its website is ' || map.clean_text(website) || ')'
                ELSE ' and no website either' END
        || '; add the company''s e-mail in ServiceTracker, or waive this finding to load the account without one.'
                                              AS message
FROM raw.customers_current
WHERE map.clean_text(email) IS NULL
