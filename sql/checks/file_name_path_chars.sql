-- file_name_path_chars (warning) — attachment names that carry a path.
--
-- Protects against: file names such as "../../etc/passwd",
-- "C:\Users\tech\Desktop\photo.pdf" or "site:plan?v2*.pdf" (SPEC §8.4
-- "file names with path characters"). Written to disk they escape their
-- folder or are invalid on Windows, and a user downloading the note gets a
-- mangled name. The transform replaces the characters / \ : * ? " < > | and
-- control characters and drops leading dots in annotation.filename, so the
-- file loads under a different name than in ServiceTracker: this finding
-- records the change. The message shows the name in stg.annotation when
-- the attachment is staged.

WITH

names AS (
    SELECT id, map.clean_text(file_name) AS file_name
    FROM raw.attachments_current
),

staged AS (
    SELECT record_id, value AS filename
    FROM meta.stg_cells
    WHERE target_table = 'annotation' AND source_object = 'attachments' AND column_name = 'filename'
)

SELECT
    'warning'                                 AS severity,
    'attachments'                             AS object,
    n.id                                      AS record_id,
    'file_name'                               AS field,
    'file_name_path_chars'                    AS rule,
    'File name "' || n.file_name || '" contains path characters ('
        || CASE WHEN regexp_matches(n.file_name, '[/\\]') THEN 'folder separators'
                WHEN regexp_matches(n.file_name, '^\.') THEN 'a leading dot'
                ELSE 'characters Windows does not allow in names' END
        || ')' || coalesce('; it loads as "' || s.filename || '"', '; it loads with them replaced')
        || ' — rename the file in ServiceTracker if the new name is not acceptable, or waive this finding.'
                                              AS message
FROM names AS n
LEFT JOIN staged AS s ON s.record_id = n.id
WHERE regexp_matches(n.file_name, '[/\\:*?"<>|\x00-\x1f\x7f]|^\.')
