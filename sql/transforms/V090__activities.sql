-- V090 — stg.phonecall, stg.email, stg.appointment, stg.activityparty.
--
-- Why: calls, e-mails and meetings must keep their original timestamps and
-- stay linked to the people and the work they were about (SPEC §9, §10):
--   * the activity type picks the table (mapping/optionsets.csv,
--     activities.type → <table>.activitytypecode): Call → phonecall,
--     Email → email, Meeting → appointment;
--   * overriddencreatedon = occurred_at (settable on create only);
--   * regarding = the work order when it is migrated (case or Field Service
--     work order, per map.settings.work_order_table), else the customer's
--     account;
--   * parties: phone calls and e-mails go from the technician's user to the
--     contact (Outbound) or from the contact to the user (Inbound) —
--     participationtypemask 1 Sender, 2 To; a meeting has the technician as
--     organizer (7) and the contact as required attendee (5). The user is
--     resolved by the loader from `_party_email` (partyid stays NULL with
--     partyid_table 'systemuser');
--   * history is closed: statecode 1 Completed; the status is Received /
--     Made / Sent by direction (mapping/optionsets.csv) and 3 Completed for
--     a meeting;
--   * the technician's user owns the activity (`_owner_email`).
-- An activity stands alone: a missing contact, work order or customer only
-- leaves that link out (the checks report orphans). An activity whose type
-- has no target table cannot become a row and is excluded
-- (unmapped_activity_type).

DELETE FROM map.excluded WHERE object = 'activities';

-- ---------------------------------------------------------------------------
-- map.activity — every activity with its target table and the columns the
-- three activity tables share, resolved once.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE map.activity AS
WITH

source AS (
    SELECT * FROM raw.activities_current
),

type_option AS (
    -- activities.type → the activity table (target_table of activitytypecode)
    SELECT source_value, min(target_table) AS activity_table
    FROM map.optionset
    WHERE source_object = 'activities' AND source_field = 'type'
      AND target_column = 'activitytypecode'
    GROUP BY source_value
),

direction_option AS (
    -- activities.direction → directioncode + statuscode, per activity table
    SELECT
        source_value,
        target_table,
        max(target_value) FILTER (WHERE target_column = 'directioncode') AS directioncode,
        max(target_value) FILTER (WHERE target_column = 'statuscode')    AS statuscode
    FROM map.optionset
    WHERE source_object = 'activities' AND source_field = 'direction'
    GROUP BY source_value, target_table
),

migrated_work_order AS (
    -- a work order is migrated when it is in the source and not excluded
    -- (work orders are never folded); works for either work-order table
    SELECT w.id
    FROM raw.work_orders_current AS w
    WHERE NOT EXISTS (SELECT 1 FROM map.excluded AS x
                      WHERE x.object = 'work_orders' AND x.record_id = w.id)
),

renamed AS (
    SELECT
        -- ids
        s.id                                         AS record_id,
        t.activity_table,
        -- text
        map.clean_text(s.subject)                    AS subject,
        map.clean_text(s.body)                       AS description,
        map.clean_text(s.type)                       AS type,
        map.clean_text(s.direction)                  AS direction,
        -- numbers
        s.duration_minutes::INTEGER                  AS duration_minutes,
        -- lookups: only to migrated parents
        wo.id                                        AS work_order_id,
        a.accountid,
        c.contactid,
        tech.technician_id,
        tech.user_email,
        -- dates
        s.occurred_at
    FROM source AS s
    LEFT JOIN type_option AS t             ON t.source_value = map.clean_text(s.type)
    LEFT JOIN migrated_work_order AS wo    ON wo.id = s.work_order_id
    LEFT JOIN stg.account AS a             ON a.{{prefix}}_record_id = s.customer_id
    LEFT JOIN stg.contact AS c             ON c.{{prefix}}_record_id = s.contact_id
    LEFT JOIN map.technician_owner AS tech ON tech.technician_id = s.technician_id
),

final AS (
    SELECT
        -- ids
        r.record_id,
        r.activity_table,
        map.record_guid(r.activity_table, r.record_id)                     AS activityid,
        -- text
        r.subject,
        r.description,
        -- picklists (NULL when untranslated)
        d.directioncode::INTEGER                                           AS directioncode,
        d.statuscode::INTEGER                                              AS direction_statuscode,
        -- numbers
        r.duration_minutes,
        -- dates: start = occurred_at, end = start + duration (no ICU needed:
        -- TIMESTAMPTZ ↔ TIMESTAMP casts are UTC)
        r.occurred_at,
        (r.occurred_at::TIMESTAMP + to_minutes(coalesce(r.duration_minutes, 0)))::TIMESTAMPTZ
                                                                           AS ended_at,
        -- regarding: the work order, else the account
        CASE WHEN r.work_order_id IS NOT NULL
             THEN map.record_guid((SELECT work_order_table FROM map.settings), r.work_order_id)
             ELSE r.accountid END                                          AS regardingobjectid,
        CASE WHEN r.work_order_id IS NOT NULL THEN (SELECT work_order_table FROM map.settings)
             WHEN r.accountid IS NOT NULL THEN 'account' END               AS regardingobjectid_table,
        -- people
        r.contactid,
        r.technician_id,
        r.user_email
    FROM renamed AS r
    LEFT JOIN direction_option AS d
           ON d.source_value = r.direction AND d.target_table = r.activity_table
    WHERE r.activity_table IS NOT NULL
)

SELECT * FROM final;

-- Activities whose type has no target table.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'activities',
    s.id,
    'unmapped_activity_type',
    'activity type ' || coalesce('''' || s.type || '''', 'NULL')
        || ' has no target table in mapping/optionsets.csv (activities.type → activitytypecode)'
FROM raw.activities_current AS s
WHERE NOT EXISTS (SELECT 1 FROM map.activity AS m WHERE m.record_id = s.id);

-- ---------------------------------------------------------------------------
-- stg.phonecall
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.phonecall AS
WITH

source AS (
    SELECT * FROM map.activity WHERE activity_table = 'phonecall'
),

final AS (
    SELECT
        -- ids
        activityid,
        record_id                          AS {{prefix}}_record_id,
        'activities'                       AS _source_object,
        -- text
        subject,
        description,
        -- picklists / flags (directioncode is a Boolean: 1 Outgoing, 0 Incoming)
        (directioncode = 1)                AS directioncode,
        -- state: history is closed — statecode 1 Completed (reference schema,
        -- phonecall.statecode); status Received/Made from the direction
        1::INTEGER                         AS statecode,
        direction_statuscode               AS statuscode,
        -- numbers
        duration_minutes                   AS actualdurationminutes,
        -- dates
        occurred_at                        AS actualstart,
        ended_at                           AS actualend,
        occurred_at                        AS overriddencreatedon,
        -- lookups
        regardingobjectid,
        regardingobjectid_table,
        -- bookkeeping
        user_email                         AS _owner_email,
        technician_id                      AS _owner_technician_id
    FROM source
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.email
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.email AS
WITH

source AS (
    SELECT * FROM map.activity WHERE activity_table = 'email'
),

final AS (
    SELECT
        -- ids
        activityid,
        record_id                          AS {{prefix}}_record_id,
        'activities'                       AS _source_object,
        -- text
        subject,
        description,
        -- picklists / flags (directioncode is a Boolean: 1 Outgoing, 0 Incoming)
        (directioncode = 1)                AS directioncode,
        -- state: statecode 1 Completed (reference schema, email.statecode);
        -- status Received/Sent from the direction
        1::INTEGER                         AS statecode,
        direction_statuscode               AS statuscode,
        -- numbers
        duration_minutes                   AS actualdurationminutes,
        -- dates
        occurred_at                        AS actualstart,
        ended_at                           AS actualend,
        occurred_at                        AS overriddencreatedon,
        -- lookups
        regardingobjectid,
        regardingobjectid_table,
        -- bookkeeping
        user_email                         AS _owner_email,
        technician_id                      AS _owner_technician_id
    FROM source
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.appointment
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.appointment AS
WITH

source AS (
    SELECT * FROM map.activity WHERE activity_table = 'appointment'
),

final AS (
    SELECT
        -- ids
        activityid,
        record_id                          AS {{prefix}}_record_id,
        'activities'                       AS _source_object,
        -- text
        subject,
        description,
        -- state: statecode 1 Completed, statuscode 3 Completed (reference
        -- schema, appointment.statecode/statuscode)
        1::INTEGER                         AS statecode,
        3::INTEGER                         AS statuscode,
        -- numbers
        duration_minutes                   AS scheduleddurationminutes,
        duration_minutes                   AS actualdurationminutes,
        -- dates: the meeting took place at occurred_at for its duration
        occurred_at                        AS scheduledstart,
        ended_at                           AS scheduledend,
        occurred_at                        AS actualstart,
        ended_at                           AS actualend,
        occurred_at                        AS overriddencreatedon,
        -- lookups
        regardingobjectid,
        regardingobjectid_table,
        -- bookkeeping
        user_email                         AS _owner_email,
        technician_id                      AS _owner_technician_id
    FROM source
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.activityparty — who took part, per activity (SPEC §9).
-- participationtypemask values are fixed by Dataverse (reference schema,
-- activityparty.participationtypemask): 1 Sender, 2 To Recipient,
-- 5 Required attendee, 7 Organizer. Record id: '<activity id>:<role>'.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.activityparty AS
WITH

source AS (
    SELECT * FROM map.activity
),

parties AS (
    -- the technician's user: Sender of outgoing, To of incoming, Organizer of meetings
    SELECT
        record_id, activity_table, activityid,
        CASE WHEN activity_table = 'appointment' THEN 'organizer'
             WHEN directioncode = 1 THEN 'from'
             ELSE 'to' END                                     AS role,
        CASE WHEN activity_table = 'appointment' THEN 7
             WHEN directioncode = 1 THEN 1
             ELSE 2 END                                        AS participationtypemask,
        NULL::UUID                                             AS partyid,
        'systemuser'                                           AS partyid_table,
        user_email                                             AS party_email,
        technician_id                                          AS party_technician_id
    FROM source
    WHERE technician_id IS NOT NULL
      AND (activity_table = 'appointment' OR directioncode IS NOT NULL)

    UNION ALL

    -- the contact: To of outgoing, Sender of incoming, Required attendee of meetings
    SELECT
        record_id, activity_table, activityid,
        CASE WHEN activity_table = 'appointment' THEN 'required'
             WHEN directioncode = 1 THEN 'to'
             ELSE 'from' END                                   AS role,
        CASE WHEN activity_table = 'appointment' THEN 5
             WHEN directioncode = 1 THEN 2
             ELSE 1 END                                        AS participationtypemask,
        contactid                                              AS partyid,
        'contact'                                              AS partyid_table,
        NULL                                                   AS party_email,
        NULL                                                   AS party_technician_id
    FROM source
    WHERE contactid IS NOT NULL
      AND (activity_table = 'appointment' OR directioncode IS NOT NULL)
),

final AS (
    SELECT
        -- ids
        map.record_guid('activityparty', record_id || ':' || role)  AS activitypartyid,
        record_id || ':' || role                                    AS {{prefix}}_record_id,
        'activities'                                                AS _source_object,
        -- picklists
        participationtypemask::INTEGER                              AS participationtypemask,
        -- lookups
        activityid,
        activity_table                                              AS activityid_table,
        partyid,
        partyid_table,
        -- bookkeeping: the user the loader binds a systemuser party to
        party_email::VARCHAR                                        AS _party_email,
        party_technician_id::VARCHAR                                AS _party_technician_id
    FROM parties
)

SELECT * FROM final;
