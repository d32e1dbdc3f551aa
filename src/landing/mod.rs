//! The landing zone: what an extract leaves on disk, in a form any engine
//! can read (SPEC §1, issue 2).
//!
//! ```text
//! landing/
//!   0001-20261125T191800Z/        a complete extract (renamed from `.partial` when done)
//!     _manifest.json              counts, checksums, columns, watermark (see [`manifest`])
//!     <object>.parquet            one per object the source holds
//!     _quarantine.parquet         every row that could not be landed, with its reason
//!     _attachments.parquet        attachment contents, checked against their sha256
//!     _deleted.parquet            deletions the source reported (empty when none)
//!   0002-20261126T080000Z/        a delta (`--since`): only what changed, same layout
//!   0003-20261126T080000Z.partial/   interrupted: never read by `stage`
//!   0004-20261126T090000Z.failed/    failed a conservation check: kept for diagnosis
//! ```
//!
//! An extract folder without the `.partial`/`.failed` suffix is complete by
//! construction: files are written under temporary names, the manifest last,
//! and the folder is renamed only after everything is on disk.
//!
//! `<object>.parquet` columns: the object's standard fields in
//! [`crate::source::schema`] order, typed by their [`FieldType`]; then custom
//! (`cf_*`) and unknown columns sorted by name with their inferred types; then
//! `_row_hash` (hex SHA-256 of the row's canonical form, see
//! [`rowhash`]) and `_source_line` (line of the record's first byte in the
//! CSV, null for API extracts).
//!
//! `_deleted.parquet` columns: `object`, `id`, `deleted_at` (UTC) and
//! `_source_line` (see [`deleted_columns`])
//!
//! [`deleted_columns`]: crate::source::records::deleted_columns.
//!
//! [`FieldType`]: crate::source::schema::FieldType

pub mod api_extract;
pub mod api_spool;
pub mod arrow_types;
pub mod csv_objects;
pub mod delta;
pub mod discover;
pub mod extract;
mod finish;
pub mod lander;
pub mod manifest;
pub mod rowhash;
pub mod writer;

/// File names inside an extract folder.
pub const MANIFEST_FILE: &str = "_manifest.json";
pub const QUARANTINE_FILE: &str = "_quarantine.parquet";
pub const ATTACHMENTS_FILE: &str = "_attachments.parquet";
pub const DELETED_FILE: &str = "_deleted.parquet";
pub const PARTIAL_SUFFIX: &str = ".partial";
pub const FAILED_SUFFIX: &str = ".failed";

/// Columns ferry adds to every landed object.
pub const ROW_HASH_COLUMN: &str = "_row_hash";
pub const SOURCE_LINE_COLUMN: &str = "_source_line";

/// Columns of `_quarantine.parquet`.
pub mod quarantine_columns {
    /// The ServiceTracker object (or `attachment_files` for content problems).
    pub const OBJECT: &str = "object";
    /// Line of the record's first byte in the CSV (null for API records).
    pub const LINE: &str = "line";
    /// The record's id when it could be read.
    pub const RECORD_ID: &str = "record_id";
    /// The field whose value could not be typed, when there is one.
    pub const FIELD: &str = "field";
    pub const REASON: &str = "reason";
    /// The raw record as text (invalid UTF-8 replaced by U+FFFD).
    pub const RAW_TEXT: &str = "raw_text";
    /// The raw record's exact bytes.
    pub const RAW_BYTES: &str = "raw_bytes";
}

/// Columns of `_attachments.parquet`: one row per attachment whose content
/// was found and checked.
pub mod attachment_columns {
    pub const ATTACHMENT_ID: &str = "attachment_id";
    /// The file name as the source states it (may hold path characters).
    pub const FILE_NAME: &str = "file_name";
    /// Bytes actually landed.
    pub const SIZE_BYTES: &str = "size_bytes";
    /// Hex SHA-256 of the landed bytes (matches the source's `sha256`).
    pub const SHA256: &str = "sha256";
    pub const CONTENT: &str = "content";
}
