//! The delta window (SPEC §6): `ferry extract --since last|<RFC 3339>` lands
//! only what changed since an instant, and the deletions the source reported
//! since then.
//!
//! Source timestamps have one-second resolution, so the window is inclusive:
//! a record modified in the same second as the previous watermark is a
//! candidate again. What keeps such a record from being landed twice is the
//! landing zone's own history: every complete extract's `(id, _row_hash)`
//! for rows modified at or after `since` (and its deletions at or after
//! `since`) is read first — projecting only those columns, with the time
//! filter pushed into the Parquet reader — and a candidate identical to one
//! of them is counted as unchanged instead of landed.
//!
//! Nothing here knows where records come from: the CSV and REST sources both
//! hand [`DeltaFilter`]s to their landers.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::arrow::ProjectionMask;

use crate::error::{Error, Result};
use crate::landing::discover::{read_manifest, resolve_file, scan_landing, LandedExtract};
use crate::landing::extract::micros_to_rfc3339;
use crate::landing::manifest::{FileEntry, Manifest};
use crate::landing::ROW_HASH_COLUMN;
use crate::source::records::deleted_columns as dc;

/// The column whose value places a record inside or outside the window.
pub const MODIFIED_AT: &str = "modified_at";

/// The instant a delta extract starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    /// Microseconds since the epoch, UTC.
    pub micros: i64,
    /// Where the instant came from.
    pub origin: SinceOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinceOrigin {
    /// `--since <timestamp>`.
    Given,
    /// `--since last`: the watermark of this extract.
    Watermark { extract_id: String },
}

impl Since {
    /// RFC 3339 in UTC, as manifests record it.
    pub fn rfc3339(&self) -> String {
        micros_to_rfc3339(self.micros)
    }
}

/// What `--since` accepts, before the landing zone is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinceArg {
    Last,
    At(i64),
}

impl SinceArg {
    /// `last`, or an RFC 3339 timestamp with an offset.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("last") {
            return Ok(SinceArg::Last);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| SinceArg::At(t.with_timezone(&Utc).timestamp_micros()))
            .map_err(|e| {
                Error::Usage(format!(
                    "--since `{text}` is neither `last` nor an RFC 3339 timestamp ({e}); \
                     give e.g. --since 2026-10-01T12:00:00Z, --since 2026-10-01T07:00:00-05:00, \
                     or --since last to continue from the newest extract's watermark"
                ))
            })
    }
}

/// The complete extracts already in the landing zone, oldest first, with
/// their manifests.
#[derive(Debug, Default)]
pub struct History {
    extracts: Vec<(LandedExtract, Manifest)>,
}

impl History {
    /// Reads every complete extract's manifest (`.partial` and `.failed`
    /// folders are not history).
    pub fn scan(landing: &Path) -> Result<Self> {
        let scan = scan_landing(landing)?;
        let mut extracts = Vec::with_capacity(scan.complete.len());
        for extract in scan.complete {
            let manifest = read_manifest(&extract)?;
            extracts.push((extract, manifest));
        }
        Ok(History { extracts })
    }

    pub fn is_empty(&self) -> bool {
        self.extracts.is_empty()
    }

    /// Resolves `--since`: a given instant as is; `last` as the newest
    /// complete extract's watermark. A delta that landed nothing has no
    /// watermark of its own, so its `since` carries over.
    pub fn resolve(&self, arg: &SinceArg, landing: &Path) -> Result<Since> {
        let last = match arg {
            SinceArg::At(micros) => {
                return Ok(Since {
                    micros: *micros,
                    origin: SinceOrigin::Given,
                })
            }
            SinceArg::Last => self.extracts.last(),
        };
        let Some((extract, manifest)) = last else {
            return Err(Error::Usage(format!(
                "--since last: {} holds no complete extract to continue from; \
                 run `ferry extract` without --since first (a full extract), or give --since <RFC 3339 timestamp>",
                landing.display()
            )));
        };
        let text = manifest.watermark.as_deref().or(manifest.since.as_deref());
        let Some(text) = text else {
            return Err(Error::Usage(format!(
                "--since last: the newest extract {} has no watermark (it landed no record with a modified_at); \
                 run `ferry extract` without --since, or give --since <RFC 3339 timestamp>",
                extract.extract_id
            )));
        };
        let micros = DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                Error::input(
                    extract.dir.join(crate::landing::MANIFEST_FILE),
                    format!("watermark `{text}` is not an RFC 3339 timestamp ({e})"),
                    "the manifest is damaged: give --since <timestamp> explicitly, or delete that extract and extract again",
                )
            })?
            .with_timezone(&Utc)
            .timestamp_micros();
        Ok(Since {
            micros,
            origin: SinceOrigin::Watermark {
                extract_id: extract.extract_id.clone(),
            },
        })
    }

    /// Every `(id, _row_hash)` an earlier extract landed for `object` with
    /// `modified_at >= since` (or no `modified_at` at all).
    pub fn landed_versions(&self, object: &str, since_micros: i64) -> Result<AlreadyLanded> {
        let mut landed = AlreadyLanded::default();
        for (extract, manifest) in &self.extracts {
            let Some(entry) = manifest.objects.get(object) else {
                continue;
            };
            let path = file_of(extract, &entry.file)?;
            scan_recent(
                &path,
                &["id", ROW_HASH_COLUMN],
                MODIFIED_AT,
                since_micros,
                |batch| {
                    let ids = string_column(batch, "id", &path)?;
                    let hashes = string_column(batch, ROW_HASH_COLUMN, &path)?;
                    for row in 0..batch.num_rows() {
                        if ids.is_null(row) || hashes.is_null(row) {
                            continue;
                        }
                        landed.insert(version_key(ids.value(row), hashes.value(row)));
                    }
                    Ok(())
                },
            )?;
        }
        Ok(landed)
    }

    /// Every deletion an earlier extract landed with `deleted_at >= since`.
    pub fn landed_deletions(&self, since_micros: i64) -> Result<AlreadyLanded> {
        let mut landed = AlreadyLanded::default();
        for (extract, manifest) in &self.extracts {
            let Some(deleted) = &manifest.deleted else {
                continue;
            };
            let path = file_of(extract, &deleted.file)?;
            scan_recent(
                &path,
                &[dc::OBJECT, dc::ID, dc::DELETED_AT],
                dc::DELETED_AT,
                since_micros,
                |batch| {
                    let objects = string_column(batch, dc::OBJECT, &path)?;
                    let ids = string_column(batch, dc::ID, &path)?;
                    let at = batch
                        .column_by_name(dc::DELETED_AT)
                        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
                        .ok_or_else(|| damaged(&path, "`deleted_at` is not a UTC timestamp"))?;
                    for row in 0..batch.num_rows() {
                        if objects.is_null(row) || ids.is_null(row) || at.is_null(row) {
                            continue;
                        }
                        landed.insert(deletion_key(
                            objects.value(row),
                            ids.value(row),
                            at.value(row),
                        ));
                    }
                    Ok(())
                },
            )?;
        }
        Ok(landed)
    }
}

/// A delta lander's window: records (or deletions) before `since_micros`
/// are unchanged by definition; those at or after it are unchanged when
/// `already_landed` holds them.
#[derive(Debug, Default)]
pub struct DeltaFilter {
    pub since_micros: i64,
    pub already_landed: AlreadyLanded,
}

/// Fingerprints of what earlier extracts landed: 128-bit keys, so a million
/// rows take a few dozen megabytes rather than their full strings.
#[derive(Debug, Default)]
pub struct AlreadyLanded {
    keys: HashSet<u128>,
}

impl AlreadyLanded {
    pub fn insert(&mut self, key: u128) {
        self.keys.insert(key);
    }

    pub fn contains(&self, key: u128) -> bool {
        self.keys.contains(&key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The key of one record version: its id and `_row_hash`.
pub fn version_key(id: &str, row_hash: &str) -> u128 {
    key_of(&[id.as_bytes(), row_hash.as_bytes()])
}

/// The key of one deletion: object, id and `deleted_at` (µs, UTC).
pub fn deletion_key(object: &str, id: &str, deleted_at_micros: i64) -> u128 {
    key_of(&[
        object.as_bytes(),
        id.as_bytes(),
        &deleted_at_micros.to_le_bytes(),
    ])
}

/// Two independent 64-bit hashes over length-prefixed parts.
fn key_of(parts: &[&[u8]]) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xde17au32.hash(&mut b);
    for part in parts {
        part.hash(&mut a);
        part.hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

fn file_of(extract: &LandedExtract, entry: &FileEntry) -> Result<PathBuf> {
    resolve_file(extract, entry)
}

fn damaged(path: &Path, what: &str) -> Error {
    Error::input(
        path,
        format!("cannot read what this earlier extract landed: {what}"),
        "the extract is damaged or was written by an incompatible ferry: delete its folder (and stage again) or extract without --since",
    )
}

fn string_column<'b>(
    batch: &'b RecordBatch,
    name: &str,
    path: &Path,
) -> Result<&'b arrow::array::StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| damaged(path, &format!("`{name}` is not a text column")))
}

/// Reads `columns` of the rows of `path` whose `time_column` is at or after
/// `since_micros` or null. The filter runs inside the Parquet reader, so the
/// other columns are decoded only for rows that pass. A file whose
/// `time_column` is missing or not a timestamp is read whole: without a time
/// the window cannot exclude anything.
fn scan_recent(
    path: &Path,
    columns: &[&str],
    time_column: &str,
    since_micros: i64,
    mut each: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).map_err(|e| damaged(path, &e.to_string()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(path, e))?;
    let fields = builder.schema().fields().clone();
    let index = |name: &str| fields.iter().position(|f| f.name() == name);
    let mut indices = Vec::with_capacity(columns.len());
    for name in columns {
        indices.push(index(name).ok_or_else(|| damaged(path, &format!("no `{name}` column")))?);
    }
    let parquet_schema = builder.parquet_schema().clone();
    let projection = ProjectionMask::roots(&parquet_schema, indices);
    let time = index(time_column).filter(|&i| {
        matches!(
            fields[i].data_type(),
            DataType::Timestamp(TimeUnit::Microsecond, _)
        )
    });
    let mut builder = builder.with_projection(projection).with_batch_size(8192);
    if let Some(i) = time {
        let predicate = ArrowPredicateFn::new(
            ProjectionMask::roots(&parquet_schema, [i]),
            move |batch: RecordBatch| {
                let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
                Ok(times
                    .iter()
                    .map(|t| Some(t.is_none_or(|t| t >= since_micros)))
                    .collect::<BooleanArray>())
            },
        );
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let reader = builder.build().map_err(|e| Error::parquet(path, e))?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::parquet(path, e))?;
        each(&batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_last_and_rfc3339_with_an_offset() {
        assert_eq!(SinceArg::parse("last").unwrap(), SinceArg::Last);
        assert_eq!(
            SinceArg::parse("2026-10-01T07:00:00-05:00").unwrap(),
            SinceArg::parse("2026-10-01T12:00:00Z").unwrap()
        );
        let SinceArg::At(micros) = SinceArg::parse("1970-01-01T00:00:01Z").unwrap() else {
            panic!("an instant");
        };
        assert_eq!(micros, 1_000_000);
    }

    #[test]
    fn since_refuses_local_times_and_words() {
        for bad in [
            "2026-10-01 07:00:00",
            "yesterday",
            "",
            "2026-13-01T00:00:00Z",
        ] {
            let err = SinceArg::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{bad}");
            assert!(err.to_string().contains("RFC 3339"), "{err}");
        }
    }

    #[test]
    fn keys_tell_parts_apart() {
        assert_ne!(version_key("ab", "c"), version_key("a", "bc"));
        assert_eq!(version_key("a", "b"), version_key("a", "b"));
        assert_ne!(
            deletion_key("customers", "X", 1),
            deletion_key("customers", "X", 2)
        );
        assert_ne!(
            deletion_key("contacts", "X", 1),
            deletion_key("customers", "X", 1)
        );
    }

    #[test]
    fn last_without_history_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::scan(&dir.path().join("landing")).unwrap();
        let err = history.resolve(&SinceArg::Last, dir.path()).unwrap_err();
        assert!(matches!(err, Error::Usage(_)));
        assert!(err.to_string().contains("no complete extract"), "{err}");
    }
}
