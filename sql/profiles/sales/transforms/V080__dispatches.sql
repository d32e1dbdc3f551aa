-- V080 (profile sales) — dispatches folded into their case.
--
-- Why: without Field Service there is no booking table, so a dispatch does
-- not become a row of its own (SPEC §10): the latest dispatch's start/end
-- and technician are on the case (V060), and every dispatch is listed in the
-- case note `<work order id>:dispatches` (V100), so no schedule history is
-- lost. This file records that decision per dispatch in map.folded, and
-- excludes dispatches whose work order is not a migrated case
-- (orphan_dispatches): there is nothing to fold them into.

DELETE FROM map.folded   WHERE object = 'dispatches';
DELETE FROM map.excluded WHERE object = 'dispatches';

INSERT INTO map.folded (object, record_id, target_table, target_record_id, how)
WITH

source AS (
    SELECT * FROM raw.dispatches_current
),

final AS (
    SELECT
        'dispatches'                          AS object,
        s.id                                  AS record_id,
        'incident'                            AS target_table,
        i.{{prefix}}_record_id                AS target_record_id,
        'listed in the case note ' || i.{{prefix}}_record_id || ':dispatches'
            || CASE WHEN s.id = latest.id
                    THEN '; latest dispatch: its start/end are the case''s scheduled start/end'
                    ELSE '' END               AS how
    FROM source AS s
    JOIN stg.incident AS i ON i.{{prefix}}_record_id = s.work_order_id
    LEFT JOIN (
        SELECT id
        FROM raw.dispatches_current
        QUALIFY row_number() OVER (
            PARTITION BY work_order_id
            ORDER BY scheduled_start DESC NULLS LAST, route_sequence DESC NULLS LAST, id DESC
        ) = 1
    ) AS latest ON latest.id = s.id
)

SELECT * FROM final;

INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'dispatches',
    s.id,
    'orphan_dispatches',
    CASE WHEN s.work_order_id IS NULL
         THEN 'dispatch has no work_order_id'
         WHEN EXISTS (SELECT 1 FROM raw.work_orders_current AS w WHERE w.id = s.work_order_id)
         THEN 'work order ' || s.work_order_id || ' is excluded from the migration'
         ELSE 'work order ' || s.work_order_id || ' is not in the source'
    END || '; a dispatch is folded into its case and has no case to go to'
FROM raw.dispatches_current AS s
WHERE NOT EXISTS (SELECT 1 FROM stg.incident AS i WHERE i.{{prefix}}_record_id = s.work_order_id);
