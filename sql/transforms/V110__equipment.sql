-- V110 — stg.{{prefix}}_equipment and stg.{{prefix}}_equipment_customeraddress.
--
-- Why: equipment is a ServiceTracker custom object with no Dataverse
-- counterpart in the sales model, so ferry plans a custom table
-- {{prefix}}_equipment (SPEC §10), linked to the customer's account.
-- equipment_sites is a many-to-many link between equipment and sites; in
-- Dataverse it becomes the N:N relationship (intersect)
-- {{prefix}}_equipment_customeraddress, one association per link, which the
-- loader creates by associating the two records.
-- A piece of equipment stands alone: one whose customer is missing keeps a
-- NULL account (the orphan check reports it). A link needs both ends: one
-- whose equipment or site is not migrated is excluded
-- (orphan_equipment_sites).
--
-- Dates: install and warranty-end dates are calendar dates; they become
-- midnight UTC of that date.

DELETE FROM map.excluded WHERE object = 'equipment_sites';

-- ---------------------------------------------------------------------------
-- stg.{{prefix}}_equipment
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.{{prefix}}_equipment AS
WITH

source AS (
    SELECT * FROM raw.equipment_current
),

renamed AS (
    SELECT
        -- ids
        s.id                                  AS source_id,
        -- text
        map.clean_text(s.serial_number)       AS serial_number,
        map.clean_text(s.model)               AS model,
        map.clean_text(s.manufacturer)        AS manufacturer,
        -- lookups: only to an account that exists
        a.accountid,
        -- dates
        s.install_date,
        s.warranty_end,
        s.created_at
    FROM source AS s
    LEFT JOIN stg.account AS a ON a.{{prefix}}_record_id = s.customer_id
),

final AS (
    SELECT
        -- ids
        map.record_guid('{{prefix}}_equipment', source_id)   AS {{prefix}}_equipmentid,
        source_id                                           AS {{prefix}}_record_id,
        'equipment'                                         AS _source_object,
        -- text: the primary name is the serial number (the source id when
        -- there is none, so every row has a name)
        coalesce(serial_number, source_id)                  AS {{prefix}}_name,
        serial_number                                       AS {{prefix}}_serialnumber,
        model                                               AS {{prefix}}_model,
        manufacturer                                        AS {{prefix}}_manufacturer,
        -- dates (calendar dates → midnight UTC)
        -- date-only columns (behaviour DateOnly): a calendar date, no time zone
        install_date::DATE                                  AS {{prefix}}_installdate,
        warranty_end::DATE                                  AS {{prefix}}_warrantyend,
        created_at                                          AS overriddencreatedon,
        -- lookups
        accountid                                           AS {{prefix}}_accountid,
        CASE WHEN accountid IS NOT NULL THEN 'account' END  AS {{prefix}}_accountid_table
    FROM renamed
)

SELECT * FROM final;

-- ---------------------------------------------------------------------------
-- stg.{{prefix}}_equipment_customeraddress — the N:N links
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.{{prefix}}_equipment_customeraddress AS
WITH

source AS (
    SELECT * FROM raw.equipment_sites_current
),

final AS (
    SELECT
        -- the two ends of the association
        e.{{prefix}}_equipmentid,
        c.customeraddressid,
        -- ids
        s.id                                 AS {{prefix}}_record_id,
        'equipment_sites'                    AS _source_object
    FROM source AS s
    JOIN stg.{{prefix}}_equipment AS e  ON e.{{prefix}}_record_id = s.equipment_id
    JOIN stg.customeraddress AS c       ON c.{{prefix}}_record_id = s.site_id
)

SELECT * FROM final;

-- Links whose equipment or site is not migrated.
INSERT INTO map.excluded (object, record_id, rule, message)
SELECT
    'equipment_sites',
    s.id,
    'orphan_equipment_sites',
    concat_ws('; ',
        CASE WHEN e.{{prefix}}_equipmentid IS NULL THEN
            CASE WHEN s.equipment_id IS NULL THEN 'link has no equipment_id'
                 ELSE 'equipment ' || s.equipment_id || ' is not in the source' END
        END,
        CASE WHEN c.customeraddressid IS NULL THEN
            CASE WHEN s.site_id IS NULL THEN 'link has no site_id'
                 WHEN EXISTS (SELECT 1 FROM raw.sites_current AS r WHERE r.id = s.site_id)
                 THEN 'site ' || s.site_id || ' is excluded from the migration'
                 ELSE 'site ' || s.site_id || ' is not in the source' END
        END
    ) || '; an equipment–site link needs both ends'
FROM raw.equipment_sites_current AS s
LEFT JOIN stg.{{prefix}}_equipment AS e ON e.{{prefix}}_record_id = s.equipment_id
LEFT JOIN stg.customeraddress AS c      ON c.{{prefix}}_record_id = s.site_id
WHERE e.{{prefix}}_equipmentid IS NULL OR c.customeraddressid IS NULL;
