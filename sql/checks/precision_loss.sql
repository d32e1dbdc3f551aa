-- precision_loss (error) — a number with more decimals than its target column keeps.
--
-- Protects against: a value silently rounded on the way in. Dataverse
-- columns have a fixed precision (product.quantityonhand: 2 decimals;
-- bookableresource.msdyn_hourlyrate: 2), and the transforms cast to the
-- target type, so 12.345 would arrive as 12.35 (reference schema, `precision`).
-- Fix: round the value in ServiceTracker on purpose, or waive the finding
-- to accept the rounding shown in the message.

WITH

numbers AS (
    SELECT 'parts' AS object, id, 'quantity_on_hand' AS field,
           quantity_on_hand AS value, 'product.quantityonhand' AS target
    FROM raw.parts_current
    UNION ALL
    SELECT 'technicians', id, 'hourly_rate', hourly_rate, 'bookableresource.msdyn_hourlyrate'
    FROM raw.technicians_current
    WHERE (SELECT profile FROM map.settings) = 'field-service'
)

SELECT
    'error'                                           AS severity,
    object,
    id                                                AS record_id,
    field,
    'precision_loss'                                  AS rule,
    format('{} {} has more than 2 decimals: {} keeps {}',
           field, value, target, round(value, 2))  AS message
FROM numbers
-- both targets keep 2 decimals (DuckDB's round needs a constant precision)
WHERE value IS NOT NULL AND value <> round(value, 2)
