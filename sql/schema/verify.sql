-- verify: the field-level diff of `ferry verify` (stg.* against dv.*),
-- replaced on every run. `verify.rules` and the normalisation macros are in
-- sql/verify/normalise.sql, which a workspace may edit.
--
-- Built into ferry and run by it; kept here so an analyst can see every
-- column.

-- section: tables
CREATE SCHEMA IF NOT EXISTS verify;
CREATE OR REPLACE TABLE verify.differences (
    table_name   VARCHAR NOT NULL,
    record_id    VARCHAR,            -- st_record_id: the ServiceTracker record
    id           UUID NOT NULL,      -- the record's GUID in stg and in the target
    column_name  VARCHAR NOT NULL,   -- the stg column
    kind         VARCHAR NOT NULL,   -- differing | truncated
    staged_value VARCHAR,            -- normalised, as compared
    target_value VARCHAR             -- normalised, as compared
);
CREATE OR REPLACE TABLE verify.records (
    table_name   VARCHAR NOT NULL,
    record_id    VARCHAR,
    id           UUID NOT NULL,
    status       VARCHAR NOT NULL,   -- missing | unexpected | differing | truncated | not_pushed
    columns      VARCHAR[],          -- differing / truncated: the columns concerned
    note         VARCHAR             -- missing: how push sent it; not_pushed: what audit says
);
CREATE OR REPLACE TABLE verify.columns (
    table_name    VARCHAR NOT NULL,
    column_name   VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,  -- text | integer | number | boolean | datetime | dateonly | lookup
    target_column VARCHAR NOT NULL,  -- the target column compared with
    compared      BIGINT NOT NULL,   -- records on both sides
    matched       BIGINT NOT NULL,
    differing     BIGINT NOT NULL,
    truncated     BIGINT NOT NULL,
    missing       BIGINT NOT NULL,   -- missing records (each misses this value)
    unexpected    BIGINT NOT NULL,   -- unexpected records
    rule          VARCHAR            -- why target_column is not the column itself
);
CREATE OR REPLACE TABLE verify.tables (
    table_name    VARCHAR NOT NULL,
    staged        BIGINT NOT NULL,   -- rows of stg.<table>
    target        BIGINT NOT NULL,   -- target records with a ferry record id (dv.<table>)
    compared      BIGINT NOT NULL,   -- on both sides
    matched       BIGINT NOT NULL,   -- on both sides, every column equal
    differing     BIGINT NOT NULL,   -- records with a differing column
    truncated     BIGINT NOT NULL,   -- records whose only differences are truncations
    missing       BIGINT NOT NULL,
    unexpected    BIGINT NOT NULL,
    not_pushed    BIGINT NOT NULL,
    verified_at   TIMESTAMP NOT NULL -- UTC
);
