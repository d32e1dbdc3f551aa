//! The emulator's data: an export landed by ferry's own CSV extractor, read
//! back from Parquet and serialised once into compact JSON records.
//!
//! Landing first (into a temporary folder removed after loading) means the
//! API serves every value typed exactly as the CSV path types it; rows the
//! CSV reader quarantines are the ones broken only in the CSV export (a
//! stray comma, a truncated line) and are not served at all.
//!
//! Memory: one `(id, modified_at, json)` triple per record, the JSON being a
//! single boxed string; no per-record `serde_json::Value` is ever held.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

use super::encode;
use crate::error::{Error, IoContext, Result};
use crate::landing::extract::{extract_csv, ExtractOptions};
use crate::landing::manifest::{ColumnInfo, ColumnOrigin};
use crate::source::csv_export::{CsvExport, EXPORT_MANIFEST};
use crate::source::schema::{self, FieldType, CUSTOM_FIELD_PREFIX};
use crate::source::typing;

/// One served record.
pub struct Record {
    pub id: Box<str>,
    /// `modified_at` in UTC microseconds; `i64::MIN` when the record has none
    /// (it then never matches `modified_since`).
    pub modified_at: i64,
    pub json: Box<str>,
}

/// One object's records, sorted by id (byte order).
pub struct ObjectRecords {
    pub records: Vec<Record>,
}

impl ObjectRecords {
    /// Index of the first record whose id sorts after `id`.
    pub fn after(&self, id: &str) -> usize {
        self.records
            .partition_point(|r| r.id.as_bytes() <= id.as_bytes())
    }

    pub fn get(&self, id: &str) -> Option<&Record> {
        self.records
            .binary_search_by(|r| r.id.as_bytes().cmp(id.as_bytes()))
            .ok()
            .map(|i| &self.records[i])
    }
}

/// A record the export says was deleted (`deleted.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecord {
    pub object: String,
    pub id: String,
    /// UTC microseconds.
    pub deleted_at: i64,
}

/// Everything the emulator serves.
pub struct Dataset {
    pub export_dir: PathBuf,
    pub objects: BTreeMap<String, ObjectRecords>,
    /// Sorted by `(deleted_at, object, id)`.
    pub deleted: Vec<DeletedRecord>,
    /// The body of `GET /api/v2/picklists`.
    pub picklists: String,
    /// Rows the CSV reader quarantined (not served).
    pub quarantined: u64,
}

/// Where the landing happens; removed when loading ends, however it ends.
struct TempFolder(PathBuf);

impl TempFolder {
    fn create() -> Result<TempFolder> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("ferry-serve-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).at(&path)?;
        Ok(TempFolder(path))
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Dataset {
    /// Lands `export_dir` with the CSV extractor and loads what landed.
    pub fn load(export_dir: &Path) -> Result<Dataset> {
        let export = CsvExport::open(export_dir)?;
        let landing = TempFolder::create()?;
        let report = extract_csv(
            &landing.0,
            export_dir,
            &ExtractOptions {
                batch_rows: 8192,
                parallel_objects: 2,
                allow_pending: true,
            },
        )?;
        let mut objects = BTreeMap::new();
        let mut quarantined = 0;
        for (name, landed) in &report.manifest.objects {
            quarantined += landed.quarantined_rows;
            let path = report.folder.join(&landed.file.file);
            let records = read_object(&path, &landed.columns, landed.landed_rows)?;
            objects.insert(name.clone(), ObjectRecords { records });
        }
        let deleted = read_deleted(&export)?;
        Ok(Dataset {
            export_dir: export_dir.to_path_buf(),
            objects,
            deleted,
            picklists: picklists_body(),
            quarantined,
        })
    }
}

/// `{"data":{"<object>":{"<field>":[values]}}}` for every documented
/// picklist field.
fn picklists_body() -> String {
    let mut data = serde_json::Map::new();
    for object in schema::OBJECTS {
        let fields: serde_json::Map<String, serde_json::Value> = object
            .fields
            .iter()
            .filter(|f| !f.picklist.is_empty())
            .map(|f| (f.name.to_string(), serde_json::json!(f.picklist)))
            .collect();
        if !fields.is_empty() {
            data.insert(object.name.to_string(), fields.into());
        }
    }
    serde_json::json!({ "data": data }).to_string()
}

/// One landed column as the reader sees it in a batch.
enum Column<'a> {
    Text(&'a arrow::array::StringArray),
    Timestamp(&'a arrow::array::TimestampMicrosecondArray),
    Date(&'a arrow::array::Date32Array),
    Boolean(&'a arrow::array::BooleanArray),
    Integer(&'a arrow::array::Int64Array),
    Decimal(&'a arrow::array::Decimal128Array, i8),
    Double(&'a arrow::array::Float64Array),
}

impl<'a> Column<'a> {
    fn of(array: &'a ArrayRef, ty: FieldType) -> Option<Column<'a>> {
        Some(match ty {
            FieldType::Text => Column::Text(array.as_string_opt::<i32>()?),
            FieldType::Timestamp => {
                Column::Timestamp(array.as_primitive_opt::<TimestampMicrosecondType>()?)
            }
            FieldType::Date => Column::Date(array.as_primitive_opt::<Date32Type>()?),
            FieldType::Boolean => Column::Boolean(array.as_boolean_opt()?),
            FieldType::Integer => Column::Integer(array.as_primitive_opt::<Int64Type>()?),
            FieldType::Decimal { scale, .. } => {
                Column::Decimal(array.as_primitive_opt::<Decimal128Type>()?, scale)
            }
            FieldType::Double => Column::Double(array.as_primitive_opt::<Float64Type>()?),
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::Text(a) => a.is_null(row),
            Column::Timestamp(a) => a.is_null(row),
            Column::Date(a) => a.is_null(row),
            Column::Boolean(a) => a.is_null(row),
            Column::Integer(a) => a.is_null(row),
            Column::Decimal(a, _) => a.is_null(row),
            Column::Double(a) => a.is_null(row),
        }
    }

    /// Appends the value at `row` as JSON.
    fn write(&self, out: &mut Vec<u8>, row: usize) {
        if self.is_null(row) {
            out.extend_from_slice(b"null");
            return;
        }
        match self {
            Column::Text(a) => encode::write_str(out, a.value(row)),
            Column::Timestamp(a) => encode::write_timestamp(out, a.value(row)),
            Column::Date(a) => encode::write_date(out, a.value(row)),
            Column::Boolean(a) => encode::write_bool(out, a.value(row)),
            Column::Integer(a) => encode::write_i64(out, a.value(row)),
            Column::Decimal(a, scale) => encode::write_decimal(out, a.value(row), *scale),
            Column::Double(a) => encode::write_f64(out, a.value(row)),
        }
    }
}

/// How the columns of an object become JSON: top-level keys in landed
/// order, then `custom_fields` with the `cf_` prefix removed, sorted.
struct Layout<'c> {
    top: Vec<&'c ColumnInfo>,
    /// (key without the prefix, column), sorted by key.
    custom: Vec<(&'c str, &'c ColumnInfo)>,
}

impl<'c> Layout<'c> {
    fn new(columns: &'c [ColumnInfo]) -> Layout<'c> {
        let top = columns
            .iter()
            .filter(|c| c.origin != ColumnOrigin::Custom)
            .collect();
        let mut custom: Vec<(&str, &ColumnInfo)> = columns
            .iter()
            .filter(|c| c.origin == ColumnOrigin::Custom)
            .map(|c| {
                let key = c.name.strip_prefix(CUSTOM_FIELD_PREFIX).unwrap_or(&c.name);
                (key, c)
            })
            .collect();
        custom.sort_by(|a, b| a.0.cmp(b.0));
        Layout { top, custom }
    }
}

/// Reads one landed object and serialises every record, sorted by id.
fn read_object(path: &Path, columns: &[ColumnInfo], rows: u64) -> Result<Vec<Record>> {
    let file = File::open(path).at(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::parquet(path, e))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    let layout = Layout::new(columns);
    let mut records = Vec::with_capacity(usize::try_from(rows).unwrap_or(0));
    let mut buf = Vec::with_capacity(4096);
    for batch in reader {
        let batch = batch.map_err(|e| Error::parquet(path, e))?;
        append_batch(&batch, &layout, path, &mut records, &mut buf)?;
    }
    records.sort_unstable_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
    records.shrink_to_fit();
    Ok(records)
}

fn append_batch(
    batch: &RecordBatch,
    layout: &Layout<'_>,
    path: &Path,
    records: &mut Vec<Record>,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let column = |info: &ColumnInfo| -> Result<Column<'_>> {
        let array = batch.column_by_name(&info.name).ok_or_else(|| {
            Error::parquet(
                path,
                format!("the landed file lacks column `{}`", info.name),
            )
        })?;
        Column::of(array, info.ty).ok_or_else(|| {
            Error::parquet(
                path,
                format!(
                    "column `{}` is {} in the file but {} in the manifest",
                    info.name,
                    array.data_type(),
                    info.ty.label()
                ),
            )
        })
    };
    let top: Vec<(&str, Column<'_>)> = layout
        .top
        .iter()
        .map(|c| Ok((c.name.as_str(), column(c)?)))
        .collect::<Result<_>>()?;
    let custom: Vec<(&str, Column<'_>)> = layout
        .custom
        .iter()
        .map(|(key, c)| Ok((*key, column(c)?)))
        .collect::<Result<_>>()?;
    let ids = match top.iter().find(|(name, _)| *name == "id") {
        Some((_, Column::Text(ids))) => *ids,
        _ => {
            return Err(Error::parquet(
                path,
                "the landed file has no text `id` column",
            ))
        }
    };
    let modified = top.iter().find_map(|(name, c)| match c {
        Column::Timestamp(a) if *name == "modified_at" => Some(*a),
        _ => None,
    });

    for row in 0..batch.num_rows() {
        buf.clear();
        buf.push(b'{');
        for (name, column) in &top {
            encode::write_str(buf, name);
            buf.push(b':');
            column.write(buf, row);
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"custom_fields\":{");
        for (i, (key, column)) in custom.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            encode::write_str(buf, key);
            buf.push(b':');
            column.write(buf, row);
        }
        buf.extend_from_slice(b"}}");
        let json = std::str::from_utf8(buf).expect("the encoder writes UTF-8");
        records.push(Record {
            id: ids.value(row).into(),
            modified_at: modified
                .filter(|a| !a.is_null(row))
                .map_or(i64::MIN, |a| a.value(row)),
            json: json.into(),
        });
    }
    Ok(())
}

/// The export manifest's `deleted` entry.
#[derive(Debug, Deserialize)]
struct DeletedEntry {
    file: String,
}

#[derive(Debug, Deserialize)]
struct ManifestDeleted {
    #[serde(default)]
    deleted: Option<DeletedEntry>,
}

/// Reads the deletions the export lists (`deleted.csv`, local times
/// converted to UTC); none when the manifest names no deletions file.
fn read_deleted(export: &CsvExport) -> Result<Vec<DeletedRecord>> {
    let manifest_path = export.dir.join(EXPORT_MANIFEST);
    let bytes = std::fs::read(&manifest_path).at(&manifest_path)?;
    let manifest: ManifestDeleted = serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(
            &manifest_path,
            format!("malformed `deleted` entry: {e}"),
            "`deleted` must be {\"file\": \"deleted.csv\", \"rows\": N}",
        )
    })?;
    let Some(entry) = manifest.deleted else {
        return Ok(Vec::new());
    };
    if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
        return Err(Error::input(
            &manifest_path,
            format!(
                "`deleted.file` names `{}`, not a file beside manifest.json",
                entry.file
            ),
            "the deletions file must sit beside manifest.json",
        ));
    }
    let path = export.dir.join(&entry.file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&path)
        .map_err(|e| {
            Error::input(
                &path,
                e.to_string(),
                "restore the deletions file or export again",
            )
        })?;
    let bad = |line: u64, why: String| {
        Error::input(
            &path,
            format!("line {line}: {why}"),
            "each deletion is `object,id,deleted_at` with a local time YYYY-MM-DD HH:MM:SS",
        )
    };
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let index = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| bad(1, format!("the header has no `{name}` column")))
    };
    let (object_i, id_i, at_i) = (index("object")?, index("id")?, index("deleted_at")?);
    let mut deleted = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let at = typing::parse_local_timestamp(field(at_i), &export.timezone)
            .map_err(|e| bad(line, e.0))?;
        if field(id_i).is_empty() || field(object_i).is_empty() {
            return Err(bad(line, "object and id must not be empty".into()));
        }
        deleted.push(DeletedRecord {
            object: field(object_i).to_string(),
            id: field(id_i).to_string(),
            deleted_at: at.micros,
        });
    }
    deleted.sort_by(|a, b| (a.deleted_at, &a.object, &a.id).cmp(&(b.deleted_at, &b.object, &b.id)));
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picklists_hold_documented_values_only() {
        let body: serde_json::Value = serde_json::from_str(&picklists_body()).unwrap();
        assert_eq!(
            body["data"]["customers"]["invoice_method"],
            serde_json::json!(["Email", "Mail", "Portal"])
        );
        assert_eq!(
            body["data"]["work_orders"]["status"],
            serde_json::json!([
                "Open",
                "In Progress",
                "On Hold",
                "Closed Complete",
                "Cancelled"
            ])
        );
        assert!(body["data"]["customers"].get("email").is_none());
        assert!(body["data"].get("equipment_sites").is_none());
    }
}
