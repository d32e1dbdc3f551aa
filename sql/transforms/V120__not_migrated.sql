-- V120 — source records that are accounted for without a row of their own.
--
-- Why: the conservation check requires every raw.<object>_current row to be
-- in stg.*, folded or excluded. Two objects are, by design, not loaded:
--   workflows    — automation is not migrated; each rule is rendered into
--                  the Power Automate rebuild reference report (SPEC §10);
--   technicians  — profile sales: users are never created by a migration;
--                  each technician is matched to an existing Dataverse user
--                  by e-mail (map.technician_owner, V005). In profile
--                  field-service technicians are rows of
--                  stg.bookableresource (V080) and are not folded here.

DELETE FROM map.folded WHERE object IN ('workflows', 'technicians');

-- Workflows → the rebuild reference.
INSERT INTO map.folded (object, record_id, target_table, target_record_id, how)
SELECT
    'workflows',
    s.id,
    NULL,
    NULL,
    'documented in the Power Automate rebuild reference'
FROM raw.workflows_current AS s;

-- Technicians (profile sales) → an existing systemuser; target_record_id is
-- the e-mail the user is matched by (NULL: no e-mail, the check reports it).
INSERT INTO map.folded (object, record_id, target_table, target_record_id, how)
SELECT
    'technicians',
    t.technician_id,
    'systemuser',
    t.user_email,
    'matched to an existing Dataverse user by e-mail, not created'
FROM map.technician_owner AS t
WHERE (SELECT profile FROM map.settings) = 'sales';
