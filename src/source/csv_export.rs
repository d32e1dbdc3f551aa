//! Reading a ServiceTracker CSV export folder (SPEC §8.2): its
//! `manifest.json`, each object's CSV with RFC 4180 quoting, and the
//! attachment files under `files/<attachment id>/`.
//!
//! Behaviour an analyst can rely on:
//! - a UTF-8 byte-order mark at the start of a file is skipped;
//! - CRLF and LF line endings are both accepted, and newlines inside quoted
//!   fields are kept as they are (the record's line number is where it starts);
//! - a record with the wrong number of fields, a value that is not valid
//!   UTF-8, or a value that cannot be typed sends the whole record to
//!   quarantine with its exact bytes and the reason;
//! - a header that is not UTF-8, repeats a column or lacks a documented
//!   field stops the extract (exit 2): nothing sensible can be landed from it.
//!
//! Deletions: an export may list `deleted: {file, rows}` at the top of its
//! manifest, a CSV of `object,id,deleted_at` (local time like every CSV
//! timestamp) naming the records deleted at the source; see
//! [`land_deleted`].

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::{Error, IoContext, Result};
use crate::source::records::deleted_columns as dc;
use crate::source::records::{ColumnOrigin, ColumnPlan, RecordFields};
use crate::source::schema::{self, CUSTOM_FIELD_PREFIX};
use crate::source::typing::TypeGuess;

pub const EXPORT_MANIFEST: &str = "manifest.json";

#[derive(Debug, Deserialize)]
struct ManifestFile {
    exported_at: Option<String>,
    timezone: String,
    objects: BTreeMap<String, ManifestObject>,
    /// The deletions file, when the export reports deletions.
    deleted: Option<ManifestObject>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestObject {
    file: String,
    rows: u64,
}

/// An export folder whose manifest has been read and checked.
#[derive(Debug, Clone)]
pub struct CsvExport {
    pub dir: PathBuf,
    pub exported_at: Option<String>,
    pub timezone: Tz,
    pub objects: Vec<ExportObject>,
    /// `deleted.csv` (named `deleted`), when the manifest lists one.
    pub deleted: Option<ExportObject>,
}

/// One object of the export, as its manifest lists it.
#[derive(Debug, Clone)]
pub struct ExportObject {
    pub name: String,
    pub path: PathBuf,
    pub file_name: String,
    /// Rows the exporter says it wrote.
    pub rows: u64,
    pub bytes: u64,
}

impl CsvExport {
    /// Reads and checks `manifest.json`; every listed file must exist.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::input(
                dir,
                "the CSV export folder does not exist",
                "set source.path in ferry.toml to the folder holding the export's manifest.json",
            ));
        }
        let manifest_path = dir.join(EXPORT_MANIFEST);
        let bytes = match std::fs::read(&manifest_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::input(
                &manifest_path,
                "the export has no manifest.json",
                "export again from ServiceTracker: a complete export always holds manifest.json",
            )),
            Err(e) => return Err(e).at(&manifest_path),
        };
        let manifest: ManifestFile = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(
                &manifest_path,
                format!("malformed manifest: {e}"),
                "the manifest must hold `timezone` and `objects: {name: {file, rows}}`; export again",
            )
        })?;
        let timezone: Tz = manifest.timezone.parse().map_err(|_| {
            Error::input(
                &manifest_path,
                format!("`{}` is not an IANA timezone name", manifest.timezone),
                "the export's timezone must be a name such as America/Chicago",
            )
        })?;
        if let Some(at) = &manifest.exported_at {
            chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
                Error::input(
                    &manifest_path,
                    format!("exported_at `{at}` is not an RFC 3339 timestamp"),
                    "export again from ServiceTracker",
                )
            })?;
        }
        let mut objects = Vec::new();
        for (name, entry) in manifest.objects {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(Error::input(
                    &manifest_path,
                    format!("object name `{name}` is not a lowercase identifier"),
                    "export again from ServiceTracker",
                ));
            }
            objects.push(listed_file(dir, &manifest_path, name, entry)?);
        }
        let deleted = manifest
            .deleted
            .map(|entry| listed_file(dir, &manifest_path, dc::QUARANTINE_OBJECT.into(), entry))
            .transpose()?;
        Ok(CsvExport {
            dir: dir.to_path_buf(),
            exported_at: manifest.exported_at,
            timezone,
            objects,
            deleted,
        })
    }

    /// Known objects the export does not hold (reported, not an error: an
    /// instance may not use every module).
    pub fn missing_objects(&self) -> Vec<&'static str> {
        schema::OBJECTS
            .iter()
            .map(|o| o.name)
            .filter(|name| !self.objects.iter().any(|o| o.name == *name))
            .collect()
    }
}

/// A file the manifest lists (for `name`), checked to be a plain readable
/// file beside manifest.json.
fn listed_file(
    dir: &Path,
    manifest_path: &Path,
    name: String,
    entry: ManifestObject,
) -> Result<ExportObject> {
    let simple = Path::new(&entry.file).components().count() == 1
        && !entry.file.starts_with('.')
        && !entry.file.contains(['/', '\\']);
    if !simple {
        return Err(Error::input(
            manifest_path,
            format!("object `{name}` names the file `{}`, which is not a plain file name inside the export", entry.file),
            "the export's files must sit beside manifest.json",
        ));
    }
    let path = dir.join(&entry.file);
    let meta = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            return Err(Error::input(
                &path,
                format!("listed in manifest.json for `{name}` but is not a readable file"),
                "export again, or restore the file",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::input(
                &path,
                format!("listed in manifest.json for `{name}` but missing"),
                "the export is incomplete: export again, or restore the file",
            ))
        }
        Err(e) => return Err(e).at(&path),
    };
    File::open(&path).at(&path)?;
    Ok(ExportObject {
        name,
        path,
        file_name: entry.file,
        rows: entry.rows,
        bytes: meta.len(),
    })
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path).at(path)?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        // Records end at LF; a CR before it is trimmed from the last field
        // (see `CsvRecord`). The csv crate's CRLF mode reports the start of
        // each record one line (and one byte) early, and quarantined rows
        // must name their true line.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

/// The header's column names, checked.
fn read_header(reader: &mut csv::Reader<BufReader<File>>, path: &Path) -> Result<Vec<String>> {
    let mut header = csv::ByteRecord::new();
    let found = reader
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(path, e))?;
    if !found {
        return Err(Error::input(
            path,
            "the file is empty (no header row)",
            "export again: every object file starts with a header of field names",
        ));
    }
    let mut names = Vec::with_capacity(header.len());
    let mut seen = HashSet::new();
    for (i, raw) in header.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| {
                Error::input(
                    path,
                    format!("header column {} is not valid UTF-8", i + 1),
                    "export again as UTF-8",
                )
            })?
            .trim()
            .to_string();
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
        names.push(name);
    }
    Ok(names)
}

/// A CSV reading error as ferry reports it: I/O as I/O, anything else as a
/// problem of the export file.
pub fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io {
            path: path.to_path_buf(),
            source: io,
        },
        other => Error::input(path, format!("{other:?}"), "export again"),
    }
}

/// Decides each landed column: documented fields first with their types,
/// then custom and unknown columns by name, typed by `guesses`.
fn plan_columns(
    object: &str,
    header: &[String],
    inferred: &BTreeMap<String, crate::source::schema::FieldType>,
    path: &Path,
) -> Result<Vec<ColumnPlan>> {
    let index_of = |name: &str| header.iter().position(|h| h == name);
    let mut plan = Vec::with_capacity(header.len());
    let known = schema::object(object);
    if let Some(known) = known {
        let missing: Vec<&str> = known
            .field_names()
            .filter(|f| index_of(f).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(
                path,
                format!("the header lacks documented field(s): {}", missing.join(", ")),
                "the export is incomplete or from another ServiceTracker version: export again with every field",
            ));
        }
        for field in known.fields {
            plan.push(ColumnPlan {
                name: field.name.to_string(),
                ty: field.ty,
                origin: ColumnOrigin::Standard,
                source_index: index_of(field.name).expect("checked above"),
            });
        }
    } else if index_of("id").is_none() {
        return Err(Error::input(
            path,
            "the header has no `id` column",
            "every ServiceTracker object has an id: export again",
        ));
    }
    for (name, ty) in inferred {
        plan.push(ColumnPlan {
            name: name.clone(),
            ty: *ty,
            origin: origin_of(name),
            source_index: index_of(name).expect("inferred columns come from the header"),
        });
    }
    Ok(plan)
}

fn origin_of(name: &str) -> ColumnOrigin {
    if name.starts_with(CUSTOM_FIELD_PREFIX) {
        ColumnOrigin::Custom
    } else {
        ColumnOrigin::Unknown
    }
}

/// Columns not documented for `object` (all columns of an unknown object).
fn undocumented_columns(object: &str, header: &[String]) -> Vec<(usize, String)> {
    let known = schema::object(object);
    header
        .iter()
        .enumerate()
        .filter(|(_, name)| known.is_none_or(|o| o.field(name).is_none()))
        .map(|(i, name)| (i, name.clone()))
        .collect()
}

/// First pass over a file: the type every value of each undocumented column
/// fits. Records that will be quarantined still count: widening a guess never
/// loses data.
fn infer_undocumented(
    path: &Path,
    columns: &[(usize, String)],
    tz: &Tz,
) -> Result<BTreeMap<String, crate::source::schema::FieldType>> {
    let mut guesses: Vec<TypeGuess> = vec![TypeGuess::default(); columns.len()];
    let mut reader = csv_reader(path)?;
    let mut record = csv::ByteRecord::new();
    reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        for ((index, _), guess) in columns.iter().zip(guesses.iter_mut()) {
            if guess.is_settled_on_text() {
                continue;
            }
            let fields = CsvRecord { record: &record };
            if let Some(Ok(text)) = fields
                .field(*index)
                .filter(|b| !b.is_empty())
                .map(std::str::from_utf8)
            {
                guess.observe(text, Some(tz));
            }
        }
    }
    Ok(columns
        .iter()
        .zip(guesses)
        .map(|((_, name), guess)| (name.clone(), guess.finish()))
        .collect())
}

/// One object's CSV opened for reading: its header checked and its landed
/// columns planned.
pub struct ObjectCsv {
    pub reader: csv::Reader<BufReader<File>>,
    pub header: Vec<String>,
    pub columns: Vec<ColumnPlan>,
}

/// Opens one object's CSV and plans its columns: documented fields with
/// their types, then custom and unknown columns typed by inference over the
/// whole file.
pub fn open_object(object: &ExportObject, tz: Tz) -> Result<ObjectCsv> {
    let path = &object.path;
    let (reader, header) = open_csv(path)?;
    let undocumented = undocumented_columns(&object.name, &header);
    let inferred = if undocumented.is_empty() {
        BTreeMap::new()
    } else {
        infer_undocumented(path, &undocumented, &tz)?
    };
    let columns = plan_columns(&object.name, &header, &inferred, path)?;
    Ok(ObjectCsv {
        reader,
        header,
        columns,
    })
}

/// Opens a CSV file of the export and reads its header.
pub fn open_csv(path: &Path) -> Result<(csv::Reader<BufReader<File>>, Vec<String>)> {
    let mut reader = csv_reader(path)?;
    let header = read_header(&mut reader, path)?;
    Ok((reader, header))
}

/// A CSV record with the CR of a CRLF line ending trimmed off its last field.
pub struct CsvRecord<'a> {
    record: &'a csv::ByteRecord,
}

impl<'a> CsvRecord<'a> {
    pub fn new(record: &'a csv::ByteRecord) -> Self {
        CsvRecord { record }
    }
}

impl RecordFields for CsvRecord<'_> {
    fn field(&self, index: usize) -> Option<&[u8]> {
        let value = self.record.get(index)?;
        if index + 1 == self.record.len() {
            Some(value.strip_suffix(b"\r").unwrap_or(value))
        } else {
            Some(value)
        }
    }
}

/// The single file stored under `files/<attachment id>/`, read whole.
pub enum AttachmentContent {
    Found { stored_name: String, bytes: Vec<u8> },
    Missing(String),
}

/// Reads an attachment's content. The file name is never joined into a
/// path (it may hold `../` or drive letters): the folder of the id must
/// hold exactly one regular file.
pub fn read_attachment(export_dir: &Path, attachment_id: &str) -> AttachmentContent {
    let safe_id = Path::new(attachment_id).components().count() == 1
        && !attachment_id.starts_with('.')
        && !attachment_id.contains(['/', '\\']);
    if !safe_id {
        return AttachmentContent::Missing(format!(
            "attachment id `{attachment_id}` cannot name a folder safely; its content was not read"
        ));
    }
    let folder = export_dir.join("files").join(attachment_id);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(_) => {
            return AttachmentContent::Missing(format!(
                "content missing: the export has no folder files/{attachment_id}/"
            ))
        }
    };
    let files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    match files.as_slice() {
        [one] => {
            let mut bytes = Vec::new();
            match File::open(one).and_then(|mut f| f.read_to_end(&mut bytes)) {
                Ok(_) => AttachmentContent::Found {
                    stored_name: one
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    bytes,
                },
                Err(e) => AttachmentContent::Missing(format!(
                    "content unreadable: {}: {e}",
                    one.display()
                )),
            }
        }
        [] => AttachmentContent::Missing(format!(
            "content missing: files/{attachment_id}/ holds no file"
        )),
        _ => AttachmentContent::Missing(format!(
            "files/{attachment_id}/ holds {} files; expected exactly one",
            files.len()
        )),
    }
}
