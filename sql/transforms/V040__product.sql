-- V040 — stg.uomschedule, stg.uom, stg.product: the parts catalogue.
--
-- Why: a Dataverse product must name a unit group and a default unit that
-- already exist (SPEC §9), and work-order lines point at products. So ferry
-- creates one unit group, "ServiceTracker Units", with base unit "Each" and
-- one unit per unit of measure the parts use (each of quantity 1 of the base
-- unit: ServiceTracker has no conversion factors), then one product per part.
-- quantitydecimal and producttypecode are translated from the unit of
-- measure by mapping/optionsets.csv (an Hour is a service with 2 decimals).
-- The inventory location goes to a custom column (SPEC §10).
-- No part is excluded: a product needs no parent.

-- ---------------------------------------------------------------------------
-- stg.uomschedule — the unit group.
-- Dataverse creates a group's base unit itself, named by baseuomname; the
-- loader matches that unit to the stg.uom row flagged _is_base_unit.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.uomschedule AS
WITH

final AS (
    SELECT
        -- ids
        map.record_guid('uomschedule', 'ServiceTracker Units')  AS uomscheduleid,
        'ServiceTracker Units'                                  AS {{prefix}}_record_id,
        'parts'                                                 AS _source_object,
        -- text
        'ServiceTracker Units'                                  AS name,
        'Each'                                                  AS baseuomname,
        'Units of measure used by ServiceTracker parts.'        AS description
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.uom — the base unit Each plus every unit of measure seen on a part.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.uom AS
WITH

source AS (
    SELECT DISTINCT map.clean_text(unit_of_measure) AS unit
    FROM raw.parts_current
    WHERE map.clean_text(unit_of_measure) IS NOT NULL
    UNION
    SELECT 'Each'                       -- the base unit exists even if no part uses it
),

final AS (
    SELECT
        -- ids
        map.record_guid('uom', unit)                          AS uomid,
        unit                                                  AS {{prefix}}_record_id,
        'parts'                                               AS _source_object,
        -- text
        unit                                                  AS name,
        -- numbers: 1 base unit each (no conversion factors in the source)
        1::DECIMAL(17,5)                                      AS quantity,
        -- lookups
        map.record_guid('uomschedule', 'ServiceTracker Units') AS uomscheduleid,
        'uomschedule'                                         AS uomscheduleid_table,
        map.record_guid('uom', 'Each')                        AS baseuom,
        'uom'                                                 AS baseuom_table,
        -- bookkeeping: the unit Dataverse creates with the group
        unit = 'Each'                                         AS _is_base_unit
    FROM source
)

SELECT * FROM final ORDER BY {{prefix}}_record_id;

-- ---------------------------------------------------------------------------
-- stg.product — one product per part.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.product AS
WITH

source AS (
    SELECT * FROM raw.parts_current
),

unit_option AS (
    -- parts.unit_of_measure → quantitydecimal + producttypecode (mapping/optionsets.csv)
    SELECT
        source_value,
        max(target_value) FILTER (WHERE target_column = 'quantitydecimal') AS quantitydecimal,
        max(target_value) FILTER (WHERE target_column = 'producttypecode') AS producttypecode
    FROM map.optionset
    WHERE source_object = 'parts' AND source_field = 'unit_of_measure' AND target_table = 'product'
    GROUP BY source_value
),

renamed AS (
    SELECT
        -- ids
        s.id                                     AS source_id,
        -- text
        map.clean_text(s.part_number)            AS productnumber,
        map.clean_text(s.name)                   AS name,
        map.clean_text(s.description)            AS description,
        map.clean_text(s.inventory_location)     AS inventory_location,
        -- numbers
        s.unit_price,
        s.quantity_on_hand,
        -- picklists
        map.clean_text(s.unit_of_measure)        AS unit,
        -- flags
        s.active,
        -- dates
        s.created_at
    FROM source AS s
),

final AS (
    SELECT
        -- ids
        map.record_guid('product', r.source_id)          AS productid,
        r.source_id                                      AS {{prefix}}_record_id,
        'parts'                                          AS _source_object,
        -- text
        r.productnumber,
        r.name,
        r.description,
        r.inventory_location                             AS {{prefix}}_inventorylocation,
        -- numbers
        r.unit_price::DECIMAL(19,4)                      AS price,
        -- quantityonhand holds 2 decimals: the precision_loss check reports
        -- any value that would be rounded
        r.quantity_on_hand::DECIMAL(14,2)                AS quantityonhand,
        -- picklists / options (NULL when the unit has no translation: reported)
        o.quantitydecimal::INTEGER                       AS quantitydecimal,
        o.producttypecode::INTEGER                       AS producttypecode,
        -- state: product statecode 0 Active / 1 Retired, statuscode 1 Active /
        -- 2 Retired (reference schema, product.statecode/statuscode); a boolean
        -- source flag, so fixed here rather than in optionsets.csv
        CASE WHEN r.active THEN 0 WHEN NOT r.active THEN 1 END::INTEGER AS statecode,
        CASE WHEN r.active THEN 1 WHEN NOT r.active THEN 2 END::INTEGER AS statuscode,
        -- lookups: the unit group and the part's unit
        map.record_guid('uomschedule', 'ServiceTracker Units') AS defaultuomscheduleid,
        'uomschedule'                                    AS defaultuomscheduleid_table,
        CASE WHEN r.unit IS NOT NULL THEN map.record_guid('uom', r.unit) END AS defaultuomid,
        CASE WHEN r.unit IS NOT NULL THEN 'uom' END      AS defaultuomid_table,
        -- dates
        r.created_at                                     AS overriddencreatedon
    FROM renamed AS r
    LEFT JOIN unit_option AS o ON o.source_value = r.unit
)

SELECT * FROM final;
