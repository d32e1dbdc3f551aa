-- audit: the loader's record of everything it did (SPEC §6 Audit), written
-- by `ferry push` and `ferry rollback`. Times are UTC.
--
-- Built into ferry and run by it; kept here so an analyst can see every
-- column. Every change to these tables for one window of records happens in
-- one transaction, so after a kill the audit holds either the whole
-- window's outcome or only its intents.

-- section: tables
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.runs (
    run_id        INTEGER PRIMARY KEY,
    kind          VARCHAR NOT NULL,      -- push | rollback
    rollback_of   INTEGER,               -- the push run a rollback undoes
    target        VARCHAR NOT NULL,      -- the org's URL
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,      -- running | finished
    options       VARCHAR,
    created       BIGINT, updated BIGINT, unchanged BIGINT, failed BIGINT,
    requests      BIGINT, throttled BIGINT,
    target_name   VARCHAR                -- the [targets.<name>] it went to (NULL: before named targets, read as 'default')
);
-- Workspaces audited before named targets gain the column.
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS target_name VARCHAR;
CREATE TABLE IF NOT EXISTS audit.records (
    run_id        INTEGER NOT NULL,
    step          VARCHAR NOT NULL,      -- records | deferred | state | associate | rollback
    table_name    VARCHAR NOT NULL,
    record_id     VARCHAR,
    guid          UUID NOT NULL,
    related_guid  UUID,                  -- the other side of an N:N link
    operation     VARCHAR NOT NULL,      -- created | updated | unchanged | failed | deleted | restored | gone
    http_status   INTEGER,
    error_code    VARCHAR,
    message       VARCHAR,
    payload_hash  VARCHAR,
    recorded_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audit.preimages (
    run_id        INTEGER NOT NULL,
    step          VARCHAR NOT NULL,
    table_name    VARCHAR NOT NULL,
    guid          UUID NOT NULL,
    preimage      JSON NOT NULL,         -- the update's columns as the target held them
    recorded_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS audit.intents (
    run_id        INTEGER NOT NULL,
    step          VARCHAR NOT NULL,
    table_name    VARCHAR NOT NULL,
    guid          UUID NOT NULL,
    related_guid  UUID,
    action        VARCHAR NOT NULL       -- create | update
);
CREATE TABLE IF NOT EXISTS audit.steps (
    run_id        INTEGER NOT NULL,
    step_no       INTEGER NOT NULL,
    step          VARCHAR NOT NULL,
    table_name    VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    records       BIGINT, created BIGINT, updated BIGINT, unchanged BIGINT, failed BIGINT,
    read_requests BIGINT, write_requests BIGINT, requests BIGINT, throttled BIGINT,
    seconds       DOUBLE,
    finished_at   TIMESTAMP
);
CREATE TABLE IF NOT EXISTS audit.substitutions (
    run_id        INTEGER NOT NULL,
    table_name    VARCHAR NOT NULL,
    record_id     VARCHAR,
    guid          UUID,
    column_name   VARCHAR NOT NULL,
    wanted        VARCHAR,
    reason        VARCHAR NOT NULL,
    used          VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS audit.guid_map (
    table_name    VARCHAR NOT NULL,
    staged_guid   UUID NOT NULL,
    target_guid   UUID NOT NULL,
    reason        VARCHAR NOT NULL
);

-- section: sample
-- The records a `ferry push --sample N` run picks (per table, in the
-- connection's temp schema): the run pushes only these.
CREATE OR REPLACE TEMP TABLE push_sample (table_name VARCHAR, guid UUID);

-- section: target runs
-- The runs of the target this command talks to (`--target`), in the
-- connection's temp schema: push, rollback, verify and reconcile see only
-- these, so a test org's runs never count for production. Runs recorded
-- before named targets belong to the target named 'default'.
CREATE OR REPLACE TEMP VIEW target_runs AS
SELECT * FROM audit.runs WHERE coalesce(target_name, 'default') = getvariable('ferry_target');
