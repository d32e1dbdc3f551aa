//! `_manifest.json`: the record of one extract — what the source said it
//! held, what landed, what was quarantined, checksums of every file, the
//! columns found and the watermark for the next delta.
//!
//! A delta extract (`ferry extract --since`) has the same shape: `mode` and
//! `since` say what it is, and each object counts its `unchanged_rows`.
//!
//! It is written last, so its presence (in a folder without a `.partial` or
//! `.failed` suffix) means the extract is complete.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
// Each landed column's origin is recorded in the manifest; the source
// decides it, so the type lives with the source's records.
pub use crate::source::records::ColumnOrigin;
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
    /// Whether every record was landed (`full`) or only what changed since
    /// an instant (`delta`, with `since`). Manifests written before deltas
    /// existed are full extracts.
    #[serde(default)]
    pub mode: ExtractMode,
    /// For a delta extract: the instant it started from (RFC 3339, UTC);
    /// records with `modified_at >= since` were candidates for landing.
    pub since: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    /// Newest `modified_at` over every landed record (RFC 3339, UTC).
    pub watermark: Option<String>,
    pub objects: BTreeMap<String, ObjectManifest>,
    pub quarantine: FileEntry,
    pub attachments: AttachmentsManifest,
    pub pending_sync: PendingSync,
    /// `_deleted.parquet`: deletions the source reported. Absent only in
    /// manifests written before ferry landed deletions.
    #[serde(default)]
    pub deleted: Option<DeletedManifest>,
}

/// A full extract lands every record; a delta lands the records modified at
/// or after `since` that no earlier extract landed identically.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExtractMode {
    #[default]
    Full,
    Delta,
}

impl ExtractMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExtractMode::Full => "full",
            ExtractMode::Delta => "delta",
        }
    }
}

/// The deletions an extract landed, with the same conservation as an
/// object: `source_rows = landed_rows + quarantined_rows + unchanged_rows`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeletedManifest {
    pub file: FileEntry,
    /// The source file (the export's `deleted.csv`) and its checksum, when
    /// the source has one.
    pub source_file: Option<String>,
    pub source_sha256: Option<String>,
    /// Deletions the source reported.
    pub source_rows: u64,
    pub landed_rows: u64,
    /// Rows that could not be read (quarantined as object `deleted`).
    pub quarantined_rows: u64,
    /// Delta only: deletions before `since`, or already landed by an
    /// earlier extract.
    pub unchanged_rows: u64,
    /// Newest `deleted_at` among the landed deletions (RFC 3339, UTC).
    pub newest_deleted_at: Option<String>,
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
    /// Delta only: records modified before `since`, or identical (same id
    /// and `_row_hash`) to a version an earlier extract landed. Conservation:
    /// `source_rows = landed_rows + quarantined_rows + unchanged_rows`.
    #[serde(default)]
    pub unchanged_rows: u64,
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
