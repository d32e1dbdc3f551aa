-- V060 (profile field-service) — stg.msdyn_workorder: one Field Service work
-- order per ServiceTracker work order.
--
-- Why: with Field Service installed a work order stays a work order
-- (SPEC §10). The status becomes msdyn_systemstatus through
-- mapping/optionsets.csv (an on-hold order stays In Progress: Field Service
-- marks holds with a substatus). The service account is the customer; the
-- site's address is copied onto the work order, as Field Service does for a
-- service location. The work-order type, the price list and the like are
-- records of the org, named in ferry.toml and filled in by the loader, so
-- msdyn_workordertype / msdyn_pricelist are not emitted here; the source type
-- and priority are kept as custom text columns. Dispatches become bookings
-- (V080).
-- A work order cannot exist without its service account (required): one
-- whose customer is not an account is excluded (orphan_work_orders).
-- An untranslated status stays with msdyn_systemstatus NULL; the check
-- reports it.

DELETE FROM map.excluded WHERE object = 'work_orders';

CREATE OR REPLACE TABLE stg.msdyn_workorder AS
WITH

source AS (
    SELECT * FROM raw.work_orders_current
),

latest_dispatch AS (
    -- the dispatch scheduled last (then the highest route sequence, then id)
    SELECT work_order_id, technician_id
    FROM raw.dispatches_current
    QUALIFY row_number() OVER (
        PARTITION BY work_order_id
        ORDER BY scheduled_start DESC NULLS LAST, route_sequence DESC NULLS LAST, id DESC
    ) = 1
),

status_option AS (
    -- work_orders.status → msdyn_systemstatus
    SELECT source_value, max(target_value) AS msdyn_systemstatus
    FROM map.optionset
    WHERE source_object = 'work_orders' AND source_field = 'status'
      AND target_table = 'msdyn_workorder' AND target_column = 'msdyn_systemstatus'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                          AS source_id,
        map.clean_text(s.site_id)                     AS site_id,
        -- text
        map.clean_text(s.number)                      AS number,
        map.clean_text(s.summary)                     AS summary,
        map.clean_text(s.description)                 AS description,
        map.clean_text(s.type)                        AS work_order_type,
        map.clean_text(s.priority)                    AS priority,
        -- service address, from the site
        map.clean_text(st.site_name)                  AS address_name,
        map.clean_text(st.street1)                    AS address1,
        map.clean_text(st.street2)                    AS address2,
        map.clean_text(st.city)                       AS city,
        map.clean_text(st.state)                      AS stateorprovince,
        map.clean_text(st.postal_code)                AS postalcode,
        map.clean_text(st.country)                    AS country,
        st.latitude,
        st.longitude,
        -- picklists
        map.clean_text(s.status)                      AS status,
        -- lookups: only to parents that are migrated
        a.accountid                                   AS service_accountid,
        c.contactid                                   AS reported_by_contactid,
        k.contractid                                  AS contractid,
        -- owner: the assigned technician, else the latest dispatch's
        coalesce(t.technician_id, d.technician_id)    AS owner_technician_id,
        -- dates
        s.completed_at,
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a          ON a.{{prefix}}_record_id = s.customer_id
    LEFT JOIN stg.contact AS c          ON c.{{prefix}}_record_id = s.reported_by_contact_id
    LEFT JOIN stg.contract AS k         ON k.{{prefix}}_record_id = s.contract_id
    LEFT JOIN raw.sites_current AS st   ON st.id = s.site_id
    LEFT JOIN map.technician_owner AS t ON t.technician_id = s.assigned_technician_id
    LEFT JOIN latest_dispatch AS d      ON d.work_order_id = s.id
),

final AS (
    SELECT
        -- ids
        map.record_guid('msdyn_workorder', r.source_id)  AS msdyn_workorderid,
        r.source_id                                      AS {{prefix}}_record_id,
        'work_orders'                                    AS _source_object,
        -- text
        r.number                                         AS msdyn_name,
        r.summary                                        AS msdyn_workordersummary,
        r.description                                    AS msdyn_instructions,
        r.work_order_type                                AS {{prefix}}_workordertype,
        r.priority                                       AS {{prefix}}_priority,
        r.site_id                                        AS {{prefix}}_siteid,
        -- service address
        r.address_name                                   AS msdyn_addressname,
        r.address1                                       AS msdyn_address1,
        r.address2                                       AS msdyn_address2,
        r.city                                           AS msdyn_city,
        r.stateorprovince                                AS msdyn_stateorprovince,
        r.postalcode                                     AS msdyn_postalcode,
        r.country                                        AS msdyn_country,
        r.latitude                                       AS msdyn_latitude,
        r.longitude                                      AS msdyn_longitude,
        -- picklists (NULL when untranslated: the check reports it)
        so.msdyn_systemstatus::INTEGER                   AS msdyn_systemstatus,
        -- lookups
        r.service_accountid                              AS msdyn_serviceaccount,
        'account'                                        AS msdyn_serviceaccount_table,
        r.reported_by_contactid                          AS msdyn_reportedbycontact,
        CASE WHEN r.reported_by_contactid IS NOT NULL THEN 'contact' END AS msdyn_reportedbycontact_table,
        r.contractid                                     AS {{prefix}}_contractid,
        CASE WHEN r.contractid IS NOT NULL THEN 'contract' END           AS {{prefix}}_contractid_table,
        -- dates
        r.completed_at                                   AS msdyn_completedon,
        r.created_at                                     AS overriddencreatedon,
        -- bookkeeping: owner for the loader
        o.user_email                                     AS _owner_email,
        r.owner_technician_id                            AS _owner_technician_id
    FROM renamed AS r
    LEFT JOIN status_option AS so        ON so.source_value = r.status
    LEFT JOIN map.technician_owner AS o  ON o.technician_id = r.owner_technician_id
    WHERE r.service_accountid IS NOT NULL
)

SELECT * FROM final;

-- Work orders whose customer is not an account: the service account is required.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'work_orders',
    s.id,
    'orphan_work_orders',
    CASE WHEN s.customer_id IS NULL
         THEN 'work order has no customer_id; a work order needs a service account'
         ELSE 'customer ' || s.customer_id || ' is not in the source; a work order needs a service account'
    END
FROM raw.work_orders_current AS s
WHERE NOT EXISTS (SELECT 1 FROM stg.account AS a WHERE a.{{prefix}}_record_id = s.customer_id);
