-- V060 (profile sales) — stg.incident: one case per ServiceTracker work order.
--
-- Why: without Field Service, a work order is a Case (SPEC §10). Status,
-- priority and type are translated by mapping/optionsets.csv (a `Critical`
-- priority uses the publisher-range option 100000000 that `ferry plan`
-- inserts before any record uses it). statecode cannot be set on create: the
-- loader creates the case active, then resolves a Resolved case through
-- CloseIncident (with `_resolved_on`) and cancels a Cancelled one by update.
-- Dispatches have no table of their own in this profile: the latest one
-- gives the case its scheduled start/end, its technician owns the case when
-- no technician is assigned, and every dispatch is listed in a note (V100).
-- The work-order type and the site go to custom text columns.
-- A case cannot exist without its customer (customerid is required): a work
-- order whose customer is not an account is excluded (orphan_work_orders).
-- Untranslated status/priority/type values stay with the column NULL; the
-- check reports them.

DELETE FROM map.excluded WHERE object = 'work_orders';

CREATE OR REPLACE TABLE stg.incident AS
WITH

source AS (
    SELECT * FROM raw.work_orders_current
),

latest_dispatch AS (
    -- the dispatch scheduled last (then the highest route sequence, then id)
    SELECT work_order_id, technician_id, scheduled_start, scheduled_end
    FROM raw.dispatches_current
    QUALIFY row_number() OVER (
        PARTITION BY work_order_id
        ORDER BY scheduled_start DESC NULLS LAST, route_sequence DESC NULLS LAST, id DESC
    ) = 1
),

status_option AS (
    -- work_orders.status → statecode + statuscode
    SELECT
        source_value,
        max(target_value) FILTER (WHERE target_column = 'statecode')  AS statecode,
        max(target_value) FILTER (WHERE target_column = 'statuscode') AS statuscode
    FROM map.optionset
    WHERE source_object = 'work_orders' AND source_field = 'status' AND target_table = 'incident'
    GROUP BY source_value
),

priority_option AS (
    -- work_orders.priority → prioritycode
    SELECT source_value, max(target_value) AS prioritycode
    FROM map.optionset
    WHERE source_object = 'work_orders' AND source_field = 'priority'
      AND target_table = 'incident' AND target_column = 'prioritycode'
    GROUP BY source_value
),

type_option AS (
    -- work_orders.type → casetypecode
    SELECT source_value, max(target_value) AS casetypecode
    FROM map.optionset
    WHERE source_object = 'work_orders' AND source_field = 'type'
      AND target_table = 'incident' AND target_column = 'casetypecode'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                          AS source_id,
        map.clean_text(s.site_id)                     AS site_id,
        -- text
        map.clean_text(s.summary)                     AS title,
        map.clean_text(s.description)                 AS description,
        map.clean_text(s.number)                      AS ticketnumber,
        -- picklists
        map.clean_text(s.status)                      AS status,
        map.clean_text(s.priority)                    AS priority,
        map.clean_text(s.type)                        AS work_order_type,
        -- lookups: only to parents that are migrated
        a.accountid                                   AS customer_accountid,
        c.contactid                                   AS primary_contactid,
        k.contractid                                  AS contractid,
        -- owner: the assigned technician, else the latest dispatch's
        coalesce(t.technician_id, d.technician_id)    AS owner_technician_id,
        -- dates
        d.scheduled_start,
        d.scheduled_end,
        s.completed_at,
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a          ON a.{{prefix}}_record_id = s.customer_id
    LEFT JOIN stg.contact AS c          ON c.{{prefix}}_record_id = s.reported_by_contact_id
    LEFT JOIN stg.contract AS k         ON k.{{prefix}}_record_id = s.contract_id
    LEFT JOIN map.technician_owner AS t ON t.technician_id = s.assigned_technician_id
    LEFT JOIN latest_dispatch AS d      ON d.work_order_id = s.id
),

final AS (
    SELECT
        -- ids
        map.record_guid('incident', r.source_id)       AS incidentid,
        r.source_id                                    AS {{prefix}}_record_id,
        'work_orders'                                  AS _source_object,
        -- text
        r.title,
        r.description,
        r.ticketnumber,
        r.work_order_type                              AS {{prefix}}_workordertype,
        r.site_id                                      AS {{prefix}}_siteid,
        -- picklists (NULL when untranslated: the check reports it)
        p.prioritycode::INTEGER                        AS prioritycode,
        ty.casetypecode::INTEGER                       AS casetypecode,
        so.statecode::INTEGER                          AS statecode,
        so.statuscode::INTEGER                         AS statuscode,
        -- lookups
        r.customer_accountid                           AS customerid,
        'account'                                      AS customerid_table,
        r.primary_contactid                            AS primarycontactid,
        CASE WHEN r.primary_contactid IS NOT NULL THEN 'contact' END  AS primarycontactid_table,
        r.contractid,
        CASE WHEN r.contractid IS NOT NULL THEN 'contract' END        AS contractid_table,
        -- dates
        r.scheduled_start                              AS {{prefix}}_scheduledstart,
        r.scheduled_end                                AS {{prefix}}_scheduledend,
        r.created_at                                   AS overriddencreatedon,
        -- bookkeeping: owner and resolution for the loader
        o.user_email                                   AS _owner_email,
        r.owner_technician_id                          AS _owner_technician_id,
        r.completed_at                                 AS _resolved_on
    FROM renamed AS r
    LEFT JOIN status_option AS so        ON so.source_value = r.status
    LEFT JOIN priority_option AS p       ON p.source_value = r.priority
    LEFT JOIN type_option AS ty          ON ty.source_value = r.work_order_type
    LEFT JOIN map.technician_owner AS o  ON o.technician_id = r.owner_technician_id
    WHERE r.customer_accountid IS NOT NULL
)

SELECT * FROM final;

-- Work orders whose customer is not an account: a case needs its customer.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'work_orders',
    s.id,
    'orphan_work_orders',
    CASE WHEN s.customer_id IS NULL
         THEN 'work order has no customer_id; a case needs a customer account'
         ELSE 'customer ' || s.customer_id || ' is not in the source; a case needs a customer account'
    END
FROM raw.work_orders_current AS s
WHERE NOT EXISTS (SELECT 1 FROM stg.account AS a WHERE a.{{prefix}}_record_id = s.customer_id);
