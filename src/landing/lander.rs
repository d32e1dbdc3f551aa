//! Lands one object's records: types every value, fingerprints the row,
//! and either appends it to the object's Parquet file or sends it to
//! quarantine with the reason — never both, never neither.
//!
//! The lander does not know where records come from: the CSV reader and the
//! REST client both hand it text values through [`RecordFields`].
//!
//! For a delta extract ([`ObjectLander::with_delta`]) a third outcome exists:
//! *unchanged*, for a record modified before the window's `since` or
//! identical (same id and `_row_hash`) to a version an earlier extract
//! landed. Every record is still counted exactly once, so conservation reads
//! `source rows = landed + quarantined + unchanged`. [`DeletionLander`] does
//! the same for the deletions a source reports.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;

use chrono_tz::Tz;

use crate::error::Result;
use crate::landing::arrow_types::Value;
use crate::landing::delta::{self, DeltaFilter, MODIFIED_AT};
use crate::landing::manifest::{ColumnInfo, FileEntry};
use crate::landing::rowhash::RowHasher;
use crate::landing::writer::{BatchWriter, DeletedWriter, QuarantineRow, QuarantineWriter};
use crate::landing::{ROW_HASH_COLUMN, SOURCE_LINE_COLUMN};
use crate::source::records::{deleted_columns, ColumnPlan, RecordFields};
use crate::source::schema::FieldType;
use crate::source::typing::{self, TypeError};

/// How the source writes timestamps.
#[derive(Debug, Clone, Copy)]
pub enum TimeBasis {
    /// Local wall-clock time in the export's timezone (CSV exports).
    Local(Tz),
    /// ISO 8601 with an offset (the REST API).
    Offset,
}

/// What landing one object produced, beyond its file.
#[derive(Debug, Default, Clone)]
pub struct LandStats {
    pub landed: u64,
    pub quarantined: u64,
    /// Delta only: modified before `since`, or identical to a landed version.
    pub unchanged: u64,
    pub ambiguous_local_times: u64,
    /// Newest `modified_at`, microseconds since the epoch (UTC).
    pub watermark_micros: Option<i64>,
    /// Ids of work orders waiting for offline sync, landed or unchanged:
    /// the gate is about the source's state, not about what changed.
    pub pending_sync_ids: Vec<String>,
}

/// A quarantine shared by the objects being landed in parallel.
pub type SharedQuarantine = Mutex<QuarantineWriter>;

pub struct ObjectLander<'q> {
    object: String,
    columns: Vec<ColumnPlan>,
    scales: Vec<i8>,
    writer: BatchWriter,
    hasher: RowHasher,
    quarantine: &'q SharedQuarantine,
    time_basis: TimeBasis,
    id_index: usize,
    modified_at_index: Option<usize>,
    sync_status_index: Option<usize>,
    first_line_of_id: HashMap<u128, Option<u64>>,
    delta: Option<DeltaFilter>,
    pub stats: LandStats,
}

/// Where to find the id, watermark and sync-status columns among `columns`.
fn position(columns: &[ColumnPlan], name: &str) -> Option<usize> {
    columns.iter().position(|c| c.name == name)
}

impl<'q> ObjectLander<'q> {
    /// `columns` must include `id`.
    pub fn create(
        object: &str,
        columns: Vec<ColumnPlan>,
        path: &Path,
        batch_rows: usize,
        time_basis: TimeBasis,
        quarantine: &'q SharedQuarantine,
    ) -> Result<Self> {
        let id_index = position(&columns, "id").expect("callers check that `id` is present");
        let mut file_columns: Vec<(String, FieldType)> =
            columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
        file_columns.push((ROW_HASH_COLUMN.to_string(), FieldType::Text));
        file_columns.push((SOURCE_LINE_COLUMN.to_string(), FieldType::Integer));
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let scales = columns
            .iter()
            .map(|c| match c.ty {
                FieldType::Decimal { scale, .. } => scale,
                _ => 0,
            })
            .collect();
        let modified_at_index =
            position(&columns, MODIFIED_AT).filter(|&i| columns[i].ty == FieldType::Timestamp);
        let sync_status_index = if object == "work_orders" {
            position(&columns, "sync_status")
        } else {
            None
        };
        Ok(ObjectLander {
            object: object.to_string(),
            writer: BatchWriter::create(path, &file_columns, batch_rows)?,
            hasher: RowHasher::new(&names),
            scales,
            quarantine,
            time_basis,
            id_index,
            modified_at_index,
            sync_status_index,
            first_line_of_id: HashMap::new(),
            delta: None,
            columns,
            stats: LandStats::default(),
        })
    }

    /// Makes this a delta lander: records with a `modified_at` before
    /// `filter.since_micros`, and records identical to a version in
    /// `filter.already_landed`, are counted as unchanged instead of landed.
    /// An object without a typed `modified_at` has no window: each record
    /// is compared with what was landed before.
    pub fn with_delta(mut self, filter: DeltaFilter) -> Self {
        self.delta = Some(filter);
        self
    }

    pub fn column_infos(&self) -> Vec<ColumnInfo> {
        self.columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                ty: c.ty,
                origin: c.origin,
            })
            .collect()
    }

    /// Lands one record or quarantines it. `raw` produces the record's exact
    /// source bytes, and is only called for quarantined records.
    pub fn land(
        &mut self,
        record: &impl RecordFields,
        line: Option<u64>,
        raw: impl FnOnce() -> Vec<u8>,
    ) -> Result<()> {
        if let (Some(filter), Some(i)) = (&self.delta, self.modified_at_index) {
            let column = &self.columns[i];
            let bytes = record.field(column.source_index).unwrap_or_default();
            match self.type_value(column, bytes) {
                Ok((Value::Timestamp(t), _)) if t < filter.since_micros => {
                    self.note_pending(record);
                    self.stats.unchanged += 1;
                    return Ok(());
                }
                Ok(_) => {}
                Err(reason) => {
                    // Never skipped silently: a record that cannot be placed
                    // in the window is quarantined as a full extract would.
                    let record_id = record_id(record, &self.columns[self.id_index]);
                    let field = Some(column.name.clone());
                    return self.reject(line, record_id, field, reason.0, raw());
                }
            }
        }
        let mut values: Vec<Value<'_>> = Vec::with_capacity(self.columns.len() + 2);
        let mut ambiguous = 0;
        for column in &self.columns {
            let bytes = record.field(column.source_index).unwrap_or_default();
            match self.type_value(column, bytes) {
                Ok((value, was_ambiguous)) => {
                    ambiguous += u64::from(was_ambiguous);
                    values.push(value);
                }
                Err(reason) => {
                    let record_id = record_id(record, &self.columns[self.id_index]);
                    let field = Some(column.name.clone());
                    drop(values);
                    return self.reject(line, record_id, field, reason.0, raw());
                }
            }
        }

        let id = match values[self.id_index] {
            Value::Text(id) if !id.trim().is_empty() => id,
            _ => {
                drop(values);
                return self.reject(
                    line,
                    None,
                    Some("id".into()),
                    "the record has no id".into(),
                    raw(),
                );
            }
        };
        let key = id_key(id);
        if let Some(first_line) = self.first_line_of_id.get(&key) {
            let reason = match first_line {
                Some(l) => {
                    format!("duplicate id `{id}`: the same id was already landed from line {l}")
                }
                None => format!("duplicate id `{id}`: the same id was already landed"),
            };
            let id = id.to_string();
            drop(values);
            return self.reject(line, Some(id), Some("id".into()), reason, raw());
        }
        self.first_line_of_id.insert(key, line);

        if let Some(i) = self.sync_status_index {
            if values[i] == Value::Text("Pending") {
                self.stats.pending_sync_ids.push(id.to_string());
            }
        }
        let hash = self.hasher.hash(&values, &self.scales);
        if let Some(filter) = &self.delta {
            if filter
                .already_landed
                .contains(delta::version_key(id, &hash))
            {
                self.stats.unchanged += 1;
                return Ok(());
            }
        }
        if let Some(i) = self.modified_at_index {
            if let Value::Timestamp(t) = values[i] {
                self.stats.watermark_micros =
                    Some(self.stats.watermark_micros.map_or(t, |w| w.max(t)));
            }
        }
        values.push(Value::Text(&hash));
        values.push(match line {
            Some(l) => Value::Integer(l as i64),
            None => Value::Null,
        });
        self.writer.push(&values)?;
        self.stats.landed += 1;
        self.stats.ambiguous_local_times += ambiguous;
        Ok(())
    }

    /// Records a work order outside the window that still waits for sync.
    fn note_pending(&mut self, record: &impl RecordFields) {
        let Some(i) = self.sync_status_index else {
            return;
        };
        if record.field(self.columns[i].source_index) == Some(b"Pending".as_slice()) {
            if let Some(id) = record_id(record, &self.columns[self.id_index]) {
                self.stats.pending_sync_ids.push(id);
            }
        }
    }

    /// Sends a record the reader itself could not accept to quarantine.
    pub fn reject(
        &mut self,
        line: Option<u64>,
        record_id: Option<String>,
        field: Option<String>,
        reason: String,
        raw: Vec<u8>,
    ) -> Result<()> {
        self.stats.quarantined += 1;
        let row = QuarantineRow {
            object: self.object.clone(),
            line,
            record_id,
            field,
            reason,
            raw,
        };
        self.quarantine
            .lock()
            .expect("a landing thread panicked while holding the quarantine")
            .push(row)
    }

    pub fn finish(self) -> Result<(FileEntry, LandStats)> {
        Ok((self.writer.finish()?, self.stats))
    }

    /// Types one value; the flag says a local time was ambiguous.
    fn type_value<'r>(
        &self,
        column: &ColumnPlan,
        bytes: &'r [u8],
    ) -> Result<(Value<'r>, bool), TypeError> {
        if bytes.is_empty() {
            return Ok((Value::Null, false));
        }
        let text = utf8(bytes)?;
        let value = match column.ty {
            FieldType::Text => Value::Text(text),
            FieldType::Timestamp => {
                let instant = parse_timestamp(self.time_basis, text)?;
                return Ok((Value::Timestamp(instant.micros), instant.ambiguous));
            }
            FieldType::Date => Value::Date(typing::parse_date(text)?),
            FieldType::Boolean => Value::Boolean(typing::parse_bool(text)?),
            FieldType::Integer => Value::Integer(typing::parse_integer(text)?),
            FieldType::Decimal { precision, scale } => {
                Value::Decimal(typing::parse_decimal(text, precision, scale)?)
            }
            FieldType::Double => Value::Double(typing::parse_double(text)?),
        };
        Ok((value, false))
    }
}

/// One deletion's numbers: `landed + quarantined + unchanged` = rows read.
#[derive(Debug, Default, Clone)]
pub struct DeletionStats {
    pub landed: u64,
    pub quarantined: u64,
    /// Delta only: deleted before `since`, or already landed.
    pub unchanged: u64,
    /// Newest `deleted_at` landed, microseconds since the epoch (UTC).
    pub newest_micros: Option<i64>,
}

/// Lands the deletions a source reports into `_deleted.parquet`, or sends
/// the ones it cannot read to quarantine (object `deleted`).
pub struct DeletionLander<'q> {
    writer: DeletedWriter,
    quarantine: &'q SharedQuarantine,
    time_basis: TimeBasis,
    delta: Option<DeltaFilter>,
    pub stats: DeletionStats,
}

impl<'q> DeletionLander<'q> {
    pub fn create(
        path: &Path,
        batch_rows: usize,
        time_basis: TimeBasis,
        quarantine: &'q SharedQuarantine,
    ) -> Result<Self> {
        Ok(DeletionLander {
            writer: DeletedWriter::create(path, batch_rows)?,
            quarantine,
            time_basis,
            delta: None,
            stats: DeletionStats::default(),
        })
    }

    /// Makes this a delta lander: deletions before `filter.since_micros`,
    /// or already in `filter.already_landed`, are counted as unchanged.
    pub fn with_delta(mut self, filter: DeltaFilter) -> Self {
        self.delta = Some(filter);
        self
    }

    /// Lands one deletion from its text values, or quarantines it.
    pub fn land(
        &mut self,
        object: &[u8],
        id: &[u8],
        deleted_at: &[u8],
        line: Option<u64>,
        raw: impl FnOnce() -> Vec<u8>,
    ) -> Result<()> {
        let id = match utf8(id).map(str::trim) {
            Ok(id) if !id.is_empty() => id,
            Ok(_) => {
                let reason = "the deletion names no id".to_string();
                return self.reject(line, None, Some("id".into()), reason, raw());
            }
            Err(reason) => return self.reject(line, None, Some("id".into()), reason.0, raw()),
        };
        let object = match utf8(object).map(str::trim) {
            Ok(o) if is_object_name(o) => o,
            Ok(o) => {
                let reason = if o.is_empty() {
                    "the deletion names no object".to_string()
                } else {
                    format!("`{o}` is not an object name (lowercase letters, digits and _)")
                };
                let id = Some(id.to_string());
                return self.reject(line, id, Some("object".into()), reason, raw());
            }
            Err(reason) => {
                let id = Some(id.to_string());
                return self.reject(line, id, Some("object".into()), reason.0, raw());
            }
        };
        let at = match utf8(deleted_at).map(str::trim) {
            Ok("") => Err(TypeError("the deletion has no deleted_at".into())),
            Ok(text) => parse_timestamp(self.time_basis, text).map(|t| t.micros),
            Err(reason) => Err(reason),
        };
        let at = match at {
            Ok(at) => at,
            Err(reason) => {
                let id = Some(id.to_string());
                let field = Some(deleted_columns::DELETED_AT.to_string());
                return self.reject(line, id, field, reason.0, raw());
            }
        };
        if let Some(filter) = &self.delta {
            if at < filter.since_micros
                || filter
                    .already_landed
                    .contains(delta::deletion_key(object, id, at))
            {
                self.stats.unchanged += 1;
                return Ok(());
            }
        }
        self.writer.push(object, id, at, line)?;
        self.stats.landed += 1;
        self.stats.newest_micros = Some(self.stats.newest_micros.map_or(at, |n| n.max(at)));
        Ok(())
    }

    /// Sends a deletion that could not be read to quarantine.
    pub fn reject(
        &mut self,
        line: Option<u64>,
        record_id: Option<String>,
        field: Option<String>,
        reason: String,
        raw: Vec<u8>,
    ) -> Result<()> {
        self.stats.quarantined += 1;
        let row = QuarantineRow {
            object: deleted_columns::QUARANTINE_OBJECT.to_string(),
            line,
            record_id,
            field,
            reason,
            raw,
        };
        self.quarantine
            .lock()
            .expect("a landing thread panicked while holding the quarantine")
            .push(row)
    }

    pub fn finish(self) -> Result<(FileEntry, DeletionStats)> {
        Ok((self.writer.finish()?, self.stats))
    }
}

/// Object names as ServiceTracker and `raw.*` use them.
fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn utf8(bytes: &[u8]) -> Result<&str, TypeError> {
    std::str::from_utf8(bytes).map_err(|e| {
        TypeError(format!(
            "invalid UTF-8 (byte 0x{:02X} at offset {}); the export must be UTF-8: re-export it as UTF-8 or fix the byte",
            bytes[e.valid_up_to()],
            e.valid_up_to()
        ))
    })
}

fn parse_timestamp(basis: TimeBasis, text: &str) -> Result<typing::Instant, TypeError> {
    match basis {
        TimeBasis::Local(tz) => typing::parse_local_timestamp(text, &tz),
        TimeBasis::Offset => typing::parse_utc_timestamp(text),
    }
}

fn record_id(record: &impl RecordFields, id_column: &ColumnPlan) -> Option<String> {
    let bytes = record.field(id_column.source_index)?;
    let id = std::str::from_utf8(bytes).ok()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// A 128-bit key for an id: two independent 64-bit hashes, so a million ids
/// take a few dozen megabytes instead of their full strings.
fn id_key(id: &str) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xfe77u16.hash(&mut b);
    id.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landing::delta::AlreadyLanded;
    use crate::source::records::ColumnOrigin;

    struct Fields(Vec<&'static str>);

    impl RecordFields for Fields {
        fn field(&self, index: usize) -> Option<&[u8]> {
            self.0.get(index).map(|f| f.as_bytes())
        }
    }

    fn plan() -> Vec<ColumnPlan> {
        [
            ("id", FieldType::Text),
            ("modified_at", FieldType::Timestamp),
        ]
        .into_iter()
        .enumerate()
        .map(|(source_index, (name, ty))| ColumnPlan {
            name: name.into(),
            ty,
            origin: ColumnOrigin::Standard,
            source_index,
        })
        .collect()
    }

    fn micros(text: &str) -> i64 {
        typing::parse_utc_timestamp(text).unwrap().micros
    }

    /// The row hash a lander gives a record with these values.
    fn hash_of(dir: &Path, id: &str, modified_at: &str) -> String {
        let quarantine = Mutex::new(QuarantineWriter::create(&dir.join("q0.parquet")).unwrap());
        let path = dir.join("full.parquet");
        let lander = ObjectLander::create(
            "customers",
            plan(),
            &path,
            16,
            TimeBasis::Offset,
            &quarantine,
        )
        .unwrap();
        let values = [Value::Text(id), Value::Timestamp(micros(modified_at))];
        lander.hasher.hash(&values, &lander.scales)
    }

    #[test]
    fn a_delta_lander_counts_old_and_identical_records_as_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let known = hash_of(dir.path(), "CUS-2", "2026-10-01T08:00:00Z");
        let mut already_landed = AlreadyLanded::default();
        already_landed.insert(delta::version_key("CUS-2", &known));
        let quarantine =
            Mutex::new(QuarantineWriter::create(&dir.path().join("q.parquet")).unwrap());
        let path = dir.path().join("customers.parquet");
        let mut lander = ObjectLander::create(
            "customers",
            plan(),
            &path,
            16,
            TimeBasis::Offset,
            &quarantine,
        )
        .unwrap()
        .with_delta(DeltaFilter {
            since_micros: micros("2026-10-01T08:00:00Z"),
            already_landed,
        });
        let records = [
            ("CUS-1", "2026-09-30T23:59:59Z"), // before the window
            ("CUS-2", "2026-10-01T08:00:00Z"), // in it, identical to a landed version
            ("CUS-3", "2026-10-01T08:00:00Z"), // in it (inclusive), new
            ("CUS-4", "last tuesday"),         // cannot be placed: quarantined
        ];
        for (line, (id, at)) in records.into_iter().enumerate() {
            let raw = || format!("{id},{at}").into_bytes();
            lander
                .land(&Fields(vec![id, at]), Some(line as u64 + 2), raw)
                .unwrap();
        }
        let (file, stats) = lander.finish().unwrap();
        assert_eq!(
            (stats.landed, stats.unchanged, stats.quarantined),
            (1, 2, 1)
        );
        assert_eq!(file.rows, 1);
        assert_eq!(stats.watermark_micros, Some(micros("2026-10-01T08:00:00Z")));
    }

    #[test]
    fn a_deletion_lander_quarantines_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let quarantine =
            Mutex::new(QuarantineWriter::create(&dir.path().join("q.parquet")).unwrap());
        let mut lander = DeletionLander::create(
            &dir.path().join("_deleted.parquet"),
            16,
            TimeBasis::Offset,
            &quarantine,
        )
        .unwrap()
        .with_delta(DeltaFilter {
            since_micros: micros("2026-10-01T00:00:00Z"),
            already_landed: AlreadyLanded::default(),
        });
        let rows: [(&str, &str, &str); 5] = [
            ("contacts", "CON-1", "2026-10-02T10:00:00Z"),
            ("contacts", "CON-2", "2026-09-02T10:00:00Z"), // before since
            ("contacts", "", "2026-10-02T10:00:00Z"),
            ("Contacts!", "CON-3", "2026-10-02T10:00:00Z"),
            ("contacts", "CON-4", "soon"),
        ];
        for (object, id, at) in rows {
            lander
                .land(
                    object.as_bytes(),
                    id.as_bytes(),
                    at.as_bytes(),
                    None,
                    Vec::new,
                )
                .unwrap();
        }
        let (file, stats) = lander.finish().unwrap();
        assert_eq!(
            (stats.landed, stats.unchanged, stats.quarantined),
            (1, 1, 3)
        );
        assert_eq!(file.rows, 1);
        assert_eq!(stats.newest_micros, Some(micros("2026-10-02T10:00:00Z")));
        let quarantine = quarantine.into_inner().unwrap();
        assert_eq!(quarantine.finish().unwrap().rows, 3);
    }
}
