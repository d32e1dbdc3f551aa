-- map: what every transform may read, loaded by `ferry transform` before the
-- first file of sql/transforms/ runs (map.* is dropped and rebuilt on every
-- run). The transforms add their own map.* tables and macros.
--
-- Built into ferry and run by it.

-- section: settings
-- One row: the workspace's settings the SQL needs.
CREATE TABLE map.settings (
    prefix           VARCHAR NOT NULL,   -- the publisher prefix
    namespace        UUID NOT NULL,      -- of the deterministic record GUIDs
    profile          VARCHAR NOT NULL,   -- sales | field-service
    work_order_table VARCHAR NOT NULL,   -- incident | msdyn_workorder
    max_upload_bytes BIGINT NOT NULL);

-- section: target_columns
-- ferry's description of the target tables, for the checks (required
-- columns, lengths) and for analysts.
CREATE TABLE map.target_columns (
    table_name     VARCHAR NOT NULL,
    column_name    VARCHAR NOT NULL,
    type           VARCHAR NOT NULL,
    max_length     BIGINT,
    required_level VARCHAR,
    targets        VARCHAR,              -- the tables a lookup may point to
    custom         BOOLEAN NOT NULL);    -- a column ferry plans to add

-- section: target_options
-- The option values of every choice column of the target.
CREATE TABLE map.target_options (
    table_name  VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    value       INTEGER NOT NULL,
    label       VARCHAR,
    state       INTEGER);

-- section: optionset
-- mapping/optionsets.csv: a source value → a target column's value. One
-- source value may give several target columns (statecode and statuscode).
CREATE OR REPLACE TABLE map.optionset (
    source_object VARCHAR NOT NULL,
    source_field  VARCHAR NOT NULL,
    source_value  VARCHAR NOT NULL,
    target_table  VARCHAR NOT NULL,
    target_column VARCHAR NOT NULL,
    target_value  INTEGER NOT NULL,
    target_label  VARCHAR,
    line          BIGINT);            -- the line of mapping/optionsets.csv

-- section: users
-- mapping/users.csv: technician → Dataverse user overrides.
CREATE OR REPLACE TABLE map.users (
    technician_id VARCHAR NOT NULL,
    user_email    VARCHAR NOT NULL,
    note          VARCHAR,
    line          BIGINT);            -- the line of mapping/users.csv
