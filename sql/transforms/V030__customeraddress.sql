-- V030 — stg.customeraddress: one address per ServiceTracker site.
--
-- Why: a site is a service, billing or shipping location of a customer;
-- Dataverse keeps extra addresses of an account as customeraddress rows.
-- addressnumber 1 and 2 are the account's own address1/address2, so sites
-- are numbered from 3 per account, in source-id order (SPEC §9).
-- addresstypecode comes from mapping/optionsets.csv; state and postal code
-- are text columns (leading zeros survive).
-- A customeraddress cannot exist without its parent: a site whose customer
-- is not in stg.account is excluded (orphan_sites).

DELETE FROM map.excluded WHERE object = 'sites';

CREATE OR REPLACE TABLE stg.customeraddress AS
WITH

source AS (
    SELECT * FROM raw.sites_current
),

type_option AS (
    -- sites.site_type → addresstypecode (mapping/optionsets.csv)
    SELECT source_value, max(target_value) AS addresstypecode
    FROM map.optionset
    WHERE source_object = 'sites' AND source_field = 'site_type'
      AND target_table = 'customeraddress' AND target_column = 'addresstypecode'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                   AS source_id,
        s.customer_id,
        -- text
        map.clean_text(s.site_name)            AS name,
        map.clean_text(s.street1)              AS line1,
        map.clean_text(s.street2)              AS line2,
        map.clean_text(s.city)                 AS city,
        map.clean_text(s.state)                AS stateorprovince,
        map.clean_text(s.postal_code)          AS postalcode,
        map.clean_text(s.country)              AS country,
        map.clean_text(s.access_notes)         AS access_notes,
        -- numbers
        s.latitude,
        s.longitude,
        -- picklists
        map.clean_text(s.site_type)            AS site_type,
        -- lookups
        a.accountid                            AS parent_accountid,
        -- dates
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a ON a.{{prefix}}_record_id = s.customer_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('customeraddress', r.source_id)  AS customeraddressid,
        r.source_id                                      AS {{prefix}}_record_id,
        'sites'                                          AS _source_object,
        -- numbering: 1 and 2 belong to the account itself
        (2 + row_number() OVER (PARTITION BY r.customer_id ORDER BY r.source_id))::INTEGER
                                                         AS addressnumber,
        -- text
        r.name,
        r.line1,
        r.line2,
        r.city,
        r.stateorprovince,
        r.postalcode,
        r.country,
        r.access_notes                                   AS {{prefix}}_accessnotes,
        -- numbers
        r.latitude,
        r.longitude,
        -- picklists (NULL when untranslated: the check reports it)
        t.addresstypecode::INTEGER                       AS addresstypecode,
        -- lookups
        r.parent_accountid                               AS parentid,
        'account'                                        AS parentid_table,
        -- dates
        r.created_at                                     AS overriddencreatedon
    FROM renamed AS r
    LEFT JOIN type_option AS t ON t.source_value = r.site_type
    WHERE r.parent_accountid IS NOT NULL
)

SELECT * FROM final;

-- Sites whose customer is not an account: a customeraddress needs a parent.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'sites',
    s.id,
    'orphan_sites',
    CASE WHEN s.customer_id IS NULL
         THEN 'site has no customer_id; a customeraddress needs a parent account'
         ELSE 'customer ' || s.customer_id || ' is not in the source; a customeraddress needs a parent account'
    END
FROM raw.sites_current AS s
WHERE NOT EXISTS (SELECT 1 FROM stg.account AS a WHERE a.{{prefix}}_record_id = s.customer_id);
