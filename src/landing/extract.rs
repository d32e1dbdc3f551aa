//! One CSV extract, from reserving its folder to writing its manifest:
//! objects landed in parallel, deletions landed, conservation verified per
//! object, then the step both extracts share (`landing::finish`):
//! attachments checked against their checksums, the manifest written, and
//! the folder renamed to its final name only when all of that succeeded.
//!
//! A full extract lands every record; a delta (`--since`, see
//! [`crate::landing::delta`]) lands the records modified at or after `since`
//! that no earlier complete extract landed identically, and counts the rest
//! as unchanged.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use chrono::{SecondsFormat, TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::landing::csv_objects;
use crate::landing::delta::{DeltaFilter, History, Since, SinceArg};
use crate::landing::finish::{self, Landed, Provenance};
use crate::landing::lander::{
    DeletionLander, DeletionStats, LandStats, ObjectLander, SharedQuarantine, TimeBasis,
};
use crate::landing::manifest::{DeletedManifest, FileEntry, Manifest, ObjectManifest, SourceInfo};
use crate::landing::writer::{AttachmentWriter, QuarantineRow, QuarantineWriter};
use crate::landing::{DELETED_FILE, FAILED_SUFFIX, PARTIAL_SUFFIX, QUARANTINE_FILE};
use crate::source::csv_export::{self, AttachmentContent, CsvExport, ExportObject};

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub batch_rows: usize,
    pub parallel_objects: usize,
    pub allow_pending: bool,
}

/// A finished extract.
#[derive(Debug, Clone)]
pub struct ExtractReport {
    pub folder: PathBuf,
    pub manifest: Manifest,
    /// Documented objects the source did not hold.
    pub missing_objects: Vec<&'static str>,
    /// For a delta: the instant it started from and where that came from.
    pub since: Option<Since>,
    pub timings: ExtractTimings,
}

/// Where an extract spent its time, for benchmarks and curious analysts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExtractTimings {
    /// Reading the source and writing every object's Parquet file.
    pub objects_seconds: f64,
    /// Reading, checking and landing attachment contents.
    pub attachments_seconds: f64,
    /// Everything, from reading the source manifest to renaming the folder.
    pub total_seconds: f64,
}

/// An extract folder while it is being written (`<id>.partial`).
pub(crate) struct ExtractFolder {
    pub(crate) id: String,
    landing: PathBuf,
    pub(crate) path: PathBuf,
}

impl ExtractFolder {
    /// Reserves the next extract id: a sequence number (so ids sort in the
    /// order extracts were made) and the UTC time.
    pub(crate) fn reserve(landing: &Path) -> Result<Self> {
        std::fs::create_dir_all(landing).at(landing)?;
        let mut next = 1 + std::fs::read_dir(landing)
            .at(landing)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.split('-').next()?.parse::<u32>().ok()
            })
            .max()
            .unwrap_or(0);
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        loop {
            let id = format!("{next:04}-{stamp}");
            let path = landing.join(format!("{id}{PARTIAL_SUFFIX}"));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(ExtractFolder {
                        id,
                        landing: landing.to_path_buf(),
                        path,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(e) => return Err(e).at(&path),
            }
        }
    }

    /// An existing `<id>.partial` folder, to continue writing into.
    pub(crate) fn resume(landing: &Path, id: &str) -> Self {
        ExtractFolder {
            id: id.to_string(),
            landing: landing.to_path_buf(),
            path: landing.join(format!("{id}{PARTIAL_SUFFIX}")),
        }
    }

    pub(crate) fn complete(self) -> Result<PathBuf> {
        let done = self.landing.join(&self.id);
        std::fs::rename(&self.path, &done).at(&done)?;
        Ok(done)
    }

    /// Keeps what was written for diagnosis under a name `stage` never reads.
    pub(crate) fn fail(&self) -> PathBuf {
        let failed = self.landing.join(format!("{}{FAILED_SUFFIX}", self.id));
        match std::fs::rename(&self.path, &failed) {
            Ok(()) => failed,
            Err(_) => self.path.clone(),
        }
    }
}

pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn micros_to_rfc3339(micros: i64) -> String {
    Utc.timestamp_micros(micros)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

/// Lands a whole CSV export into `landing/<extract_id>/` (a full extract).
pub fn extract_csv(
    landing: &Path,
    export_dir: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractReport> {
    extract_csv_since(landing, export_dir, opts, None)
}

/// Lands a CSV export into `landing/<extract_id>/`: everything without
/// `since`, a delta with it. `--since last` without a complete extract to
/// continue from is a usage error, found before any folder is reserved.
pub fn extract_csv_since(
    landing: &Path,
    export_dir: &Path,
    opts: &ExtractOptions,
    since: Option<&SinceArg>,
) -> Result<ExtractReport> {
    let clock = std::time::Instant::now();
    let export = CsvExport::open(export_dir)?;
    let delta = match since {
        Some(arg) => {
            let history = History::scan(landing)?;
            let since = history.resolve(arg, landing)?;
            Some(Delta { history, since })
        }
        None => None,
    };
    let folder = ExtractFolder::reserve(landing)?;
    let mut timings = ExtractTimings::default();
    let written = land_export(&export, &folder, opts, delta.as_ref(), &mut timings);
    finish::conclude(
        folder,
        written,
        clock,
        export.missing_objects(),
        delta,
        timings,
    )
}

/// What a delta extract compares the source with.
pub(crate) struct Delta {
    pub(crate) history: History,
    pub(crate) since: Since,
}

impl Delta {
    pub(crate) fn filter_for(&self, object: &str) -> Result<DeltaFilter> {
        Ok(DeltaFilter {
            since_micros: self.since.micros,
            already_landed: self.history.landed_versions(object, self.since.micros)?,
        })
    }
}

pub(crate) struct LandedObject {
    pub(crate) name: String,
    pub(crate) file: FileEntry,
    pub(crate) stats: LandStats,
    pub(crate) columns: Vec<crate::landing::manifest::ColumnInfo>,
}

fn land_export(
    export: &CsvExport,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    timings: &mut ExtractTimings,
) -> Result<Manifest> {
    let started_at = now_rfc3339();
    let clock = std::time::Instant::now();
    let quarantine: SharedQuarantine = Mutex::new(QuarantineWriter::create(
        &folder.path.join(QUARANTINE_FILE),
    )?);

    // Largest files first, so the slowest object starts at once.
    let mut queue: Vec<&ExportObject> = export.objects.iter().collect();
    queue.sort_by_key(|object| std::cmp::Reverse(object.bytes));
    let landed = land_in_parallel(
        &queue,
        opts.parallel_objects,
        "extract",
        |object, on_rows| land_one(object, export, folder, opts, delta, &quarantine, on_rows),
    )?;

    timings.objects_seconds = clock.elapsed().as_secs_f64();
    let (deleted_file, deleted_stats) = land_deletions(export, folder, opts, delta, &quarantine)?;
    // Counts are conserved before attachment contents are read: an extract
    // that lost records fails without that wait.
    let conserved = conserve(export, &landed)?;
    let deleted = conserve_deletions(export, deleted_file, &deleted_stats)?;
    finish::write_manifest(
        folder,
        opts,
        delta,
        Provenance {
            source: SourceInfo {
                kind: "csv".into(),
                location: export.dir.display().to_string(),
            },
            exported_at: export.exported_at.clone(),
            timezone: Some(export.timezone.name().to_string()),
        },
        Landed {
            started_at,
            objects: &landed,
            conserved,
            deleted,
            quarantine,
        },
        &|id: &str| csv_export::read_attachment(&export.dir, id),
        timings,
    )
}

/// Lands `queue` (largest first) on `workers` threads; the first failure
/// stops the others from starting new objects and is returned.
pub(crate) fn land_in_parallel<T: Sync>(
    queue: &[T],
    workers: usize,
    label: &str,
    land: impl Fn(&T, &(dyn Fn(u64) + Sync)) -> Result<LandedObject> + Sync,
) -> Result<BTreeMap<String, LandedObject>> {
    let progress = crate::progress::rows(label);
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let results: Mutex<Vec<Result<LandedObject>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(queue.len()).max(1) {
            scope.spawn(|| loop {
                if abort.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = queue.get(i) else { return };
                let result = land(item, &|n| progress.inc(n));
                if result.is_err() {
                    abort.store(true, Ordering::Relaxed);
                }
                results
                    .lock()
                    .expect("no landing thread panics holding results")
                    .push(result);
            });
        }
    });
    progress.finish_and_clear();
    let mut landed = BTreeMap::new();
    for result in results.into_inner().expect("landing threads finished") {
        let object = result?;
        landed.insert(object.name.clone(), object);
    }
    Ok(landed)
}

fn land_one(
    object: &ExportObject,
    export: &CsvExport,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    quarantine: &SharedQuarantine,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<LandedObject> {
    let path = folder.path.join(format!("{}.parquet", object.name));
    let lander = csv_objects::land_object(
        object,
        export.timezone,
        |plan| {
            let lander = ObjectLander::create(
                &object.name,
                plan,
                &path,
                opts.batch_rows,
                TimeBasis::Local(export.timezone),
                quarantine,
            )?;
            Ok(match delta {
                Some(delta) => lander.with_delta(delta.filter_for(&object.name)?),
                None => lander,
            })
        },
        on_rows,
    )?;
    let columns = lander.column_infos();
    let (file, stats) = lander.finish()?;
    Ok(LandedObject {
        name: object.name.clone(),
        file,
        stats,
        columns,
    })
}

/// Lands the export's deletions (an empty `_deleted.parquet` when it
/// reports none).
fn land_deletions(
    export: &CsvExport,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    quarantine: &SharedQuarantine,
) -> Result<(FileEntry, DeletionStats)> {
    let mut lander = DeletionLander::create(
        &folder.path.join(DELETED_FILE),
        opts.batch_rows,
        TimeBasis::Local(export.timezone),
        quarantine,
    )?;
    if let Some(delta) = delta {
        lander = lander.with_delta(DeltaFilter {
            since_micros: delta.since.micros,
            already_landed: delta.history.landed_deletions(delta.since.micros)?,
        });
    }
    if let Some(file) = &export.deleted {
        csv_objects::land_deleted(file, &mut lander)?;
    }
    lander.finish()
}

/// Deletions read = landed + quarantined + unchanged, and as many as the
/// export's manifest says, or the extract fails.
fn conserve_deletions(
    export: &CsvExport,
    file: FileEntry,
    stats: &DeletionStats,
) -> Result<DeletedManifest> {
    let accounted = stats.landed + stats.quarantined + stats.unchanged;
    let (source_file, source_sha256, source_rows) = match &export.deleted {
        Some(source) => (
            Some(source.file_name.clone()),
            Some(sha256_file(&source.path)?),
            source.rows,
        ),
        None => (None, None, 0),
    };
    if accounted != source_rows {
        let name = source_file.as_deref().unwrap_or("deleted.csv");
        return Err(Error::input(
            &export.dir,
            format!(
                "deletions are not conserved: manifest.json says {name} holds {source_rows} rows but {accounted} were read ({} landed + {} quarantined + {} unchanged)",
                stats.landed, stats.quarantined, stats.unchanged
            ),
            "the file is truncated, or an unbalanced quote merged records: export again (the partial landing is kept as .failed for inspection)",
        ));
    }
    Ok(DeletedManifest {
        file,
        source_file,
        source_sha256,
        source_rows,
        landed_rows: stats.landed,
        quarantined_rows: stats.quarantined,
        unchanged_rows: stats.unchanged,
        newest_deleted_at: stats.newest_micros.map(micros_to_rfc3339),
    })
}

/// Source rows = landed + quarantined + unchanged for every object, or the
/// extract fails.
fn conserve(
    export: &CsvExport,
    landed: &BTreeMap<String, LandedObject>,
) -> Result<BTreeMap<String, ObjectManifest>> {
    let mut objects = BTreeMap::new();
    let mut broken = Vec::new();
    for source in &export.objects {
        let object = &landed[&source.name];
        let stats = &object.stats;
        let accounted = stats.landed + stats.quarantined + stats.unchanged;
        if accounted != source.rows {
            let unchanged = if stats.unchanged > 0 {
                format!(" + {} unchanged", stats.unchanged)
            } else {
                String::new()
            };
            broken.push(format!(
                "{}: manifest.json says {} rows but the file holds {} records ({} landed + {} quarantined{unchanged})",
                source.file_name, source.rows, accounted, stats.landed, stats.quarantined
            ));
        }
        objects.insert(
            source.name.clone(),
            ObjectManifest {
                file: object.file.clone(),
                source_file: Some(source.file_name.clone()),
                source_sha256: Some(sha256_file(&source.path)?),
                source_rows: source.rows,
                landed_rows: object.stats.landed,
                quarantined_rows: object.stats.quarantined,
                unchanged_rows: object.stats.unchanged,
                watermark: object.stats.watermark_micros.map(micros_to_rfc3339),
                columns: object.columns.clone(),
                ambiguous_local_times: object.stats.ambiguous_local_times,
            },
        );
    }
    if broken.is_empty() {
        Ok(objects)
    } else {
        Err(Error::input(
            &export.dir,
            format!("rows are not conserved:\n  {}", broken.join("\n  ")),
            "a file is truncated, or an unbalanced quote merged records: export again (the partial landing is kept as .failed for inspection)",
        ))
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).at(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).at(path)?;
    Ok(hex::encode(hasher.finalize()))
}

pub(crate) fn empty_attachments(path: &Path) -> Result<(FileEntry, u64)> {
    let writer = AttachmentWriter::create(path)?;
    Ok((writer.finish()?, 0))
}

/// Reads each landed attachment's content (`content_of`: from the export
/// folder or the API spool), checks it
/// against the stated size and sha256, and lands it; problems go to
/// quarantine as `attachment_files` rows.
pub(crate) fn land_attachment_contents(
    attachments_parquet: &Path,
    content_of: &dyn Fn(&str) -> AttachmentContent,
    out: &Path,
    quarantine: &mut QuarantineWriter,
) -> Result<((FileEntry, u64), u64)> {
    let mut writer = AttachmentWriter::create(out)?;
    let mut problems = 0u64;
    let file = File::open(attachments_parquet).at(attachments_parquet)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::parquet(attachments_parquet, e))?;
    let schema = builder.parquet_schema();
    let wanted = ["id", "file_name", "size_bytes", "sha256"];
    let indices: Vec<usize> = wanted
        .iter()
        .map(|name| {
            schema
                .columns()
                .iter()
                .position(|c| c.name() == *name)
                .expect("attachments.parquet holds the documented fields")
        })
        .collect();
    let mask = ProjectionMask::leaves(schema, indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(4096)
        .build()
        .map_err(|e| Error::parquet(attachments_parquet, e))?;
    let progress = crate::progress::rows("attachments");
    for batch in reader {
        let batch = batch.map_err(|e| Error::parquet(attachments_parquet, e))?;
        let ids = batch
            .column_by_name("id")
            .expect("projected")
            .as_string::<i32>();
        let names = batch
            .column_by_name("file_name")
            .expect("projected")
            .as_string::<i32>();
        let sizes = batch
            .column_by_name("size_bytes")
            .expect("projected")
            .as_primitive::<Int64Type>();
        let hashes = batch
            .column_by_name("sha256")
            .expect("projected")
            .as_string::<i32>();
        for row in 0..batch.num_rows() {
            let id = ids.value(row);
            let name = (!names.is_null(row)).then(|| names.value(row));
            let stated_size = (!sizes.is_null(row)).then(|| sizes.value(row));
            let stated_sha = (!hashes.is_null(row)).then(|| hashes.value(row).to_ascii_lowercase());
            let mut reject = |field: &str, reason: String, raw: Vec<u8>| {
                problems += 1;
                quarantine.push(QuarantineRow {
                    object: "attachment_files".into(),
                    line: None,
                    record_id: Some(id.to_string()),
                    field: Some(field.to_string()),
                    reason,
                    raw,
                })
            };
            match content_of(id) {
                AttachmentContent::Missing(reason) => reject("content", reason, Vec::new())?,
                AttachmentContent::Found { bytes, .. } => {
                    let actual_sha = hex::encode(Sha256::digest(&bytes));
                    if stated_size.is_some_and(|s| s != bytes.len() as i64) {
                        let reason = format!(
                            "content is {} bytes but size_bytes says {}",
                            bytes.len(),
                            stated_size.unwrap_or_default()
                        );
                        reject("size_bytes", reason, bytes)?;
                    } else if stated_sha.as_deref().is_some_and(|s| s != actual_sha) {
                        let reason = format!(
                            "content sha256 is {actual_sha} but the record says {}",
                            stated_sha.unwrap_or_default()
                        );
                        reject("sha256", reason, bytes)?;
                    } else {
                        writer.push(id, name, &actual_sha, &bytes)?;
                    }
                }
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let content_bytes = writer.content_bytes;
    Ok(((writer.finish()?, content_bytes), problems))
}
