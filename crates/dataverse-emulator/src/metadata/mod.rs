//! The emulator's metadata API (SPEC §7): table and column definitions as
//! the Dataverse Web API serves them (`EntityDefinitions`, attributes cast
//! to their metadata type with `$expand=OptionSet`, `Keys`), the bodies a
//! client sends to change them (create table, create column, create key,
//! `InsertOptionValue`), and reading metadata pulled from a real org
//! (`--metadata FILE`).
//!
//! It exists so ferry's loader and third-party Dataverse tools can discover
//! and extend the target schema against the emulator exactly as they would
//! against an org: the loader checks lengths and option values from
//! `EntityDefinitions`, creates its custom columns and the `Critical`
//! priority before loading, and upserts by alternate key. Everything here
//! is a pure function of [`Schema`]; the schema's mutation methods live in
//! `crate::schema`, and `api.rs` routes requests to both.
//!
//! Shapes follow Microsoft's Web API metadata pages on learn.microsoft.com
//! (power-apps/developer/data-platform/webapi/…): "Query schema
//! definitions" and "Retrieve table definitions by name or MetadataId"
//! (`EntityDefinitions(LogicalName='x')`, `Attributes(LogicalName='y')`,
//! casts to `Microsoft.Dynamics.CRM.PicklistAttributeMetadata` with
//! `$expand=OptionSet`), "Create and update table definitions" and "Create
//! and update column definitions" (request bodies), the `InsertOptionValue`
//! action and `InsertOptionValueResponse`, and "Work with alternate keys"
//! (`EntityKeyMetadata`). `PublishAllXml` needs nothing here: Dataverse
//! makes new tables and columns usable by the Web API as soon as they are
//! created (publishing concerns forms and labels), so the emulator applies
//! every change at once and `api.rs` answers the action with 204.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::{DvError, RESOURCE_NOT_FOUND};
use crate::schema::{
    AlternateKey, Column, ColumnType, OptionValue, Ownership, RequiredLevel, Schema, Table,
    PUBLISHER_OPTION_VALUE_BASE,
};

mod changes;
mod definitions;
mod org;

pub use changes::*;
pub use definitions::*;
pub use org::*;
#[cfg(test)]
mod test_support;

/// The namespace every Dataverse metadata type name lives in.
const CRM: &str = "Microsoft.Dynamics.CRM.";

/// English (United States): the only language the emulator labels in, and
/// the base language of most orgs.
const LANGUAGE_CODE: i64 = 1033;

/// Namespace of the emulator's metadata ids, so a definition keeps its
/// `MetadataId` across restarts and between two emulators.
const METADATA_NAMESPACE: Uuid = Uuid::from_u128(0x8a1e_61c2_3f0d_4b55_9c27_d4e8_0b6f_a913);

/// Object type codes fixed by Microsoft (the SDK's entity type codes, the
/// same in every org) for the tables ferry touches. Custom and solution
/// tables (`msdyn_*`) get a code per org at install time, and the booking
/// tables' codes could not be confirmed from the sources at hand, so those
/// get a stable one from [`object_type_code`] instead.
const KNOWN_ENTITIES: [(&str, &str, i32); 21] = [
    ("account", "Account", 1),
    ("contact", "Contact", 2),
    ("annotation", "Annotation", 5),
    ("systemuser", "SystemUser", 8),
    ("team", "Team", 9),
    ("businessunit", "BusinessUnit", 10),
    ("incident", "Incident", 112),
    ("activityparty", "ActivityParty", 135),
    ("contract", "Contract", 1010),
    ("contractdetail", "ContractDetail", 1011),
    ("pricelevel", "PriceLevel", 1022),
    ("product", "Product", 1024),
    ("productpricelevel", "ProductPriceLevel", 1026),
    ("uom", "UoM", 1055),
    ("uomschedule", "UoMSchedule", 1056),
    ("customeraddress", "CustomerAddress", 1071),
    ("appointment", "Appointment", 4201),
    ("email", "Email", 4202),
    ("incidentresolution", "IncidentResolution", 4206),
    ("phonecall", "PhoneCall", 4210),
    ("transactioncurrency", "TransactionCurrency", 9105),
];

/// Schema names of the other reference tables (shared/reference/dataverse);
/// the solution tables keep their logical name as schema name.
const KNOWN_SCHEMA_NAMES: [(&str, &str); 4] = [
    ("bookableresource", "BookableResource"),
    ("bookableresourcebooking", "BookableResourceBooking"),
    ("bookingstatus", "BookingStatus"),
    ("opportunityproduct", "OpportunityProduct"),
];
