-- inactive_technician_owner (warning) — inactive technicians who own records.
--
-- Protects against: records landing on a person who has left. A technician
-- marked inactive in ServiceTracker still owns activities, work orders and
-- notes (SPEC §8.4 "inactive technicians who own activities"). Records are
-- owned by the technician's Dataverse user (SPEC §10, matched by e-mail);
-- a disabled user cannot own records (SPEC §9 systemuser), and an enabled
-- one belonging to a leaver is rarely what the business wants. Decide per
-- technician: map their records to a colleague in mapping/users.csv, or
-- accept (waive) that their user keeps them.
--
-- One finding per inactive technician who owns anything, unless
-- mapping/users.csv already hands their records to another user; the
-- message counts their records in the source.

WITH

owned AS (
    SELECT technician_id, 'activities' AS what, count(*) AS n
    FROM raw.activities_current GROUP BY 1
    UNION ALL
    SELECT assigned_technician_id, 'work orders', count(*)
    FROM raw.work_orders_current GROUP BY 1
    UNION ALL
    SELECT author_technician_id, 'notes', count(*)
    FROM raw.notes_current GROUP BY 1
    UNION ALL
    SELECT technician_id, 'dispatches', count(*)
    FROM raw.dispatches_current GROUP BY 1
),

per_technician AS (
    SELECT
        technician_id,
        sum(n)                                                        AS total,
        string_agg(n || ' ' || what, ', ' ORDER BY
            CASE what WHEN 'activities' THEN 1 WHEN 'work orders' THEN 2
                      WHEN 'notes' THEN 3 ELSE 4 END)                 AS listing
    FROM owned
    WHERE technician_id IS NOT NULL AND n > 0
    GROUP BY technician_id
)

SELECT
    'warning'                                 AS severity,
    'technicians'                             AS object,
    t.id                                      AS record_id,
    'active'                                  AS field,
    'inactive_technician_owner'               AS rule,
    'Technician ' || coalesce(nullif(concat_ws(' ', map.clean_text(t.first_name), map.clean_text(t.last_name)), ''), t.id)
        || ' is inactive in ServiceTracker but is the technician of ' || p.listing
        || '; give their records to a colleague with a technician_id,user_email line in mapping/users.csv, '
        || 'or waive this finding to keep them on their own user.'
                                              AS message
FROM raw.technicians_current AS t
JOIN per_technician AS p ON p.technician_id = t.id
WHERE t.active = false
  -- already handed to someone else in mapping/users.csv
  AND NOT EXISTS (
        SELECT 1 FROM map.users AS u
        WHERE map.clean_text(u.technician_id) = t.id
          AND map.clean_text(u.user_email) IS NOT NULL
          AND lower(map.clean_text(u.user_email)) IS DISTINCT FROM lower(map.clean_text(t.email))
      )
