//! ServiceTracker, the source: its data model, the CSV export reader and
//! strict typing of its text values.

pub mod csv_export;
pub mod schema;
pub mod typing;
