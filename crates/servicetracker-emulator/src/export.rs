//! The export folder the emulator serves (SPEC §8.2): `manifest.json`, the
//! object files it lists, the optional deletions file and the attachment
//! contents under `files/<attachment id>/`. Checked at start-up as an
//! extractor would check it, so an export the API could not have produced
//! is refused rather than half served.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::{Error, IoContext, Result};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Deserialize)]
struct ManifestFile {
    exported_at: Option<String>,
    timezone: String,
    objects: BTreeMap<String, ListedFile>,
    deleted: Option<ListedFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedFile {
    file: String,
    rows: u64,
}

/// An export whose manifest has been read and whose files exist.
#[derive(Debug)]
pub struct Export {
    pub dir: PathBuf,
    pub timezone: Tz,
    /// By object name.
    pub objects: BTreeMap<String, ExportFile>,
    /// `deleted.csv`, when the manifest lists one.
    pub deleted: Option<ExportFile>,
}

/// A file the manifest lists.
#[derive(Debug)]
pub struct ExportFile {
    pub path: PathBuf,
    /// The file name as listed.
    pub name: String,
    /// Records the exporter says it wrote.
    pub rows: u64,
}

impl Export {
    pub fn open(dir: &Path) -> Result<Export> {
        if !dir.is_dir() {
            return Err(Error::input(
                dir,
                "the CSV export folder does not exist",
                "pass --data the folder holding the export's manifest.json",
            ));
        }
        let manifest_path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&manifest_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::input(
                    &manifest_path,
                    "the export has no manifest.json",
                    "a complete export always holds manifest.json: export again",
                ))
            }
            read => read.at(&manifest_path)?,
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
        let mut objects = BTreeMap::new();
        for (name, listed) in manifest.objects {
            if !is_object_name(&name) {
                return Err(Error::input(
                    &manifest_path,
                    format!("object name `{name}` is not a lowercase identifier"),
                    "export again from ServiceTracker",
                ));
            }
            let file = checked_file(dir, &manifest_path, &name, listed)?;
            objects.insert(name, file);
        }
        let deleted = manifest
            .deleted
            .map(|listed| checked_file(dir, &manifest_path, "deleted", listed))
            .transpose()?;
        Ok(Export {
            dir: dir.to_path_buf(),
            timezone,
            objects,
            deleted,
        })
    }
}

fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A plain file name, so a manifest can never point outside the export.
fn is_plain_file_name(name: &str) -> bool {
    Path::new(name).components().count() == 1
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
}

/// The file listed for `what`, checked to be a readable file beside
/// manifest.json.
fn checked_file(
    dir: &Path,
    manifest_path: &Path,
    what: &str,
    listed: ListedFile,
) -> Result<ExportFile> {
    if !is_plain_file_name(&listed.file) {
        return Err(Error::input(
            manifest_path,
            format!(
                "object `{what}` names the file `{}`, which is not a plain file name inside the export",
                listed.file
            ),
            "the export's files must sit beside manifest.json",
        ));
    }
    let path = dir.join(&listed.file);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(Error::input(
                &path,
                format!("listed in manifest.json for `{what}` but is not a readable file"),
                "export again, or restore the file",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::input(
                &path,
                format!("listed in manifest.json for `{what}` but missing"),
                "the export is incomplete: export again, or restore the file",
            ))
        }
        Err(e) => return Err(e).at(&path),
    }
    File::open(&path).at(&path)?;
    Ok(ExportFile {
        path,
        name: listed.file,
        rows: listed.rows,
    })
}

/// An attachment's content, or why there is none.
pub enum AttachmentContent {
    Found(Vec<u8>),
    Missing(String),
}

/// Reads the single file stored under `files/<attachment id>/`. The
/// attachment's file name is never joined into a path (it may hold `../`):
/// the id's folder must hold exactly one regular file.
pub fn read_attachment(export_dir: &Path, attachment_id: &str) -> AttachmentContent {
    if !is_plain_file_name(attachment_id) {
        return AttachmentContent::Missing(format!(
            "attachment id `{attachment_id}` cannot name a folder safely; its content was not read"
        ));
    }
    let folder = export_dir.join("files").join(attachment_id);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return AttachmentContent::Missing(format!(
            "content missing: the export has no folder files/{attachment_id}/"
        ));
    };
    let files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    match files.as_slice() {
        [one] => {
            let mut bytes = Vec::new();
            match File::open(one).and_then(|mut f| f.read_to_end(&mut bytes)) {
                Ok(_) => AttachmentContent::Found(bytes),
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
