//! Dataverse: what ferry knows about the target side of a migration.
//!
//! Transforms, checks, the loader and the emulator all need the same facts
//! about the target tables (column types, lengths, required levels, option
//! sets, lookup targets), so they live here once, embedded in the binary:
//! a workspace must not depend on the shared reference material being on
//! disk, and every command must agree on what the target looks like.

pub mod client;
pub mod org_metadata;
pub mod schema;

pub use schema::{Column, ColumnType, RequiredLevel, Schema, Table, TargetColumn};
