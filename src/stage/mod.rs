//! Staging: landed extracts → `raw.*` in `ferry.duckdb`, with a ledger of
//! what was staged (`meta.extracts`, `meta.extract_objects`) and the source
//! inventory rebuilt over the current data (SPEC §1 "stage").
//!
//! Each extract is staged in one DuckDB transaction: its files are checked
//! against the manifest first, then every table is loaded, then the ledger
//! row is written, then it commits — so an extract is either entirely in
//! `raw.*` or not at all, and `meta.extracts` says which. Staging is
//! idempotent: an extract already in the ledger is skipped, and rows already
//! staged by an earlier extract are not added again.
//!
//! Delta extracts (`ferry extract --since`) stage the same way: their changed
//! records become new versions in `raw.<object>`, their deletions go to
//! `raw._deleted`, and `raw.<object>_current` hides a record whose newest
//! deletion is at or after its newest version's `modified_at`.

pub mod db;
pub mod inventory;
pub mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use duckdb::Connection;
use serde::Serialize;

use crate::landing::discover::{
    read_manifest, resolve_file, scan_landing, verify_files, LandedExtract, SkippedEntry,
};
pub use db::{open_database, open_existing_database, quote_ident};
use inventory::{object_order, rebuild_inventory, InventorySummary};
use raw::{
    create_current_view, current_view, ensure_deleted_table, load_parquet, RawTable, WidenedColumn,
    ATTACHMENT_CONTENT_TABLE, ATTACHMENT_KEY, CURRENT_SUFFIX, DELETED_KEY, DELETED_TABLE,
    EXTRACT_ID_COLUMN, OBJECT_KEY, QUARANTINE_KEY, QUARANTINE_TABLE, RAW_SCHEMA,
};

use crate::error::{Error, Result};
use crate::landing::manifest::{ExtractMode, Manifest};
use crate::landing::MANIFEST_FILE;
use crate::progress;
use crate::source::records::deleted_columns as dc;
use crate::workspace::Workspace;

/// What `ferry stage` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSummary {
    /// Extracts loaded by this run, in id order.
    pub staged: Vec<StagedExtract>,
    /// Complete extracts an earlier run had already staged.
    pub already_staged: Vec<String>,
    /// Landing entries that were not read, and why.
    pub skipped: Vec<SkippedEntry>,
    /// Every staged object: this run's numbers and the current record count.
    pub objects: Vec<ObjectSummary>,
    /// Set when the inventory was rebuilt (something new was staged, or it
    /// was missing).
    pub inventory: Option<InventorySummary>,
    /// Things the analyst should know, in the order they were found.
    pub warnings: Vec<String>,
}

impl StageSummary {
    /// Whether this run loaded anything.
    pub fn nothing_new(&self) -> bool {
        self.staged.is_empty()
    }
}

/// One extract loaded by this run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StagedExtract {
    pub extract_id: String,
    /// `full` or `delta`.
    pub mode: ExtractMode,
    /// For a delta: the instant it started from (RFC 3339).
    pub since: Option<String>,
    pub objects: Vec<StagedObject>,
    /// Rows of `_quarantine.parquet`, and how many were not already staged.
    pub quarantine_rows: u64,
    pub new_quarantine_rows: u64,
    /// Rows of `_attachments.parquet`, and how many were not already staged.
    pub attachment_rows: u64,
    pub new_attachment_rows: u64,
    /// Rows of `_deleted.parquet`, and how many were not already staged.
    pub deleted_rows: u64,
    pub new_deleted_rows: u64,
    /// Work orders the extract found waiting for offline sync.
    pub pending_sync: usize,
    /// Whether the extract was run with `--allow-pending`.
    pub pending_sync_allowed: bool,
}

/// One object of one extract.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StagedObject {
    pub object: String,
    pub landed_rows: u64,
    pub quarantined_rows: u64,
    /// Delta only: source records the extract did not land because they
    /// had not changed.
    pub unchanged_rows: u64,
    /// Rows inserted into `raw.<object>`: versions not staged before.
    pub new_versions: u64,
    pub added_columns: Vec<String>,
    pub widened_columns: Vec<WidenedColumn>,
}

/// Per object over the whole run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ObjectSummary {
    pub object: String,
    /// Rows landed by the extracts staged in this run.
    pub landed_rows: u64,
    /// Versions this run added to `raw.<object>`.
    pub new_versions: u64,
    /// Rows of `raw.<object>_current` after this run.
    pub current_records: u64,
    /// Rows the extracts staged in this run quarantined for this object.
    pub quarantined_rows: u64,
    /// Source records the (delta) extracts staged in this run did not land
    /// because they had not changed.
    pub unchanged_rows: u64,
    /// Deletions of this object this run added to `raw._deleted`.
    pub new_deletions: u64,
    /// Records staged in `raw.<object>` that `_current` hides because the
    /// source deleted them (after this run).
    pub deleted_records: u64,
}

/// Stages every complete extract not staged yet, in id order, then rebuilds
/// the inventory.
pub fn stage_workspace(ws: &Workspace) -> Result<StageSummary> {
    let landing_dir = ws.landing_dir();
    let scan = scan_landing(&landing_dir)?;
    // Without a database nothing was ever staged: do not create an empty one
    // just to say so.
    if scan.complete.is_empty() && !ws.database_path().is_file() {
        return Err(nothing_ever_landed(
            &landing_dir,
            scan.landing_exists,
            &scan.skipped,
        ));
    }
    let mut conn = open_database(ws)?;
    create_ledger(&conn)?;
    let already: BTreeSet<String> = staged_extract_ids(&conn)?;
    if scan.complete.is_empty() && already.is_empty() {
        return Err(nothing_ever_landed(
            &landing_dir,
            scan.landing_exists,
            &scan.skipped,
        ));
    }

    let mut summary = StageSummary {
        skipped: scan.skipped.clone(),
        ..StageSummary::default()
    };
    for skipped in &scan.skipped {
        summary.warnings.push(format!(
            "skipped landing/{}: {}",
            skipped.name, skipped.reason
        ));
    }
    if !scan.landing_exists {
        summary.warnings.push(format!(
            "{} does not exist: nothing new to stage",
            landing_dir.display()
        ));
    }

    let to_stage: Vec<&LandedExtract> = scan
        .complete
        .iter()
        .filter(|e| {
            let done = already.contains(&e.extract_id);
            if done {
                summary.already_staged.push(e.extract_id.clone());
            }
            !done
        })
        .collect();
    if let Some(newest) = already.iter().next_back() {
        for extract in to_stage
            .iter()
            .filter(|e| e.extract_id.as_str() < newest.as_str())
        {
            summary.warnings.push(format!(
                "{} is older than {newest}, which is already staged: its rows are kept as history, and where a record is also in a newer extract the newer version stays current",
                extract.extract_id
            ));
        }
    }
    for extract in to_stage {
        match stage_extract(&mut conn, extract, &mut summary.warnings) {
            Ok(staged) => summary.staged.push(staged),
            Err(err) => {
                // Extracts before this one are committed: keep the inventory
                // in step with them before reporting the failure.
                if !summary.staged.is_empty() {
                    let _ = rebuild_inventory(&mut conn);
                }
                return Err(err);
            }
        }
    }

    let inventory_missing = !db::relation_exists(&conn, "meta", "inventory_fields")?;
    if !summary.staged.is_empty() || inventory_missing {
        let bar = progress::steps("inventory", 1);
        summary.inventory = Some(rebuild_inventory(&mut conn)?);
        bar.finish_and_clear();
    }
    summary.objects = object_summaries(&conn, &summary.staged)?;
    Ok(summary)
}

fn nothing_ever_landed(
    landing_dir: &Path,
    landing_exists: bool,
    skipped: &[SkippedEntry],
) -> Error {
    if !landing_exists {
        return Error::input(
            landing_dir,
            "no landing folder: nothing has been extracted yet",
            "run `ferry extract` first",
        );
    }
    let message = if skipped.is_empty() {
        "no extract has landed yet".to_string()
    } else {
        format!(
            "no complete extract to stage ({} other entr{} skipped: {})",
            skipped.len(),
            if skipped.len() == 1 { "y" } else { "ies" },
            skipped
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Error::input(
        landing_dir,
        message,
        "run `ferry extract` (an interrupted extract resumes where it stopped)",
    )
}

fn create_ledger(conn: &Connection) -> Result<()> {
    // `meta.extracts` and `meta.extract_objects`: which extracts are in `raw.*`.
    conn.execute_batch(crate::sql_catalog::schema_sql("meta", "extracts"))?;
    Ok(())
}

fn staged_extract_ids(conn: &Connection) -> Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT extract_id FROM meta.extracts")?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Stages one extract in one transaction.
fn stage_extract(
    conn: &mut Connection,
    extract: &LandedExtract,
    warnings: &mut Vec<String>,
) -> Result<StagedExtract> {
    let manifest_path = extract.dir.join(MANIFEST_FILE);
    let manifest = read_manifest(extract)?;
    check_object_names(&manifest, &manifest_path)?;
    let times = ManifestTimes::parse(&manifest, &manifest_path)?;
    let started = std::time::Instant::now();
    verify_files(extract, &manifest)?;
    tracing::debug!(
        extract = extract.extract_id.as_str(),
        ms = started.elapsed().as_millis() as u64,
        "checksums verified"
    );
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|e| Error::Io {
        path: manifest_path.clone(),
        source: e,
    })?;

    let id = extract.extract_id.as_str();
    let bar = progress::steps(id, manifest.objects.len() as u64 + 3);
    let tx = conn.transaction()?;
    ensure_deleted_table(&tx)?;
    let mut staged = StagedExtract {
        extract_id: id.to_string(),
        mode: manifest.mode,
        since: manifest.since.clone(),
        pending_sync: manifest.pending_sync.ids.len(),
        pending_sync_allowed: manifest.pending_sync.allowed,
        ..StagedExtract::default()
    };

    let mut objects: Vec<(&String, _)> = manifest.objects.iter().collect();
    objects.sort_by_key(|(name, _)| object_order(name));
    for (object, entry) in objects {
        bar.set_message(object.clone());
        let file = resolve_file(extract, &entry.file)?;
        let started = std::time::Instant::now();
        let outcome = load_parquet(
            &tx,
            RawTable {
                table: object,
                key: OBJECT_KEY,
            },
            &file,
            id,
        )?;
        create_current_view(&tx, object)?;
        tracing::debug!(
            extract = id,
            object = object.as_str(),
            inserted = outcome.inserted,
            ms = started.elapsed().as_millis() as u64,
            "loaded"
        );
        for widened in &outcome.widened_columns {
            warnings.push(format!(
                "{id}: raw.{object}.{} was {} and arrives as {}: widened to VARCHAR so no value is lost",
                widened.column, widened.was, widened.incoming
            ));
        }
        tx.execute(
            "INSERT INTO meta.extract_objects (extract_id, object, source_rows, landed_rows, \
             quarantined_rows, new_versions, parquet_sha256, watermark, unchanged_rows) \
             VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), ?)",
            duckdb::params![
                id,
                object,
                entry.source_rows as i64,
                entry.landed_rows as i64,
                entry.quarantined_rows as i64,
                outcome.inserted as i64,
                entry.file.sha256,
                parse_optional_time(entry.watermark.as_deref(), "watermark", &manifest_path)?,
                entry.unchanged_rows as i64,
            ],
        )?;
        staged.objects.push(StagedObject {
            object: object.clone(),
            landed_rows: entry.landed_rows,
            quarantined_rows: entry.quarantined_rows,
            unchanged_rows: entry.unchanged_rows,
            new_versions: outcome.inserted,
            added_columns: outcome.added_columns,
            widened_columns: outcome.widened_columns,
        });
        bar.inc(1);
    }

    bar.set_message("quarantine");
    let quarantine_file = resolve_file(extract, &manifest.quarantine)?;
    let quarantine = RawTable {
        table: QUARANTINE_TABLE,
        key: QUARANTINE_KEY,
    };
    staged.quarantine_rows = manifest.quarantine.rows;
    staged.new_quarantine_rows = load_parquet(&tx, quarantine, &quarantine_file, id)?.inserted;
    bar.inc(1);

    bar.set_message("attachments");
    let attachments_file = resolve_file(extract, &manifest.attachments.file)?;
    let attachments = RawTable {
        table: ATTACHMENT_CONTENT_TABLE,
        key: ATTACHMENT_KEY,
    };
    staged.attachment_rows = manifest.attachments.file.rows;
    staged.new_attachment_rows = load_parquet(&tx, attachments, &attachments_file, id)?.inserted;
    bar.inc(1);

    bar.set_message("deletions");
    if let Some(deleted) = &manifest.deleted {
        let file = resolve_file(extract, &deleted.file)?;
        let table = RawTable {
            table: DELETED_TABLE,
            key: DELETED_KEY,
        };
        staged.deleted_rows = deleted.file.rows;
        staged.new_deleted_rows = load_parquet(&tx, table, &file, id)?.inserted;
        // Views made before deletions were filtered, for objects this
        // extract did not bring, are brought up to date too.
        for object in objects_deleted_by(&tx, id)? {
            if raw::object_table_exists(&tx, &object)? {
                create_current_view(&tx, &object)?;
            }
        }
    }
    bar.inc(1);

    let unchanged_rows: u64 = manifest.objects.values().map(|o| o.unchanged_rows).sum();
    tx.execute(
        "INSERT INTO meta.extracts (extract_id, source_kind, location, exported_at, timezone, since, \
         started_at, finished_at, watermark, pending_sync_count, pending_sync_allowed, quarantine_rows, \
         new_quarantine_rows, attachment_rows, new_attachment_rows, staged_at, manifest, mode, \
         unchanged_rows, deleted_rows, new_deleted_rows) \
         VALUES (?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), \
         CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), ?, \
         ?, ?, ?, ?)",
        duckdb::params![
            id,
            manifest.source.kind,
            manifest.source.location,
            manifest.exported_at,
            manifest.timezone,
            times.since,
            times.started_at,
            times.finished_at,
            times.watermark,
            manifest.pending_sync.ids.len() as i64,
            manifest.pending_sync.allowed,
            staged.quarantine_rows as i64,
            staged.new_quarantine_rows as i64,
            staged.attachment_rows as i64,
            staged.new_attachment_rows as i64,
            Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            manifest_text,
            manifest.mode.as_str(),
            unchanged_rows as i64,
            staged.deleted_rows as i64,
            staged.new_deleted_rows as i64,
        ],
    )?;
    tx.commit()?;
    bar.finish_and_clear();

    if staged.pending_sync > 0 {
        warnings.push(if staged.pending_sync_allowed {
            format!(
                "{id}: {} work order(s) were pending offline sync when extracted (landed with --allow-pending): their staged values may be stale",
                staged.pending_sync
            )
        } else {
            format!(
                "{id}: {} work order(s) were pending offline sync when extracted (the extract reported them); extract again once they have synced",
                staged.pending_sync
            )
        });
    }
    Ok(staged)
}

/// The objects named by deletions that `extract_id` added to `raw._deleted`.
fn objects_deleted_by(conn: &Connection, extract_id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT {} FROM {} WHERE {} = ? ORDER BY 1",
        quote_ident(dc::OBJECT),
        db::qualified(RAW_SCHEMA, DELETED_TABLE),
        quote_ident(EXTRACT_ID_COLUMN)
    ))?;
    let rows = stmt.query_map([extract_id], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Object names become table names next to ferry's own tables, so a name
/// that could collide with them is refused.
fn check_object_names(manifest: &Manifest, manifest_path: &Path) -> Result<()> {
    for object in manifest.objects.keys() {
        let reserved = object.starts_with('_')
            || object == ATTACHMENT_CONTENT_TABLE
            || object.ends_with(CURRENT_SUFFIX)
            || object.is_empty();
        if reserved {
            return Err(Error::input(
                manifest_path,
                format!("object `{object}` would collide with a table ferry keeps in raw.*"),
                "rename the object at the source (or report it as a ferry bug if it is a ServiceTracker object)",
            ));
        }
    }
    Ok(())
}

/// The manifest's timestamps, checked and normalised to what DuckDB casts
/// to TIMESTAMPTZ without ambiguity.
struct ManifestTimes {
    since: Option<String>,
    started_at: String,
    finished_at: String,
    watermark: Option<String>,
}

impl ManifestTimes {
    fn parse(manifest: &Manifest, path: &Path) -> Result<Self> {
        Ok(ManifestTimes {
            since: parse_optional_time(manifest.since.as_deref(), "since", path)?,
            started_at: parse_time(&manifest.started_at, "started_at", path)?,
            finished_at: parse_time(&manifest.finished_at, "finished_at", path)?,
            watermark: parse_optional_time(manifest.watermark.as_deref(), "watermark", path)?,
        })
    }
}

fn parse_time(text: &str, what: &str, path: &Path) -> Result<String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Micros, true)
        })
        .map_err(|e| {
            Error::input(
                path,
                format!("{what} `{text}` is not an RFC 3339 timestamp ({e})"),
                "the manifest is damaged: delete the extract folder and run `ferry extract` again",
            )
        })
}

fn parse_optional_time(text: Option<&str>, what: &str, path: &Path) -> Result<Option<String>> {
    text.map(|t| parse_time(t, what, path)).transpose()
}

/// Per object: this run's landed / new / quarantined rows and the current
/// record count, for every object staged so far.
fn object_summaries(conn: &Connection, staged: &[StagedExtract]) -> Result<Vec<ObjectSummary>> {
    let mut by_object: BTreeMap<String, ObjectSummary> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT DISTINCT object FROM meta.extract_objects")?;
    let known = stmt.query_map([], |row| row.get::<_, String>(0))?;
    for object in known {
        let object = object?;
        by_object.insert(
            object.clone(),
            ObjectSummary {
                object,
                ..ObjectSummary::default()
            },
        );
    }
    for extract in staged {
        for o in &extract.objects {
            let entry = by_object
                .entry(o.object.clone())
                .or_insert_with(|| ObjectSummary {
                    object: o.object.clone(),
                    ..ObjectSummary::default()
                });
            entry.landed_rows += o.landed_rows;
            entry.new_versions += o.new_versions;
            entry.quarantined_rows += o.quarantined_rows;
            entry.unchanged_rows += o.unchanged_rows;
        }
    }
    let staged_ids: Vec<&str> = staged.iter().map(|e| e.extract_id.as_str()).collect();
    for (object, count) in new_deletions_by_object(conn, &staged_ids)? {
        by_object
            .entry(object.clone())
            .or_insert_with(|| ObjectSummary {
                object,
                ..ObjectSummary::default()
            })
            .new_deletions = count;
    }
    let mut summaries: Vec<ObjectSummary> = by_object.into_values().collect();
    let deleted_objects = objects_with_deletions(conn)?;
    for summary in &mut summaries {
        if !raw::object_table_exists(conn, &summary.object)? {
            continue;
        }
        let current_view = db::qualified(RAW_SCHEMA, &current_view(&summary.object));
        let current: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {current_view}"), [], |row| {
                row.get(0)
            })?;
        summary.current_records = current as u64;
        if deleted_objects.contains(&summary.object) {
            // Every id with a version has exactly one row in `_current`
            // unless a deletion hides it.
            let staged_ids: i64 = conn.query_row(
                &format!(
                    "SELECT count(DISTINCT {}) FROM {}",
                    quote_ident("id"),
                    db::qualified(RAW_SCHEMA, &summary.object)
                ),
                [],
                |row| row.get(0),
            )?;
            summary.deleted_records = staged_ids.saturating_sub(current) as u64;
        }
    }
    summaries.sort_by_key(|s| object_order(&s.object));
    Ok(summaries)
}

/// Objects with at least one deletion in `raw._deleted`.
fn objects_with_deletions(conn: &Connection) -> Result<BTreeSet<String>> {
    if !db::relation_exists(conn, RAW_SCHEMA, DELETED_TABLE)? {
        return Ok(BTreeSet::new());
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT {} FROM {}",
        quote_ident(dc::OBJECT),
        db::qualified(RAW_SCHEMA, DELETED_TABLE)
    ))?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Per object: deletions the given extracts added to `raw._deleted`.
fn new_deletions_by_object(conn: &Connection, extract_ids: &[&str]) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    if extract_ids.is_empty() || !db::relation_exists(conn, RAW_SCHEMA, DELETED_TABLE)? {
        return Ok(out);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {object}, count(*) FROM {table} WHERE {extract} = ? GROUP BY 1 ORDER BY 1",
        object = quote_ident(dc::OBJECT),
        table = db::qualified(RAW_SCHEMA, DELETED_TABLE),
        extract = quote_ident(EXTRACT_ID_COLUMN)
    ))?;
    for id in extract_ids {
        let rows = stmt.query_map([id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (object, count) = row?;
            match out.iter_mut().find(|(o, _)| *o == object) {
                Some((_, total)) => *total += count,
                None => out.push((object, count)),
            }
        }
    }
    Ok(out)
}
