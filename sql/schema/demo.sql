-- demo: what `ferry demo` planted in its synthetic export and where the
-- pipeline caught it. `demo.dirt` is computed from these per planted field
-- by the code.
--
-- Built into ferry and run by it.

-- section: findings_before_fixes
-- The findings of the first validation, before the demo cuts values to fit
-- (validating again no longer sees them as too long, and the dirt ledger
-- must still credit the check that found them).
CREATE SCHEMA IF NOT EXISTS demo;
CREATE OR REPLACE TABLE demo.findings_before_fixes AS SELECT * FROM "check".findings;

-- section: planted
-- One row per planted record of each kind of dirt, with the step that must
-- catch it.
CREATE SCHEMA IF NOT EXISTS demo;
CREATE OR REPLACE TABLE demo.planted (
    kind      VARCHAR,
    object    VARCHAR,
    field     VARCHAR,
    record_id VARCHAR,
    line      BIGINT,    -- the CSV line, for dirt planted in the file
    expected  VARCHAR,   -- the value that must arrive byte for byte
    caught_by VARCHAR    -- comma-separated: check, quarantine, landed_intact, ...
);
