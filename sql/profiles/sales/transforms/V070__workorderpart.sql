-- V070 (profile sales) — stg.{{prefix}}_workorderpart: the parts used on each case.
--
-- Why: one line per part per work order, linked to its case and its product
-- (SPEC §10). opportunityproduct would need an opportunity, which a work
-- order is not, so ferry plans a custom table {{prefix}}_workorderpart.
-- A line cannot stand without its case or its product: a line whose work
-- order is not a migrated case, or whose part is not a product, is excluded
-- (orphan_work_order_parts).

DELETE FROM map.excluded WHERE object = 'work_order_parts';

CREATE OR REPLACE TABLE stg.{{prefix}}_workorderpart AS
WITH

source AS (
    SELECT * FROM raw.work_order_parts_current
),

renamed AS (
    SELECT
        -- ids
        s.id                         AS source_id,
        -- text: "<work order number> - <part name>" names the line in lists
        concat_ws(' - ', i.ticketnumber, coalesce(p.name, p.productnumber)) AS line_name,
        -- numbers
        s.quantity,
        s.unit_price,
        -- lookups
        i.incidentid,
        p.productid,
        -- dates
        s.created_at
    FROM source AS s
    LEFT JOIN stg.incident AS i ON i.{{prefix}}_record_id = s.work_order_id
    LEFT JOIN stg.product AS p  ON p.{{prefix}}_record_id = s.part_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('{{prefix}}_workorderpart', source_id) AS {{prefix}}_workorderpartid,
        source_id                                              AS {{prefix}}_record_id,
        'work_order_parts'                                     AS _source_object,
        -- text
        nullif(line_name, '')                                  AS {{prefix}}_name,
        -- numbers
        quantity::DECIMAL(16,4)                                AS {{prefix}}_quantity,
        unit_price::DECIMAL(19,4)                              AS {{prefix}}_unitprice,
        -- lookups
        incidentid                                             AS {{prefix}}_incidentid,
        'incident'                                             AS {{prefix}}_incidentid_table,
        productid                                              AS {{prefix}}_productid,
        'product'                                              AS {{prefix}}_productid_table,
        -- dates
        created_at                                             AS overriddencreatedon
    FROM renamed
    WHERE incidentid IS NOT NULL AND productid IS NOT NULL
)

SELECT * FROM final;

-- Lines whose case or product is not migrated.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'work_order_parts',
    s.id,
    'orphan_work_order_parts',
    concat_ws('; ',
        CASE WHEN i.incidentid IS NULL THEN
            CASE WHEN s.work_order_id IS NULL THEN 'line has no work_order_id'
                 WHEN EXISTS (SELECT 1 FROM raw.work_orders_current AS w WHERE w.id = s.work_order_id)
                 THEN 'work order ' || s.work_order_id || ' is excluded from the migration'
                 ELSE 'work order ' || s.work_order_id || ' is not in the source'
            END
        END,
        CASE WHEN p.productid IS NULL THEN
            CASE WHEN s.part_id IS NULL THEN 'line has no part_id'
                 ELSE 'part ' || s.part_id || ' is not in the source'
            END
        END
    ) || '; a work-order line needs its case and its product'
FROM raw.work_order_parts_current AS s
LEFT JOIN stg.incident AS i ON i.{{prefix}}_record_id = s.work_order_id
LEFT JOIN stg.product AS p  ON p.{{prefix}}_record_id = s.part_id
WHERE i.incidentid IS NULL OR p.productid IS NULL;
