//! `_manifest.json`: the record of one extract — what the source said it
//! held, what landed, what was quarantined, checksums of every file, the
//! columns found and the watermark for the next delta.
//!
//! It is written last, so its presence (in a folder without a `.partial` or
//! `.failed` suffix) means the extract is complete.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::source::schema::FieldType;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub extract_id: String,
    pub ferry_version: String,
    pub source: SourceInfo,
    /// When the source export was made (CSV manifest's `exported_at`), if known.
    pub exported_at: Option<String>,
    /// The export's IANA timezone that local timestamps were converted from.
    pub timezone: Option<String>,
    /// For a delta extract: the watermark it started from.
    pub since: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    /// Newest `modified_at` over every landed record (RFC 3339, UTC).
    pub watermark: Option<String>,
    pub objects: BTreeMap<String, ObjectManifest>,
    pub quarantine: FileEntry,
    pub attachments: AttachmentsManifest,
    pub pending_sync: PendingSync,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    /// `csv` or `api`.
    pub kind: String,
    /// Export folder or API base URL (never a secret).
    pub location: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectManifest {
    /// The landed Parquet file.
    pub file: FileEntry,
    /// The source file (CSV) and its checksum, when there is one.
    pub source_file: Option<String>,
    pub source_sha256: Option<String>,
    /// Rows the source says it holds (CSV manifest) or served (API).
    pub source_rows: u64,
    pub landed_rows: u64,
    pub quarantined_rows: u64,
    /// Newest `modified_at` among this object's landed rows.
    pub watermark: Option<String>,
    pub columns: Vec<ColumnInfo>,
    /// Local timestamps that fell in a daylight-saving fold: they were read
    /// as the earlier of the two instants.
    pub ambiguous_local_times: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub origin: ColumnOrigin,
}

/// Where a landed column comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ColumnOrigin {
    /// A documented ServiceTracker field.
    Standard,
    /// A `cf_*` custom field discovered in the data.
    Custom,
    /// A column that is neither documented nor named `cf_*`.
    Unknown,
}

impl ColumnOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnOrigin::Standard => "standard",
            ColumnOrigin::Custom => "custom",
            ColumnOrigin::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentsManifest {
    pub file: FileEntry,
    /// Sum of the landed contents' sizes.
    pub content_bytes: u64,
    /// Attachments whose content is missing or does not match its size or
    /// sha256; each is also a row of `_quarantine.parquet`.
    pub problems: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingSync {
    /// Work orders still waiting for the mobile app to sync (`sync_status = 'Pending'`).
    pub ids: Vec<String>,
    /// Whether the extract was run with `--allow-pending`.
    pub allowed: bool,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).at(path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(
                path,
                format!("unreadable extract manifest: {e}"),
                "the extract is damaged: delete its folder and run `ferry extract` again",
            )
        })
    }

    /// Writes the manifest atomically (temporary name, then rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).expect("manifest serializes");
        std::fs::write(&tmp, text).at(&tmp)?;
        std::fs::rename(&tmp, path).at(path)
    }
}
