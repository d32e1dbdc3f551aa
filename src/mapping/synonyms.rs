//! The knowledge the mapping proposer ([`super::propose`]) scores with, kept
//! as plain tables so an analyst or a maintainer can read and extend it
//! without touching the scoring code.
//!
//! * [`OBJECTS`]: where each ServiceTracker object goes in each profile
//!   (SPEC §10) and whether its custom fields can become custom columns
//!   there.
//! * [`BUILTIN`]: what the built-in transforms (`sql/transforms`,
//!   `sql/profiles/*/transforms`) already do with each standard field. A
//!   field listed here is decided: the proposal reports it as confirmed and
//!   names the file, instead of guessing it again. The integration test
//!   holds every column named here to the SQL file named with it.
//! * [`COLUMN_SYNONYMS`]: names a source field may carry for a target
//!   column, compared after normalising (lower case, separators removed);
//!   customers' custom fields are named in many languages and styles.
//! * [`ADDRESS_QUALIFIERS`]: words that say which of an account's two
//!   addresses a field belongs to (`billing_city` → `address1_city`).
//! * [`OPTION_SYNONYMS`]: source picklist labels that mean a differently
//!   labelled target option (`Medium` → `Normal`), optionally only for one
//!   target column, because the same word can mean different options on
//!   different columns (`Open` is "In Progress" on a case but
//!   "Unscheduled" on a Field Service work order).
//! * [`ACTIVITY_TYPES`]: the activity tables an activity type can become.
//!
//! Names use `{prefix}` for the publisher prefix, as `tables.json` does.

use crate::workspace::Profile;
use Only::{Any, FieldService as Fs, Sales};

/// Which profiles a row applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Any,
    Sales,
    FieldService,
}

impl Only {
    pub fn applies(self, profile: Profile) -> bool {
        match self {
            Only::Any => true,
            Only::Sales => profile == Profile::Sales,
            Only::FieldService => profile == Profile::FieldService,
        }
    }
}

/// Where an object's records go in one profile.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Target tables, the main one first (activities split by type).
    /// Empty: the object is not loaded as rows at all.
    pub tables: &'static [&'static str],
    /// The built-in transform that builds them.
    pub file: &'static str,
    /// Whether a custom field can become a custom column on these tables.
    /// Notes cannot carry custom columns, users are matched rather than
    /// created, and a folded or N:N object has no row of its own.
    pub custom_columns: bool,
    /// One line for a person: what happens to the object.
    pub how: &'static str,
}

/// One ServiceTracker object and where it goes (SPEC §10).
#[derive(Debug, Clone, Copy)]
pub struct ObjectTarget {
    pub object: &'static str,
    pub sales: Placement,
    pub field_service: Placement,
}

impl ObjectTarget {
    pub fn placement(&self, profile: Profile) -> &Placement {
        match profile {
            Profile::Sales => &self.sales,
            Profile::FieldService => &self.field_service,
        }
    }
}

const fn both(placement: Placement) -> (Placement, Placement) {
    (placement, placement)
}

const fn object(
    object: &'static str,
    (sales, field_service): (Placement, Placement),
) -> ObjectTarget {
    ObjectTarget {
        object,
        sales,
        field_service,
    }
}

const fn place(
    tables: &'static [&'static str],
    file: &'static str,
    custom_columns: bool,
    how: &'static str,
) -> Placement {
    Placement {
        tables,
        file,
        custom_columns,
        how,
    }
}

#[rustfmt::skip]
pub const OBJECTS: &[ObjectTarget] = &[
    object("customers", both(place(&["account"], "V010__account.sql", true, "one account per customer"))),
    object("contacts", both(place(&["contact"], "V020__contact.sql", true, "one contact per contact, linked to the account"))),
    object("sites", both(place(&["customeraddress"], "V030__customeraddress.sql", true, "one extra address (number 3 and up) of the account per site"))),
    object("technicians", (place(&["systemuser"], "V005__users.sql", false, "matched to existing Dataverse users by e-mail, never created: a user has no place for custom fields"), place(&["bookableresource"], "V080__bookings.sql", true, "one bookable resource per technician, linked to the matched user"))),
    object("contracts", both(place(&["contract"], "V050__contract.sql", true, "one contract per contract; the PM routine becomes a note"))),
    object("parts", both(place(&["product"], "V040__product.sql", true, "one product per part, in the unit group ServiceTracker Units"))),
    object("work_orders", (place(&["incident"], "V060__incident.sql", true, "one case per work order"), place(&["msdyn_workorder"], "V060__msdyn_workorder.sql", true, "one Field Service work order per work order"))),
    object("work_order_parts", (place(&["{prefix}_workorderpart"], "V070__workorderpart.sql", true, "one custom work-order line per part used"), place(&["msdyn_workorderproduct"], "V070__msdyn_workorderproduct.sql", true, "one work-order product per part used"))),
    object("dispatches", (place(&["incident"], "V080__dispatches.sql", false, "folded into the case: the latest dispatch's start, end and technician, every dispatch listed in the case note"), place(&["bookableresourcebooking"], "V080__bookings.sql", true, "one booking of the technician's resource per dispatch"))),
    object("attachments", both(place(&["annotation"], "V100__annotation.sql", false, "a document (note with file) on its record; notes cannot carry custom columns"))),
    object("activities", both(place(&["phonecall", "email", "appointment"], "V090__activities.sql", true, "a phone call, e-mail or appointment by type, with its original timestamp"))),
    object("notes", both(place(&["annotation"], "V100__annotation.sql", false, "a note on its record; notes cannot carry custom columns"))),
    object("billing_history", both(place(&["annotation"], "V100__annotation.sql", false, "one note per invoice on the account; notes cannot carry custom columns"))),
    object("equipment", both(place(&["{prefix}_equipment"], "V110__equipment.sql", true, "one row of the custom table per piece of equipment"))),
    object("equipment_sites", both(place(&["{prefix}_equipment_customeraddress"], "V110__equipment.sql", false, "an N:N association between equipment and address; an association has no columns"))),
    object("workflows", both(place(&[], "V120__not_migrated.sql", false, "not migrated: documented in the Power Automate rebuild reference"))),
];

/// The object's placement, if ferry knows the object.
pub fn object_target(object: &str) -> Option<&'static ObjectTarget> {
    OBJECTS.iter().find(|o| o.object == object)
}

/// What a built-in transform does with one standard field.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinMapping {
    pub only: Only,
    pub object: &'static str,
    pub field: &'static str,
    pub table: &'static str,
    /// Empty when the field is handled without a column of its own (folded
    /// into note text, used to match users, deliberately not migrated).
    pub column: &'static str,
    pub file: &'static str,
    /// Translated through `mapping/optionsets.csv` (`map.optionset`): its
    /// values need option proposals.
    pub optionset: bool,
    /// Extra words for a person; empty when the column says it all.
    pub how: &'static str,
}

const fn m(
    only: Only,
    object: &'static str,
    field: &'static str,
    table: &'static str,
    column: &'static str,
    file: &'static str,
    how: &'static str,
) -> BuiltinMapping {
    BuiltinMapping {
        only,
        object,
        field,
        table,
        column,
        file,
        optionset: false,
        how,
    }
}

/// A field translated through `mapping/optionsets.csv`.
const fn o(
    only: Only,
    object: &'static str,
    field: &'static str,
    table: &'static str,
    column: &'static str,
    file: &'static str,
) -> BuiltinMapping {
    BuiltinMapping {
        only,
        object,
        field,
        table,
        column,
        file,
        optionset: true,
        how: "translated through mapping/optionsets.csv",
    }
}

/// Every standard field the built-in transforms decide, by object. `id`,
/// `created_at` and `modified_at` follow one rule for every object (see
/// `propose`) unless listed here.
#[rustfmt::skip]
pub const BUILTIN: &[BuiltinMapping] = &[
    // customers → account (V010)
    m(Any, "customers", "company_name", "account", "name", "V010__account.sql", ""),
    m(Any, "customers", "email", "account", "emailaddress1", "V010__account.sql", ""),
    m(Any, "customers", "phone", "account", "telephone1", "V010__account.sql", ""),
    m(Any, "customers", "website", "account", "websiteurl", "V010__account.sql", ""),
    m(Any, "customers", "billing_street", "account", "address1_line1", "V010__account.sql", ""),
    m(Any, "customers", "billing_city", "account", "address1_city", "V010__account.sql", ""),
    m(Any, "customers", "billing_state", "account", "address1_stateorprovince", "V010__account.sql", ""),
    m(Any, "customers", "billing_postal_code", "account", "address1_postalcode", "V010__account.sql", "text, so leading zeros survive"),
    m(Any, "customers", "billing_country", "account", "address1_country", "V010__account.sql", ""),
    m(Any, "customers", "billing_contact_name", "account", "{prefix}_billingcontactname", "V010__account.sql", "custom column (SPEC §10)"),
    m(Any, "customers", "invoice_method", "account", "{prefix}_invoicemethod", "V010__account.sql", "custom column, kept as text (SPEC §10)"),
    m(Any, "customers", "po_number", "account", "{prefix}_ponumber", "V010__account.sql", "custom column (SPEC §10)"),
    m(Any, "customers", "payment_terms", "account", "{prefix}_paymentterms", "V010__account.sql", "custom column, kept as text (SPEC §10)"),
    m(Any, "customers", "primary_contact_name", "account", "", "V010__account.sql", "kept for the checks only: the primary contact is set through primarycontactid from contacts.is_primary"),
    o(Any, "customers", "status", "account", "statecode", "V010__account.sql"),
    o(Any, "customers", "status", "account", "statuscode", "V010__account.sql"),
    // contacts → contact (V020)
    m(Any, "contacts", "customer_id", "contact", "parentcustomerid", "V020__contact.sql", "the customer's account"),
    m(Any, "contacts", "first_name", "contact", "firstname", "V020__contact.sql", ""),
    m(Any, "contacts", "last_name", "contact", "lastname", "V020__contact.sql", ""),
    m(Any, "contacts", "job_title", "contact", "jobtitle", "V020__contact.sql", ""),
    m(Any, "contacts", "direct_phone", "contact", "telephone1", "V020__contact.sql", ""),
    m(Any, "contacts", "mobile_phone", "contact", "mobilephone", "V020__contact.sql", ""),
    m(Any, "contacts", "email", "contact", "emailaddress1", "V020__contact.sql", ""),
    m(Any, "contacts", "is_primary", "account", "primarycontactid", "V010__account.sql", "the primary contact is marked on the account, in the loader's second pass"),
    // sites → customeraddress (V030)
    m(Any, "sites", "customer_id", "customeraddress", "parentid", "V030__customeraddress.sql", "the customer's account"),
    m(Any, "sites", "site_name", "customeraddress", "name", "V030__customeraddress.sql", ""),
    o(Any, "sites", "site_type", "customeraddress", "addresstypecode", "V030__customeraddress.sql"),
    m(Any, "sites", "street1", "customeraddress", "line1", "V030__customeraddress.sql", ""),
    m(Any, "sites", "street2", "customeraddress", "line2", "V030__customeraddress.sql", ""),
    m(Any, "sites", "city", "customeraddress", "city", "V030__customeraddress.sql", ""),
    m(Any, "sites", "state", "customeraddress", "stateorprovince", "V030__customeraddress.sql", ""),
    m(Any, "sites", "postal_code", "customeraddress", "postalcode", "V030__customeraddress.sql", "text, so leading zeros survive"),
    m(Any, "sites", "country", "customeraddress", "country", "V030__customeraddress.sql", ""),
    m(Any, "sites", "latitude", "customeraddress", "latitude", "V030__customeraddress.sql", ""),
    m(Any, "sites", "longitude", "customeraddress", "longitude", "V030__customeraddress.sql", ""),
    m(Any, "sites", "access_notes", "customeraddress", "{prefix}_accessnotes", "V030__customeraddress.sql", "custom column"),
    // technicians → systemuser (sales, V005) / bookableresource (field-service, V080)
    m(Sales, "technicians", "id", "systemuser", "", "V005__users.sql", "matched to an existing user (map.technician_owner); mapping/users.csv overrides the match"),
    m(Sales, "technicians", "created_at", "systemuser", "", "V005__users.sql", "not migrated: users are not created"),
    m(Sales, "technicians", "first_name", "systemuser", "", "V005__users.sql", "users are matched by e-mail, not created"),
    m(Sales, "technicians", "last_name", "systemuser", "", "V005__users.sql", "users are matched by e-mail, not created"),
    m(Sales, "technicians", "email", "systemuser", "internalemailaddress", "V005__users.sql", "the address a technician is matched to a user by (mapping/users.csv overrides)"),
    m(Sales, "technicians", "phone", "systemuser", "", "V005__users.sql", "not migrated: users are not created"),
    m(Sales, "technicians", "active", "systemuser", "", "V005__users.sql", "records of inactive technicians go to the fallback owner (checks report them)"),
    m(Sales, "technicians", "skills", "systemuser", "", "V005__users.sql", "not migrated in profile sales (users are not created); profile field-service keeps them on the bookable resource"),
    m(Sales, "technicians", "hourly_rate", "systemuser", "", "V005__users.sql", "not migrated in profile sales (users are not created); profile field-service keeps it on the bookable resource"),
    m(Fs, "technicians", "first_name", "bookableresource", "name", "V080__bookings.sql", "with last_name, the resource's name"),
    m(Fs, "technicians", "last_name", "bookableresource", "name", "V080__bookings.sql", "with first_name, the resource's name"),
    m(Fs, "technicians", "email", "bookableresource", "msdyn_primaryemail", "V080__bookings.sql", "also the address the technician's user is matched by"),
    m(Fs, "technicians", "phone", "bookableresource", "", "V080__bookings.sql", "not migrated: the matched user holds the technician's contact details"),
    m(Fs, "technicians", "active", "bookableresource", "", "V080__bookings.sql", "records of inactive technicians go to the fallback owner (checks report them)"),
    m(Fs, "technicians", "skills", "bookableresource", "{prefix}_skills", "V080__bookings.sql", "custom column"),
    m(Fs, "technicians", "hourly_rate", "bookableresource", "msdyn_hourlyrate", "V080__bookings.sql", ""),
    // contracts → contract (V050)
    m(Any, "contracts", "contract_number", "contract", "contractnumber", "V050__contract.sql", ""),
    m(Any, "contracts", "customer_id", "contract", "customerid", "V050__contract.sql", "and billingcustomerid: the customer's account"),
    m(Any, "contracts", "name", "contract", "title", "V050__contract.sql", ""),
    o(Any, "contracts", "billing_terms", "contract", "billingfrequencycode", "V050__contract.sql"),
    m(Any, "contracts", "start_date", "contract", "activeon", "V050__contract.sql", ""),
    m(Any, "contracts", "end_date", "contract", "expireson", "V050__contract.sql", ""),
    m(Any, "contracts", "value", "contract", "{prefix}_contractvalue", "V050__contract.sql", "custom column"),
    m(Any, "contracts", "pm_frequency", "contract", "{prefix}_pmfrequency", "V050__contract.sql", "custom column, kept as text"),
    m(Any, "contracts", "pm_routine", "annotation", "notetext", "V100__annotation.sql", "a note on the contract"),
    o(Any, "contracts", "status", "contract", "statecode", "V050__contract.sql"),
    o(Any, "contracts", "status", "contract", "statuscode", "V050__contract.sql"),
    // parts → product (V040)
    m(Any, "parts", "part_number", "product", "productnumber", "V040__product.sql", ""),
    m(Any, "parts", "name", "product", "name", "V040__product.sql", ""),
    m(Any, "parts", "description", "product", "description", "V040__product.sql", ""),
    m(Any, "parts", "unit_price", "product", "price", "V040__product.sql", ""),
    m(Any, "parts", "unit_of_measure", "product", "defaultuomid", "V040__product.sql", "one unit per unit of measure, in the unit group ServiceTracker Units"),
    o(Any, "parts", "unit_of_measure", "product", "quantitydecimal", "V040__product.sql"),
    o(Any, "parts", "unit_of_measure", "product", "producttypecode", "V040__product.sql"),
    m(Any, "parts", "quantity_on_hand", "product", "quantityonhand", "V040__product.sql", ""),
    m(Any, "parts", "inventory_location", "product", "{prefix}_inventorylocation", "V040__product.sql", "custom column (SPEC §10)"),
    m(Any, "parts", "active", "product", "statecode", "V040__product.sql", "and statuscode: Active or Retired, fixed in the SQL"),
    // work_orders → incident (sales, V060)
    m(Sales, "work_orders", "number", "incident", "ticketnumber", "V060__incident.sql", ""),
    m(Sales, "work_orders", "customer_id", "incident", "customerid", "V060__incident.sql", "the customer's account"),
    m(Sales, "work_orders", "site_id", "incident", "{prefix}_siteid", "V060__incident.sql", "custom column"),
    m(Sales, "work_orders", "contract_id", "incident", "contractid", "V060__incident.sql", ""),
    o(Sales, "work_orders", "status", "incident", "statecode", "V060__incident.sql"),
    o(Sales, "work_orders", "status", "incident", "statuscode", "V060__incident.sql"),
    o(Sales, "work_orders", "priority", "incident", "prioritycode", "V060__incident.sql"),
    o(Sales, "work_orders", "type", "incident", "casetypecode", "V060__incident.sql"),
    m(Sales, "work_orders", "type", "incident", "{prefix}_workordertype", "V060__incident.sql", "also kept as text in a custom column"),
    m(Sales, "work_orders", "summary", "incident", "title", "V060__incident.sql", ""),
    m(Sales, "work_orders", "description", "incident", "description", "V060__incident.sql", ""),
    m(Sales, "work_orders", "reported_by_contact_id", "incident", "primarycontactid", "V060__incident.sql", ""),
    m(Sales, "work_orders", "assigned_technician_id", "incident", "", "V060__incident.sql", "the owner: the technician's user, else the latest dispatch's"),
    m(Sales, "work_orders", "completed_at", "incident", "", "V060__incident.sql", "the resolution date: the loader resolves the case through CloseIncident"),
    m(Sales, "work_orders", "sync_status", "incident", "", "V060__incident.sql", "not migrated: extraction refuses records pending sync"),
    // work_orders → msdyn_workorder (field-service, V060)
    m(Fs, "work_orders", "number", "msdyn_workorder", "msdyn_name", "V060__msdyn_workorder.sql", ""),
    m(Fs, "work_orders", "customer_id", "msdyn_workorder", "msdyn_serviceaccount", "V060__msdyn_workorder.sql", "the customer's account"),
    m(Fs, "work_orders", "site_id", "msdyn_workorder", "{prefix}_siteid", "V060__msdyn_workorder.sql", "custom column; the site's address is copied onto the work order"),
    m(Fs, "work_orders", "contract_id", "msdyn_workorder", "{prefix}_contractid", "V060__msdyn_workorder.sql", "custom lookup"),
    o(Fs, "work_orders", "status", "msdyn_workorder", "msdyn_systemstatus", "V060__msdyn_workorder.sql"),
    m(Fs, "work_orders", "priority", "msdyn_workorder", "{prefix}_priority", "V060__msdyn_workorder.sql", "kept as text: msdyn_priority is a lookup to the org's priorities"),
    m(Fs, "work_orders", "type", "msdyn_workorder", "{prefix}_workordertype", "V060__msdyn_workorder.sql", "kept as text: msdyn_workordertype is a lookup to the org's types"),
    m(Fs, "work_orders", "summary", "msdyn_workorder", "msdyn_workordersummary", "V060__msdyn_workorder.sql", ""),
    m(Fs, "work_orders", "description", "msdyn_workorder", "msdyn_instructions", "V060__msdyn_workorder.sql", ""),
    m(Fs, "work_orders", "reported_by_contact_id", "msdyn_workorder", "msdyn_reportedbycontact", "V060__msdyn_workorder.sql", ""),
    m(Fs, "work_orders", "assigned_technician_id", "msdyn_workorder", "", "V060__msdyn_workorder.sql", "the owner: the technician's user, else the latest dispatch's"),
    m(Fs, "work_orders", "completed_at", "msdyn_workorder", "msdyn_completedon", "V060__msdyn_workorder.sql", ""),
    m(Fs, "work_orders", "sync_status", "msdyn_workorder", "", "V060__msdyn_workorder.sql", "not migrated: extraction refuses records pending sync"),
    // work_order_parts (V070)
    m(Sales, "work_order_parts", "work_order_id", "{prefix}_workorderpart", "{prefix}_incidentid", "V070__workorderpart.sql", "the work order's case"),
    m(Sales, "work_order_parts", "part_id", "{prefix}_workorderpart", "{prefix}_productid", "V070__workorderpart.sql", ""),
    m(Sales, "work_order_parts", "quantity", "{prefix}_workorderpart", "{prefix}_quantity", "V070__workorderpart.sql", ""),
    m(Sales, "work_order_parts", "unit_price", "{prefix}_workorderpart", "{prefix}_unitprice", "V070__workorderpart.sql", ""),
    m(Fs, "work_order_parts", "work_order_id", "msdyn_workorderproduct", "msdyn_workorder", "V070__msdyn_workorderproduct.sql", ""),
    m(Fs, "work_order_parts", "part_id", "msdyn_workorderproduct", "msdyn_product", "V070__msdyn_workorderproduct.sql", ""),
    m(Fs, "work_order_parts", "quantity", "msdyn_workorderproduct", "msdyn_quantity", "V070__msdyn_workorderproduct.sql", "and msdyn_qtytobill"),
    m(Fs, "work_order_parts", "unit_price", "msdyn_workorderproduct", "msdyn_unitamount", "V070__msdyn_workorderproduct.sql", ""),
    // dispatches: folded into the case (sales, V080) / bookings (field-service, V080)
    m(Sales, "dispatches", "id", "incident", "", "V080__dispatches.sql", "folded: map.folded records the case each dispatch went into"),
    m(Sales, "dispatches", "created_at", "incident", "", "V080__dispatches.sql", "not migrated: the dispatch is folded into its case"),
    m(Sales, "dispatches", "work_order_id", "incident", "", "V080__dispatches.sql", "folded into its case"),
    m(Sales, "dispatches", "technician_id", "incident", "", "V060__incident.sql", "the latest dispatch's technician owns the case when none is assigned"),
    m(Sales, "dispatches", "scheduled_start", "incident", "{prefix}_scheduledstart", "V060__incident.sql", "the latest dispatch's; every dispatch is listed in the case note"),
    m(Sales, "dispatches", "scheduled_end", "incident", "{prefix}_scheduledend", "V060__incident.sql", "the latest dispatch's; every dispatch is listed in the case note"),
    m(Sales, "dispatches", "route_sequence", "annotation", "notetext", "V100__annotation.sql", "listed in the case note of dispatches"),
    m(Sales, "dispatches", "dispatch_status", "annotation", "notetext", "V100__annotation.sql", "listed in the case note of dispatches"),
    m(Fs, "dispatches", "work_order_id", "bookableresourcebooking", "msdyn_workorder", "V080__bookings.sql", ""),
    m(Fs, "dispatches", "technician_id", "bookableresourcebooking", "resource", "V080__bookings.sql", "the technician's bookable resource"),
    m(Fs, "dispatches", "scheduled_start", "bookableresourcebooking", "starttime", "V080__bookings.sql", ""),
    m(Fs, "dispatches", "scheduled_end", "bookableresourcebooking", "endtime", "V080__bookings.sql", "and the duration"),
    m(Fs, "dispatches", "route_sequence", "bookableresourcebooking", "", "V080__bookings.sql", "not migrated: a booking has no route position"),
    m(Fs, "dispatches", "dispatch_status", "bookableresourcebooking", "", "V080__bookings.sql", "the booking status, resolved by name by the loader"),
    // attachments, notes, billing history → annotation (V100)
    m(Any, "attachments", "parent_type", "annotation", "objectid", "V100__annotation.sql", "with parent_id, the record the document belongs to"),
    m(Any, "attachments", "parent_id", "annotation", "objectid", "V100__annotation.sql", ""),
    m(Any, "attachments", "file_name", "annotation", "filename", "V100__annotation.sql", "path characters replaced; also the subject"),
    m(Any, "attachments", "content_type", "annotation", "mimetype", "V100__annotation.sql", ""),
    m(Any, "attachments", "size_bytes", "annotation", "filesize", "V100__annotation.sql", "checked against the org's upload limit"),
    m(Any, "attachments", "sha256", "annotation", "", "V100__annotation.sql", "kept for the loader to verify the file's bytes"),
    m(Any, "notes", "parent_type", "annotation", "objectid", "V100__annotation.sql", "with parent_id, the record the note belongs to"),
    m(Any, "notes", "parent_id", "annotation", "objectid", "V100__annotation.sql", ""),
    m(Any, "notes", "body", "annotation", "notetext", "V100__annotation.sql", ""),
    m(Any, "notes", "author_technician_id", "annotation", "", "V100__annotation.sql", "the owner (the technician's user) and the subject"),
    m(Any, "billing_history", "customer_id", "annotation", "objectid", "V100__annotation.sql", "the customer's account"),
    m(Any, "billing_history", "invoice_number", "annotation", "notetext", "V100__annotation.sql", "written into the note (and its subject)"),
    m(Any, "billing_history", "invoice_date", "annotation", "notetext", "V100__annotation.sql", "written into the note"),
    m(Any, "billing_history", "amount", "annotation", "notetext", "V100__annotation.sql", "written into the note"),
    m(Any, "billing_history", "status", "annotation", "notetext", "V100__annotation.sql", "written into the note"),
    // activities → phonecall / email / appointment (V090)
    o(Any, "activities", "type", "phonecall", "activitytypecode", "V090__activities.sql"),
    o(Any, "activities", "type", "email", "activitytypecode", "V090__activities.sql"),
    o(Any, "activities", "type", "appointment", "activitytypecode", "V090__activities.sql"),
    m(Any, "activities", "subject", "phonecall", "subject", "V090__activities.sql", "on every activity table"),
    m(Any, "activities", "body", "phonecall", "description", "V090__activities.sql", "on every activity table"),
    o(Any, "activities", "direction", "phonecall", "directioncode", "V090__activities.sql"),
    o(Any, "activities", "direction", "email", "directioncode", "V090__activities.sql"),
    o(Any, "activities", "direction", "phonecall", "statuscode", "V090__activities.sql"),
    o(Any, "activities", "direction", "email", "statuscode", "V090__activities.sql"),
    m(Any, "activities", "customer_id", "phonecall", "regardingobjectid", "V090__activities.sql", "the account, when there is no work order"),
    m(Any, "activities", "contact_id", "activityparty", "partyid", "V090__activities.sql", "the contact takes part: sender, recipient or attendee"),
    m(Any, "activities", "work_order_id", "phonecall", "regardingobjectid", "V090__activities.sql", "the work order the activity is about"),
    m(Any, "activities", "technician_id", "activityparty", "", "V090__activities.sql", "the technician's user takes part and owns the activity"),
    m(Any, "activities", "occurred_at", "phonecall", "overriddencreatedon", "V090__activities.sql", "and actualstart: the original timestamp"),
    m(Any, "activities", "duration_minutes", "phonecall", "actualdurationminutes", "V090__activities.sql", "and the end time"),
    m(Any, "activities", "created_at", "phonecall", "", "V090__activities.sql", "not migrated: the activity keeps occurred_at as its creation time"),
    // equipment → {prefix}_equipment, equipment_sites → N:N (V110)
    m(Any, "equipment", "serial_number", "{prefix}_equipment", "{prefix}_serialnumber", "V110__equipment.sql", "also the primary name"),
    m(Any, "equipment", "model", "{prefix}_equipment", "{prefix}_model", "V110__equipment.sql", ""),
    m(Any, "equipment", "manufacturer", "{prefix}_equipment", "{prefix}_manufacturer", "V110__equipment.sql", ""),
    m(Any, "equipment", "install_date", "{prefix}_equipment", "{prefix}_installdate", "V110__equipment.sql", "date only"),
    m(Any, "equipment", "warranty_end", "{prefix}_equipment", "{prefix}_warrantyend", "V110__equipment.sql", "date only"),
    m(Any, "equipment", "customer_id", "{prefix}_equipment", "{prefix}_accountid", "V110__equipment.sql", "the customer's account"),
    m(Any, "equipment_sites", "equipment_id", "{prefix}_equipment_customeraddress", "{prefix}_equipmentid", "V110__equipment.sql", "one end of the association"),
    m(Any, "equipment_sites", "created_at", "{prefix}_equipment_customeraddress", "", "V110__equipment.sql", "not migrated: an association has no creation time"),
    m(Any, "equipment_sites", "site_id", "{prefix}_equipment_customeraddress", "customeraddressid", "V110__equipment.sql", "the other end of the association"),
];

/// Words that place a field in one of an account's or contact's two
/// addresses: `(word, address number)`.
#[rustfmt::skip]
pub const ADDRESS_QUALIFIERS: &[(&str, u8)] = &[
    ("billing", 1),
    ("bill", 1),
    ("invoice", 1),
    ("mailing", 1),
    ("main", 1),
    ("primary", 1),
    ("rechnung", 1),
    ("shipping", 2),
    ("ship", 2),
    ("delivery", 2),
    ("secondary", 2),
    ("lieferung", 2),
];

/// Normalised source names for a target column, keyed by the column's stem:
/// its name without `address1_`/`address2_`, `msdyn_` or the publisher
/// prefix, underscores removed. A source name is normalised the same way
/// (lower case, `cf_` and separators removed), so `Postal-Code`, `postal_code`
/// and `postalCode` all read `postalcode`.
#[rustfmt::skip]
pub const COLUMN_SYNONYMS: &[(&str, &[&str])] = &[
    ("postalcode", &["zip", "zipcode", "postcode", "postal", "postalcode", "plz", "postleitzahl", "codepostal", "cap"]),
    ("stateorprovince", &["state", "province", "region", "stateprovince", "bundesland", "provincia"]),
    ("city", &["city", "town", "ort", "stadt", "locality", "municipality", "ville", "ciudad"]),
    ("country", &["country", "countrycode", "land", "nation", "pais", "pays"]),
    ("county", &["county", "district", "landkreis"]),
    ("line1", &["street", "street1", "streetaddress", "address", "addressline1", "address1", "strasse", "adresse", "line1"]),
    ("line2", &["street2", "addressline2", "address2", "suite", "line2"]),
    ("line3", &["street3", "addressline3", "address3", "line3"]),
    ("telephone1", &["phone", "telephone", "tel", "phonenumber", "directphone", "officephone", "workphone", "businessphone", "mainphone", "telefon", "telefono", "landline"]),
    ("mobilephone", &["mobile", "mobilephone", "mobilenumber", "cell", "cellphone", "cellular", "handy", "mobil", "mobiltelefon", "gsm"]),
    ("fax", &["fax", "faxnumber", "telefax"]),
    ("emailaddress1", &["email", "emailaddress", "mail", "emailaddr", "courriel", "emailadresse"]),
    ("internalemailaddress", &["email", "emailaddress", "mail"]),
    ("primaryemail", &["email", "emailaddress", "mail"]),
    ("websiteurl", &["website", "web", "url", "homepage", "www", "webaddress", "webseite", "websiteurl"]),
    ("name", &["companyname", "company", "accountname", "organisation", "organization", "orgname", "businessname", "firma", "firmenname", "sitename", "productname", "partname", "name"]),
    ("primarycontactname", &["primarycontactname", "contactname", "contact", "attention", "ansprechpartner"]),
    ("jobtitle", &["jobtitle", "title", "position", "role", "funktion", "jobrole", "designation"]),
    ("firstname", &["firstname", "givenname", "forename", "vorname", "first", "fname"]),
    ("lastname", &["lastname", "surname", "familyname", "nachname", "last", "lname"]),
    ("fullname", &["fullname", "contactname", "displayname"]),
    ("latitude", &["lat", "latitude", "breitengrad", "breite"]),
    ("longitude", &["lng", "lon", "long", "longitude", "laengengrad", "laenge"]),
    ("description", &["description", "details", "desc", "beschreibung", "longdescription", "notes", "comments", "remarks", "body"]),
    ("instructions", &["instructions", "instruction", "workinstructions", "description"]),
    ("title", &["summary", "title", "headline", "betreff", "shortdescription", "casetitle", "subject", "name"]),
    ("subject", &["subject", "title", "topic", "betreff"]),
    ("ticketnumber", &["number", "ticketnumber", "casenumber", "workordernumber", "wonumber", "ticketno", "ticket", "ordernumber"]),
    ("workordersummary", &["summary", "workordersummary", "title"]),
    ("productnumber", &["partnumber", "partno", "sku", "itemnumber", "itemno", "productnumber", "productcode", "articlenumber", "artikelnummer"]),
    ("price", &["unitprice", "price", "listprice", "preis", "salesprice"]),
    ("quantityonhand", &["quantityonhand", "qtyonhand", "onhand", "stock", "stocklevel", "instock", "bestand"]),
    ("contractnumber", &["contractnumber", "contractno", "agreementnumber", "vertragsnummer"]),
    ("activeon", &["startdate", "start", "activeon", "effectivedate", "effectivefrom", "begindate", "validfrom"]),
    ("expireson", &["enddate", "end", "expireson", "expirydate", "expirationdate", "validto", "validuntil"]),
    ("overriddencreatedon", &["createdat", "createdon", "created", "createdate", "creationdate", "erstelltam"]),
    ("actualdurationminutes", &["durationminutes", "duration", "minutes", "durationmin", "dauer"]),
    ("scheduledstart", &["scheduledstart", "plannedstart", "appointmentstart"]),
    ("scheduledend", &["scheduledend", "plannedend", "appointmentend"]),
    ("actualstart", &["occurredat", "startedat", "actualstart"]),
    ("filename", &["filename", "file", "dateiname", "attachmentname"]),
    ("mimetype", &["contenttype", "mimetype", "filetype", "mediatype"]),
    ("notetext", &["body", "note", "notetext", "text", "comment"]),
    ("completedon", &["completedat", "completedon", "completiondate", "finishedat", "closedat"]),
    ("serialnumber", &["serialnumber", "serialno", "serial", "sn", "seriennummer"]),
    ("model", &["model", "modelnumber", "modell"]),
    ("manufacturer", &["manufacturer", "make", "brand", "vendor", "hersteller"]),
    ("installdate", &["installdate", "installedon", "installationdate", "installedat"]),
    ("warrantyend", &["warrantyend", "warrantyexpires", "warrantyexpiry", "warrantyuntil", "garantiebis"]),
    ("hourlyrate", &["hourlyrate", "rate", "stundensatz"]),
    ("quantity", &["quantity", "qty", "menge"]),
    ("unitprice", &["unitprice", "price", "preis"]),
    ("unitamount", &["unitprice", "price", "unitamount"]),
    ("inventorylocation", &["inventorylocation", "location", "bin", "warehouse", "lagerort"]),
    ("accessnotes", &["accessnotes", "accessinstructions", "gatenotes", "zugang"]),
    ("skills", &["skills", "skill", "qualifications"]),
    ("contractvalue", &["value", "contractvalue", "totalvalue", "vertragswert"]),
    ("pmfrequency", &["pmfrequency", "frequency", "interval"]),
    ("paymentterms", &["paymentterms", "terms", "zahlungsbedingungen", "netterms"]),
    ("invoicemethod", &["invoicemethod", "billingmethod", "invoicedelivery"]),
    ("ponumber", &["ponumber", "purchaseorder", "purchaseordernumber", "po", "bestellnummer"]),
    ("billingcontactname", &["billingcontactname", "billingcontact", "apcontact"]),
    ("workordertype", &["type", "workordertype", "ordertype"]),
    ("location", &["location", "place", "venue"]),
    ("phonenumber", &["phone", "phonenumber", "telephone"]),
    ("directioncode", &["direction", "richtung"]),
    ("prioritycode", &["priority", "prio", "urgency"]),
    ("casetypecode", &["type", "casetype", "category", "kind"]),
    ("caseorigincode", &["origin", "source", "channel", "caseorigin"]),
    ("addresstypecode", &["sitetype", "addresstype", "type"]),
    ("billingfrequencycode", &["billingterms", "billingfrequency", "billingcycle", "invoicefrequency"]),
    ("statuscode", &["status", "stage"]),
    ("producttypecode", &["producttype", "itemtype"]),
];

/// `(scope, source label, target label)`: a source value that means a target
/// option of another name. `scope` is `table.column`, or `*` for any
/// column. Compared after normalising both labels like field names.
#[rustfmt::skip]
pub const OPTION_SYNONYMS: &[(&str, &str, &str)] = &[
    // priorities
    ("*", "medium", "normal"),
    ("*", "mid", "normal"),
    ("*", "urgent", "high"),
    ("*", "asap", "high"),
    // case status (incident.statuscode; statecode follows the status)
    ("incident.statuscode", "open", "in progress"),
    ("incident.statuscode", "new", "in progress"),
    ("incident.statuscode", "closed complete", "problem solved"),
    ("incident.statuscode", "closed", "problem solved"),
    ("incident.statuscode", "complete", "problem solved"),
    ("incident.statuscode", "completed", "problem solved"),
    ("incident.statuscode", "resolved", "problem solved"),
    ("incident.statuscode", "waiting parts", "on hold"),
    ("incident.statuscode", "awaiting parts", "on hold"),
    ("incident.statuscode", "paused", "on hold"),
    // Field Service system status
    ("msdyn_workorder.msdyn_systemstatus", "open", "unscheduled"),
    ("msdyn_workorder.msdyn_systemstatus", "new", "unscheduled"),
    ("msdyn_workorder.msdyn_systemstatus", "on hold", "in progress"),
    ("msdyn_workorder.msdyn_systemstatus", "closed complete", "posted"),
    ("msdyn_workorder.msdyn_systemstatus", "closed", "posted"),
    ("msdyn_workorder.msdyn_systemstatus", "cancelled", "canceled"),
    // case type
    ("incident.casetypecode", "repair", "problem"),
    ("incident.casetypecode", "fault", "problem"),
    ("incident.casetypecode", "installation", "request"),
    ("incident.casetypecode", "maintenance", "request"),
    ("incident.casetypecode", "inspection", "request"),
    ("incident.casetypecode", "service", "request"),
    // address types
    ("*", "billing", "bill to"),
    ("*", "invoice", "bill to"),
    ("*", "shipping", "ship to"),
    ("*", "delivery", "ship to"),
    ("customeraddress.addresstypecode", "service", "other"),
    // billing frequency
    ("*", "yearly", "annually"),
    ("*", "annual", "annually"),
    ("*", "semi annually", "semiannually"),
    ("*", "every two months", "bimonthly"),
    // activities
    ("*", "inbound", "incoming"),
    ("*", "outbound", "outgoing"),
    ("phonecall.statuscode", "inbound", "received"),
    ("phonecall.statuscode", "outbound", "made"),
    ("email.statuscode", "inbound", "received"),
    ("email.statuscode", "outbound", "sent"),
    ("*", "call", "phone call"),
    ("*", "meeting", "appointment"),
    ("*", "visit", "appointment"),
    // product types
    ("product.producttypecode", "each", "sales inventory"),
    ("product.producttypecode", "box", "sales inventory"),
    ("product.producttypecode", "foot", "sales inventory"),
    ("product.producttypecode", "gallon", "sales inventory"),
    ("product.producttypecode", "hour", "services"),
    // yes/no
    ("*", "true", "yes"),
    ("*", "false", "no"),
];

/// The activity tables an activity type can become, as the
/// `activitytypecode` of each (Dataverse's object type codes).
#[rustfmt::skip]
pub const ACTIVITY_TYPES: &[(&str, i32, &str)] = &[
    ("phonecall", 4210, "Phone Call"),
    ("email", 4202, "Email"),
    ("appointment", 4201, "Appointment"),
];

/// Words of a field name that say a number is money rather than a plain
/// decimal (compared word by word: `unit_price`, `credit_limit`).
#[rustfmt::skip]
pub const MONEY_WORDS: &[&str] = &[
    "price", "cost", "amount", "fee", "fees", "revenue", "salary", "credit", "budget", "value",
    "preis", "betrag", "kosten",
];
