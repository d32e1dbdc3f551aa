-- disabled_user_owner (warning) — technicians whose Dataverse user is disabled.
--
-- Protects against: a push failing with "owner must be an enabled user".
-- Disabled users (systemuser.isdisabled) cannot own records; their
-- technicians' records are reassigned to the fallback owner and that must be
-- reported (SPEC §9 systemuser, §7 emulator validation). The technician's
-- e-mail is their own or the mapping/users.csv override
-- (map.technician_owner, V005), matched to dv.systemuser by
-- internalemailaddress. A technician with an enabled user of the same
-- e-mail as well is not reported.

WITH

users AS (
    SELECT
        lower(map.clean_text(internalemailaddress))        AS email,
        bool_or(coalesce(isdisabled, false))                AS any_disabled,
        bool_or(NOT coalesce(isdisabled, false))            AS any_enabled,
        min(fullname)                                       AS fullname
    FROM dv.systemuser
    WHERE map.clean_text(internalemailaddress) IS NOT NULL
    GROUP BY 1
)

SELECT
    'warning'                                 AS severity,
    'technicians'                             AS object,
    o.technician_id                           AS record_id,
    'email'                                   AS field,
    'disabled_user_owner'                     AS rule,
    'Technician ' || coalesce(o.full_name, o.technician_id) || ' matches the Dataverse user '
        || coalesce('"' || u.fullname || '" ', '') || '<' || o.user_email
        || '>, which is disabled and cannot own records; their records go to the fallback owner — '
        || 'name an enabled user for them in mapping/users.csv, enable the user, or waive this finding.'
                                              AS message
FROM map.technician_owner AS o
JOIN users AS u ON u.email = lower(o.user_email)
WHERE u.any_disabled AND NOT u.any_enabled
