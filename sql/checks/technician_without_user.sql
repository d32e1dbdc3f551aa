-- technician_without_user (warning) — technicians no Dataverse user stands for.
--
-- Protects against: records losing their owner. Users are not created by a
-- migration: each technician matches an existing systemuser by
-- internalemailaddress (SPEC §9 systemuser, §10 technicians); the e-mail is
-- the technician's own or the override in mapping/users.csv
-- (map.technician_owner, V005). A technician without a match — typically a
-- personal free-mail address (SPEC §8.4 "technicians with no matching
-- Dataverse user") — has their records reassigned to the fallback owner.
-- Fix: add the user's e-mail for the technician to mapping/users.csv.
--
-- Needs the target's users (dv.systemuser, read by `ferry plan` / `push`).
-- While that table is empty nothing can be matched, so instead of flagging
-- every technician this reports once, for review, that users are unread.

WITH

users AS (
    SELECT lower(map.clean_text(internalemailaddress)) AS email
    FROM dv.systemuser
    WHERE map.clean_text(internalemailaddress) IS NOT NULL
),

unread AS (
    SELECT NOT EXISTS (SELECT 1 FROM dv.systemuser) AS yes
)

SELECT
    'warning'                                 AS severity,
    'technicians'                             AS object,
    o.technician_id                           AS record_id,
    'email'                                   AS field,
    'technician_without_user'                 AS rule,
    'Technician ' || coalesce(o.full_name, o.technician_id)
        || CASE WHEN o.user_email IS NULL THEN ' has no e-mail, so no Dataverse user can be matched'
                ELSE ' (' || o.user_email || ', from ' || o.user_email_source
                     || ') matches no Dataverse user by internalemailaddress' END
        || '; their records go to the fallback owner — add a line technician_id,user_email naming their user in mapping/users.csv, '
        || 'or waive this finding to accept the fallback owner.'
                                              AS message
FROM map.technician_owner AS o
CROSS JOIN unread
WHERE NOT unread.yes
  AND (o.user_email IS NULL
       OR NOT EXISTS (SELECT 1 FROM users AS u WHERE u.email = lower(o.user_email)))

UNION ALL

SELECT
    'review',
    'technicians',
    NULL,
    'email',
    'technician_without_user',
    'The target''s users have not been read yet (dv.systemuser is empty), so the '
        || (SELECT count(*) FROM map.technician_owner)
        || ' technicians cannot be matched to Dataverse users; run `ferry plan` against the target, then `ferry validate` again.'
FROM unread
WHERE unread.yes
