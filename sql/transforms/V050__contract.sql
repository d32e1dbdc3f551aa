-- V050 — stg.contract: one contract per ServiceTracker service contract.
--
-- Why: contracts carry the service terms cases refer to (incident.contractid).
-- customerid and billingcustomerid are both the customer's account; status
-- and billing terms are translated by mapping/optionsets.csv. The contract
-- template and currency are existing records of the org, named in ferry.toml
-- and filled in by the loader, so those columns are not emitted here. The
-- contract value and PM frequency go to custom columns; the PM routine text
-- becomes a note on the contract (V100).
-- A contract cannot exist without a customer (customerid is required): one
-- whose customer is not an account is excluded (orphan_contracts).
--
-- Dates: start/end dates are calendar dates; they become midnight UTC of
-- that date (activeon / expireson).

DELETE FROM map.excluded WHERE object = 'contracts';

CREATE OR REPLACE TABLE stg.contract AS
WITH

source AS (
    SELECT * FROM raw.contracts_current
),

status_option AS (
    -- contracts.status → statecode + statuscode (mapping/optionsets.csv)
    SELECT
        source_value,
        max(target_value) FILTER (WHERE target_column = 'statecode')  AS statecode,
        max(target_value) FILTER (WHERE target_column = 'statuscode') AS statuscode
    FROM map.optionset
    WHERE source_object = 'contracts' AND source_field = 'status' AND target_table = 'contract'
    GROUP BY source_value
),

billing_option AS (
    -- contracts.billing_terms → billingfrequencycode (mapping/optionsets.csv)
    SELECT source_value, max(target_value) AS billingfrequencycode
    FROM map.optionset
    WHERE source_object = 'contracts' AND source_field = 'billing_terms'
      AND target_table = 'contract' AND target_column = 'billingfrequencycode'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                   AS source_id,
        -- text
        map.clean_text(s.name)                 AS title,
        map.clean_text(s.contract_number)      AS contractnumber,
        map.clean_text(s.pm_frequency)         AS pm_frequency,
        -- numbers
        s.value,
        -- picklists
        map.clean_text(s.status)               AS status,
        map.clean_text(s.billing_terms)        AS billing_terms,
        -- lookups
        a.accountid                            AS customer_accountid,
        -- dates
        s.start_date,
        s.end_date,
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a ON a.{{prefix}}_record_id = s.customer_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('contract', r.source_id)   AS contractid,
        r.source_id                                AS {{prefix}}_record_id,
        'contracts'                                AS _source_object,
        -- text
        r.title,
        r.contractnumber,
        r.pm_frequency                             AS {{prefix}}_pmfrequency,
        -- numbers
        r.value::DECIMAL(19,4)                     AS {{prefix}}_contractvalue,
        -- picklists (NULL when untranslated: the check reports it)
        b.billingfrequencycode::INTEGER            AS billingfrequencycode,
        so.statecode::INTEGER                      AS statecode,
        so.statuscode::INTEGER                     AS statuscode,
        -- lookups
        r.customer_accountid                       AS customerid,
        'account'                                  AS customerid_table,
        r.customer_accountid                       AS billingcustomerid,
        'account'                                  AS billingcustomerid_table,
        -- dates (calendar dates → midnight UTC)
        r.start_date::TIMESTAMPTZ                  AS activeon,
        r.end_date::TIMESTAMPTZ                    AS expireson,
        r.created_at                               AS overriddencreatedon
    FROM renamed AS r
    LEFT JOIN status_option AS so ON so.source_value = r.status
    LEFT JOIN billing_option AS b ON b.source_value = r.billing_terms
    WHERE r.customer_accountid IS NOT NULL
)

SELECT * FROM final;

-- Contracts whose customer is not an account: customerid is required.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'contracts',
    s.id,
    'orphan_contracts',
    CASE WHEN s.customer_id IS NULL
         THEN 'contract has no customer_id; a contract needs a customer account'
         ELSE 'customer ' || s.customer_id || ' is not in the source; a contract needs a customer account'
    END
FROM raw.contracts_current AS s
WHERE NOT EXISTS (SELECT 1 FROM stg.account AS a WHERE a.{{prefix}}_record_id = s.customer_id);
