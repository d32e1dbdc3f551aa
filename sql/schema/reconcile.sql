-- reconcile: the counts of `ferry reconcile`. The tables themselves are
-- built by sql/reconcile/*.sql (which a workspace may edit) and, for the
-- key tables that need one query per object or table, by the code.
--
-- Built into ferry and run by it.

-- section: schema
CREATE SCHEMA IF NOT EXISTS reconcile;

-- section: target
-- The target this reconciliation describes (`ferry reconcile --target`):
-- every reconcile.* table counts only its runs (temp.target_runs).
CREATE OR REPLACE TABLE reconcile.target AS
SELECT getvariable('ferry_target') AS target_name,
       (SELECT any_value(target) FROM temp.target_runs WHERE kind = 'push') AS url,
       (SELECT max(run_id) FROM temp.target_runs WHERE kind = 'push') AS latest_push_run;

-- section: option_mappings
-- Each option-set translation of map.optionset (source object and field →
-- target table and column) numbered, so the generated per-translation
-- queries name it by number and read the names from here.
CREATE OR REPLACE TABLE reconcile.option_mappings AS
SELECT row_number() OVER (ORDER BY source_object, source_field, target_table, target_column) AS mapping_no, *
FROM (SELECT DISTINCT source_object, source_field, target_table, target_column FROM map.optionset);
