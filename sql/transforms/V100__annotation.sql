-- V100 — stg.annotation: documents and notes, each on its record (SPEC §10).
--
-- Why: "documents, uploads and inline notes move with their record". Five
-- sources become notes (annotation), bound through objectid to the record
-- they belong to:
--   attachments      → a document on the account / work order. Only the file
--                      metadata is staged: the loader reads the bytes from
--                      raw.attachment_content by `_attachment_id` and sends
--                      them base64-encoded as documentbody. `_base64_size`
--                      (4·⌈size/3⌉) is what the org's maxuploadfilesize
--                      limits, so the size check reads it. Path characters
--                      / \ : * ? " < > | (and control characters) in the
--                      file name become '_' in filename and leading dots are
--                      dropped, so no name can climb out of a folder;
--                      `_source_filename` keeps the original.
--   notes            → notetext on the customer / work order / contract.
--   billing_history  → one note per invoice line on the customer's account.
--   contracts        → the PM routine text as a note on the contract,
--                      record id '<contract id>:pm_routine'.
--   dispatches       → profile sales only: one note per case listing every
--                      dispatch (they have no table of their own, V080),
--                      record id '<work order id>:dispatches'.
-- A note cannot exist without its record: an attachment, note or invoice
-- line whose parent is not migrated is excluded (orphan_<object>).
-- Times written into note text are UTC.

DELETE FROM map.excluded WHERE object IN ('attachments', 'notes', 'billing_history');

-- ---------------------------------------------------------------------------
-- map.annotation_parent — every record a note may hang off, by the
-- ServiceTracker parent_type and id, with the GUID and table it has in
-- Dataverse. Work orders go to the profile's work-order table.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE map.annotation_parent AS
WITH

accounts AS (
    SELECT 'customer' AS parent_type, 'customers' AS parent_object,
           {{prefix}}_record_id AS parent_id, accountid AS objectid, 'account' AS objectid_table
    FROM stg.account
),

contracts AS (
    SELECT 'contract', 'contracts', {{prefix}}_record_id, contractid, 'contract'
    FROM stg.contract
),

work_orders AS (
    -- migrated = in the source and not excluded (work orders are never folded)
    SELECT 'work_order', 'work_orders', w.id,
           map.record_guid((SELECT work_order_table FROM map.settings), w.id),
           (SELECT work_order_table FROM map.settings)
    FROM raw.work_orders_current AS w
    WHERE NOT EXISTS (SELECT 1 FROM map.excluded AS x
                      WHERE x.object = 'work_orders' AND x.record_id = w.id)
)

SELECT * FROM accounts
UNION ALL SELECT * FROM contracts
UNION ALL SELECT * FROM work_orders;

-- ---------------------------------------------------------------------------
-- stg.annotation
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.annotation AS
WITH

attachments AS (
    SELECT
        -- ids
        s.id                                                    AS record_id,
        'attachments'                                           AS source_object,
        -- text
        map.clean_text(s.file_name)                             AS subject,
        NULL::VARCHAR                                           AS notetext,
        -- path characters and control characters → '_', leading dots dropped
        -- ('../../etc/passwd' → '_.._etc_passwd'); a name of dots only → '_'
        CASE WHEN map.clean_text(s.file_name) IS NOT NULL THEN
            coalesce(nullif(regexp_replace(
                regexp_replace(map.clean_text(s.file_name), '[/\\:*?"<>|\x00-\x1f\x7f]', '_', 'g'),
                '^\.+', ''), ''), '_')
        END                                                     AS filename,
        map.clean_text(s.content_type)                          AS mimetype,
        -- flags
        true                                                    AS isdocument,
        -- numbers
        TRY_CAST(s.size_bytes AS INTEGER)                       AS filesize,
        -- lookups
        p.objectid,
        p.objectid_table,
        -- dates
        s.created_at,
        -- bookkeeping
        NULL::VARCHAR                                           AS owner_technician_id,
        s.id                                                    AS attachment_id,
        s.file_name                                             AS source_filename,
        s.size_bytes::BIGINT                                    AS size_bytes,
        map.clean_text(s.sha256)                                AS sha256
    FROM raw.attachments_current AS s
    JOIN map.annotation_parent AS p
      ON p.parent_type = map.clean_text(s.parent_type) AND p.parent_id = s.parent_id
),

notes AS (
    SELECT
        s.id                                                    AS record_id,
        'notes'                                                 AS source_object,
        -- "Note by <technician>" names the note in the timeline
        CASE WHEN t.full_name IS NOT NULL THEN 'Note by ' || t.full_name
             ELSE 'Note' END                                    AS subject,
        map.clean_text(s.body)                                  AS notetext,
        NULL::VARCHAR                                           AS filename,
        NULL::VARCHAR                                           AS mimetype,
        false                                                   AS isdocument,
        NULL::INTEGER                                           AS filesize,
        p.objectid,
        p.objectid_table,
        s.created_at,
        map.clean_text(s.author_technician_id)                  AS owner_technician_id,
        NULL::VARCHAR                                           AS attachment_id,
        NULL::VARCHAR                                           AS source_filename,
        NULL::BIGINT                                            AS size_bytes,
        NULL::VARCHAR                                           AS sha256
    FROM raw.notes_current AS s
    JOIN map.annotation_parent AS p
      ON p.parent_type = map.clean_text(s.parent_type) AND p.parent_id = s.parent_id
    LEFT JOIN map.technician_owner AS t ON t.technician_id = s.author_technician_id
),

billing AS (
    SELECT
        s.id                                                    AS record_id,
        'billing_history'                                       AS source_object,
        concat_ws(' ', 'Invoice', map.clean_text(s.invoice_number)) AS subject,
        concat_ws(chr(10),
            'Invoice: ' || map.clean_text(s.invoice_number),
            'Date: '    || strftime(s.invoice_date, '%Y-%m-%d'),
            'Amount: '  || CASE WHEN s.amount = round(s.amount, 2)
                                THEN s.amount::DECIMAL(19,2)::VARCHAR
                                ELSE s.amount::VARCHAR END,
            'Status: '  || map.clean_text(s.status)
        )                                                       AS notetext,
        NULL::VARCHAR                                           AS filename,
        NULL::VARCHAR                                           AS mimetype,
        false                                                   AS isdocument,
        NULL::INTEGER                                           AS filesize,
        p.objectid,
        p.objectid_table,
        s.created_at,
        NULL::VARCHAR                                           AS owner_technician_id,
        NULL::VARCHAR                                           AS attachment_id,
        NULL::VARCHAR                                           AS source_filename,
        NULL::BIGINT                                            AS size_bytes,
        NULL::VARCHAR                                           AS sha256
    FROM raw.billing_history_current AS s
    JOIN map.annotation_parent AS p
      ON p.parent_type = 'customer' AND p.parent_id = s.customer_id
),

pm_routines AS (
    SELECT
        s.id || ':pm_routine'                                   AS record_id,
        'contracts'                                             AS source_object,
        'PM routine'                                            AS subject,
        map.clean_text(s.pm_routine)                            AS notetext,
        NULL::VARCHAR                                           AS filename,
        NULL::VARCHAR                                           AS mimetype,
        false                                                   AS isdocument,
        NULL::INTEGER                                           AS filesize,
        p.objectid,
        p.objectid_table,
        s.created_at,
        NULL::VARCHAR                                           AS owner_technician_id,
        NULL::VARCHAR                                           AS attachment_id,
        NULL::VARCHAR                                           AS source_filename,
        NULL::BIGINT                                            AS size_bytes,
        NULL::VARCHAR                                           AS sha256
    FROM raw.contracts_current AS s
    JOIN map.annotation_parent AS p
      ON p.parent_type = 'contract' AND p.parent_id = s.id
    WHERE map.clean_text(s.pm_routine) IS NOT NULL
),

dispatch_lines AS (
    -- profile sales: the dispatches V080 folded into each case, one line each
    SELECT
        d.work_order_id,
        d.created_at,
        concat_ws(' · ',
            coalesce(strftime(d.scheduled_start, '%Y-%m-%d %H:%M'), '?')
                || ' – ' || coalesce(strftime(d.scheduled_end, '%Y-%m-%d %H:%M'), '?'),
            coalesce(t.full_name || ' (' || d.technician_id || ')', d.technician_id),
            map.clean_text(d.dispatch_status),
            'route ' || d.route_sequence,
            d.id
        )                                                       AS line,
        d.scheduled_start,
        d.id
    FROM raw.dispatches_current AS d
    JOIN map.folded AS f ON f.object = 'dispatches' AND f.record_id = d.id
    LEFT JOIN map.technician_owner AS t ON t.technician_id = d.technician_id
    WHERE (SELECT profile FROM map.settings) = 'sales'
),

dispatch_notes AS (
    SELECT
        l.work_order_id || ':dispatches'                        AS record_id,
        'dispatches'                                            AS source_object,
        'Dispatches'                                            AS subject,
        'Dispatches of work order ' || l.work_order_id
            || ' (start – end UTC · technician · status · route · dispatch id):'
            || chr(10)
            || string_agg(l.line, chr(10) ORDER BY l.scheduled_start NULLS LAST, l.id)
                                                                AS notetext,
        NULL::VARCHAR                                           AS filename,
        NULL::VARCHAR                                           AS mimetype,
        false                                                   AS isdocument,
        NULL::INTEGER                                           AS filesize,
        p.objectid,
        p.objectid_table,
        min(l.created_at)                                       AS created_at,
        NULL::VARCHAR                                           AS owner_technician_id,
        NULL::VARCHAR                                           AS attachment_id,
        NULL::VARCHAR                                           AS source_filename,
        NULL::BIGINT                                            AS size_bytes,
        NULL::VARCHAR                                           AS sha256
    FROM dispatch_lines AS l
    JOIN map.annotation_parent AS p
      ON p.parent_type = 'work_order' AND p.parent_id = l.work_order_id
    GROUP BY l.work_order_id, p.objectid, p.objectid_table
),

unioned AS (
    SELECT * FROM attachments
    UNION ALL BY NAME SELECT * FROM notes
    UNION ALL BY NAME SELECT * FROM billing
    UNION ALL BY NAME SELECT * FROM pm_routines
    UNION ALL BY NAME SELECT * FROM dispatch_notes
),

final AS (
    SELECT
        -- ids
        map.record_guid('annotation', u.record_id)      AS annotationid,
        u.record_id                                     AS {{prefix}}_record_id,
        u.source_object                                 AS _source_object,
        -- text
        u.subject,
        u.notetext,
        u.filename,
        u.mimetype,
        -- flags
        u.isdocument,
        -- numbers (filesize is read-only in Dataverse: for the checks only)
        u.filesize,
        -- lookups
        u.objectid,
        u.objectid_table,
        -- dates
        u.created_at                                    AS overriddencreatedon,
        -- bookkeeping
        o.user_email                                    AS _owner_email,
        u.owner_technician_id                           AS _owner_technician_id,
        u.attachment_id                                 AS _attachment_id,
        u.source_filename                               AS _source_filename,
        u.sha256                                        AS _sha256,
        (4 * ((u.size_bytes + 2) // 3))::BIGINT         AS _base64_size
    FROM unioned AS u
    LEFT JOIN map.technician_owner AS o ON o.technician_id = u.owner_technician_id
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- Exclusions: notes and documents whose record is not migrated.
-- ---------------------------------------------------------------------------
INSERT INTO map.excluded (object, record_id, rule, message)
WITH

parent_objects (parent_type, parent_object) AS (
    VALUES ('customer', 'customers'), ('work_order', 'work_orders'), ('contract', 'contracts')
),

wanted AS (
    SELECT 'attachments' AS object, id, map.clean_text(parent_type) AS parent_type, parent_id
    FROM raw.attachments_current
    UNION ALL
    SELECT 'notes', id, map.clean_text(parent_type), parent_id
    FROM raw.notes_current
    UNION ALL
    SELECT 'billing_history', id, 'customer', customer_id
    FROM raw.billing_history_current
),

orphans AS (
    SELECT w.*, po.parent_object
    FROM wanted AS w
    LEFT JOIN parent_objects AS po ON po.parent_type = w.parent_type
    WHERE NOT EXISTS (SELECT 1 FROM map.annotation_parent AS p
                      WHERE p.parent_type = w.parent_type AND p.parent_id = w.parent_id)
)

SELECT
    o.object,
    o.id,
    'orphan_' || o.object,
    CASE
        WHEN o.parent_object IS NULL
            THEN 'parent type ' || coalesce('''' || o.parent_type || '''', 'NULL') || ' is not one ferry migrates'
        WHEN o.parent_id IS NULL
            THEN 'no ' || o.parent_type || ' id'
        WHEN EXISTS (SELECT 1 FROM map.excluded AS x
                     WHERE x.object = o.parent_object AND x.record_id = o.parent_id)
            THEN o.parent_type || ' ' || o.parent_id || ' is excluded from the migration'
        ELSE o.parent_type || ' ' || o.parent_id || ' is not in the source'
    END || '; a note needs the record it belongs to'
FROM orphans AS o;
