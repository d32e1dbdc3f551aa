-- check: what `ferry validate` found. The checks themselves are
-- sql/checks/<rule>.sql, which a workspace may edit.
--
-- Built into ferry and run by it.

-- section: schema
CREATE SCHEMA IF NOT EXISTS "check";

-- section: findings
-- The tables a validate run fills, emptied at its start: one row per
-- finding, tagged with the check file it came from, and one row per check.
CREATE SCHEMA IF NOT EXISTS "check";
CREATE OR REPLACE TABLE "check".findings (
    check_file    VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,   -- error | warning | review
    object        VARCHAR,
    record_id     VARCHAR,
    field         VARCHAR,
    rule          VARCHAR NOT NULL,
    message       VARCHAR,
    waived        BOOLEAN NOT NULL DEFAULT false,
    waiver_reason VARCHAR);
CREATE OR REPLACE TABLE "check".runs (
    check_file  VARCHAR,
    findings    BIGINT,
    duration_ms BIGINT,
    ran_at      TIMESTAMPTZ);

-- section: waivers
-- mapping/waivers.csv, loaded by `ferry validate`: a finding of `rule` on
-- `object` (one record, or all when record_id is empty) accepted, and why.
CREATE OR REPLACE TABLE "check".waivers (
    rule      VARCHAR NOT NULL,
    object    VARCHAR NOT NULL,
    record_id VARCHAR,
    reason    VARCHAR NOT NULL,
    line      BIGINT);            -- the line of mapping/waivers.csv
