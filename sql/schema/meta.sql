-- meta: ferry's bookkeeping about what it loaded and ran.
--
-- Built into ferry and run by it (a workspace copy would not change the
-- tables the code reads); kept here so an analyst can see every column.
-- Each section runs when the command that owns it does.

-- section: extracts
-- Written by `ferry stage`: which extracts are in raw.* and what each
-- brought, per extract and per object.
CREATE TABLE IF NOT EXISTS meta.extracts (
    extract_id           VARCHAR PRIMARY KEY,
    source_kind          VARCHAR NOT NULL,   -- csv | api
    location             VARCHAR NOT NULL,   -- export folder or API base URL
    exported_at          VARCHAR,            -- as the source export states it
    timezone             VARCHAR,            -- IANA name local timestamps were read in
    since                TIMESTAMPTZ,        -- delta extracts: the watermark they started from
    started_at           TIMESTAMPTZ NOT NULL,
    finished_at          TIMESTAMPTZ NOT NULL,
    watermark            TIMESTAMPTZ,        -- newest modified_at landed
    pending_sync_count   BIGINT NOT NULL,    -- work orders waiting for offline sync
    pending_sync_allowed BOOLEAN NOT NULL,   -- extracted with --allow-pending
    quarantine_rows      BIGINT NOT NULL,
    new_quarantine_rows  BIGINT NOT NULL,    -- rows added to raw._quarantine
    attachment_rows      BIGINT NOT NULL,
    new_attachment_rows  BIGINT NOT NULL,    -- rows added to raw.attachment_content
    staged_at            TIMESTAMPTZ NOT NULL,
    manifest             VARCHAR NOT NULL,   -- the extract's _manifest.json, verbatim
    mode                 VARCHAR DEFAULT 'full',  -- full | delta
    unchanged_rows       BIGINT DEFAULT 0,   -- delta: source records not landed because unchanged
    deleted_rows         BIGINT DEFAULT 0,   -- rows of _deleted.parquet
    new_deleted_rows     BIGINT DEFAULT 0    -- rows added to raw._deleted
);
-- Added with delta extracts; databases staged before get them here.
ALTER TABLE meta.extracts ADD COLUMN IF NOT EXISTS mode VARCHAR DEFAULT 'full';
ALTER TABLE meta.extracts ADD COLUMN IF NOT EXISTS unchanged_rows BIGINT DEFAULT 0;
ALTER TABLE meta.extracts ADD COLUMN IF NOT EXISTS deleted_rows BIGINT DEFAULT 0;
ALTER TABLE meta.extracts ADD COLUMN IF NOT EXISTS new_deleted_rows BIGINT DEFAULT 0;

CREATE TABLE IF NOT EXISTS meta.extract_objects (
    extract_id       VARCHAR NOT NULL,
    object           VARCHAR NOT NULL,
    source_rows      BIGINT NOT NULL,
    landed_rows      BIGINT NOT NULL,
    quarantined_rows BIGINT NOT NULL,
    new_versions     BIGINT NOT NULL,        -- rows actually inserted into raw.<object>
    parquet_sha256   VARCHAR NOT NULL,
    watermark        TIMESTAMPTZ,
    unchanged_rows   BIGINT DEFAULT 0,       -- delta: source records not landed because unchanged
    PRIMARY KEY (extract_id, object)
);
ALTER TABLE meta.extract_objects ADD COLUMN IF NOT EXISTS unchanged_rows BIGINT DEFAULT 0;

-- section: inventory
-- Rebuilt by `ferry stage` after every load: the source inventory the
-- `inventory` report shows. The TEMP tables are the scratch the profiling
-- passes fill before the inventory tables are written.
CREATE OR REPLACE TABLE meta.free_mail_domains (domain VARCHAR PRIMARY KEY);

CREATE OR REPLACE TABLE meta.documented_values (
    object   VARCHAR NOT NULL,
    field    VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    value    VARCHAR NOT NULL
);

CREATE OR REPLACE TABLE meta.inventory_objects (
    object            VARCHAR PRIMARY KEY,
    position          INTEGER NOT NULL,   -- SPEC order: parents before children
    current_records   BIGINT NOT NULL,    -- rows of raw.<object>_current
    versions          BIGINT NOT NULL,    -- rows of raw.<object> (every distinct version)
    extracts          BIGINT NOT NULL,    -- extracts that added a version
    newest_extract_id VARCHAR,
    fields            BIGINT NOT NULL,
    standard_fields   BIGINT NOT NULL,
    custom_fields     BIGINT NOT NULL,
    unknown_fields    BIGINT NOT NULL,
    quarantined       BIGINT NOT NULL     -- rows of raw._quarantine for this object
);

CREATE OR REPLACE TABLE meta.inventory_fields (
    -- identity
    object            VARCHAR NOT NULL,
    field             VARCHAR NOT NULL,
    position          INTEGER NOT NULL,
    -- type and origin
    inferred_type     VARCHAR NOT NULL,   -- ferry's label: text, integer, decimal(19,4), ...
    duckdb_type       VARCHAR NOT NULL,   -- the staged column's type (VARCHAR when widened)
    origin            VARCHAR NOT NULL,   -- standard | custom | unknown
    -- counts over raw.<object>_current
    "rows"            BIGINT NOT NULL,
    non_null          BIGINT NOT NULL,
    nulls             BIGINT NOT NULL,
    null_rate         DOUBLE,             -- NULL when the object has no rows
    distinct_count    BIGINT NOT NULL,
    min_value         VARCHAR,
    max_value         VARCHAR,
    max_length        BIGINT,             -- text fields only
    sample_values     VARCHAR[] NOT NULL, -- most frequent first, ties by value
    -- picklists
    picklist_like     BOOLEAN NOT NULL,
    documented_values VARCHAR[] NOT NULL, -- ServiceTracker's documented list (empty if none)
    undocumented_rows BIGINT,             -- NULL when there is no documented list
    -- value profiles (NULL when not applicable to the field)
    email_invalid     BIGINT,
    email_free_mail   BIGINT,
    html_like         BIGINT,
    non_ascii         BIGINT,
    multiline         BIGINT,
    leading_zero      BIGINT,
    before_1753       BIGINT,
    in_future         BIGINT,             -- after the newest extract's started_at
    -- lookups
    "references"      VARCHAR[] NOT NULL, -- target objects (empty if not a reference)
    orphans           BIGINT,             -- non-null references with no current target
    PRIMARY KEY (object, field)
);

CREATE OR REPLACE TABLE meta.inventory_values (
    object     VARCHAR NOT NULL,
    field      VARCHAR NOT NULL,
    value      VARCHAR NOT NULL,
    count      BIGINT NOT NULL,            -- 0 for a documented value nobody uses
    documented BOOLEAN                     -- NULL when the field has no documented list
);

CREATE OR REPLACE TEMP TABLE inventory_columns (
    object             VARCHAR,
    field              VARCHAR,
    position           INTEGER,
    inferred_type      VARCHAR,
    duckdb_type        VARCHAR,
    origin             VARCHAR,
    documented_values  VARCHAR[],
    "references"       VARCHAR[],
    picklist_candidate BOOLEAN
);

-- The current ids of every object in one narrow table, so each reference
-- check is a join to it instead of another pass over the target's versions.
CREATE OR REPLACE TEMP TABLE inventory_current_ids (object VARCHAR, id VARCHAR);

CREATE OR REPLACE TEMP TABLE inventory_stats (
    object          VARCHAR,
    position        INTEGER,
    "rows"          BIGINT,
    non_null        BIGINT,
    min_value       VARCHAR,
    max_value       VARCHAR,
    max_length      BIGINT,
    email_invalid   BIGINT,
    email_free_mail BIGINT,
    html_like       BIGINT,
    non_ascii       BIGINT,
    multiline       BIGINT,
    leading_zero    BIGINT,
    before_1753     BIGINT,
    in_future       BIGINT,
    orphans         BIGINT
);

-- section: transform_ledger
-- Written by `ferry transform` (SPEC §4): one row per file of a run with the
-- SHA-256 of its bytes, and the tables each file produced. `ferry transform
-- status` compares the files on disk with the newest committed run.
CREATE TABLE IF NOT EXISTS meta.transform_runs (
    run_id      BIGINT NOT NULL,
    version     INTEGER,
    name        VARCHAR,
    file        VARCHAR,
    sha256      VARCHAR,
    started_at  TIMESTAMPTZ,
    duration_ms BIGINT,
    rows        BIGINT,
    success     BOOLEAN NOT NULL,
    committed   BOOLEAN NOT NULL,   -- false: the run failed and was rolled back
    error       VARCHAR);
CREATE TABLE IF NOT EXISTS meta.transform_tables (
    run_id BIGINT NOT NULL, version INTEGER, table_name VARCHAR, rows BIGINT);

-- section: sql_runs
-- The one ledger of SQL files that ran, for every command that runs the
-- workspace's SQL: which file, whether it was the workspace's copy or the
-- built-in one, and the SHA-256 of the text that ran.
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.sql_runs (
    command VARCHAR NOT NULL,       -- transform | validate | reconcile | verify | report
    ran_at  TIMESTAMPTZ NOT NULL,
    folder  VARCHAR NOT NULL,       -- transforms | checks | reconcile | verify | reports
    file    VARCHAR NOT NULL,       -- the file name, V010__account.sql
    origin  VARCHAR NOT NULL,       -- workspace | built-in
    path    VARCHAR,                -- the workspace file (NULL: built in)
    sha256  VARCHAR NOT NULL        -- of the file's bytes
);
