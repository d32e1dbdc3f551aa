//! ServiceTracker, the source: its data model, the CSV export reader and
//! strict typing of its text values.

pub mod api;
pub mod api_records;
pub mod csv_export;
pub mod records;
pub mod schema;
pub mod typing;
