-- V010 — stg.account: one account per ServiceTracker customer.
--
-- Why: the customer is the root of everything else (contacts, sites,
-- contracts, work orders, notes, billing history hang off it), so every
-- customer becomes an account; none is excluded. SPEC §10: name, e-mail,
-- phone, website and the billing address go to standard columns; billing
-- contact, invoice method, PO number and payment terms to custom columns.
-- The primary contact is marked with primarycontactid (contact has no
-- "is primary" column); the loader sets it in its deferred second pass,
-- after the contacts exist (account ↔ contact cycle, SPEC §6).
-- Duplicates (same name + phone), e-mails without a domain and the like are
-- kept as they are: the checks report them.

CREATE OR REPLACE TABLE stg.account AS
WITH

source AS (
    SELECT * FROM raw.customers_current
),

primary_contact AS (
    -- the contact flagged is_primary; several flagged → the oldest one
    SELECT customer_id, id AS contact_id
    FROM raw.contacts_current
    WHERE is_primary
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY created_at, id) = 1
),

status_option AS (
    -- customers.status → account statecode + statuscode (mapping/optionsets.csv)
    SELECT
        source_value,
        max(target_value) FILTER (WHERE target_column = 'statecode')  AS statecode,
        max(target_value) FILTER (WHERE target_column = 'statuscode') AS statuscode
    FROM map.optionset
    WHERE source_object = 'customers' AND source_field = 'status' AND target_table = 'account'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                         AS source_id,
        -- text
        map.clean_text(s.company_name)               AS name,
        map.clean_text(s.email)                      AS emailaddress1,
        map.clean_text(s.phone)                      AS telephone1,
        map.clean_text(s.website)                    AS websiteurl,
        -- billing address → address 1 (postal code stays text: leading zeros)
        map.clean_text(s.billing_street)             AS address1_line1,
        map.clean_text(s.billing_city)               AS address1_city,
        map.clean_text(s.billing_state)              AS address1_stateorprovince,
        map.clean_text(s.billing_postal_code)        AS address1_postalcode,
        map.clean_text(s.billing_country)            AS address1_country,
        -- custom columns (SPEC §10)
        map.clean_text(s.billing_contact_name)       AS billing_contact_name,
        map.clean_text(s.invoice_method)             AS invoice_method,
        map.clean_text(s.po_number)                  AS po_number,
        map.clean_text(s.payment_terms)              AS payment_terms,
        -- kept for the checks: the name ServiceTracker shows as primary contact
        map.clean_text(s.primary_contact_name)       AS primary_contact_name,
        -- picklists
        map.clean_text(s.status)                     AS status,
        -- lookups
        pc.contact_id                                AS primary_contact_id,
        -- dates
        s.created_at
    FROM source AS s
    LEFT JOIN primary_contact AS pc ON pc.customer_id = s.id
),

final AS (
    SELECT
        -- ids
        map.record_guid('account', r.source_id)            AS accountid,
        r.source_id                                        AS {{prefix}}_record_id,
        'customers'                                        AS _source_object,
        -- text
        r.name,
        r.emailaddress1,
        r.telephone1,
        r.websiteurl,
        r.address1_line1,
        r.address1_city,
        r.address1_stateorprovince,
        r.address1_postalcode,
        r.address1_country,
        -- custom columns
        r.billing_contact_name                             AS {{prefix}}_billingcontactname,
        r.invoice_method                                   AS {{prefix}}_invoicemethod,
        r.po_number                                        AS {{prefix}}_ponumber,
        r.payment_terms                                    AS {{prefix}}_paymentterms,
        -- state (NULL when the status has no translation: the check reports it)
        so.statecode::INTEGER                              AS statecode,
        so.statuscode::INTEGER                             AS statuscode,
        -- lookups (primarycontactid: deferred second pass)
        CASE WHEN r.primary_contact_id IS NOT NULL
             THEN map.record_guid('contact', r.primary_contact_id) END AS primarycontactid,
        CASE WHEN r.primary_contact_id IS NOT NULL
             THEN 'contact' END                            AS primarycontactid_table,
        -- dates
        r.created_at                                       AS overriddencreatedon,
        -- bookkeeping
        r.primary_contact_name                             AS _primary_contact_name
    FROM renamed AS r
    LEFT JOIN status_option AS so ON so.source_value = r.status
)

SELECT * FROM final;
