//! Reading one object's CSV into served records: the header checked, every
//! column typed (documented fields by the contract, custom and unknown
//! columns by inference over the whole file), and each record serialised
//! once to compact JSON.
//!
//! A record is not served when the API could never have produced it: a
//! wrong number of fields (an unquoted comma, a truncated line), a value
//! that is not UTF-8 or not of its column's type, no id, or an id already
//! served from an earlier line. Such records are only counted.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono_tz::Tz;

use crate::encode;
use crate::error::{Error, IoContext, Result};
use crate::export::ExportFile;
use crate::model::{self, FieldType};
use crate::records::Record;
use crate::typing::{self, TypeGuess, Value};

/// One object's records as read: the served ones (in file order) and how
/// many were not served.
pub struct ObjectRead {
    pub records: Vec<Record>,
    pub unserved: u64,
}

/// Where a column's value goes in a record's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// A top-level key: documented fields and undocumented non-custom ones.
    Top,
    /// Under `custom_fields`, without the prefix.
    Custom,
}

/// One served column.
#[derive(Debug)]
struct Column {
    name: String,
    ty: FieldType,
    placement: Placement,
    /// Its position in the CSV header.
    source: usize,
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path).at(path)?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        // Records end at LF and a CR before it is cut from the last field
        // (`field`): counting lines the same way for CRLF and LF files.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

fn read(
    reader: &mut csv::Reader<BufReader<File>>,
    record: &mut csv::ByteRecord,
    path: &Path,
) -> Result<bool> {
    reader
        .read_byte_record(record)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            other => Error::input(path, format!("{other:?}"), "export again"),
        })
}

/// Field `index` of a record, without the CR of a CRLF line ending.
fn field(record: &csv::ByteRecord, index: usize) -> Option<&[u8]> {
    let value = record.get(index)?;
    if index + 1 == record.len() {
        Some(value.strip_suffix(b"\r").unwrap_or(value))
    } else {
        Some(value)
    }
}

/// The header's column names, checked: UTF-8, named, each once.
fn read_header(reader: &mut csv::Reader<BufReader<File>>, path: &Path) -> Result<Vec<String>> {
    let mut header = csv::ByteRecord::new();
    if !read(reader, &mut header, path)? {
        return Err(Error::input(
            path,
            "the file is empty (no header row)",
            "export again: every object file starts with a header of field names",
        ));
    }
    let mut seen = HashSet::new();
    let mut names = Vec::with_capacity(header.len());
    for (i, raw) in header.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| {
                Error::input(
                    path,
                    format!("header column {} is not valid UTF-8", i + 1),
                    "export again as UTF-8",
                )
            })?
            .trim();
        if name.is_empty() {
            return Err(Error::input(
                path,
                format!("header column {} has no name", i + 1),
                "export again: every column needs a field name",
            ));
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(Error::input(
                path,
                format!("header repeats the column `{name}`"),
                "export again: each field may appear once",
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The type of each undocumented column (by header position), from every
/// non-empty UTF-8 value in the file, records not served included.
fn infer(path: &Path, undocumented: &[usize], tz: &Tz) -> Result<Vec<FieldType>> {
    let mut guesses = vec![TypeGuess::default(); undocumented.len()];
    let mut reader = csv_reader(path)?;
    let mut record = csv::ByteRecord::new();
    read(&mut reader, &mut record, path)?;
    while read(&mut reader, &mut record, path)? {
        for (&index, guess) in undocumented.iter().zip(guesses.iter_mut()) {
            if guess.is_text() {
                continue;
            }
            let value = field(&record, index).filter(|b| !b.is_empty());
            if let Some(Ok(text)) = value.map(std::str::from_utf8) {
                guess.observe(text, tz);
            }
        }
    }
    Ok(guesses.iter().map(TypeGuess::finish).collect())
}

/// The served columns: the documented fields in the contract's order, then
/// the undocumented ones sorted by name.
fn plan(object: &str, header: &[String], path: &Path, tz: &Tz) -> Result<Vec<Column>> {
    let position = |name: &str| header.iter().position(|h| h == name);
    let documented = model::object(object);
    let undocumented: Vec<usize> = (0..header.len())
        .filter(|&i| documented.is_none_or(|o| o.field(&header[i]).is_none()))
        .collect();
    let mut columns = Vec::with_capacity(header.len());
    if let Some(documented) = documented {
        let missing: Vec<&str> = documented
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .filter(|name| position(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(
                path,
                format!("the header lacks documented field(s): {}", missing.join(", ")),
                "the export is incomplete or from another ServiceTracker version: export again with every field",
            ));
        }
        for f in &documented.fields {
            columns.push(Column {
                name: f.name.clone(),
                ty: f.ty,
                placement: Placement::Top,
                source: position(&f.name).expect("checked above"),
            });
        }
    } else if position("id").is_none() {
        return Err(Error::input(
            path,
            "the header has no `id` column",
            "every ServiceTracker object has an id: export again",
        ));
    }
    let inferred = if undocumented.is_empty() {
        Vec::new()
    } else {
        infer(path, &undocumented, tz)?
    };
    let by_name: BTreeMap<&str, (usize, FieldType)> = undocumented
        .iter()
        .zip(inferred)
        .map(|(&i, ty)| (header[i].as_str(), (i, ty)))
        .collect();
    for (name, (source, ty)) in by_name {
        let placement = if name.starts_with(model::custom_field_prefix()) {
            Placement::Custom
        } else {
            Placement::Top
        };
        columns.push(Column {
            name: name.to_string(),
            ty,
            placement,
            source,
        });
    }
    Ok(columns)
}

/// Reads `file` (the object `object`) into records.
pub fn read_object(object: &str, file: &ExportFile, tz: &Tz) -> Result<ObjectRead> {
    let path = &file.path;
    let mut reader = csv_reader(path)?;
    let header = read_header(&mut reader, path)?;
    let columns = plan(object, &header, path, tz)?;
    let writer = RecordWriter::new(&columns);

    let mut records = Vec::new();
    let mut unserved = 0;
    let mut ids = HashSet::new();
    let mut record = csv::ByteRecord::new();
    let mut json = Vec::with_capacity(4096);
    while read(&mut reader, &mut record, path)? {
        let values: Option<Vec<Value<'_>>> = (record.len() == header.len())
            .then(|| {
                columns
                    .iter()
                    .map(|c| {
                        typing::type_value(field(&record, c.source).unwrap_or_default(), c.ty, tz)
                    })
                    .collect()
            })
            .flatten();
        let Some(values) = values else {
            unserved += 1;
            continue;
        };
        let id = match values[writer.id] {
            Value::Text(id) if !id.trim().is_empty() => id,
            _ => {
                unserved += 1;
                continue;
            }
        };
        if !ids.insert(id.to_string()) {
            unserved += 1;
            continue;
        }
        records.push(writer.write(&values, id, &mut json));
    }
    Ok(ObjectRead { records, unserved })
}

/// Writes typed records as the API's JSON: top-level keys in column order,
/// then `custom_fields` with the prefix removed, keys sorted.
struct RecordWriter<'c> {
    /// (key, index into the values), in column order.
    top: Vec<(&'c str, usize)>,
    /// (key without the prefix, index into the values), sorted by key.
    custom: Vec<(&'c str, usize)>,
    /// Index of `id` among the columns.
    id: usize,
    /// Index of `modified_at` among the columns, when it is a timestamp.
    modified_at: Option<usize>,
}

impl<'c> RecordWriter<'c> {
    fn new(columns: &'c [Column]) -> RecordWriter<'c> {
        let index = |name: &str| columns.iter().position(|c| c.name == name);
        let placed = |placement: Placement| {
            columns
                .iter()
                .enumerate()
                .filter(move |(_, c)| c.placement == placement)
        };
        let mut custom: Vec<(&str, usize)> = placed(Placement::Custom)
            .map(|(i, c)| {
                let key = c.name.strip_prefix(model::custom_field_prefix());
                (key.unwrap_or(&c.name), i)
            })
            .collect();
        custom.sort_by(|a, b| a.0.cmp(b.0));
        RecordWriter {
            top: placed(Placement::Top)
                .map(|(i, c)| (c.name.as_str(), i))
                .collect(),
            custom,
            id: index("id").expect("every planned object has an id column"),
            modified_at: index("modified_at").filter(|&i| columns[i].ty == FieldType::Timestamp),
        }
    }

    fn write(&self, values: &[Value<'_>], id: &str, json: &mut Vec<u8>) -> Record {
        let key_value = |json: &mut Vec<u8>, (key, index): &(&str, usize)| {
            encode::write_str(json, key);
            json.push(b':');
            encode::write_value(json, &values[*index]);
        };
        json.clear();
        json.push(b'{');
        for entry in &self.top {
            key_value(json, entry);
            json.push(b',');
        }
        json.extend_from_slice(b"\"custom_fields\":{");
        for (i, entry) in self.custom.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            key_value(json, entry);
        }
        json.extend_from_slice(b"}}");
        let modified_at = match self.modified_at.map(|i| values[i]) {
            Some(Value::Timestamp(t)) => t,
            _ => i64::MIN,
        };
        Record {
            id: id.into(),
            modified_at,
            json: std::str::from_utf8(json)
                .expect("the encoder writes UTF-8")
                .into(),
        }
    }
}
