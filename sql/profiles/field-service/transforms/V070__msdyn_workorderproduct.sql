-- V070 (profile field-service) — stg.msdyn_workorderproduct: the parts used
-- on each work order.
--
-- Why: one line per part per work order, linked to its work order, its
-- product and the product's unit (SPEC §10). Parts recorded on a
-- ServiceTracker work order were used, so every line is msdyn_linestatus
-- 690970001 Used (reference schema, msdyn_workorderproduct.msdyn_linestatus).
-- The price list is an org record named in ferry.toml and filled in by the
-- loader (msdyn_pricelist is not emitted); totals are calculated by Field
-- Service from quantity and unit amount.
-- A line cannot stand without its work order or its product: a line whose
-- work order is not migrated, or whose part is not a product, is excluded
-- (orphan_work_order_parts).

DELETE FROM map.excluded WHERE object = 'work_order_parts';

CREATE OR REPLACE TABLE stg.msdyn_workorderproduct AS
WITH

source AS (
    SELECT * FROM raw.work_order_parts_current
),

renamed AS (
    SELECT
        -- ids
        s.id                                      AS source_id,
        -- text: the product's name names the line
        coalesce(p.name, p.productnumber)         AS line_name,
        -- numbers
        s.quantity,
        s.unit_price,
        -- lookups
        w.msdyn_workorderid,
        p.productid,
        p.defaultuomid,
        -- dates
        s.created_at
    FROM source AS s
    LEFT JOIN stg.msdyn_workorder AS w ON w.{{prefix}}_record_id = s.work_order_id
    LEFT JOIN stg.product AS p         ON p.{{prefix}}_record_id = s.part_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('msdyn_workorderproduct', source_id)  AS msdyn_workorderproductid,
        source_id                                             AS {{prefix}}_record_id,
        'work_order_parts'                                    AS _source_object,
        -- text
        line_name                                             AS msdyn_name,
        -- numbers (quantities are Double columns)
        quantity::DOUBLE                                      AS msdyn_quantity,
        quantity::DOUBLE                                      AS msdyn_qtytobill,
        unit_price::DECIMAL(19,4)                             AS msdyn_unitamount,
        -- picklists: 690970001 Used (fixed, see header)
        690970001::INTEGER                                    AS msdyn_linestatus,
        -- lookups
        msdyn_workorderid                                     AS msdyn_workorder,
        'msdyn_workorder'                                     AS msdyn_workorder_table,
        productid                                             AS msdyn_product,
        'product'                                             AS msdyn_product_table,
        defaultuomid                                          AS msdyn_unit,
        CASE WHEN defaultuomid IS NOT NULL THEN 'uom' END     AS msdyn_unit_table,
        -- dates
        created_at                                            AS overriddencreatedon
    FROM renamed
    WHERE msdyn_workorderid IS NOT NULL AND productid IS NOT NULL
)

SELECT * FROM final;

-- Lines whose work order or product is not migrated.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'work_order_parts',
    s.id,
    'orphan_work_order_parts',
    concat_ws('; ',
        CASE WHEN w.msdyn_workorderid IS NULL THEN
            CASE WHEN s.work_order_id IS NULL THEN 'line has no work_order_id'
                 WHEN EXISTS (SELECT 1 FROM raw.work_orders_current AS r WHERE r.id = s.work_order_id)
                 THEN 'work order ' || s.work_order_id || ' is excluded from the migration'
                 ELSE 'work order ' || s.work_order_id || ' is not in the source'
            END
        END,
        CASE WHEN p.productid IS NULL THEN
            CASE WHEN s.part_id IS NULL THEN 'line has no part_id'
                 ELSE 'part ' || s.part_id || ' is not in the source'
            END
        END
    ) || '; a work-order line needs its work order and its product'
FROM raw.work_order_parts_current AS s
LEFT JOIN stg.msdyn_workorder AS w ON w.{{prefix}}_record_id = s.work_order_id
LEFT JOIN stg.product AS p         ON p.{{prefix}}_record_id = s.part_id
WHERE w.msdyn_workorderid IS NULL OR p.productid IS NULL;
