-- V020 — stg.contact: one contact per ServiceTracker contact.
--
-- Why: contacts are the people activities, cases and work orders refer to.
-- A contact stands alone in Dataverse, so one whose customer is missing from
-- the source is kept with parentcustomerid NULL (the orphan check reports
-- it) instead of being dropped. is_primary is not a contact column: it
-- becomes account.primarycontactid (V010).

CREATE OR REPLACE TABLE stg.contact AS
WITH

source AS (
    SELECT * FROM raw.contacts_current
),

renamed AS (
    SELECT
        -- ids
        s.id                                  AS source_id,
        -- text
        map.clean_text(s.first_name)          AS firstname,
        map.clean_text(s.last_name)           AS lastname,
        map.clean_text(s.job_title)           AS jobtitle,
        map.clean_text(s.direct_phone)        AS telephone1,
        map.clean_text(s.mobile_phone)        AS mobilephone,
        map.clean_text(s.email)               AS emailaddress1,
        -- lookups: only to an account that exists
        a.accountid                           AS parent_accountid,
        -- dates
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a ON a.{{prefix}}_record_id = s.customer_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('contact', source_id)          AS contactid,
        source_id                                      AS {{prefix}}_record_id,
        'contacts'                                     AS _source_object,
        -- text
        firstname,
        lastname,
        jobtitle,
        telephone1,
        mobilephone,
        emailaddress1,
        -- lookups
        parent_accountid                               AS parentcustomerid,
        CASE WHEN parent_accountid IS NOT NULL THEN 'account' END AS parentcustomerid_table,
        -- dates
        created_at                                     AS overriddencreatedon
    FROM renamed
)

SELECT * FROM final;
