-- V001 — helper macros and the record-decision tables every later transform uses.
--
-- Builds:
--   map.record_guid(target_table, source_id)  the deterministic record GUID (SPEC §6)
--   map.clean_text(x)                         trimmed text, NULL when empty
--   map.excluded                              source records left out of stg.*, with the rule and why
--   map.folded                                source records that became part of another record
--
-- Why: every stg.* table keys its rows with the same GUID the loader computes
-- in Rust, so re-runs address the same Dataverse records and children bind to
-- parents by GUID without a lookup round trip. And no source record may
-- vanish silently: the conservation check proves that every
-- raw.<object>_current row is in stg.*, in map.folded or in map.excluded.

-- ---------------------------------------------------------------------------
-- map.record_guid — UUIDv5 (RFC 4122 §4.3) over the workspace namespace and
-- the name '<target table>:<source id>'.
--
--   h      = sha1(namespace bytes || utf-8 bytes of the name), as hex
--   result = h[0..8]-h[8..12]-'5'||h[13..16]-variant||h[17..20]-h[20..32]
--
-- The version nibble is forced to 5 and the variant nibble to 10xx (8, 9, a
-- or b: the original nibble's low two bits pick which). This exact SQL is
-- verified to equal Python's uuid.uuid5(namespace, f"{table}:{id}") and the
-- loader's Rust implementation: do not "simplify" it, every GUID already
-- pushed to Dataverse depends on it staying bit-for-bit the same.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE MACRO map.record_guid(target_table, source_id) AS (WITH h AS (SELECT sha1(unhex(replace((SELECT namespace FROM map.settings)::VARCHAR, '-', '')) || encode(target_table || ':' || source_id)) AS h) SELECT (substr(h,1,8)||'-'||substr(h,9,4)||'-5'||substr(h,14,3)||'-'||substr('89ab', ((strpos('0123456789abcdef', substr(h,17,1)) - 1) & 3) + 1, 1)||substr(h,18,3)||'-'||substr(h,21,12))::UUID FROM h);

-- ---------------------------------------------------------------------------
-- map.clean_text — leading and trailing white space (space, tab, CR, LF, FF,
-- VT) removed; an empty result becomes NULL. Never cuts: a value longer than
-- its target column stays whole and the max-length check reports it.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE MACRO map.clean_text(x) AS
    nullif(regexp_replace(x::VARCHAR, '^\s+|\s+$', '', 'g'), '');

-- ---------------------------------------------------------------------------
-- Record decisions. Each transform deletes and re-inserts only the rows of
-- the objects it owns, so a single file can be re-run on its own.
-- ---------------------------------------------------------------------------

-- A source record that cannot become a target row (its required parent is
-- missing, its type has no target table, ...). rule = 'orphan_<object>', ...
CREATE OR REPLACE TABLE map.excluded (
    object    VARCHAR,   -- ServiceTracker object (customers, work_orders, ...)
    record_id VARCHAR,   -- its source id
    rule      VARCHAR,   -- why, as a stable rule name
    message   VARCHAR    -- why, for a person: names the missing parent id
);

-- A source record that becomes part of another record instead of a row of
-- its own (a dispatch folded into its case, a technician matched to an
-- existing user, a workflow documented in the rebuild reference).
CREATE OR REPLACE TABLE map.folded (
    object           VARCHAR,  -- ServiceTracker object
    record_id        VARCHAR,  -- its source id
    target_table     VARCHAR,  -- Dataverse table it went into (NULL: none)
    target_record_id VARCHAR,  -- source id of the record it went into (NULL: none)
    how              VARCHAR   -- what became of it, for a person
);
