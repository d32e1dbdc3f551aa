-- reconcile.spot_checks — a seeded random sample of pushed records
-- (reconcile.spot_sample: up to 10 per table, the same ones on every run over
-- the same data), compared field by field between stg and what the
-- read-back found. Values are normalised the same way on both sides, as
-- sql/verify/normalise.sql describes (trimmed text with empty = null,
-- integers, numbers at the target's precision, instants in UTC to the
-- second, dates, lookups by GUID); `target_column` differs from
-- `column_name` where verify.rules compares with another column
-- (overriddencreatedon → createdon), with the rule's reason.

CREATE OR REPLACE TABLE reconcile.spot_checks AS
SELECT
    v.target_table,
    v.record_id,
    v.guid,
    s.position                                        AS pick,
    v.position,
    v.column_name,
    v.target_column,
    v.kind,
    v.staged_value,
    v.target_value,
    v.staged_value IS NOT DISTINCT FROM v.target_value AS matches,
    c.rule
FROM reconcile.spot_values AS v
JOIN reconcile.spot_sample AS s USING (target_table, guid)
LEFT JOIN dv.columns AS c ON c.table_name = v.target_table AND c.column_name = v.column_name
ORDER BY v.target_table, s.position, v.position;
