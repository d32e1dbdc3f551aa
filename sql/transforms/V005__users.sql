-- V005 — map.technician_owner: which Dataverse user stands for each technician.
--
-- Why: users are never created by a migration (SPEC §9). Every record a
-- technician owns, organises or takes part in is bound to an existing
-- systemuser, matched by e-mail (internalemailaddress) when the loader reads
-- the target's users. mapping/users.csv (map.users) overrides the match for
-- a technician whose Dataverse e-mail differs from ServiceTracker's, or who
-- should hand their records to someone else. Later transforms read
-- user_email from here as `_owner_email` / `_party_email` / `_user_email`.
--
-- Inactive technicians keep their e-mail here: whether their user exists and
-- is enabled is decided against dv.systemuser (loader and checks), which
-- then falls back to the configured fallback owner and reports it.

CREATE OR REPLACE TABLE map.technician_owner AS
WITH

source AS (
    SELECT * FROM raw.technicians_current
),

overrides AS (
    -- one override per technician; a duplicated technician_id in users.csv
    -- resolves to its first non-empty e-mail in alphabetical order
    SELECT
        map.clean_text(technician_id)  AS technician_id,
        min(map.clean_text(user_email)) AS user_email
    FROM map.users
    WHERE map.clean_text(technician_id) IS NOT NULL
    GROUP BY 1
),

renamed AS (
    SELECT
        -- ids
        s.id                                                    AS technician_id,
        -- text
        concat_ws(' ', map.clean_text(s.first_name),
                       map.clean_text(s.last_name))             AS full_name,
        map.clean_text(s.email)                                 AS email,
        -- flags
        s.active                                                AS active,
        -- the user the technician's records go to
        o.user_email                                            AS override_email
    FROM source AS s
    LEFT JOIN overrides AS o ON o.technician_id = s.id
),

final AS (
    SELECT
        technician_id,
        nullif(full_name, '')                                   AS full_name,
        active,
        email,
        coalesce(override_email, email)                         AS user_email,
        CASE
            WHEN override_email IS NOT NULL THEN 'mapping/users.csv'
            WHEN email IS NOT NULL THEN 'technician e-mail'
        END                                                     AS user_email_source
    FROM renamed
)

SELECT * FROM final;
