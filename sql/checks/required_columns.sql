-- required_columns (error) — staged rows missing a value Dataverse requires.
--
-- Protects against: a create failing for a whole bulk request (standard
-- tables roll back the request when one record fails, SPEC §9 Web API)
-- because a required column is empty — an account without a name, a case
-- without a title, a product without its unit.
-- Required means (SPEC §9, map.target_columns.required_level):
--   - ApplicationRequired: must be sent;
--   - SystemRequired, except what the platform fills itself (ids, owner,
--     state and status, entity-name columns): e.g. incident.customerid,
--     contract.activeon/expireson, product.productnumber.
-- Only columns the transforms stage are checked (meta.stg_cells); required
-- columns they leave to the loader or to preflight (contract template and
-- currency, owners, activity parties) are checked there. A text value of
-- only white space counts as empty.
-- Fix: fill the source field in ServiceTracker, or give the column a
-- default in the transform that builds the table.

WITH

required AS (
    SELECT table_name, column_name, type, required_level
    FROM map.target_columns
    WHERE required_level = 'ApplicationRequired'
       OR (required_level = 'SystemRequired'
           AND type NOT IN ('Uniqueidentifier', 'Owner', 'State', 'Status', 'EntityName'))
)

SELECT
    'error'                                   AS severity,
    v.source_object                           AS object,
    v.record_id,
    v.target_table || '.' || v.column_name    AS field,
    'required_columns'                        AS rule,
    v.target_table || '.' || v.column_name || ' is required (' || r.required_level || ') but empty for '
        || v.source_object || ' ' || v.record_id
        || '; fill the source field in ServiceTracker and extract again, or give the column a value in the transform that builds stg.'
        || v.target_table || '.'
                                              AS message
FROM meta.stg_cells AS v
JOIN required AS r
  ON r.table_name = v.target_table AND r.column_name = v.column_name
WHERE v.value IS NULL OR trim(v.value) = ''
