-- max_length (error) — staged text longer than its Dataverse column.
--
-- Protects against: a create failing (and rolling back its whole bulk
-- request, SPEC §9 Web API) because a value is over the column's
-- MaxLength — a company name over account.name's 160 characters, a
-- work-order summary over incident.title's 200 (SPEC §8.4 "names longer
-- than the target column"). Transforms never cut text (sql/README.md): the
-- value stays whole in stg and is reported here, so a person decides how to
-- shorten it.
-- Every String and Memo column with a max_length in map.target_columns is
-- checked, over every staged cell (meta.stg_cells), whatever the profile.
-- Dataverse counts UTF-16 code units: a character outside the Basic
-- Multilingual Plane (most emoji) counts twice.
-- Fix: shorten the value in ServiceTracker, or shorten it on purpose in the
-- transform (and waive this finding).

WITH

limits AS (
    SELECT table_name, column_name, max_length
    FROM map.target_columns
    WHERE type IN ('String', 'Memo') AND max_length IS NOT NULL
),

long AS (
    SELECT
        v.source_object,
        v.record_id,
        v.target_table,
        v.column_name,
        v.value,
        l.max_length,
        -- UTF-16 length: code points, plus one for each supplementary one
        -- (the regex only runs on long values that are not plain ASCII)
        length(v.value) + CASE
            WHEN strlen(v.value) > l.max_length AND strlen(v.value) <> length(v.value)
            THEN length(regexp_replace(v.value, '[^\x{10000}-\x{10FFFF}]', '', 'g'))
            ELSE 0
        END                                                                        AS units
    FROM meta.stg_cells AS v
    JOIN limits AS l
      ON l.table_name = v.target_table AND l.column_name = v.column_name
    -- bytes ≥ UTF-16 units, so only values longer in bytes can be too long
    WHERE strlen(v.value) > l.max_length
)

SELECT
    'error'                                   AS severity,
    source_object                             AS object,
    record_id,
    target_table || '.' || column_name        AS field,
    'max_length'                              AS rule,
    target_table || '.' || column_name || ' takes at most ' || max_length || ' characters but '
        || source_object || ' ' || record_id || ' has ' || units || ': "'
        || CASE WHEN length(value) > 60 THEN left(value, 57) || '...' ELSE value END
        || '"; shorten it in ServiceTracker and extract again, or shorten it in the transform and waive this finding.'
                                              AS message
FROM long
WHERE units > max_length
