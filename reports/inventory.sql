-- Source inventory report (`ferry report inventory`), rendered through
-- templates/inventory.html.j2 into reports/inventory.html (+ .json).
--
-- Each `-- name: <key>` query becomes a list of rows under <key> in the
-- template. The data comes from the meta.inventory_* tables that
-- `ferry stage` rebuilds; edit freely, the template only needs the columns
-- it names.

-- name: totals
SELECT
    count(*)                                    AS objects,
    coalesce(sum(current_records), 0)           AS current_records,
    coalesce(sum(versions), 0)                  AS versions,
    coalesce(sum(fields), 0)                    AS fields,
    coalesce(sum(custom_fields), 0)             AS custom_fields,
    coalesce(sum(unknown_fields), 0)            AS unknown_fields,
    coalesce(sum(quarantined), 0)               AS quarantined,
    (SELECT count(*) FROM meta.extracts)        AS extracts
FROM meta.inventory_objects;

-- name: extracts
SELECT
    extract_id,
    source_kind,
    location,
    exported_at,
    CAST(started_at AS VARCHAR)  AS started_at,
    CAST(finished_at AS VARCHAR) AS finished_at,
    CAST(watermark AS VARCHAR)   AS watermark,
    pending_sync_count,
    pending_sync_allowed,
    quarantine_rows,
    attachment_rows,
    CAST(staged_at AS VARCHAR)   AS staged_at
FROM meta.extracts
ORDER BY extract_id;

-- name: highlights
-- Fields whose values need a decision before mapping, worst first.
WITH issues AS (
    UNPIVOT (
        SELECT object, field, position,
               orphans, undocumented_rows, email_invalid, before_1753, in_future,
               email_free_mail, html_like, leading_zero
        FROM meta.inventory_fields
    )
    ON orphans, undocumented_rows, email_invalid, before_1753, in_future,
       email_free_mail, html_like, leading_zero
    INTO NAME issue VALUE affected_rows
)
SELECT
    i.object,
    i.field,
    i.issue,
    CASE i.issue
        WHEN 'orphans'           THEN 'references a record that does not exist'
        WHEN 'undocumented_rows' THEN 'value outside the documented picklist'
        WHEN 'email_invalid'     THEN 'not a valid e-mail address'
        WHEN 'before_1753'       THEN 'date before 1753 (Dataverse minimum)'
        WHEN 'in_future'         THEN 'date after the extract was taken (expected for end or due dates)'
        WHEN 'email_free_mail'   THEN 'free-mail domain (no company domain)'
        WHEN 'html_like'         THEN 'contains HTML-like markup'
        WHEN 'leading_zero'      THEN 'digits with a leading zero: keep as text'
    END AS description,
    CASE WHEN i.issue IN ('orphans', 'undocumented_rows', 'email_invalid', 'before_1753')
         THEN 'problem' ELSE 'review' END AS severity,
    i.affected_rows,
    f.rows AS total_rows
FROM issues AS i
JOIN meta.inventory_fields AS f USING (object, field)
JOIN meta.inventory_objects AS o USING (object)
WHERE i.affected_rows > 0
ORDER BY severity, o.position, i.position, i.issue;

-- name: objects
-- One row per object, each carrying its fields, each field carrying its
-- value list when it is picklist-like.
WITH value_rows AS (
    SELECT *,
           max(count) OVER (PARTITION BY object, field) AS largest,
           sum(count) OVER (PARTITION BY object, field) AS total
    FROM meta.inventory_values
),
value_lists AS (
    SELECT object, field,
           list({
               'value': value,
               'count': count,
               'documented': documented,
               'share': CASE WHEN total > 0 THEN count / total ELSE 0 END,
               'bar': CASE WHEN largest > 0 THEN count / largest ELSE 0 END
           } ORDER BY count DESC, value) AS value_list
    FROM value_rows
    GROUP BY object, field
),
field_lists AS (
    SELECT f.object,
           list({
               'field': f.field,
               'position': f.position,
               'inferred_type': f.inferred_type,
               'duckdb_type': f.duckdb_type,
               'origin': f.origin,
               'rows': f.rows,
               'non_null': f.non_null,
               'nulls': f.nulls,
               'null_rate': f.null_rate,
               'distinct_count': f.distinct_count,
               'min_value': f.min_value,
               'max_value': f.max_value,
               'max_length': f.max_length,
               'sample_values': f.sample_values,
               'picklist_like': f.picklist_like,
               'documented_values': f.documented_values,
               'undocumented_rows': f.undocumented_rows,
               'email_invalid': f.email_invalid,
               'email_free_mail': f.email_free_mail,
               'html_like': f.html_like,
               'non_ascii': f.non_ascii,
               'multiline': f.multiline,
               'leading_zero': f.leading_zero,
               'before_1753': f.before_1753,
               'in_future': f.in_future,
               'references': f."references",
               'orphans': f.orphans,
               'value_list': v.value_list
           } ORDER BY f.position) AS fields
    FROM meta.inventory_fields AS f
    LEFT JOIN value_lists AS v USING (object, field)
    GROUP BY f.object
)
SELECT o.* EXCLUDE (fields), o.fields AS field_count, fl.fields
FROM meta.inventory_objects AS o
JOIN field_lists AS fl USING (object)
ORDER BY o.position;
