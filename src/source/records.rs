//! How a source hands its records to the lander: each column planned (name,
//! type, origin, position in the record) and each record's raw text values
//! by position. The CSV export reader and the REST client both describe
//! their records this way, so landing never needs to know which one it
//! reads, and the source never needs to know how records are landed.

use serde::{Deserialize, Serialize};

use crate::source::schema::FieldType;

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

/// One landed column and where its value sits in a source record.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: String,
    pub ty: FieldType,
    pub origin: ColumnOrigin,
    pub source_index: usize,
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

/// The fields of a deletion the source reports: the header of a CSV
/// export's deletions file, and the columns it lands as in
/// `_deleted.parquet` (then `_source_line`), one row per deletion.
pub mod deleted_columns {
    /// The ServiceTracker object the record belonged to.
    pub const OBJECT: &str = "object";
    /// The deleted record's id.
    pub const ID: &str = "id";
    /// When the source deleted it (UTC).
    pub const DELETED_AT: &str = "deleted_at";
    /// The quarantine's `object` for deletions that could not be read.
    pub const QUARANTINE_OBJECT: &str = "deleted";
}
