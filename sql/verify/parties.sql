-- Activity parties (`ferry verify`): the parties ferry sent with each
-- activity, against the parties the target holds for it, as sets of
-- (activity, participation type, party). Run after the read-back; ferry
-- provides temp.verify_activities (activityid, table_name, record_id) for
-- the activities on both sides, and files the rows of
-- temp.verify_party_diff in verify.differences under the column
-- `activityparty` of the activity's table.
--
-- How push sends them (src/push/rows.rs, attach_parties): a contact or
-- account party by its GUID; a technician by the enabled user with that
-- e-mail (dv.systemuser, read by push); a technician without an enabled
-- user is left out and recorded in audit.substitutions, so it is not
-- expected here.
--
-- Dataverse behaviour allowed for: the platform adds the activity's owner
-- as a party of its own (participationtypemask 9 Owner; Microsoft Learn,
-- "ActivityParty table": "Owner ... specifies the activity owner"), so a
-- target party of type 9 is only compared when ferry sent one.

CREATE OR REPLACE TEMP TABLE verify_party_diff AS
WITH users AS (
    SELECT lower(trim(internalemailaddress)) AS email,
           arg_min(systemuserid, systemuserid) AS systemuserid
    FROM dv.systemuser
    WHERE NOT coalesce(isdisabled, false) AND internalemailaddress IS NOT NULL
    GROUP BY ALL
),
staged AS (
    SELECT p.activityid,
           p.participationtypemask AS mask,
           CASE WHEN p.partyid IS NOT NULL AND p.partyid_table <> 'systemuser'
                THEN coalesce(g.target_guid, p.partyid)
                ELSE u.systemuserid END AS party,
           CASE WHEN p.partyid IS NOT NULL AND p.partyid_table <> 'systemuser'
                THEN p.partyid_table ELSE 'systemuser' END AS party_table
    FROM stg.activityparty p
    JOIN temp.verify_activities a USING (activityid)
    LEFT JOIN users u ON u.email = lower(trim(p._party_email))
    LEFT JOIN audit.guid_map g ON g.staged_guid = p.partyid
),
staged_sent AS (
    SELECT activityid, mask, party, party_table, count(*) AS n
    FROM staged WHERE party IS NOT NULL
    GROUP BY ALL
),
target AS (
    SELECT t.activityid, t.participationtypemask AS mask, t.partyid AS party,
           coalesce(t.partyid_table, '') AS party_table, count(*) AS n
    FROM dv.activityparty t
    JOIN temp.verify_activities a USING (activityid)
    WHERE t.participationtypemask <> 9
       OR EXISTS (SELECT 1 FROM staged_sent s WHERE s.activityid = t.activityid AND s.mask = 9)
    GROUP BY ALL
)
SELECT a.table_name, a.record_id, coalesce(s.activityid, t.activityid) AS activityid,
       CASE WHEN s.n IS NOT NULL
            THEN s.mask || ' ' || s.party_table || ' ' || s.party
                 || CASE WHEN s.n > 1 THEN ' ×' || s.n ELSE '' END END AS staged_value,
       CASE WHEN t.n IS NOT NULL
            THEN t.mask || ' ' || t.party_table || ' ' || t.party
                 || CASE WHEN t.n > 1 THEN ' ×' || t.n ELSE '' END END AS target_value
FROM staged_sent s
FULL OUTER JOIN target t
  ON s.activityid = t.activityid AND s.mask = t.mask AND s.party = t.party
JOIN temp.verify_activities a ON a.activityid = coalesce(s.activityid, t.activityid)
WHERE s.n IS DISTINCT FROM t.n;
