//! The source inventory: per object and field, what the staged data really
//! holds (SPEC §5 input, §8.4 dirt) — inferred type, standard vs custom, null
//! rate, distinct count, samples, value profiles and the full value list of
//! picklist-like fields — kept in DuckDB so analysts and the mapping proposer
//! can query it.
//!
//! Everything is computed in set-based SQL over `raw.<object>_current`, in
//! two scans per object whatever its width: one aggregate pass for counts,
//! min/max and profiles (joined to the reference targets and the free-mail
//! domain table), and one GROUPING SETS aggregate for value frequencies, from
//! which distinct counts, samples, undocumented values and picklists follow.
//! When some id has several versions, the current rows are computed once
//! into a temporary table that both passes read; the current ids of every
//! object are collected once for the reference checks.
//!
//! Tables (rebuilt by every `ferry stage` that loads something):
//! `meta.inventory_objects`, `meta.inventory_fields`, `meta.inventory_values`,
//! plus the reference lists they are computed from, `meta.free_mail_domains`
//! and `meta.documented_values`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use duckdb::{params_from_iter, Connection};
use serde::Serialize;

use super::db::{
    constant_literal, qualified, quote_ident, relation_exists, table_columns, ColumnType,
};
use super::raw::{current_rows_source, EXTRACT_ID_COLUMN, QUARANTINE_TABLE, RAW_SCHEMA};
use crate::error::{Error, Result};
use crate::landing::manifest::{ColumnOrigin, Manifest};
use crate::landing::{ROW_HASH_COLUMN, SOURCE_LINE_COLUMN};
use crate::source::schema::{self, FieldType, CUSTOM_FIELD_PREFIX};

/// Free-mail domains: a customer e-mail at one of these says nothing about
/// the company, so the account needs review (SPEC §8.4).
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "aol.com",
    "icloud.com",
    "live.com",
    "msn.com",
    "gmx.com",
    "protonmail.com",
    "mail.com",
    "yandex.com",
];

/// A sane e-mail address: a local part of the characters RFC 5322 allows
/// unquoted, one `@`, and a domain of at least two dot-separated labels.
/// Stricter than the RFC on purpose: quoted local parts and bare domains are
/// what a CRM import should flag.
pub const EMAIL_PATTERN: &str = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+";
/// Text that an HTML renderer would treat as markup.
pub const HTML_PATTERN: &str = "<[a-zA-Z/!]";
/// Digit-only text with a leading zero that a numeric column would lose.
pub const LEADING_ZERO_PATTERN: &str = "0[0-9]+";
/// Dataverse's `datetime` columns start at 1753-01-01.
pub const EARLIEST_TARGET_DATE: &str = "1753-01-01";
/// A text field with at most this many distinct values (and at most half as
/// many as it has values) is listed value by value like a picklist.
pub const PICKLIST_MAX_DISTINCT: i64 = 50;
/// How many of the most frequent values are kept as samples.
pub const SAMPLE_VALUES: usize = 5;

/// What the rebuild covered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InventorySummary {
    pub objects: usize,
    pub fields: usize,
    pub picklist_fields: usize,
}

/// Rebuilds every inventory table from `raw.*` and the staged manifests, in
/// one transaction so readers never see half an inventory.
pub fn rebuild_inventory(conn: &mut Connection) -> Result<InventorySummary> {
    let tx = conn.transaction()?;
    let summary = rebuild(&tx)?;
    tx.commit()?;
    Ok(summary)
}

fn rebuild(conn: &Connection) -> Result<InventorySummary> {
    let staged = StagedManifests::load(conn)?;
    create_tables(conn)?;
    load_reference_lists(conn)?;
    let mut summary = InventorySummary::default();
    let objects = staged.objects(conn)?;
    collect_current_ids(conn, &objects)?;
    for object in objects {
        let columns = inventory_columns(conn, &object, &staged)?;
        if columns.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let current = materialize_current(conn, &object)?;
        insert_columns(conn, &object, &columns)?;
        profile_pass(conn, &object, &current, &columns, &staged)?;
        let profiled = started.elapsed();
        value_pass(conn, &object, &current, &columns)?;
        tracing::debug!(
            object = object.as_str(),
            fields = columns.len(),
            profile_ms = profiled.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "inventory"
        );
        summary.objects += 1;
        summary.fields += columns.len();
    }
    conn.execute_batch(
        "DROP TABLE IF EXISTS temp.inventory_columns; \
         DROP TABLE IF EXISTS temp.inventory_stats; \
         DROP TABLE IF EXISTS temp.inventory_value_counts; \
         DROP TABLE IF EXISTS temp.inventory_current; \
         DROP TABLE IF EXISTS temp.inventory_current_ids;",
    )?;
    insert_objects(conn)?;
    summary.picklist_fields = conn.query_row(
        "SELECT count(*) FROM meta.inventory_fields WHERE picklist_like",
        [],
        |row| row.get::<_, i64>(0),
    )? as usize;
    Ok(summary)
}

fn create_tables(conn: &Connection) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("meta", "inventory"))?;
    Ok(())
}

/// The free-mail domains and documented picklists go in as rows, never as
/// SQL text, so the profiling queries join to them.
fn load_reference_lists(conn: &Connection) -> Result<()> {
    let mut domains = conn.prepare("INSERT INTO meta.free_mail_domains VALUES (?)")?;
    for domain in FREE_MAIL_DOMAINS {
        domains.execute([domain])?;
    }
    let mut documented = conn.prepare("INSERT INTO meta.documented_values VALUES (?, ?, ?, ?)")?;
    for object in schema::OBJECTS {
        for field in object.fields {
            for (position, value) in field.picklist.iter().enumerate() {
                documented.execute(duckdb::params![
                    object.name,
                    field.name,
                    position as i64 + 1,
                    value
                ])?;
            }
        }
    }
    Ok(())
}

/// Column types and origins as the extractor recorded them, newest extract
/// first, read back from `meta.extracts` so the inventory can be rebuilt
/// without the landing zone.
struct StagedManifests {
    /// Per object: columns in the newest manifest's order, then columns only
    /// older manifests had.
    columns: BTreeMap<String, Vec<ManifestColumn>>,
    /// `started_at` of the newest extract: "in the future" means after it,
    /// so the inventory does not change with the clock.
    newest_started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct ManifestColumn {
    name: String,
    ty: FieldType,
    origin: ColumnOrigin,
}

impl StagedManifests {
    fn load(conn: &Connection) -> Result<Self> {
        let mut stmt = conn
            .prepare("SELECT extract_id, manifest FROM meta.extracts ORDER BY extract_id DESC")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut columns: BTreeMap<String, Vec<ManifestColumn>> = BTreeMap::new();
        let mut newest_started_at = None;
        for row in rows {
            let (extract_id, text) = row?;
            let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!(
                    "meta.extracts holds an unreadable manifest for extract {extract_id}: {e}; \
                     delete ferry.duckdb and run `ferry stage` again to rebuild it from the landing zone"
                ))
            })?;
            if newest_started_at.is_none() {
                newest_started_at = DateTime::parse_from_rfc3339(&manifest.started_at)
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
            }
            for (object, entry) in &manifest.objects {
                let known = columns.entry(object.clone()).or_default();
                for column in &entry.columns {
                    if !known.iter().any(|c| c.name == column.name) {
                        known.push(ManifestColumn {
                            name: column.name.clone(),
                            ty: column.ty,
                            origin: column.origin,
                        });
                    }
                }
            }
        }
        Ok(StagedManifests {
            columns,
            newest_started_at,
        })
    }

    /// Objects that have a raw table, in SPEC order (parents first), then any
    /// others by name.
    fn objects(&self, conn: &Connection) -> Result<Vec<String>> {
        let mut objects = Vec::new();
        for object in self.columns.keys() {
            if relation_exists(conn, RAW_SCHEMA, object)? {
                objects.push(object.clone());
            }
        }
        objects.sort_by_key(|o| object_order(o));
        Ok(objects)
    }
}

/// Sort key that puts ServiceTracker's objects in SPEC order.
pub fn object_order(object: &str) -> (usize, String) {
    let position = schema::OBJECTS
        .iter()
        .position(|o| o.name == object)
        .unwrap_or(schema::OBJECTS.len());
    (position, object.to_string())
}

/// One field to profile, with everything the SQL needs to know about it.
#[derive(Debug, Clone)]
struct InventoryColumn {
    name: String,
    position: usize,
    inferred_type: String,
    duckdb_type: String,
    origin: ColumnOrigin,
    documented: Vec<String>,
    references: Vec<String>,
    /// `parent_type` value → target object, for polymorphic parents.
    polymorphic: Vec<(String, String)>,
    kind: ValueKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Other,
}

impl ValueKind {
    fn of(duckdb_type: &str) -> ValueKind {
        match duckdb_type {
            "VARCHAR" => ValueKind::Text,
            "DATE" => ValueKind::Date,
            "TIMESTAMP WITH TIME ZONE" => ValueKind::TimestampTz,
            t if t.starts_with("TIMESTAMP") => ValueKind::Timestamp,
            _ => ValueKind::Other,
        }
    }
}

/// Columns ferry adds to landed rows: bookkeeping, not source fields.
fn is_ferry_column(name: &str) -> bool {
    name == ROW_HASH_COLUMN || name == SOURCE_LINE_COLUMN || name == EXTRACT_ID_COLUMN
}

fn inventory_columns(
    conn: &Connection,
    object: &str,
    staged: &StagedManifests,
) -> Result<Vec<InventoryColumn>> {
    let table: Vec<ColumnType> = table_columns(conn, RAW_SCHEMA, object)?
        .into_iter()
        .filter(|c| !is_ferry_column(&c.name))
        .collect();
    let from_manifest = staged.columns.get(object).map(Vec::as_slice).unwrap_or(&[]);
    // Manifest order first (standard fields in SPEC order, then custom by
    // name); a staged column no manifest mentions goes last.
    let mut ordered: Vec<&ColumnType> = from_manifest
        .iter()
        .filter_map(|m| table.iter().find(|c| c.name == m.name))
        .collect();
    for column in &table {
        if !ordered.iter().any(|c| c.name == column.name) {
            ordered.push(column);
        }
    }
    let spec = schema::object(object);
    Ok(ordered
        .into_iter()
        .enumerate()
        .map(|(index, column)| {
            let described = from_manifest.iter().find(|m| m.name == column.name);
            let standard = spec.and_then(|o| o.field(&column.name));
            let origin = described
                .map(|m| m.origin)
                .unwrap_or(if standard.is_some() {
                    ColumnOrigin::Standard
                } else if column.name.starts_with(CUSTOM_FIELD_PREFIX) {
                    ColumnOrigin::Custom
                } else {
                    ColumnOrigin::Unknown
                });
            let inferred_type = described
                .map(|m| m.ty.label())
                .or_else(|| standard.map(|f| f.ty.label()))
                .unwrap_or_else(|| column.data_type.to_lowercase());
            let references: Vec<String> = standard
                .map(|f| f.references.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default();
            let polymorphic = match spec {
                Some(o) if references.len() > 1 && !o.parent_types.is_empty() => o
                    .parent_types
                    .iter()
                    .map(|(ty, target)| (ty.to_string(), target.to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            InventoryColumn {
                name: column.name.clone(),
                position: index + 1,
                inferred_type,
                duckdb_type: column.data_type.clone(),
                origin,
                documented: standard
                    .map(|f| f.picklist.iter().map(|v| v.to_string()).collect())
                    .unwrap_or_default(),
                references,
                polymorphic,
                kind: ValueKind::of(&column.data_type),
            }
        })
        .collect())
}

impl InventoryColumn {
    /// Text that could be a picklist: not an id or a lookup.
    fn picklist_candidate(&self) -> bool {
        self.kind == ValueKind::Text
            && self.name != "id"
            && !self.name.ends_with("_id")
            && self.references.is_empty()
    }

    fn is_key(&self) -> bool {
        self.name == "id" || !self.references.is_empty()
    }

    fn is_email(&self) -> bool {
        self.kind == ValueKind::Text && self.name.to_ascii_lowercase().contains("email")
    }
}

/// The current ids of every object in one narrow table, so each reference
/// check is a join to it instead of another pass over the target's versions.
fn collect_current_ids(conn: &Connection, objects: &[String]) -> Result<()> {
    for object in objects {
        conn.execute(
            &format!(
                "INSERT INTO temp.inventory_current_ids SELECT $1, CAST(\"id\" AS VARCHAR) FROM {}",
                current_rows_source(conn, object)?
            ),
            [object],
        )
        .map_err(|e| profile_error(object, e))?;
    }
    Ok(())
}

/// `raw.<object>_current` as the passes read it, as SQL text: the raw table
/// itself when each id has one version, otherwise the view computed once
/// into a temporary table (choosing the newest version is a window over
/// every version, too costly to repeat in each pass).
fn materialize_current(conn: &Connection, object: &str) -> Result<String> {
    let source = current_rows_source(conn, object)?;
    if source == qualified(RAW_SCHEMA, object) {
        return Ok(source);
    }
    // generated per source object: its newest versions, materialised once.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE inventory_current AS SELECT * FROM {source}"
    ))
    .map_err(|e| profile_error(object, e))?;
    Ok("temp.inventory_current".to_string())
}

/// The current ids of `target` (empty when it was never staged, so every
/// non-null reference to it is an orphan).
const TARGET_IDS: &str = "SELECT id FROM temp.inventory_current_ids WHERE object = ";

fn insert_columns(conn: &Connection, object: &str, columns: &[InventoryColumn]) -> Result<()> {
    // Lists travel as JSON text and are cast in SQL, since they are bound
    // parameters like every other value.
    let mut insert = conn.prepare(
        "INSERT INTO temp.inventory_columns VALUES \
         (?, ?, ?, ?, ?, ?, CAST(CAST(? AS JSON) AS VARCHAR[]), CAST(CAST(? AS JSON) AS VARCHAR[]), ?)",
    )?;
    for column in columns {
        insert.execute(duckdb::params![
            object,
            column.name,
            column.position as i64,
            column.inferred_type,
            column.duckdb_type,
            column.origin.as_str(),
            serde_json::to_string(&column.documented).expect("strings serialize"),
            serde_json::to_string(&column.references).expect("strings serialize"),
            column.picklist_candidate(),
        ])?;
    }
    Ok(())
}

/// Pass 1: one aggregate scan of `raw.<object>_current` computing, for every
/// field at once, counts, min/max and the value profiles; reference fields
/// are left-joined to their targets' current ids to count orphans.
fn profile_pass(
    conn: &Connection,
    object: &str,
    current: &str,
    columns: &[InventoryColumn],
    staged: &StagedManifests,
) -> Result<()> {
    let mut params: Vec<String> = vec![object.to_string()];
    let mut bind = |value: String| {
        params.push(value);
        format!("${}", params.len())
    };
    let mut joins = Vec::new();
    let mut structs = Vec::new();
    let null = "CAST(NULL AS BIGINT)";
    for (index, column) in columns.iter().enumerate() {
        let col = format!("t.{}", quote_ident(&column.name));
        let count_where = |condition: String| format!("count(*) FILTER (WHERE {condition})");
        // Ids and lookups are keys: text profiles say nothing useful about them.
        let text = column.kind == ValueKind::Text && !column.is_key();

        let (email_invalid, email_free_mail) = if column.is_email() {
            let alias = format!("free_mail_{index}");
            joins.push(format!(
                "LEFT JOIN meta.free_mail_domains AS {alias} \
                 ON {alias}.domain = lower(regexp_extract({col}, '@([^@]+)$', 1))"
            ));
            (
                count_where(format!(
                    "{col} IS NOT NULL AND NOT regexp_full_match({col}, {})",
                    constant_literal(EMAIL_PATTERN)
                )),
                format!("count({alias}.domain)"),
            )
        } else {
            (null.to_string(), null.to_string())
        };
        let text_profile = |condition: String| {
            if text {
                count_where(condition)
            } else {
                null.to_string()
            }
        };
        let html_like = text_profile(format!(
            "regexp_matches({col}, {})",
            constant_literal(HTML_PATTERN)
        ));
        let non_ascii = text_profile(format!("strlen({col}) <> length({col})"));
        let multiline = text_profile(format!(
            "contains({col}, chr(10)) OR contains({col}, chr(13))"
        ));
        let leading_zero = text_profile(format!(
            "regexp_full_match({col}, {})",
            constant_literal(LEADING_ZERO_PATTERN)
        ));
        let max_length = if text {
            format!("max(length({col}))")
        } else {
            null.to_string()
        };

        let date_bounds = match column.kind {
            ValueKind::Date => Some((
                "DATE",
                EARLIEST_TARGET_DATE.to_string(),
                staged
                    .newest_started_at
                    .map(|t| t.format("%Y-%m-%d").to_string()),
            )),
            ValueKind::Timestamp => Some((
                "TIMESTAMP",
                format!("{EARLIEST_TARGET_DATE} 00:00:00"),
                staged
                    .newest_started_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            )),
            ValueKind::TimestampTz => Some((
                "TIMESTAMPTZ",
                format!("{EARLIEST_TARGET_DATE} 00:00:00+00"),
                staged
                    .newest_started_at
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            )),
            _ => None,
        };
        let (before_1753, in_future) = match date_bounds {
            Some((sql_type, earliest, newest)) => (
                count_where(format!(
                    "{col} < CAST({} AS {sql_type})",
                    constant_literal(&earliest)
                )),
                match newest {
                    Some(newest) => {
                        let placeholder = bind(newest);
                        count_where(format!("{col} > CAST({placeholder} AS {sql_type})"))
                    }
                    None => null.to_string(),
                },
            ),
            None => (null.to_string(), null.to_string()),
        };

        let orphans = if column.references.is_empty() {
            null.to_string()
        } else {
            let alias = format!("ref_{index}");
            let as_text = format!("CAST({col} AS VARCHAR)");
            if column.polymorphic.is_empty() || !columns.iter().any(|c| c.name == "parent_type") {
                let target = bind(column.references[0].clone());
                joins.push(format!(
                    "LEFT JOIN ({TARGET_IDS}CAST({target} AS VARCHAR)) AS {alias} ON {alias}.id = {as_text}"
                ));
            } else {
                let branches = column
                    .polymorphic
                    .iter()
                    .map(|(parent_type, target)| {
                        let parent_type = bind(parent_type.clone());
                        let target = bind(target.clone());
                        format!(
                            "SELECT CAST({parent_type} AS VARCHAR) AS parent_type, id \
                             FROM ({TARGET_IDS}CAST({target} AS VARCHAR))"
                        )
                    })
                    .collect::<Vec<_>>();
                joins.push(format!(
                    "LEFT JOIN ({}) AS {alias} ON {alias}.parent_type = CAST(t.\"parent_type\" AS VARCHAR) AND {alias}.id = {as_text}",
                    branches.join(" UNION ALL ")
                ));
            }
            count_where(format!("{col} IS NOT NULL AND {alias}.id IS NULL"))
        };

        structs.push(format!(
            "{{'position': {position}, 'rows': count(*), 'non_null': count({col}), \
             'min_value': CAST(min({col}) AS VARCHAR), 'max_value': CAST(max({col}) AS VARCHAR), \
             'max_length': CAST({max_length} AS BIGINT), \
             'email_invalid': CAST({email_invalid} AS BIGINT), 'email_free_mail': CAST({email_free_mail} AS BIGINT), \
             'html_like': CAST({html_like} AS BIGINT), 'non_ascii': CAST({non_ascii} AS BIGINT), \
             'multiline': CAST({multiline} AS BIGINT), 'leading_zero': CAST({leading_zero} AS BIGINT), \
             'before_1753': CAST({before_1753} AS BIGINT), 'in_future': CAST({in_future} AS BIGINT), \
             'orphans': CAST({orphans} AS BIGINT)}}",
            position = column.position,
        ));
    }
    let sql = format!(
        "INSERT INTO temp.inventory_stats BY NAME \
         SELECT CAST($1 AS VARCHAR) AS object, unnest(stats, recursive := true) FROM ( \
           SELECT [{structs}] AS stats \
           FROM {current} AS t {joins} \
         )",
        structs = structs.join(", "),
        joins = joins.join(" "),
    );
    tracing::trace!(object, sql = sql.as_str(), params = ?params, "profile pass");
    conn.execute(&sql, params_from_iter(params.iter()))
        .map_err(|e| profile_error(object, e))?;
    Ok(())
}

/// Pass 2: value frequencies of every field in one GROUPING SETS aggregate, then
/// the field rows (joining pass 1) and the value lists of picklist-like
/// fields.
fn value_pass(
    conn: &Connection,
    object: &str,
    current: &str,
    columns: &[InventoryColumn],
) -> Result<()> {
    // One GROUPING SETS aggregate: a hash table per field, filled in one
    // scan. An UNPIVOT into (field, value) then GROUP BY gives the same
    // rows but hashes every value with its field name and was ~10x slower
    // on 200k work orders.
    let fields: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
    let select_list = fields
        .iter()
        .map(|f| format!("CAST(t.{f} AS VARCHAR) AS {f}"))
        .collect::<Vec<_>>()
        .join(", ");
    let field_of = columns
        .iter()
        .zip(&fields)
        .map(|(c, f)| format!("WHEN grouping({f}) = 0 THEN {}", constant_literal(&c.name)))
        .collect::<Vec<_>>()
        .join(" ");
    let value_of = fields
        .iter()
        .map(|f| format!("WHEN grouping({f}) = 0 THEN {f}"))
        .collect::<Vec<_>>()
        .join(" ");
    let sets = fields
        .iter()
        .map(|f| format!("({f})"))
        .collect::<Vec<_>>()
        .join(", ");
    // generated per object: one CASE arm and grouping set per profiled field.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE inventory_value_counts AS \
         SELECT field, value, n FROM ( \
           SELECT CASE {field_of} END AS field, CASE {value_of} END AS value, count(*) AS n \
           FROM (SELECT {select_list} FROM {current} AS t) \
           GROUP BY GROUPING SETS ({sets}) \
         ) WHERE value IS NOT NULL",
    ))
    .map_err(|e| profile_error(object, e))?;

    conn.execute(
        &format!(
            "INSERT INTO meta.inventory_fields BY NAME
             WITH value_stats AS (
                 SELECT vc.field,
                        count(*) AS distinct_count,
                        min_by(vc.value, {{'rank': -vc.n, 'value': vc.value}}, {SAMPLE_VALUES}) AS sample_values,
                        sum(vc.n) FILTER (WHERE NOT list_contains(c.documented_values, vc.value)) AS undocumented_rows
                 FROM temp.inventory_value_counts AS vc
                 JOIN temp.inventory_columns AS c ON c.object = $1 AND c.field = vc.field
                 GROUP BY vc.field
             )
             SELECT c.object, c.field, c.position, c.inferred_type, c.duckdb_type, c.origin,
                    s.rows, s.non_null, s.rows - s.non_null AS nulls,
                    CASE WHEN s.rows > 0 THEN (s.rows - s.non_null) / s.rows END AS null_rate,
                    coalesce(v.distinct_count, 0) AS distinct_count,
                    s.min_value, s.max_value, s.max_length,
                    coalesce(v.sample_values, CAST([] AS VARCHAR[])) AS sample_values,
                    len(c.documented_values) > 0
                      OR (c.picklist_candidate AND s.non_null > 0
                          AND coalesce(v.distinct_count, 0) <= {PICKLIST_MAX_DISTINCT}
                          AND coalesce(v.distinct_count, 0) * 2 <= s.non_null) AS picklist_like,
                    c.documented_values,
                    CASE WHEN len(c.documented_values) > 0 THEN coalesce(v.undocumented_rows, 0) END AS undocumented_rows,
                    s.email_invalid, s.email_free_mail, s.html_like, s.non_ascii, s.multiline,
                    s.leading_zero, s.before_1753, s.in_future,
                    c.\"references\", s.orphans
             FROM temp.inventory_columns AS c
             JOIN temp.inventory_stats AS s ON s.object = c.object AND s.position = c.position
             LEFT JOIN value_stats AS v ON v.field = c.field
             WHERE c.object = $1"
        ),
        [object],
    )
    .map_err(|e| profile_error(object, e))?;

    conn.execute(
        "INSERT INTO meta.inventory_values
         SELECT f.object, f.field, vc.value, vc.n,
                CASE WHEN len(f.documented_values) > 0 THEN list_contains(f.documented_values, vc.value) END
         FROM meta.inventory_fields AS f
         JOIN temp.inventory_value_counts AS vc ON vc.field = f.field
         WHERE f.object = $1 AND f.picklist_like
         UNION ALL
         SELECT d.object, d.field, d.value, 0, true
         FROM (SELECT object, field, unnest(documented_values) AS value
               FROM meta.inventory_fields WHERE object = $1 AND picklist_like) AS d
         WHERE NOT EXISTS (SELECT 1 FROM temp.inventory_value_counts AS vc
                           WHERE vc.field = d.field AND vc.value = d.value)",
        [object],
    )
    .map_err(|e| profile_error(object, e))?;
    conn.execute_batch("DROP TABLE temp.inventory_value_counts")?;
    Ok(())
}

/// One summary row per profiled object.
fn insert_objects(conn: &Connection) -> Result<()> {
    let mut objects: Vec<String> = {
        let mut stmt = conn.prepare("SELECT DISTINCT object FROM meta.inventory_fields")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    objects.sort_by_key(|o| object_order(o));
    let has_quarantine = relation_exists(conn, RAW_SCHEMA, QUARANTINE_TABLE)?;
    for (index, object) in objects.iter().enumerate() {
        let quarantined = if has_quarantine {
            format!(
                "(SELECT count(*) FROM {} WHERE CAST(object AS VARCHAR) = $1)",
                qualified(RAW_SCHEMA, QUARANTINE_TABLE)
            )
        } else {
            "0".to_string()
        };
        conn.execute(
            &format!(
                "INSERT INTO meta.inventory_objects
                 SELECT $1, $2,
                        max(\"rows\"),
                        (SELECT count(*) FROM {table}),
                        (SELECT count(DISTINCT {extract}) FROM {table}),
                        (SELECT max({extract}) FROM {table}),
                        count(*),
                        count(*) FILTER (WHERE origin = 'standard'),
                        count(*) FILTER (WHERE origin = 'custom'),
                        count(*) FILTER (WHERE origin = 'unknown'),
                        {quarantined}
                 FROM meta.inventory_fields WHERE object = $1",
                table = qualified(RAW_SCHEMA, object),
                extract = quote_ident(EXTRACT_ID_COLUMN),
            ),
            duckdb::params![object, index as i64 + 1],
        )?;
    }
    Ok(())
}

fn profile_error(object: &str, err: duckdb::Error) -> Error {
    Error::Usage(format!(
        "could not build the inventory of raw.{object}: {err}\n  what to do: this is a ferry bug if raw.{object} was only written by `ferry stage`; \
         otherwise restore the table (delete ferry.duckdb and run `ferry stage` again)"
    ))
}
