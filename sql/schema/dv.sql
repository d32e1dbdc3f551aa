-- dv: what the target (Dataverse) holds, as ferry read it. `ferry verify`
-- also reads every pushed record back into dv.<table>, with the stg.<table>
-- column names; those tables are shaped per table by the code.
--
-- Built into ferry and run by it; kept here so an analyst can see every
-- column.

-- section: users
-- The target's users, read by `ferry plan` / `push` (empty until then; the
-- transforms match technicians against it).
CREATE SCHEMA IF NOT EXISTS dv;
CREATE TABLE IF NOT EXISTS dv.systemuser (
    systemuserid         UUID,
    internalemailaddress VARCHAR,
    fullname             VARCHAR,
    isdisabled           BOOLEAN
);

-- section: read_backs
-- Written by `ferry verify` before it reads: which tables were read back
-- and when, and how each staged column is compared with the target's.
CREATE SCHEMA IF NOT EXISTS dv;
CREATE OR REPLACE TABLE dv.read_backs (
    table_name       VARCHAR NOT NULL,
    entity_set       VARCHAR NOT NULL,
    records          BIGINT NOT NULL,   -- target records carrying a ferry record id
    read_at          TIMESTAMP NOT NULL, -- UTC
    primary_id       VARCHAR NOT NULL,  -- the key stg and dv join on
    record_id_column VARCHAR NOT NULL   -- st_record_id with the default prefix
);
-- The target the read-back came from: verify and reconcile act on one
-- target at a time, and a read-back of another target is never compared.
CREATE OR REPLACE TABLE dv.read_from (
    target_name   VARCHAR NOT NULL,     -- the [targets.<name>] table
    url           VARCHAR NOT NULL
);
CREATE OR REPLACE TABLE dv.columns (
    table_name    VARCHAR NOT NULL,
    column_name   VARCHAR NOT NULL,     -- the stg column
    kind          VARCHAR NOT NULL,     -- text | integer | number | boolean | datetime | dateonly | lookup | party
    precision     INTEGER,              -- decimals the target keeps (number)
    max_length    BIGINT,               -- characters the target keeps (text)
    target_column VARCHAR NOT NULL,     -- the dv column compared with it
    null_is_default BOOLEAN NOT NULL,   -- staged null: Dataverse fills a default, not compared
    rule          VARCHAR               -- the verify.rules reason, when a rule applies
);
