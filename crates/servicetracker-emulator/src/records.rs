//! The emulator's data: every object of the export read by the emulator's
//! own CSV reader ([`crate::object_file`]) and serialised once into compact
//! JSON records, plus the deletions the export lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::export::Export;
use crate::model;
use crate::object_file::read_object;
use crate::typing;

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
    /// Records of the object files that are not served (see
    /// [`crate::object_file`]).
    pub quarantined: u64,
}

impl Dataset {
    /// Reads `export_dir`: its manifest, every object it lists and its
    /// deletions. Every record of a file must be either served or counted as
    /// not served, as many as the manifest says, or nothing is served.
    pub fn load(export_dir: &Path) -> Result<Dataset> {
        let export = Export::open(export_dir)?;
        let mut objects = BTreeMap::new();
        let mut quarantined = 0;
        let mut broken = Vec::new();
        for (name, file) in &export.objects {
            let mut read = read_object(name, file, &export.timezone)?;
            let accounted = read.records.len() as u64 + read.unserved;
            if accounted != file.rows {
                broken.push(format!(
                    "{}: manifest.json says {} rows but the file holds {accounted} records ({} served + {} not served)",
                    file.name,
                    file.rows,
                    read.records.len(),
                    read.unserved
                ));
            }
            quarantined += read.unserved;
            read.records
                .sort_unstable_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
            read.records.shrink_to_fit();
            objects.insert(
                name.clone(),
                ObjectRecords {
                    records: read.records,
                },
            );
        }
        if !broken.is_empty() {
            return Err(Error::input(
                export_dir,
                format!("rows are not conserved:\n  {}", broken.join("\n  ")),
                "a file is truncated, or an unbalanced quote merged records: export again",
            ));
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
    for object in model::objects() {
        let fields: serde_json::Map<String, serde_json::Value> = object
            .fields
            .iter()
            .filter(|f| !f.picklist.is_empty())
            .map(|f| (f.name.clone(), serde_json::json!(f.picklist)))
            .collect();
        if !fields.is_empty() {
            data.insert(object.name.clone(), fields.into());
        }
    }
    serde_json::json!({ "data": data }).to_string()
}

/// Reads the deletions the export lists (`deleted.csv`: `object`, `id`,
/// `deleted_at` in local time, served in UTC), oldest first; none when the
/// manifest lists no deletions file. Any unreadable deletion stops loading:
/// the API would never list one.
fn read_deleted(export: &Export) -> Result<Vec<DeletedRecord>> {
    let Some(file) = &export.deleted else {
        return Ok(Vec::new());
    };
    let path = &file.path;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| {
            Error::input(
                path,
                e.to_string(),
                "restore the deletions file or export again",
            )
        })?;
    let bad = |line: u64, why: String| {
        Error::input(
            path,
            format!("line {line}: {why}"),
            "each deletion is `object,id,deleted_at` with a local time YYYY-MM-DD HH:MM:SS",
        )
    };
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let index = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
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
        let at = typing::local_timestamp(field(at_i), &export.timezone).ok_or_else(|| {
            bad(
                line,
                format!(
                    "`{}` is not a local time YYYY-MM-DD HH:MM:SS that exists in {}",
                    field(at_i),
                    export.timezone
                ),
            )
        })?;
        if field(id_i).is_empty() || field(object_i).is_empty() {
            return Err(bad(line, "object and id must not be empty".into()));
        }
        deleted.push(DeletedRecord {
            object: field(object_i).to_string(),
            id: field(id_i).to_string(),
            deleted_at: at,
        });
    }
    if deleted.len() as u64 != file.rows {
        return Err(Error::input(
            &export.dir,
            format!(
                "deletions are not conserved: manifest.json says {} holds {} rows but {} were read",
                file.name,
                file.rows,
                deleted.len()
            ),
            "the file is truncated, or an unbalanced quote merged records: export again",
        ));
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
