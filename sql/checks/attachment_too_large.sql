-- attachment_too_large (error) — files Dataverse will refuse to store.
--
-- Protects against: a push failing on an annotation whose file is over the
-- org's upload limit, or the file being dropped without a word (SPEC §10
-- attachments: "over the limit → reported, not silently dropped").
-- Dataverse's maxuploadfilesize (default 5 MB = 5,242,880 bytes, at most
-- 128 MB; ferry.toml target.max_upload_bytes → map.settings) limits the
-- *base64* size of annotation.documentbody (SPEC §9), and base64 turns every
-- 3 bytes into 4 characters: a file fits only if 4 * ceil(size / 3) is at
-- most the limit, i.e. about 3.75 MB of raw bytes by default.
--
-- The size is the larger of the size ServiceTracker reports and the size of
-- the newest copy ferry landed (those bytes are what would be sent).

WITH

landed AS (
    -- the newest landed copy of each file (extract ids sort by time)
    SELECT attachment_id, arg_max(size_bytes, _extract_id) AS size_bytes
    FROM raw.attachment_content
    GROUP BY attachment_id
),

sized AS (
    SELECT
        a.id,
        map.clean_text(a.file_name)                       AS file_name,
        greatest(a.size_bytes, l.size_bytes)              AS size_bytes,
        4 * ((greatest(a.size_bytes, l.size_bytes) + 2) // 3) AS base64_bytes,
        s.max_upload_bytes
    FROM raw.attachments_current AS a
    LEFT JOIN landed AS l ON l.attachment_id = a.id
    CROSS JOIN map.settings AS s
)

SELECT
    'error'                                   AS severity,
    'attachments'                             AS object,
    id                                        AS record_id,
    'size_bytes'                              AS field,
    'attachment_too_large'                    AS rule,
    'Attachment "' || coalesce(file_name, id) || '" is ' || size_bytes || ' bytes, '
        || base64_bytes || ' as base64, over the target''s upload limit of ' || max_upload_bytes
        || ' bytes (maxuploadfilesize); raise the org''s limit and target.max_upload_bytes in ferry.toml, '
        || 'or store the file elsewhere and waive this finding.'
                                              AS message
FROM sized
WHERE base64_bytes > max_upload_bytes
