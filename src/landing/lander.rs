//! Lands one object's records: types every value, fingerprints the row,
//! and either appends it to the object's Parquet file or sends it to
//! quarantine with the reason — never both, never neither.
//!
//! The lander does not know where records come from: the CSV reader and the
//! REST client both hand it text values through [`RecordFields`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;

use chrono_tz::Tz;

use crate::error::Result;
use crate::landing::arrow_types::Value;
use crate::landing::manifest::{ColumnInfo, ColumnOrigin};
use crate::landing::rowhash::RowHasher;
use crate::landing::writer::{BatchWriter, QuarantineRow, QuarantineWriter};
use crate::landing::{ROW_HASH_COLUMN, SOURCE_LINE_COLUMN};
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

/// One landed column and where its value sits in a source record.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: String,
    pub ty: FieldType,
    pub origin: ColumnOrigin,
    pub source_index: usize,
}

impl ColumnPlan {
    pub fn info(&self) -> ColumnInfo {
        ColumnInfo {
            name: self.name.clone(),
            ty: self.ty,
            origin: self.origin,
        }
    }
}

/// The raw text values of one source record, by source position.
pub trait RecordFields {
    fn field(&self, index: usize) -> Option<&[u8]>;
}

impl RecordFields for csv::ByteRecord {
    fn field(&self, index: usize) -> Option<&[u8]> {
        self.get(index)
    }
}

/// What landing one object produced, beyond its file.
#[derive(Debug, Default, Clone)]
pub struct LandStats {
    pub landed: u64,
    pub quarantined: u64,
    pub ambiguous_local_times: u64,
    /// Newest `modified_at`, microseconds since the epoch (UTC).
    pub watermark_micros: Option<i64>,
    /// Ids of work orders waiting for offline sync.
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
            position(&columns, "modified_at").filter(|&i| columns[i].ty == FieldType::Timestamp);
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
            columns,
            stats: LandStats::default(),
        })
    }

    pub fn column_infos(&self) -> Vec<ColumnInfo> {
        self.columns.iter().map(ColumnPlan::info).collect()
    }

    /// Lands one record or quarantines it. `raw` produces the record's exact
    /// source bytes, and is only called for quarantined records.
    pub fn land(
        &mut self,
        record: &impl RecordFields,
        line: Option<u64>,
        raw: impl FnOnce() -> Vec<u8>,
    ) -> Result<()> {
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

        if let Some(i) = self.modified_at_index {
            if let Value::Timestamp(t) = values[i] {
                self.stats.watermark_micros =
                    Some(self.stats.watermark_micros.map_or(t, |w| w.max(t)));
            }
        }
        if let Some(i) = self.sync_status_index {
            if values[i] == Value::Text("Pending") {
                self.stats.pending_sync_ids.push(id.to_string());
            }
        }
        let hash = self.hasher.hash(&values, &self.scales);
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

    pub fn finish(self) -> Result<(crate::landing::manifest::FileEntry, LandStats)> {
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
        let text = std::str::from_utf8(bytes).map_err(|e| {
            TypeError(format!(
                "invalid UTF-8 (byte 0x{:02X} at offset {}); the export must be UTF-8: re-export it as UTF-8 or fix the byte",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ))
        })?;
        let value = match column.ty {
            FieldType::Text => Value::Text(text),
            FieldType::Timestamp => {
                let instant = match self.time_basis {
                    TimeBasis::Local(tz) => typing::parse_local_timestamp(text, &tz)?,
                    TimeBasis::Offset => typing::parse_utc_timestamp(text)?,
                };
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
