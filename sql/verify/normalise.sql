-- How `ferry verify` compares a staged value (stg.<table>) with the value
-- the target holds (dv.<table>, read back through the Web API).
--
-- Two things live here, both editable by the analyst (the workspace copy of
-- this file is what runs; `ferry init` writes it):
--
--   1. verify.rules: columns Dataverse itself changes on the way in, with
--      the documented behaviour and its source. A rule compares the staged
--      column with another target column (compare_with), compares it only
--      where the staged value is not null because Dataverse fills a default
--      otherwise (platform_default), or leaves it out of the comparison
--      (ignore); its reason appears in the diff report.
--   2. the normalisation macros, one per kind of column (text, integer,
--      number, boolean, instant, date, lookup). Both sides go through the
--      same macro, so a rule written here holds for both.
--
-- No data value is spliced into SQL: ferry generates the per-table diff
-- from column names and these macros only.

CREATE SCHEMA IF NOT EXISTS verify;

CREATE OR REPLACE TABLE verify.rules (
    table_name    VARCHAR NOT NULL,   -- a table, or '*' for every table
    column_name   VARCHAR NOT NULL,   -- the stg column
    rule          VARCHAR NOT NULL,   -- compare_with | platform_default | ignore
    target_column VARCHAR,            -- compare_with: the target column read back instead
    reason        VARCHAR NOT NULL    -- the Dataverse behaviour and where it is documented
);

INSERT INTO verify.rules VALUES
    -- Activities: the original time is sent as overriddencreatedon, which
    -- Dataverse writes into createdon ("Date and time that the record was
    -- migrated": overriddencreatedon keeps the migration time). SPEC §9
    -- activities; Microsoft Learn, "Migrate data: overriddencreatedon"
    -- (entity reference, activitypointer.overriddencreatedon); the emulator
    -- does the same (crates/dataverse-emulator/src/store/validation.rs, plan_create).
    ('*', 'overriddencreatedon', 'compare_with', 'createdon',
     'Dataverse moves the overriddencreatedon sent on create into createdon and keeps the migration time in overriddencreatedon (SPEC §9 activities)'),
    -- State and status: a staged null is not sent (src/push/rows.rs sends
    -- no null on create), and Dataverse gives the record its default state
    -- and that state's default status. SPEC §9 ("ownerid defaults to the
    -- caller, statecode to the default state ... need not be sent");
    -- Microsoft Learn, "State and status columns" (statecode/statuscode
    -- DefaultStatus). A staged value is compared as usual: resolved cases
    -- arrive through CloseIncident with the status asked for (SPEC §9
    -- incident).
    ('*', 'statecode', 'platform_default', NULL,
     'a staged null leaves the state to Dataverse, which sets the default state (SPEC §9)'),
    ('*', 'statuscode', 'platform_default', NULL,
     'a staged null leaves the status to Dataverse, which sets the default status of the state (SPEC §9)');

-- Text: Dataverse stores what it is sent, but an empty string and null are
-- the same value to it (an empty text column reads back as null), and
-- leading/trailing blanks are not significant to any ServiceTracker field.
CREATE OR REPLACE TEMP MACRO verify_text(v) AS
    nullif(trim(CAST(v AS VARCHAR)), '');

-- Option sets, state and status: the integer value (labels are not compared;
-- translation happened in the transforms, SPEC §5).
CREATE OR REPLACE TEMP MACRO verify_integer(v) AS
    TRY_CAST(v AS BIGINT);

-- Money, decimal and float columns keep `places` decimals (the column's
-- Precision in the target's metadata): compare at that precision, in
-- double precision as the loader does when it decides whether a record
-- needs an update (src/push/rows.rs, Cell::same_as), so verify and push
-- agree on what "equal" means.
CREATE OR REPLACE TEMP MACRO verify_number(v, places) AS
    round(TRY_CAST(v AS DOUBLE), places);

CREATE OR REPLACE TEMP MACRO verify_boolean(v) AS
    TRY_CAST(v AS BOOLEAN);

-- Instants: Dataverse stores DateTime (UserLocal) columns in UTC to the
-- second. The loader sends the UTC wall clock rounded to the second
-- (src/push/rows.rs), so both sides are rounded the same way. CAST to
-- TIMESTAMP of a TIMESTAMPTZ is the UTC wall clock in ferry's DuckDB
-- (no ICU extension).
CREATE OR REPLACE TEMP MACRO verify_instant(v) AS
    date_trunc('second', CAST(v AS TIMESTAMP) + INTERVAL 500 MILLISECOND);

-- DateOnly columns: the calendar date, no time zone.
CREATE OR REPLACE TEMP MACRO verify_date(v) AS
    TRY_CAST(CAST(v AS TIMESTAMP) AS DATE);

-- Lookups compare by GUID (the target table is not compared: a GUID names
-- one record). Records Dataverse created under its own id (a unit group's
-- base unit) are compared under that id: see audit.guid_map.
CREATE OR REPLACE TEMP MACRO verify_lookup(v) AS
    TRY_CAST(v AS UUID);
