-- V080 (profile field-service) — stg.bookableresource, stg.bookableresourcebooking.
--
-- Why: with Field Service, a dispatch is a booking of a resource on a work
-- order (SPEC §10). Every technician becomes a bookable resource of type
-- 3 User (reference schema, bookableresource.resourcetype) linked to the
-- technician's Dataverse user, which the loader resolves from `_user_email`
-- (users are matched, never created: V005). Every dispatch becomes a
-- booking of that resource on its work order; the booking status is an org
-- record, so the loader resolves it by name from `_bookingstatus_name`
-- (the ServiceTracker dispatch status) instead of this file emitting the
-- bookingstatus lookup.
-- A booking cannot stand without its resource or its work order: a
-- dispatch whose technician or work order is not migrated is excluded
-- (orphan_dispatches).

DELETE FROM map.excluded WHERE object = 'dispatches';

-- ---------------------------------------------------------------------------
-- stg.bookableresource — one per technician
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.bookableresource AS
WITH

source AS (
    SELECT * FROM raw.technicians_current
),

renamed AS (
    SELECT
        -- ids
        s.id                                 AS source_id,
        -- text
        t.full_name,
        t.email,
        map.clean_text(s.skills)             AS skills,
        -- numbers
        s.hourly_rate,
        -- the user the resource stands for
        t.user_email,
        -- dates
        s.created_at
    FROM source AS s
    JOIN map.technician_owner AS t ON t.technician_id = s.id
),

final AS (
    SELECT
        -- ids
        map.record_guid('bookableresource', source_id)  AS bookableresourceid,
        source_id                                       AS {{prefix}}_record_id,
        'technicians'                                   AS _source_object,
        -- text: the technician's name (their id when they have none)
        coalesce(full_name, source_id)                  AS name,
        email                                           AS msdyn_primaryemail,
        skills                                          AS {{prefix}}_skills,
        -- picklists: 3 User (fixed, see header)
        3::INTEGER                                      AS resourcetype,
        -- numbers
        hourly_rate::DECIMAL(19,4)                      AS msdyn_hourlyrate,
        -- dates
        created_at                                      AS overriddencreatedon,
        -- bookkeeping: the loader sets userid from this user
        user_email                                      AS _user_email
    FROM renamed
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.bookableresourcebooking — one per dispatch
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.bookableresourcebooking AS
WITH

source AS (
    SELECT * FROM raw.dispatches_current
),

renamed AS (
    SELECT
        -- ids
        s.id                                             AS source_id,
        s.technician_id,
        -- text
        concat_ws(' - ', w.msdyn_name, r.name)           AS booking_name,
        map.clean_text(s.dispatch_status)                AS dispatch_status,
        -- lookups
        r.bookableresourceid,
        w.msdyn_workorderid,
        -- dates
        s.scheduled_start,
        s.scheduled_end,
        s.created_at,
        -- owner: the technician's user
        r._user_email                                    AS user_email
    FROM source AS s
    LEFT JOIN stg.bookableresource AS r ON r.{{prefix}}_record_id = s.technician_id
    LEFT JOIN stg.msdyn_workorder AS w  ON w.{{prefix}}_record_id = s.work_order_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('bookableresourcebooking', source_id)  AS bookableresourcebookingid,
        source_id                                              AS {{prefix}}_record_id,
        'dispatches'                                           AS _source_object,
        -- text
        nullif(booking_name, '')                               AS name,
        -- numbers: minutes between start and end (UTC casts, no ICU needed)
        date_diff('minute', scheduled_start::TIMESTAMP, scheduled_end::TIMESTAMP)::INTEGER
                                                               AS duration,
        -- dates
        scheduled_start                                        AS starttime,
        scheduled_end                                          AS endtime,
        created_at                                             AS overriddencreatedon,
        -- lookups
        bookableresourceid                                     AS resource,
        'bookableresource'                                     AS resource_table,
        msdyn_workorderid                                      AS msdyn_workorder,
        'msdyn_workorder'                                      AS msdyn_workorder_table,
        -- bookkeeping: booking status by name, owner by user
        dispatch_status                                        AS _bookingstatus_name,
        user_email                                             AS _owner_email,
        technician_id                                          AS _owner_technician_id
    FROM renamed
    WHERE bookableresourceid IS NOT NULL AND msdyn_workorderid IS NOT NULL
)

SELECT * FROM final;

-- Dispatches whose technician or work order is not migrated.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'dispatches',
    s.id,
    'orphan_dispatches',
    concat_ws('; ',
        CASE WHEN r.bookableresourceid IS NULL THEN
            CASE WHEN s.technician_id IS NULL THEN 'dispatch has no technician_id'
                 ELSE 'technician ' || s.technician_id || ' is not in the source' END
        END,
        CASE WHEN w.msdyn_workorderid IS NULL THEN
            CASE WHEN s.work_order_id IS NULL THEN 'dispatch has no work_order_id'
                 WHEN EXISTS (SELECT 1 FROM raw.work_orders_current AS x WHERE x.id = s.work_order_id)
                 THEN 'work order ' || s.work_order_id || ' is excluded from the migration'
                 ELSE 'work order ' || s.work_order_id || ' is not in the source' END
        END
    ) || '; a booking needs its resource and its work order'
FROM raw.dispatches_current AS s
LEFT JOIN stg.bookableresource AS r ON r.{{prefix}}_record_id = s.technician_id
LEFT JOIN stg.msdyn_workorder AS w  ON w.{{prefix}}_record_id = s.work_order_id
WHERE r.bookableresourceid IS NULL OR w.msdyn_workorderid IS NULL;
