-- free_mail_domain (review) — accounts whose e-mail is at a free-mail provider.
--
-- Protects against: an account identified by a personal mailbox
-- (gmail.com, yahoo.com, ...) instead of the company's domain — the domain
-- says nothing about the company, so duplicate detection and e-mail
-- matching by domain group unrelated accounts together (SPEC §8.4
-- "free-mail domains"; SPEC §10 accounts need an e-mail domain).
--
-- The free-mail list is meta.free_mail_domains, the one the source
-- inventory uses (`ferry stage` writes it). Contacts are people: a personal
-- mailbox is normal for them and not reported.

SELECT
    'review'                                  AS severity,
    'customers'                               AS object,
    c.id                                      AS record_id,
    'email'                                   AS field,
    'free_mail_domain'                        AS rule,
    'Customer "' || coalesce(map.clean_text(c.company_name), c.id) || '" has e-mail "' || map.clean_text(c.email)
        || '" at the free-mail provider ' || f.domain
        || ', not a company domain; put the company''s own address in ServiceTracker, or waive this finding if the customer really uses it.'
                                              AS message
FROM raw.customers_current AS c
JOIN meta.free_mail_domains AS f
  ON f.domain = lower(regexp_extract(map.clean_text(c.email), '@([^@]+)$', 1))
