//! The emulator's records: what exists in the org and how Dataverse
//! validates a write before it lands.
//!
//! A migration's loader is only as good as the target it was tested
//! against, so every rule here is one the real platform enforces (each
//! with the Microsoft page it follows) and every refusal carries
//! Dataverse's code and wording: a loader that passes here fails there for
//! data reasons, not protocol ones. Rules the platform leaves to forms
//! (ApplicationRequired columns) are deliberately *not* enforced.
//!
//! Shape, and why:
//! - Rows are compact (`Vec<(ColId, Cell)>`, GUID-keyed `BTreeMap` per
//!   table) because a realistic test org holds a million records and the
//!   wire form (`serde_json::Map` with `String` keys) is ten times larger.
//!   The wire form is built on the way out.
//! - Every write runs in a transaction with an undo log rather than a
//!   snapshot, so a 1,000-record `CreateMultiple` costs what it writes, not
//!   what the store holds. Transactions nest: a `$batch` changeset wraps
//!   requests that are each atomic on their own.
//! - Validation borrows the store immutably and yields a finished record;
//!   only then is anything written. A failed write leaves nothing behind.
//! - Lookups are indexed backwards (target → referrers) so a delete finds
//!   what points at it without scanning the org.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::schema::{
    AlternateKey, Column, ColumnType, ManyToMany, Ownership, RequiredLevel, Schema, Table,
};

use super::error::{self, DvError};

/// The org's `maxuploadfilesize` when nobody changed it: 5 MB ("File size
/// limits", powerapps-docs developer/data-platform/files-images-overview).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 5_242_880;
/// The largest `maxuploadfilesize` an org accepts (128 MB, same page).
pub const MAX_UPLOAD_BYTES_CEILING: u64 = 131_072_000;
/// The application user that client-credentials callers act as. Fixed so
/// tests, the operations log and saved state agree across runs.
pub const APPLICATION_USER_ID: Uuid = Uuid::from_u128(0x5eed0001_0000_4000_8000_000000000001);
/// Where the seeded users' mailboxes live; `.example` cannot collide with a
/// real tenant.
pub const USER_DOMAIN: &str = "contoso-emulator.example";

/// Namespace of the seeded records' v5 GUIDs, so the same org comes up with
/// the same ids every time.
const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x8c1f_62d0_3b0e_4f7e_9d55_7a1e_0f00_d5ee);
const API_PREFIX: &str = "/api/data/v9.2/";
/// First line of a state file, so a file from something else is refused.
const STATE_FORMAT: &str = "ferry-dataverse-store";
const STATE_VERSION: u32 = 1;

fn seed_id(name: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, name.as_bytes())
}

/// A user the org starts with (SPEC §9: users are not created by a
/// migration; technicians are matched to existing ones by email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub disabled: bool,
}

/// What the org is like before anything is loaded.
#[derive(Debug, Clone)]
pub struct OrgSettings {
    /// `organization.maxuploadfilesize`: the largest note attachment, as
    /// base64 text.
    pub max_upload_bytes: u64,
    /// The first one is the application user client-credentials callers
    /// act as.
    pub users: Vec<SeedUser>,
}

impl OrgSettings {
    /// The user a client-credentials token speaks for.
    pub fn application_user(&self) -> Uuid {
        self.users.first().map_or(APPLICATION_USER_ID, |u| u.id)
    }
}

impl Default for OrgSettings {
    /// The application user, six enabled people and two disabled ones, so
    /// owner matching meets both outcomes.
    fn default() -> Self {
        let person = |first: &str, last: &str, disabled: bool| {
            let email = format!(
                "{}.{}@{USER_DOMAIN}",
                first.to_lowercase(),
                last.to_lowercase()
            );
            SeedUser {
                id: seed_id(&format!("systemuser:{email}")),
                email,
                name: format!("{first} {last}"),
                disabled,
            }
        };
        OrgSettings {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            users: vec![
                SeedUser {
                    id: APPLICATION_USER_ID,
                    email: format!("ferry-migration@{USER_DOMAIN}"),
                    // Application users are named "# <app>" in Dataverse.
                    name: "# ferry migration".to_string(),
                    disabled: false,
                },
                person("Avery", "Lindqvist", false),
                person("Jordan", "Okafor", false),
                person("Priya", "Raman", false),
                person("Mateo", "Alvarez", false),
                person("Hannah", "Becker", false),
                person("Samuel", "Osei", false),
                person("Grace", "Whitfield", true),
                person("Tomasz", "Nowak", true),
            ],
        }
    }
}

/// What sits between the parentheses of `accounts(…)`.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKey {
    Id(Uuid),
    /// Column (logical name, or `_x_value` for a lookup) and value pairs of
    /// an alternate key, in the order written.
    Alternate(Vec<(String, Value)>),
}

/// How a `PATCH` (or a bulk target) may treat a missing or present record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create with this key; refused if the record exists.
    Create,
    /// Update, or create when missing: what a bare `PATCH` does.
    Upsert,
    /// `If-Match: *`: update only; 404 when missing.
    UpdateOnly,
    /// `If-None-Match: *`: create only; 412 when present.
    CreateOnly,
}

/// The record a write landed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub id: Uuid,
    pub created: bool,
}

type TableId = u16;
type ColId = u16;

/// One stored value. Absent means null: a write of `null` removes the cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Bool(bool),
    Int(i64),
    Num(f64),
    /// Text of up to [`SHORT_TEXT`] bytes, held inline: most values of a
    /// CRM record (names, phones, codes, cities) fit, and a heap string
    /// would cost more than the value.
    Short {
        len: u8,
        bytes: [u8; SHORT_TEXT],
    },
    Text(Box<str>),
    /// Seconds since the Unix epoch, UTC (UserLocal and TimeZoneIndependent).
    Time(i64),
    /// Days from 0001-01-01 (DateOnly behaviour).
    Date(i32),
    /// A lookup: the target's table and id.
    Ref(TableId, Uuid),
}

/// The longest text a [`Cell`] holds without a heap allocation: what fits
/// beside the tag and length in the cell's 24 bytes.
const SHORT_TEXT: usize = 22;

impl Cell {
    /// Text, inline when short. Always built this way, so equal texts are
    /// equal cells.
    fn text(s: &str) -> Cell {
        if s.len() <= SHORT_TEXT {
            let mut bytes = [0u8; SHORT_TEXT];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Cell::Short {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Cell::Text(s.into())
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Short { len, bytes } => {
                Some(std::str::from_utf8(&bytes[..*len as usize]).expect("built from a str"))
            }
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    /// Sorted by column id.
    cells: Vec<(ColId, Cell)>,
    created: i64,
    modified: i64,
    version: u64,
}

impl Record {
    fn new(now: i64) -> Record {
        Record {
            cells: Vec::new(),
            created: now,
            modified: now,
            version: 0,
        }
    }

    fn get(&self, col: ColId) -> Option<&Cell> {
        self.cells
            .binary_search_by_key(&col, |(c, _)| *c)
            .ok()
            .map(|i| &self.cells[i].1)
    }

    fn set(&mut self, col: ColId, cell: Option<Cell>) {
        match (self.cells.binary_search_by_key(&col, |(c, _)| *c), cell) {
            (Ok(i), Some(cell)) => self.cells[i].1 = cell,
            (Ok(i), None) => {
                self.cells.remove(i);
            }
            (Err(i), Some(cell)) => self.cells.insert(i, (col, cell)),
            (Err(_), None) => {}
        }
    }
}

/// A value as an alternate-key index holds it. Text is lower-cased: keys
/// are unique under the org's case-insensitive SQL collation, so "A1" and
/// "a1" collide in Dataverse too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    Text(Box<str>),
    Int(i64),
    Num(u64),
    Bool(bool),
    Time(i64),
    Date(i32),
    Id(Uuid),
}

impl KeyPart {
    fn of(cell: &Cell) -> KeyPart {
        match cell {
            Cell::Short { .. } | Cell::Text(_) => {
                KeyPart::Text(cell.as_text().unwrap_or_default().to_lowercase().into())
            }
            Cell::Int(i) => KeyPart::Int(*i),
            // -0.0 and 0.0 are the same key.
            Cell::Num(n) => KeyPart::Num((n + 0.0).to_bits()),
            Cell::Bool(b) => KeyPart::Bool(*b),
            Cell::Time(t) => KeyPart::Time(*t),
            Cell::Date(d) => KeyPart::Date(*d),
            Cell::Ref(_, id) => KeyPart::Id(*id),
        }
    }
}

#[derive(Debug)]
struct KeyIndex {
    key: AlternateKey,
    cols: Vec<ColId>,
    ids: HashMap<Box<[KeyPart]>, Uuid>,
}

impl KeyIndex {
    /// A record is indexed only when every key column has a value.
    fn parts(&self, record: &Record) -> Option<Box<[KeyPart]>> {
        self.cols
            .iter()
            .map(|c| record.get(*c).map(KeyPart::of))
            .collect()
    }
}

/// One table's records. Column ids are the store's own (not schema
/// positions), so a schema replaced at run time cannot scramble rows.
#[derive(Debug, Default)]
struct TableData {
    cols: Vec<Box<str>>,
    col_ids: HashMap<Box<str>, ColId>,
    records: BTreeMap<Uuid, Record>,
    keys: Vec<KeyIndex>,
}

impl TableData {
    fn col(&self, name: &str) -> Option<ColId> {
        self.col_ids.get(name).copied()
    }

    fn intern(&mut self, name: &str) -> ColId {
        if let Some(c) = self.col(name) {
            return c;
        }
        let c = ColId::try_from(self.cols.len()).expect("fewer than 65,536 columns a table");
        self.cols.push(name.into());
        self.col_ids.insert(name.into(), c);
        c
    }
}

/// An N:N relationship's pairs, both ways round so either side's links are
/// a range scan. Pairs are (table1 id, table2 id) of the relationship.
#[derive(Debug, Default, Clone)]
struct Links {
    forward: BTreeSet<(Uuid, Uuid)>,
    backward: BTreeSet<(Uuid, Uuid)>,
}

enum Undo {
    Put {
        table: TableId,
        id: Uuid,
        old: Option<Record>,
    },
    Link {
        relationship: String,
        pair: (Uuid, Uuid),
        added: bool,
    },
}

/// Whether a request body creates or updates: decides which columns may be
/// set (`IsValidForCreate` / `IsValidForUpdate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

/// A body taken apart and checked column by column.
#[derive(Default)]
struct Parsed {
    cells: Vec<(ColId, Option<Cell>)>,
    /// The primary id column, if the body carried it.
    id: Option<Uuid>,
    /// `<activity>_activity_parties`, to create with the activity.
    parties: Option<Vec<Map<String, Value>>>,
    overridden_created: Option<i64>,
}

/// A validated write, ready to commit.
struct Plan {
    table: TableId,
    id: Uuid,
    record: Record,
    parties: Vec<Plan>,
    /// An update that carried a party list replaces the old one.
    replace_parties: bool,
}

/// The org's records. See the module note for why it is shaped this way.
pub struct Store {
    schema: Schema,
    org: OrgSettings,
    /// Tables the org has but the migration schema does not describe
    /// (organization, businessunit, transactioncurrency, contracttemplate):
    /// enough of them to seed and to resolve lookups and binds.
    internal: BTreeMap<String, Table>,
    names: Vec<String>,
    name_ids: HashMap<String, TableId>,
    /// Tables whose records cannot be deleted, so lookups to them need no
    /// back-reference (every record points at its owner).
    protected: Vec<bool>,
    data: Vec<TableData>,
    links: BTreeMap<String, Links>,
    /// (target id, referring table, referring id) for lookups to tables
    /// whose records can be deleted.
    refs: BTreeSet<(Uuid, TableId, Uuid)>,
    version: u64,
    undo: Vec<Undo>,
    depth: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: BTreeMap<&str, usize> = self
            .names
            .iter()
            .zip(&self.data)
            .map(|(n, d)| (n.as_str(), d.records.len()))
            .collect();
        f.debug_struct("Store").field("records", &counts).finish()
    }
}

/// Records a Dataverse org cannot delete (users are disabled, not deleted;
/// the base currency, root business unit and organization are fixed).
const PROTECTED_TABLES: [&str; 4] = [
    "systemuser",
    "organization",
    "businessunit",
    "transactioncurrency",
];

fn internal_column(name: &str, column_type: ColumnType) -> Column {
    Column {
        name: name.to_string(),
        column_type,
        max_length: None,
        required_level: RequiredLevel::None,
        targets: Vec::new(),
        options: Vec::new(),
        format: None,
        behavior: None,
        min: None,
        max: None,
        precision: None,
        valid_for_create: Some(true),
        valid_for_update: Some(true),
        custom: false,
    }
}

fn internal_table(name: &str, set: &str, primary_name: &str, columns: Vec<Column>) -> Table {
    let mut all = vec![Column {
        valid_for_update: Some(false),
        required_level: RequiredLevel::SystemRequired,
        ..internal_column(&format!("{name}id"), ColumnType::Uniqueidentifier)
    }];
    all.extend(columns);
    Table {
        logical_name: name.to_string(),
        entity_set_name: set.to_string(),
        primary_id: format!("{name}id"),
        primary_name: primary_name.to_string(),
        ownership: Ownership::OrganizationOwned,
        columns: all,
        keys: Vec::new(),
        custom: false,
    }
}

/// The minimal org tables the migration schema leaves out; their columns
/// are the ones the entity reference pages give for the facts seeded here.
fn internal_tables() -> Vec<Table> {
    let text = |name: &str, len: i64| Column {
        max_length: Some(len),
        ..internal_column(name, ColumnType::String)
    };
    let lookup = |name: &str, target: &str| Column {
        targets: vec![target.to_string()],
        ..internal_column(name, ColumnType::Lookup)
    };
    vec![
        internal_table(
            "organization",
            "organizations",
            "name",
            vec![
                text("name", 160),
                Column {
                    min: Some(0.0),
                    max: Some(MAX_UPLOAD_BYTES_CEILING as f64),
                    ..internal_column("maxuploadfilesize", ColumnType::Integer)
                },
                lookup("basecurrencyid", "transactioncurrency"),
            ],
        ),
        internal_table(
            "businessunit",
            "businessunits",
            "name",
            vec![text("name", 160)],
        ),
        internal_table(
            "transactioncurrency",
            "transactioncurrencies",
            "currencyname",
            vec![
                text("currencyname", 100),
                text("isocurrencycode", 5),
                text("currencysymbol", 10),
                internal_column("exchangerate", ColumnType::Decimal),
                internal_column("currencyprecision", ColumnType::Integer),
            ],
        ),
        internal_table(
            "contracttemplate",
            "contracttemplates",
            "name",
            vec![text("name", 100), text("abbreviation", 20)],
        ),
    ]
}

/// "1753-01-01": the earliest date any Dataverse date and time column holds
/// ("Column definitions", powerapps-docs entity-attribute-metadata).
fn min_supported_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1753, 1, 1).expect("a valid date")
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Store {
    /// An org with `schema`'s tables, seeded with the users, organization,
    /// business unit, base currency, contract template and default unit
    /// group of SPEC §9.
    pub fn new(schema: Schema, org: OrgSettings) -> Store {
        let mut store = Store::empty(schema, org);
        store.seed();
        store
    }

    fn empty(schema: Schema, org: OrgSettings) -> Store {
        let mut store = Store {
            schema,
            org,
            internal: BTreeMap::new(),
            names: Vec::new(),
            name_ids: HashMap::new(),
            protected: Vec::new(),
            data: Vec::new(),
            links: BTreeMap::new(),
            refs: BTreeSet::new(),
            version: 0,
            undo: Vec::new(),
            depth: 0,
        };
        for table in internal_tables() {
            if store.schema.table(&table.logical_name).is_none() {
                store.internal.insert(table.logical_name.clone(), table);
            }
        }
        store
    }

    pub fn organization_id(&self) -> Uuid {
        seed_id("organization")
    }

    pub fn business_unit_id(&self) -> Uuid {
        seed_id("businessunit")
    }

    /// The base currency (US Dollar) contracts and money columns default to.
    pub fn base_currency_id(&self) -> Uuid {
        seed_id("transactioncurrency:USD")
    }

    /// The "Service" contract template.
    pub fn contract_template_id(&self) -> Uuid {
        seed_id("contracttemplate:Service")
    }

    /// The "Default Unit" unit group.
    pub fn default_unit_group_id(&self) -> Uuid {
        seed_id("uomschedule:Default Unit")
    }

    /// "Primary Unit", the base unit of the default unit group.
    pub fn primary_unit_id(&self) -> Uuid {
        seed_id("uom:Primary Unit")
    }

    pub fn org(&self) -> &OrgSettings {
        &self.org
    }

    fn seed(&mut self) {
        let at = now();
        let put = |store: &mut Store, table: &str, id: Uuid, cells: Vec<(&str, Cell)>| {
            let t = store.sync_table(table).expect("seeded tables exist");
            let mut record = Record::new(at);
            for (name, cell) in cells {
                let c = store.data[t as usize].intern(name);
                record.set(c, Some(cell));
            }
            store.version += 1;
            record.version = store.version;
            store.put(t, id, Some(record));
        };
        let text = Cell::text;
        let currency = self.base_currency_id();
        let currency_t = self
            .sync_table("transactioncurrency")
            .expect("internal table");
        put(
            self,
            "transactioncurrency",
            currency,
            vec![
                ("currencyname", text("US Dollar")),
                ("isocurrencycode", text("USD")),
                ("currencysymbol", text("$")),
                ("exchangerate", Cell::Num(1.0)),
                ("currencyprecision", Cell::Int(2)),
            ],
        );
        let org_id = self.organization_id();
        let max_upload = self.org.max_upload_bytes.min(MAX_UPLOAD_BYTES_CEILING) as i64;
        put(
            self,
            "organization",
            org_id,
            vec![
                ("name", text("ferry emulator")),
                ("maxuploadfilesize", Cell::Int(max_upload)),
                ("basecurrencyid", Cell::Ref(currency_t, currency)),
            ],
        );
        let bu = self.business_unit_id();
        let bu_t = self.sync_table("businessunit").expect("internal table");
        put(
            self,
            "businessunit",
            bu,
            vec![("name", text("ferry emulator"))],
        );
        let users = self.org.users.clone();
        for user in &users {
            let (first, last) = user.name.split_once(' ').unwrap_or(("", &user.name));
            put(
                self,
                "systemuser",
                user.id,
                vec![
                    ("internalemailaddress", text(&user.email)),
                    ("domainname", text(&user.email)),
                    ("fullname", text(&user.name)),
                    ("firstname", text(first)),
                    ("lastname", text(last)),
                    ("isdisabled", Cell::Bool(user.disabled)),
                    ("businessunitid", Cell::Ref(bu_t, bu)),
                ],
            );
        }
        put(
            self,
            "contracttemplate",
            self.contract_template_id(),
            vec![("name", text("Service")), ("abbreviation", text("SVC"))],
        );
        let group = self.default_unit_group_id();
        let group_t = self
            .sync_table("uomschedule")
            .expect("uomschedule is in the schema");
        put(
            self,
            "uomschedule",
            group,
            vec![
                ("name", text("Default Unit")),
                ("baseuomname", text("Primary Unit")),
                ("statecode", Cell::Int(0)),
                ("statuscode", Cell::Int(1)),
            ],
        );
        put(
            self,
            "uom",
            self.primary_unit_id(),
            vec![
                ("name", text("Primary Unit")),
                ("quantity", Cell::Num(1.0)),
                ("uomscheduleid", Cell::Ref(group_t, group)),
            ],
        );
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// For metadata requests (new tables, columns, options, keys). The
    /// store notices those changes at its next use of the table.
    pub fn schema_mut(&mut self) -> &mut Schema {
        &mut self.schema
    }

    /// A table's definition: the schema's, or one of the internal tables.
    fn table_def(&self, name: &str) -> Option<&Table> {
        self.schema.table(name).or_else(|| self.internal.get(name))
    }

    fn require_table(&self, name: &str) -> Result<&Table, DvError> {
        self.table_def(name)
            .ok_or_else(|| DvError::no_segment(name))
    }

    /// The logical name behind an entity set (`accounts` → `account`).
    pub fn table_for_set(&self, entity_set: &str) -> Result<String, DvError> {
        self.schema
            .table_by_entity_set(entity_set)
            .or_else(|| {
                self.internal
                    .values()
                    .find(|t| t.entity_set_name == entity_set)
            })
            .map(|t| t.logical_name.clone())
            .ok_or_else(|| DvError::no_segment(entity_set))
    }

    /// How many records `table` holds.
    pub fn count(&self, table: &str) -> usize {
        self.name_ids
            .get(table)
            .map_or(0, |t| self.data[*t as usize].records.len())
    }

    fn tid(&self, table: &str) -> Option<TableId> {
        self.name_ids.get(table).copied()
    }

    /// Makes sure `table` has its storage, every schema column an id and
    /// its alternate-key indexes built for the schema's current keys. Cheap
    /// when nothing changed; called before every write so run-time schema
    /// changes (new columns, new keys) take effect.
    fn sync_table(&mut self, table: &str) -> Result<TableId, DvError> {
        if self.schema.table(table).is_none() && !self.internal.contains_key(table) {
            return Err(DvError::no_segment(table));
        }
        let t = match self.name_ids.get(table) {
            Some(t) => *t,
            None => {
                let t = TableId::try_from(self.names.len()).expect("fewer than 65,536 tables");
                self.names.push(table.to_string());
                self.name_ids.insert(table.to_string(), t);
                self.protected.push(PROTECTED_TABLES.contains(&table));
                self.data.push(TableData::default());
                t
            }
        };
        // Field by field, so the definition and the storage can be
        // borrowed together without copying the definition per write.
        let def = self
            .schema
            .table(table)
            .or_else(|| self.internal.get(table))
            .expect("checked above");
        let data = &mut self.data[t as usize];
        for column in &def.columns {
            if data.col(&column.name).is_none() {
                data.intern(&column.name);
            }
        }
        let current = data.keys.len() == def.keys.len()
            && data.keys.iter().zip(&def.keys).all(|(a, b)| a.key == *b);
        if !current {
            data.keys = def
                .keys
                .iter()
                .map(|key| {
                    let cols = key.columns.iter().map(|c| data.intern(c)).collect();
                    let mut index = KeyIndex {
                        key: key.clone(),
                        cols,
                        ids: HashMap::new(),
                    };
                    // A key added over duplicate data: Dataverse marks the
                    // key's index Failed; here the first record keeps it.
                    for (id, record) in &data.records {
                        if let Some(parts) = index.parts(record) {
                            index.ids.entry(parts).or_insert(*id);
                        }
                    }
                    index
                })
                .collect();
        }
        Ok(t)
    }

    /// Reads the key of `accounts(…)`: a GUID, `accountid=GUID`, or an
    /// alternate key `col='text',col2=3` ("Use an alternate key to reference
    /// a record", powerapps-docs use-alternate-key-reference-record).
    pub fn parse_key(&self, table: &str, text: &str) -> Result<RecordKey, DvError> {
        let def = self.require_table(table)?;
        let text = text.trim();
        if let Ok(id) = Uuid::parse_str(text) {
            return Ok(RecordKey::Id(id));
        }
        let parts = split_key(text)?;
        if let [(name, Value::String(s))] = parts.as_slice() {
            if *name == def.primary_id {
                return Uuid::parse_str(s)
                    .map(RecordKey::Id)
                    .map_err(|_| syntax_error());
            }
        }
        Ok(RecordKey::Alternate(parts))
    }
}

fn syntax_error() -> DvError {
    DvError::bad_request("Bad Request - Error in query syntax.")
}

/// `name='O''Brien',n=3,_parentid_value=GUID` into pairs. Quotes protect
/// commas and equals signs; a doubled quote is a literal one (OData ABNF).
fn split_key(text: &str) -> Result<Vec<(String, Value)>, DvError> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or_else(syntax_error)?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(syntax_error());
        }
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('\'') {
            let mut s = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|(_, c)| *c) == Some('\'') {
                        s.push('\'');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    s.push(c);
                }
            }
            let end = end.ok_or_else(syntax_error)?;
            (Value::String(s), &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let literal = after[..end].trim();
            let value = match literal {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ if Uuid::parse_str(literal).is_ok() => Value::String(literal.to_lowercase()),
                // Date and date-time literals are unquoted in OData.
                _ if literal.starts_with(|c: char| c.is_ascii_digit()) && literal.contains('-') => {
                    Value::String(literal.to_string())
                }
                _ => serde_json::from_str::<serde_json::Number>(literal)
                    .map(Value::Number)
                    .map_err(|_| syntax_error())?,
            };
            (value, &after[end..])
        };
        out.push((name.to_string(), value));
        let remainder = remainder.trim_start();
        rest = match remainder.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if remainder.is_empty() => remainder,
            None => return Err(syntax_error()),
        };
    }
    if out.is_empty() {
        return Err(syntax_error());
    }
    Ok(out)
}

// Storage, indexes and transactions.
impl Store {
    /// Puts (or removes) a record and keeps the key and back-reference
    /// indexes in step. Returns what was there. No validation: callers have
    /// done it.
    fn put(&mut self, table: TableId, id: Uuid, record: Option<Record>) -> Option<Record> {
        let data = &mut self.data[table as usize];
        let old = match record {
            Some(r) => data.records.insert(id, r),
            None => data.records.remove(&id),
        };
        if let Some(old) = &old {
            for index in &mut data.keys {
                if let Some(parts) = index.parts(old) {
                    if index.ids.get(&parts) == Some(&id) {
                        index.ids.remove(&parts);
                    }
                }
            }
            for (_, cell) in &old.cells {
                if let Cell::Ref(target_table, target) = cell {
                    if !self.protected[*target_table as usize] {
                        self.refs.remove(&(*target, table, id));
                    }
                }
            }
        }
        if let Some(new) = data.records.get(&id) {
            for index in &mut data.keys {
                if let Some(parts) = index.parts(new) {
                    index.ids.entry(parts).or_insert(id);
                }
            }
            for (_, cell) in &new.cells {
                if let Cell::Ref(target_table, target) = cell {
                    if !self.protected[*target_table as usize] {
                        self.refs.insert((*target, table, id));
                    }
                }
            }
        }
        old
    }

    fn put_logged(&mut self, table: TableId, id: Uuid, record: Option<Record>) {
        let old = self.put(table, id, record);
        if self.depth > 0 {
            self.undo.push(Undo::Put { table, id, old });
        }
    }

    fn set_link(&mut self, relationship: &str, pair: (Uuid, Uuid), present: bool) -> bool {
        let links = self.links.entry(relationship.to_string()).or_default();
        if present {
            links.backward.insert((pair.1, pair.0));
            links.forward.insert(pair)
        } else {
            links.backward.remove(&(pair.1, pair.0));
            links.forward.remove(&pair)
        }
    }

    fn link_logged(&mut self, relationship: &str, pair: (Uuid, Uuid), present: bool) {
        if self.set_link(relationship, pair, present) && self.depth > 0 {
            self.undo.push(Undo::Link {
                relationship: relationship.to_string(),
                pair,
                added: present,
            });
        }
    }

    /// Runs `f` all-or-nothing: if it fails, every record and link it
    /// touched is put back as it was. Transactions nest (a failed inner one
    /// undoes only its own work; the outermost success forgets the log).
    /// The undo log holds only what was touched, so a 1,000-record bulk
    /// request costs the same in an org of a million records.
    /// Schema changes made inside are not undone.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, DvError>,
    ) -> Result<T, DvError> {
        let mark = self.undo.len();
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        if out.is_err() {
            while self.undo.len() > mark {
                match self.undo.pop().expect("length checked") {
                    Undo::Put { table, id, old } => {
                        self.put(table, id, old);
                    }
                    Undo::Link {
                        relationship,
                        pair,
                        added,
                    } => {
                        self.set_link(&relationship, pair, !added);
                    }
                }
            }
        }
        if self.depth == 0 {
            self.undo.clear();
        }
        out
    }

    /// The record `key` addresses, if it exists.
    fn find(&self, table: &str, key: &RecordKey) -> Result<Option<Uuid>, DvError> {
        let def = self.require_table(table)?;
        let Some(t) = self.tid(table) else {
            return Ok(None);
        };
        let data = &self.data[t as usize];
        match key {
            RecordKey::Id(id) => Ok(data.records.contains_key(id).then_some(*id)),
            RecordKey::Alternate(pairs) => {
                let (key_def, parts) = self.key_parts(def, pairs)?;
                // After a key is added through the schema the index is
                // built at the table's next write; until then, look.
                match data.keys.iter().find(|k| k.key == *key_def) {
                    Some(index) => Ok(index.ids.get(parts.as_slice()).copied()),
                    None => {
                        let cols: Option<Vec<ColId>> =
                            key_def.columns.iter().map(|c| data.col(c)).collect();
                        let Some(cols) = cols else {
                            return Ok(None);
                        };
                        Ok(data
                            .records
                            .iter()
                            .find(|(_, r)| {
                                cols.iter()
                                    .map(|c| r.get(*c).map(KeyPart::of))
                                    .collect::<Option<Vec<_>>>()
                                    .as_ref()
                                    == Some(&parts)
                            })
                            .map(|(id, _)| *id))
                    }
                }
            }
        }
    }

    /// Which of the table's keys the pairs name (in any order), and the
    /// values in that key's column order.
    fn key_parts<'a>(
        &self,
        def: &'a Table,
        pairs: &[(String, Value)],
    ) -> Result<(&'a AlternateKey, Vec<KeyPart>), DvError> {
        let column_of = |name: &str| -> String {
            name.strip_prefix('_')
                .and_then(|n| n.strip_suffix("_value"))
                .unwrap_or(name)
                .to_string()
        };
        let mut given: Vec<(String, &Value)> =
            pairs.iter().map(|(n, v)| (column_of(n), v)).collect();
        given.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = given.iter().map(|(n, _)| n.as_str()).collect();
        let key = def
            .keys
            .iter()
            .find(|k| {
                let mut cols: Vec<&str> = k.columns.iter().map(String::as_str).collect();
                cols.sort_unstable();
                cols == names
            })
            .ok_or_else(|| {
                DvError::bad_request(format!(
                    "The key attributes '{}' do not match any key defined for entity '{}'.",
                    names.join(", "),
                    def.logical_name
                ))
            })?;
        let mut parts = Vec::with_capacity(key.columns.len());
        for column in &key.columns {
            let (_, value) = given
                .iter()
                .find(|(n, _)| n == column)
                .expect("the key names exactly these columns");
            let col = def.column(column).ok_or_else(|| {
                DvError::bad_request(format!(
                    "Could not find a property named '{column}' on type 'Microsoft.Dynamics.CRM.{}'.",
                    def.logical_name
                ))
            })?;
            let cell = if col.is_lookup() {
                value
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .map(|id| Cell::Ref(0, id))
                    .ok_or_else(|| literal_error(value, "Edm.Guid"))?
            } else {
                self.to_cell(def, col, value)?
            };
            parts.push(KeyPart::of(&cell));
        }
        Ok((key, parts))
    }

    /// The 404 for a key that finds nothing, worded as Dataverse words it.
    fn missing(&self, table: &str, key: &RecordKey) -> DvError {
        match key {
            RecordKey::Id(id) => DvError::not_found(table, id),
            RecordKey::Alternate(_) => DvError::new(
                404,
                error::OBJECT_DOES_NOT_EXIST,
                format!("A record with the specified key values does not exist in {table} entity"),
            ),
        }
    }

    /// The id of the record `key` addresses, or Dataverse's 404.
    pub fn retrieve_id(&self, table: &str, key: &RecordKey) -> Result<Uuid, DvError> {
        self.find(table, key)?
            .ok_or_else(|| self.missing(table, key))
    }
}

fn literal_error(value: &Value, edm: &str) -> DvError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    DvError::bad_request(format!(
        "Cannot convert the literal '{shown}' to the expected type '{edm}'."
    ))
}

const MAX_UUID: Uuid = Uuid::from_u128(u128::MAX);

/// The message the Web API's OData reader gives for a lookup sent as a
/// plain value instead of `@odata.bind`.
const LOOKUP_AS_VALUE: &str = "A 'PrimitiveValue' node with non-null value was found when trying to read the value of a navigation property; however, a 'StartArray' node, a 'StartObject' node, or a 'PrimitiveValue' node with null value was expected.";

fn not_a_property(name: &str, table: &str) -> DvError {
    DvError::bad_request(format!(
        "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table}'."
    ))
}

fn undeclared(name: &str) -> DvError {
    DvError::bad_request(format!(
        "An undeclared property '{name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
    ))
}

/// `owneridtype`, `customeridtype`: the target table of a lookup, which the
/// Web API exposes through the lookup's annotations, not as a property.
fn is_lookup_type_column(def: &Table, col: &Column) -> bool {
    col.column_type == ColumnType::EntityName
        && col
            .name
            .strip_suffix("type")
            .is_some_and(|base| def.column(base).is_some_and(Column::is_lookup))
}

/// Columns the Web API shows as structural properties: not lookups (those
/// are `_x_value` and navigation properties), not party lists (activity
/// parties are a collection), not a lookup's type column.
fn is_structural(def: &Table, col: &Column) -> bool {
    !col.is_lookup() && col.column_type != ColumnType::PartyList && !is_lookup_type_column(def, col)
}

/// Which columns deleting a record also deletes the referrer through:
/// Dataverse's parental relationships cascade a delete, referential ones
/// remove the link ("Configure table relationship cascading behavior",
/// powerapps-docs maker/data-platform). The store's approximation: a
/// referrer whose lookup is SystemRequired cannot exist without its parent
/// (an address, a case's customer, an activity party's activity), and notes,
/// activities' regarding and case resolutions belong to their record; every
/// other lookup is cleared.
fn is_parental(def: &Table, col: &Column) -> bool {
    col.required_level == RequiredLevel::SystemRequired
        || matches!(col.name.as_str(), "objectid" | "regardingobjectid")
        || (def.logical_name == "incidentresolution" && col.name == "incidentid")
}

/// A column the platform itself refuses to create a record without, as
/// opposed to one only forms require: Dataverse "only enforces the
/// SystemRequired option" and "doesn't return an error when a column with
/// ApplicationRequired applied doesn't have a value" ("Column requirement
/// level", powerapps-docs entity-attribute-metadata). Of the SystemRequired
/// ones, ids, owner, state, type names, booleans and choices are filled by
/// the platform (SPEC §9); what it cannot invent is text, dates, numbers
/// and references.
fn platform_required(def: &Table, col: &Column) -> bool {
    col.required_level == RequiredLevel::SystemRequired
        && col.valid_for_create != Some(false)
        && col.name != def.primary_id
        && col.name != "ownerid"
        && matches!(
            col.column_type,
            ColumnType::String
                | ColumnType::Memo
                | ColumnType::Lookup
                | ColumnType::Customer
                | ColumnType::DateTime
                | ColumnType::Money
                | ColumnType::Decimal
                | ColumnType::Double
        )
}

/// The `$<set>(<key>)` of an `@odata.bind` or `@odata.id`: relative,
/// absolute, or a full URL.
fn split_reference(raw: &str) -> Result<(&str, &str), DvError> {
    let path = raw.split_once(API_PREFIX).map_or(raw, |(_, p)| p);
    let path = path.trim_start_matches('/');
    let bad = || {
        DvError::bad_request(format!(
            "'{raw}' is not a valid reference to a record: expected '/<entity set>(<id or key>)'."
        ))
    };
    let open = path.find('(').ok_or_else(bad)?;
    let set = &path[..open];
    if set.is_empty() || set.contains('/') || !path.ends_with(')') {
        return Err(bad());
    }
    Ok((set, &path[open + 1..path.len() - 1]))
}

fn cell_int(cell: Option<&Cell>) -> Option<i64> {
    match cell {
        Some(Cell::Int(i)) => Some(*i),
        _ => None,
    }
}

fn format_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn cell_value(cell: &Cell) -> Value {
    match cell {
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Int(i) => json!(i),
        Cell::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Cell::Short { .. } | Cell::Text(_) => {
            Value::String(cell.as_text().unwrap_or_default().to_string())
        }
        Cell::Time(t) => Value::String(format_time(*t)),
        Cell::Date(d) => Value::String(format_date(*d)),
        Cell::Ref(_, id) => Value::String(id.to_string()),
    }
}

// Reading request bodies: conversions, navigation properties, binds.
impl Store {
    fn is_activity(&self, table: &str) -> bool {
        self.table_def(table)
            .is_some_and(|t| t.column("activitytypecode").is_some())
    }

    /// The largest note attachment: the organization row's
    /// `maxuploadfilesize`, which a client may change like Dataverse's.
    fn max_upload_bytes(&self) -> u64 {
        let from_row = self.tid("organization").and_then(|t| {
            let data = &self.data[t as usize];
            let c = data.col("maxuploadfilesize")?;
            cell_int(data.records.get(&self.organization_id())?.get(c))
        });
        from_row.map_or(self.org.max_upload_bytes, |v| v.max(0) as u64)
    }

    fn user_disabled(&self, user: Uuid) -> bool {
        self.tid("systemuser").is_some_and(|t| {
            let data = &self.data[t as usize];
            data.col("isdisabled")
                .and_then(|c| data.records.get(&user)?.get(c).cloned())
                == Some(Cell::Bool(true))
        })
    }

    /// A JSON value as the column stores it, or the error Dataverse gives:
    /// OData conversion errors first, then the platform's range checks.
    fn to_cell(&self, def: &Table, col: &Column, value: &Value) -> Result<Cell, DvError> {
        let table = def.logical_name.as_str();
        let out_of_options = |v: i64| {
            let accepted: Vec<String> = col.options.iter().map(|o| o.value.to_string()).collect();
            DvError::new(
                400,
                error::PICKLIST_VALUE_OUT_OF_RANGE,
                format!(
                    "A validation error occurred. The value {v} of '{}' on record of type '{table}' is outside the valid range. Accepted Values: {}",
                    col.name,
                    accepted.join(",")
                ),
            )
        };
        let in_range = |v: f64| col.min.is_none_or(|m| v >= m) && col.max.is_none_or(|m| v <= m);
        match col.column_type {
            ColumnType::String | ColumnType::Memo | ColumnType::EntityName => {
                let s = value
                    .as_str()
                    .ok_or_else(|| literal_error(value, "Edm.String"))?;
                if let Some(max) = col.max_length {
                    // .NET strings count UTF-16 code units, and so does
                    // Dataverse's length check.
                    if s.encode_utf16().count() as i64 > max {
                        return Err(DvError::validation(format!(
                            "A validation error occurred. The length of the '{}' attribute of the '{table}' entity exceeded the maximum allowed length of '{max}'.",
                            col.name
                        )));
                    }
                }
                if col.name == "documentbody" {
                    self.check_attachment(s)?;
                }
                Ok(Cell::text(s))
            }
            ColumnType::Uniqueidentifier => value
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .map(|id| Cell::text(&id.to_string()))
                .ok_or_else(|| literal_error(value, "Edm.Guid")),
            ColumnType::Integer => {
                let v = value
                    .as_i64()
                    .filter(|v| i32::try_from(*v).is_ok())
                    .ok_or_else(|| literal_error(value, "Edm.Int32"))?;
                if !in_range(v as f64) {
                    return Err(DvError::new(
                        400,
                        error::INTEGER_OUT_OF_RANGE,
                        format!(
                            "A validation error occurred. An integer provided is outside of the allowed values for this attribute. ('{}' of '{table}': {v})",
                            col.name
                        ),
                    ));
                }
                Ok(Cell::Int(v))
            }
            ColumnType::BigInt => value
                .as_i64()
                .map(Cell::Int)
                .ok_or_else(|| literal_error(value, "Edm.Int64")),
            ColumnType::Picklist | ColumnType::State | ColumnType::Status => {
                let v = value
                    .as_i64()
                    .filter(|v| i32::try_from(*v).is_ok())
                    .ok_or_else(|| literal_error(value, "Edm.Int32"))?;
                if col.option(v as i32).is_none() {
                    return Err(out_of_options(v));
                }
                Ok(Cell::Int(v))
            }
            ColumnType::MultiSelectPicklist => {
                let s = value
                    .as_str()
                    .ok_or_else(|| literal_error(value, "Edm.String"))?;
                let mut values = Vec::new();
                for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let v: i32 = part
                        .parse()
                        .map_err(|_| literal_error(value, "Edm.String"))?;
                    if col.option(v).is_none() {
                        return Err(out_of_options(i64::from(v)));
                    }
                    values.push(v.to_string());
                }
                Ok(Cell::text(&values.join(",")))
            }
            ColumnType::Decimal | ColumnType::Money | ColumnType::Double => {
                let edm = if col.column_type == ColumnType::Double {
                    "Edm.Double"
                } else {
                    "Edm.Decimal"
                };
                let v = value.as_f64().ok_or_else(|| literal_error(value, edm))?;
                if !in_range(v) {
                    // The list has DecimalValueOutOfRange; money and
                    // doubles are held to the same range rule.
                    return Err(DvError::new(
                        400,
                        error::DECIMAL_OUT_OF_RANGE,
                        format!(
                            "A validation error occurred. A decimal value provided is outside of the allowed values for this attribute. ('{}' of '{table}': {v})",
                            col.name
                        ),
                    ));
                }
                Ok(Cell::Num(v))
            }
            ColumnType::Boolean => value
                .as_bool()
                .map(Cell::Bool)
                .ok_or_else(|| literal_error(value, "Edm.Boolean")),
            ColumnType::DateTime => {
                let s = value.as_str();
                let too_early = || {
                    DvError::new(
                        400,
                        error::INVALID_DATE_TIME,
                        format!(
                            "The date-time format is invalid, or value is outside the supported range. ('{}' of '{table}': dates start at 1753-01-01)",
                            col.name
                        ),
                    )
                };
                if col.is_date_only() {
                    let date = s
                        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                        .ok_or_else(|| literal_error(value, "Edm.Date"))?;
                    if date < min_supported_date() {
                        return Err(too_early());
                    }
                    Ok(Cell::Date(chrono::Datelike::num_days_from_ce(&date)))
                } else {
                    let at = s
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .ok_or_else(|| literal_error(value, "Edm.DateTimeOffset"))?;
                    if at.date_naive() < min_supported_date() {
                        return Err(too_early());
                    }
                    Ok(Cell::Time(at.timestamp()))
                }
            }
            ColumnType::Image => value
                .as_str()
                .filter(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok())
                .map(Cell::text)
                .ok_or_else(|| literal_error(value, "Edm.Binary")),
            ColumnType::Lookup
            | ColumnType::Customer
            | ColumnType::Owner
            | ColumnType::PartyList => Err(not_a_property(&col.name, table)),
        }
    }

    /// Notes carry their file as base64 text, and the org's limit applies
    /// to that text, not to the decoded bytes: "The maximum upload file
    /// size limit applies to the size of the file in Base64 encoding"
    /// ("File size limits", powerapps-docs files-images-overview), error
    /// `unManagedidsattachmentinvalidfilesize`.
    fn check_attachment(&self, body: &str) -> Result<(), DvError> {
        if body.len() as u64 > self.max_upload_bytes() {
            return Err(DvError::new(
                400,
                error::ATTACHMENT_TOO_LARGE,
                "Attachment file size is too big.",
            ));
        }
        if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
        {
            return Err(DvError::bad_request(
                "The value of 'documentbody' is not valid base64 text.",
            ));
        }
        Ok(())
    }

    /// The lookup column a navigation property sets, and the table it must
    /// point at when the name says. Names follow DESIGN.md: the column for
    /// single-target lookups and owners, `<column>_<target>` for
    /// multi-target ones, `regardingobjectid_<target>_<activity>` for an
    /// activity's regarding.
    fn nav_column<'a>(&self, def: &'a Table, nav: &str) -> Option<(&'a Column, Option<String>)> {
        for col in def.columns.iter().filter(|c| c.is_lookup()) {
            if col.name == nav {
                if col.column_type == ColumnType::Owner {
                    return Some((col, None));
                }
                if let [only] = col.targets.as_slice() {
                    return Some((col, Some(only.clone())));
                }
                continue;
            }
            let Some(rest) = nav
                .strip_prefix(col.name.as_str())
                .and_then(|r| r.strip_prefix('_'))
            else {
                continue;
            };
            let suffix = format!("_{}", def.logical_name);
            for target in [Some(rest), rest.strip_suffix(suffix.as_str())]
                .into_iter()
                .flatten()
            {
                if self.target_allowed(col, target) {
                    return Some((col, Some(target.to_string())));
                }
            }
        }
        None
    }

    /// `activitypointer` stands for every activity table (an activity
    /// party's activity may be any of them).
    fn target_allowed(&self, col: &Column, target: &str) -> bool {
        col.targets.iter().any(|t| t == target)
            || (col.targets.iter().any(|t| t == "activitypointer") && self.is_activity(target))
    }

    /// Whether `name` is something a body may annotate: a structural
    /// property, a lookup's `_x_value`, or a navigation property.
    fn is_property(&self, def: &Table, name: &str) -> bool {
        def.column(name).is_some_and(|c| is_structural(def, c))
            || name
                .strip_prefix('_')
                .and_then(|n| n.strip_suffix("_value"))
                .and_then(|n| def.column(n))
                .is_some_and(Column::is_lookup)
            || self.nav_column(def, name).is_some()
    }

    /// `<nav>@odata.bind`: the record must exist, be of a table the column
    /// may point at, and, for an owner, be an enabled user.
    fn resolve_bind(
        &self,
        nav: &str,
        col: &Column,
        forced: Option<&str>,
        raw: &str,
    ) -> Result<Cell, DvError> {
        let (set, key_text) = split_reference(raw)?;
        let target = self.table_for_set(set)?;
        if forced.is_some_and(|f| f != target) || !self.target_allowed(col, &target) {
            return Err(DvError::bad_request(format!(
                "'{raw}' is a {target} record, which the navigation property '{nav}' cannot point at."
            )));
        }
        let key = self.parse_key(&target, key_text)?;
        let id = self
            .find(&target, &key)?
            .ok_or_else(|| self.missing(&target, &key))?;
        // Disabled users cannot own records (SPEC §9); the platform says
        // `unManagedidsusernotenabled`.
        if col.column_type == ColumnType::Owner && target == "systemuser" && self.user_disabled(id)
        {
            return Err(DvError::new(
                400,
                error::USER_DISABLED,
                format!(
                    "The specified user is either disabled or is not a member of any business unit. (systemuser Id = {id})"
                ),
            ));
        }
        let t = self
            .tid(&target)
            .expect("a record was found, so its table has storage");
        Ok(Cell::Ref(t, id))
    }

    /// A lookup value given as a bare GUID (an alternate key's lookup part):
    /// the target table is whichever of the column's targets holds it.
    fn ref_to(&self, col: &Column, id: Uuid) -> Option<Cell> {
        col.targets.iter().find_map(|target| {
            let t = self.tid(target)?;
            self.data[t as usize]
                .records
                .contains_key(&id)
                .then_some(Cell::Ref(t, id))
        })
    }

    /// Takes a request body apart: each property checked for existence,
    /// type, length, options, settability and, for binds, the target.
    fn parse_body(
        &self,
        table: TableId,
        def: &Table,
        body: &Map<String, Value>,
        op: Op,
    ) -> Result<Parsed, DvError> {
        let name = def.logical_name.as_str();
        let data = &self.data[table as usize];
        let col_id = |column: &str| {
            data.col(column)
                .expect("sync_table gave every schema column an id")
        };
        let parties_property = format!("{name}_activity_parties");
        let mut parsed = Parsed::default();
        for (key, value) in body {
            if let Some(annotation) = key.strip_prefix('@') {
                // Bulk targets name their type; it must be this table's.
                if annotation == "odata.type" {
                    let given = value.as_str().unwrap_or_default().trim_start_matches('#');
                    let expected = format!("Microsoft.Dynamics.CRM.{name}");
                    if given != expected {
                        return Err(DvError::bad_request(format!(
                            "A resource with type '{given}' was found, but it is not assignable to the expected type '{expected}'. The type specified in the resource must be equal to either the expected type or a derived type."
                        )));
                    }
                }
                continue;
            }
            if let Some((property, annotation)) = key.split_once('@') {
                if annotation == "odata.bind" {
                    let (col, forced) = self
                        .nav_column(def, property)
                        .ok_or_else(|| undeclared(property))?;
                    check_settable(def, col, op)?;
                    let cell = match value {
                        Value::Null => None,
                        Value::String(raw) => {
                            Some(self.resolve_bind(property, col, forced.as_deref(), raw)?)
                        }
                        _ => {
                            return Err(DvError::bad_request(format!(
                                "The value of '{key}' must be the URL of a record."
                            )))
                        }
                    };
                    parsed.cells.push((col_id(&col.name), cell));
                } else if !self.is_property(def, property) {
                    // Other annotations (a formatted value echoed back) are
                    // ignored, as the OData reader ignores them.
                    return Err(undeclared(property));
                }
                continue;
            }
            if *key == parties_property && self.is_activity(name) {
                let items = match value {
                    Value::Array(items) => items,
                    _ => {
                        return Err(DvError::bad_request(format!(
                            "'{key}' must be an array of activityparty records."
                        )))
                    }
                };
                let mut parties = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(party) => parties.push(party.clone()),
                        _ => {
                            return Err(DvError::bad_request(format!(
                                "Each item of '{key}' must be an activityparty record."
                            )))
                        }
                    }
                }
                parsed.parties = Some(parties);
                continue;
            }
            if let Some(lookup) = key.strip_prefix('_').and_then(|k| k.strip_suffix("_value")) {
                if def.column(lookup).is_some_and(Column::is_lookup) {
                    return Err(DvError::bad_request(
                        "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
                    ));
                }
            }
            let Some(col) = def.column(key) else {
                return Err(not_a_property(key, name));
            };
            if col.is_lookup() {
                if !value.is_null() {
                    return Err(DvError::bad_request(LOOKUP_AS_VALUE));
                }
                check_settable(def, col, op)?;
                parsed.cells.push((col_id(&col.name), None));
                continue;
            }
            if !is_structural(def, col) {
                return Err(not_a_property(key, name));
            }
            if col.name == def.primary_id {
                parsed.id = match value {
                    Value::Null => None,
                    other => Some(
                        other
                            .as_str()
                            .and_then(|s| Uuid::parse_str(s).ok())
                            .ok_or_else(|| literal_error(other, "Edm.Guid"))?,
                    ),
                };
                continue;
            }
            check_settable(def, col, op)?;
            let cell = if value.is_null() {
                None
            } else {
                Some(self.to_cell(def, col, value)?)
            };
            if col.name == "overriddencreatedon" {
                if let Some(Cell::Time(at)) = &cell {
                    parsed.overridden_created = Some(*at);
                }
            }
            parsed.cells.push((col_id(&col.name), cell));
        }
        Ok(parsed)
    }
}

/// `IsValidForCreate` / `IsValidForUpdate` of the schema. The metadata
/// page says the platform ignores such a value; the emulator refuses it
/// instead (SPEC §7), because a loader that sends `statecode` on create or
/// `overriddencreatedon` on update would silently lose that data in a real
/// org, and refusing is how the loader finds out.
fn check_settable(def: &Table, col: &Column, op: Op) -> Result<(), DvError> {
    let table = &def.logical_name;
    match op {
        Op::Create if col.valid_for_create == Some(false) => {
            let hint = if col.column_type == ColumnType::State {
                " Create the record, then set its state with an update."
            } else {
                ""
            };
            Err(DvError::new(
                400,
                error::NOT_VALID_FOR_CREATE,
                format!(
                    "A field that is not valid for create was specified: '{}' of '{table}' cannot be set when a record is created.{hint}",
                    col.name
                ),
            ))
        }
        Op::Update if col.valid_for_update == Some(false) => Err(DvError::new(
            400,
            error::NOT_VALID_FOR_UPDATE,
            format!(
                "A field that is not valid for update was specified: '{}' of '{table}' can only be set when the record is created.",
                col.name
            ),
        )),
        _ => Ok(()),
    }
}

fn state_columns(def: &Table) -> Option<(&Column, &Column)> {
    let state = def
        .columns
        .iter()
        .find(|c| c.column_type == ColumnType::State)?;
    let status = def
        .columns
        .iter()
        .find(|c| c.column_type == ColumnType::Status)?;
    Some((state, status))
}

/// The status Dataverse sets when only a state is given: the state's
/// `DefaultStatus`, else its first status ("When you update the statecode
/// property, always set the desired statuscode ... each statecode column has
/// a single DefaultStatus value", powerapps-docs update-delete-entities-using-web-api).
fn default_status(state: &Column, status: &Column, value: i64) -> Option<i64> {
    state
        .options
        .iter()
        .find(|o| i64::from(o.value) == value)
        .and_then(|o| o.default_status)
        .or_else(|| {
            status
                .options
                .iter()
                .find(|o| o.state.map(i64::from) == Some(value))
                .map(|o| o.value)
        })
        .map(i64::from)
}

fn duplicate_id() -> DvError {
    DvError::new(
        412,
        error::DUPLICATE_RECORD,
        "A record with matching key values already exists.",
    )
}

fn required_missing(def: &Table, col: &Column) -> DvError {
    let table = def.logical_name.as_str();
    match (table, col.name.as_str()) {
        ("incident", "customerid") => DvError::new(
            400,
            error::INCIDENT_CUSTOMER_MISSING,
            "You should specify a parent contact or account.",
        ),
        ("contract", "customerid") => DvError::new(
            400,
            error::CONTRACT_CUSTOMER_MISSING,
            "Account is required to save a contract.",
        ),
        _ => DvError::new(
            400,
            error::REQUIRED_MISSING,
            format!(
                "A value for the required attribute '{}' of the '{table}' entity was not provided; the attribute is SystemRequired and cannot be null.",
                col.name
            ),
        ),
    }
}

// Planning writes: everything is decided against an immutable store.
impl Store {
    fn plan_create(
        &self,
        table: TableId,
        body: &Map<String, Value>,
        url_id: Option<Uuid>,
        key_values: &[(String, Value)],
        preset: &[(&str, Cell)],
        caller: Uuid,
    ) -> Result<Plan, DvError> {
        let def = self.require_table(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let parsed = self.parse_body(table, def, body, Op::Create)?;
        let id = match (parsed.id, url_id) {
            (Some(a), Some(b)) if a != b => {
                return Err(DvError::bad_request(format!(
                    "The '{}' in the body ({a}) is not the id the request addresses ({b}).",
                    def.primary_id
                )))
            }
            (a, b) => a.or(b).unwrap_or_else(Uuid::new_v4),
        };
        if data.records.contains_key(&id) {
            return Err(duplicate_id());
        }
        let at = now();
        let mut record = Record::new(at);
        // Upsert by alternate key creates the record with the key's values
        // ("Use an alternate key to reference a record").
        for (name, value) in key_values {
            let column = name
                .strip_prefix('_')
                .and_then(|n| n.strip_suffix("_value"))
                .unwrap_or(name);
            let col = def
                .column(column)
                .ok_or_else(|| not_a_property(column, &def.logical_name))?;
            let cell = if col.is_lookup() {
                value
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .and_then(|target| self.ref_to(col, target))
                    .ok_or_else(|| literal_error(value, "Edm.Guid"))?
            } else {
                self.to_cell(def, col, value)?
            };
            record.set(data.col(column).expect("schema column"), Some(cell));
        }
        let given = |col: Option<&Column>| {
            col.and_then(|c| data.col(&c.name))
                .is_some_and(|c| parsed.cells.iter().any(|(p, v)| *p == c && v.is_some()))
        };
        let states = state_columns(def);
        let given_state = given(states.map(|s| s.0));
        let given_status = given(states.map(|s| s.1));
        for (c, cell) in parsed.cells {
            record.set(c, cell);
        }
        for (name, cell) in preset {
            record.set(data.col(name).expect("schema column"), Some(cell.clone()));
        }
        if let (Some(original), Some(c)) =
            (parsed.overridden_created, data.col("overriddencreatedon"))
        {
            // The record says when it really began; overriddencreatedon
            // keeps when it was migrated ("Date and time that the record was
            // migrated", entity reference).
            record.created = original;
            record.set(c, Some(Cell::Time(at)));
        }
        self.fill_defaults(def, data, &mut record, caller, id);
        self.settle_state(
            def,
            data,
            &mut record,
            None,
            given_state,
            given_status,
            false,
        )?;
        self.derive(def, data, &mut record);
        for col in def.columns.iter().filter(|c| platform_required(def, c)) {
            if data.col(&col.name).and_then(|c| record.get(c)).is_none() {
                return Err(required_missing(def, col));
            }
        }
        self.check_table_rules(def, data, &record)?;
        self.check_keys(def, data, &record, id)?;
        let parties = match parsed.parties {
            Some(items) => self.plan_parties(table, id, &items, caller)?,
            None => Vec::new(),
        };
        Ok(Plan {
            table,
            id,
            record,
            parties,
            replace_parties: false,
        })
    }

    fn plan_update(
        &self,
        table: TableId,
        id: Uuid,
        body: &Map<String, Value>,
        caller: Uuid,
        internal: bool,
    ) -> Result<Plan, DvError> {
        let def = self.require_table(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let existing = data
            .records
            .get(&id)
            .ok_or_else(|| DvError::not_found(&def.logical_name, id))?;
        let parsed = self.parse_body(table, def, body, Op::Update)?;
        if parsed.id.is_some_and(|given| given != id) {
            return Err(DvError::bad_request(format!(
                "The '{}' in the body is not the id the request addresses ({id}).",
                def.primary_id
            )));
        }
        let given = |col: Option<&Column>| {
            col.and_then(|c| data.col(&c.name))
                .is_some_and(|c| parsed.cells.iter().any(|(p, v)| *p == c && v.is_some()))
        };
        let states = state_columns(def);
        let given_state = given(states.map(|s| s.0));
        let given_status = given(states.map(|s| s.1));
        let mut record = existing.clone();
        for (c, cell) in parsed.cells {
            if cell.is_none() {
                // "When this is set to SystemRequired, you cannot set these
                // attributes to a null value" (update-delete-entities-using-web-api).
                let col = def.column(&data.cols[c as usize]);
                if let Some(col) = col.filter(|c| c.required_level == RequiredLevel::SystemRequired)
                {
                    return Err(required_missing(def, col));
                }
            }
            record.set(c, cell);
        }
        self.settle_state(
            def,
            data,
            &mut record,
            Some(existing),
            given_state,
            given_status,
            internal,
        )?;
        self.derive(def, data, &mut record);
        self.check_table_rules(def, data, &record)?;
        self.check_keys(def, data, &record, id)?;
        record.modified = now();
        let (parties, replace_parties) = match parsed.parties {
            Some(items) => (self.plan_parties(table, id, &items, caller)?, true),
            None => (Vec::new(), false),
        };
        Ok(Plan {
            table,
            id,
            record,
            parties,
            replace_parties,
        })
    }

    /// Deep insert of `<activity>_activity_parties` (SPEC §9): each party
    /// is an activityparty record pointing at the activity.
    fn plan_parties(
        &self,
        activity_table: TableId,
        activity: Uuid,
        items: &[Map<String, Value>],
        caller: Uuid,
    ) -> Result<Vec<Plan>, DvError> {
        let party_table = self
            .tid("activityparty")
            .ok_or_else(|| DvError::no_segment("activityparty"))?;
        items
            .iter()
            .map(|item| {
                self.plan_create(
                    party_table,
                    item,
                    None,
                    &[],
                    &[("activityid", Cell::Ref(activity_table, activity))],
                    caller,
                )
            })
            .collect()
    }

    /// What the platform fills in on create when the body did not.
    fn fill_defaults(
        &self,
        def: &Table,
        data: &TableData,
        record: &mut Record,
        caller: Uuid,
        id: Uuid,
    ) {
        let mut default = |column: &str, cell: Option<Cell>| {
            if let (Some(c), Some(cell)) = (data.col(column), cell) {
                if def.column(column).is_some() && record.get(c).is_none() {
                    record.set(c, Some(cell));
                }
            }
        };
        // ownerid defaults to the caller (SPEC §9).
        if def
            .column("ownerid")
            .is_some_and(|c| c.column_type == ColumnType::Owner)
        {
            default(
                "ownerid",
                self.tid("systemuser").map(|t| Cell::Ref(t, caller)),
            );
        }
        // Currency-enabled tables take the base currency unless told.
        if def
            .column("transactioncurrencyid")
            .is_some_and(|c| c.targets.iter().any(|t| t == "transactioncurrency"))
        {
            let currency = self.base_currency_id();
            default(
                "transactioncurrencyid",
                self.tid("transactioncurrency")
                    .map(|t| Cell::Ref(t, currency)),
            );
        }
        if self.is_activity(&def.logical_name) {
            default("activitytypecode", Some(Cell::text(&def.logical_name)));
            default("isregularactivity", Some(Cell::Bool(true)));
        }
        let serial = || id.simple().to_string()[..6].to_uppercase();
        match def.logical_name.as_str() {
            // The platform numbers cases and contracts when the body does not.
            "incident" => default(
                "ticketnumber",
                Some(Cell::text(&format!("CAS-{}", serial()))),
            ),
            "contract" => default(
                "contractnumber",
                Some(Cell::text(&format!("CNR-{}", serial()))),
            ),
            // A product is a plain product unless it says it is a family.
            "product" => default("productstructure", Some(Cell::Int(1))),
            _ => {}
        }
    }

    /// Settles statecode/statuscode after a write: the default state on
    /// create, the state's default status when only a state is given, and
    /// the status must belong to the state (`InvalidStateCodeStatusCode`).
    /// A case is resolved only by `CloseIncident` (SPEC §9).
    #[allow(clippy::too_many_arguments)]
    fn settle_state(
        &self,
        def: &Table,
        data: &TableData,
        record: &mut Record,
        before: Option<&Record>,
        given_state: bool,
        given_status: bool,
        internal: bool,
    ) -> Result<(), DvError> {
        let Some((state_col, status_col)) = state_columns(def) else {
            return Ok(());
        };
        let (Some(sc), Some(uc)) = (data.col(&state_col.name), data.col(&status_col.name)) else {
            return Ok(());
        };
        let first_state = state_col.options.first().map_or(0, |o| i64::from(o.value));
        let state = cell_int(record.get(sc)).unwrap_or(first_state);
        let previous = before.and_then(|b| cell_int(b.get(sc)));
        record.set(sc, Some(Cell::Int(state)));
        let status = match cell_int(record.get(uc)) {
            Some(s) if given_status || !given_state => s,
            _ => match default_status(state_col, status_col, state) {
                Some(s) => s,
                None => return Ok(()),
            },
        };
        let belongs = status_col
            .option(status as i32)
            .is_some_and(|o| o.state.is_none_or(|s| i64::from(s) == state));
        if !belongs {
            return Err(DvError::new(
                400,
                error::STATE_STATUS_MISMATCH,
                format!(
                    "State code is invalid or state code is valid but status code is invalid for a specified state code. ({}: {state}, {}: {status}, on {})",
                    state_col.name, status_col.name, def.logical_name
                ),
            ));
        }
        record.set(uc, Some(Cell::Int(status)));
        if def.logical_name == "incident" && !internal && state == 1 && previous != Some(1) {
            return Err(DvError::new(
                400,
                error::INVALID_ARGUMENT,
                "This message can not be used to set the state of incident to Resolved. In order to set state of incident to Resolved, use the CloseIncidentRequest message instead.",
            ));
        }
        Ok(())
    }

    /// Columns the platform computes from others.
    fn derive(&self, def: &Table, data: &TableData, record: &mut Record) {
        let get =
            |record: &Record, column: &str| data.col(column).and_then(|c| record.get(c).cloned());
        let text = |cell: Option<Cell>| cell.and_then(|c| c.as_text().map(str::to_string));
        let set = |record: &mut Record, column: &str, cell: Option<Cell>| {
            if let Some(c) = data.col(column) {
                record.set(c, cell);
            }
        };
        // Full name is "First Last", the platform's default format.
        if def
            .column("fullname")
            .is_some_and(|c| c.valid_for_create == Some(false))
            && def.column("lastname").is_some()
        {
            let parts: Vec<String> = [get(record, "firstname"), get(record, "lastname")]
                .into_iter()
                .filter_map(text)
                .filter(|s| !s.is_empty())
                .collect();
            let full = (!parts.is_empty()).then(|| Cell::text(&parts.join(" ")));
            set(record, "fullname", full);
        }
        // The type column of a lookup says which table it points at.
        let table_of = |record: &Record, column: &str| match get(record, column) {
            Some(Cell::Ref(t, _)) => Some(Cell::text(&self.names[t as usize])),
            _ => None,
        };
        match def.logical_name.as_str() {
            "annotation" => {
                let ot = table_of(record, "objectid");
                set(record, "objecttypecode", ot);
                let document = text(get(record, "documentbody"));
                let size = document.as_deref().map(|d| {
                    base64::engine::general_purpose::STANDARD
                        .decode(d)
                        .map_or(0, |b| b.len() as i64)
                });
                set(record, "filesize", size.map(Cell::Int));
                set(record, "isdocument", Some(Cell::Bool(document.is_some())));
            }
            "activityparty" => {
                let pt = table_of(record, "partyid");
                set(record, "partyobjecttypecode", pt);
            }
            "customeraddress" => {
                let ot = table_of(record, "parentid");
                set(record, "objecttypecode", ot);
            }
            "contract" => {
                let abbreviation = match get(record, "contracttemplateid") {
                    Some(Cell::Ref(t, id)) => {
                        let template = &self.data[t as usize];
                        template
                            .col("abbreviation")
                            .and_then(|c| template.records.get(&id)?.get(c).cloned())
                    }
                    _ => None,
                };
                set(record, "contracttemplateabbreviation", abbreviation);
            }
            _ => {}
        }
    }

    /// Rules of particular tables the platform enforces.
    fn check_table_rules(
        &self,
        def: &Table,
        data: &TableData,
        record: &Record,
    ) -> Result<(), DvError> {
        let get = |column: &str| data.col(column).and_then(|c| record.get(c));
        match def.logical_name.as_str() {
            // A unit group is created with its base unit's name; the
            // platform makes that unit (error `BaseUomNameNotSpecified`).
            "uomschedule" if get("baseuomname").is_none() => Err(DvError::new(
                400,
                error::BASE_UOM_NAME_MISSING,
                "baseuomname not specified",
            )),
            // A product is sold in units of its unit group: both are needed
            // and the unit must be of the group (SPEC §9).
            "product" => {
                for column in ["defaultuomscheduleid", "defaultuomid"] {
                    if get(column).is_none() {
                        let col = def.column(column).expect("product has its unit columns");
                        return Err(required_missing(def, col));
                    }
                }
                if let (Some(Cell::Ref(_, group)), Some(Cell::Ref(ut, unit))) =
                    (get("defaultuomscheduleid"), get("defaultuomid"))
                {
                    let units = &self.data[*ut as usize];
                    let unit_group = units
                        .col("uomscheduleid")
                        .and_then(|c| units.records.get(unit)?.get(c));
                    if !matches!(unit_group, Some(Cell::Ref(_, g)) if g == group) {
                        return Err(DvError::new(
                            400,
                            error::INVALID_ARGUMENT,
                            "The unit (defaultuomid) does not belong to the unit group (defaultuomscheduleid).",
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Alternate keys are unique (`DuplicateRecordEntityKey`).
    fn check_keys(
        &self,
        def: &Table,
        data: &TableData,
        record: &Record,
        id: Uuid,
    ) -> Result<(), DvError> {
        for index in &data.keys {
            let Some(parts) = index.parts(record) else {
                continue;
            };
            if index.ids.get(&parts).is_some_and(|other| *other != id) {
                return Err(DvError::new(
                    412,
                    error::DUPLICATE_KEY_VALUE,
                    format!(
                        "Entity Key {} violated. A record with the same value for {} already exists. A duplicate record cannot be created. Select one or more unique values and try again. (entity '{}')",
                        index.key.name,
                        index.key.columns.join(", "),
                        def.logical_name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn commit(&mut self, plan: Plan) {
        if plan.replace_parties {
            self.drop_parties(plan.id);
        }
        let mut record = plan.record;
        self.version += 1;
        record.version = self.version;
        // Records are written once and read many times: no spare capacity.
        record.cells.shrink_to_fit();
        self.put_logged(plan.table, plan.id, Some(record));
        for party in plan.parties {
            self.commit(party);
        }
    }

    fn drop_parties(&mut self, activity: Uuid) {
        let Some(pt) = self.tid("activityparty") else {
            return;
        };
        let Some(c) = self.data[pt as usize].col("activityid") else {
            return;
        };
        let parties: Vec<Uuid> = self
            .refs
            .range((activity, pt, Uuid::nil())..=(activity, pt, MAX_UUID))
            .map(|(_, _, id)| *id)
            .filter(|id| {
                matches!(self.data[pt as usize].records.get(id).and_then(|r| r.get(c)),
                    Some(Cell::Ref(_, a)) if *a == activity)
            })
            .collect();
        for id in parties {
            self.put_logged(pt, id, None);
        }
    }
}

// The operations the Web API exposes.
impl Store {
    /// `POST <set>`: creates a record and returns its id (the body's
    /// primary id if it has one, else a new one).
    pub fn create(
        &mut self,
        table: &str,
        body: &Map<String, Value>,
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        self.transaction(|s| s.create_in(table, body, None, &[], caller))
    }

    fn create_in(
        &mut self,
        table: &str,
        body: &Map<String, Value>,
        url_id: Option<Uuid>,
        key_values: &[(String, Value)],
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        let t = self.sync_table(table)?;
        if self.is_activity(table) && self.table_def("activityparty").is_some() {
            self.sync_table("activityparty")?;
        }
        let plan = self.plan_create(t, body, url_id, key_values, &[], caller)?;
        let id = plan.id;
        let base_unit = if table == "uomschedule" {
            self.data[t as usize]
                .col("baseuomname")
                .and_then(|c| plan.record.get(c)?.as_text().map(str::to_string))
        } else {
            None
        };
        self.commit(plan);
        // Creating a unit group creates its base unit, named by
        // `baseuomname`, quantity 1 (the uomschedule entity reference).
        if let Some(name) = base_unit {
            let ut = self.sync_table("uom")?;
            let unit = self.plan_create(
                ut,
                &Map::new(),
                None,
                &[],
                &[
                    ("name", Cell::text(&name)),
                    ("quantity", Cell::Num(1.0)),
                    ("uomscheduleid", Cell::Ref(t, id)),
                ],
                caller,
            )?;
            self.commit(unit);
        }
        Ok(id)
    }

    fn update_in(
        &mut self,
        table: TableId,
        id: Uuid,
        body: &Map<String, Value>,
        caller: Uuid,
        internal: bool,
    ) -> Result<(), DvError> {
        if self.is_activity(&self.names[table as usize])
            && self.table_def("activityparty").is_some()
        {
            self.sync_table("activityparty")?;
        }
        let plan = self.plan_update(table, id, body, caller, internal)?;
        self.commit(plan);
        Ok(())
    }

    /// `PATCH <set>(<key>)` with its `If-Match` / `If-None-Match` meaning:
    /// a bare PATCH creates the record when it is missing ("Upsert a
    /// table row", update-delete-entities-using-web-api); `If-Match: *`
    /// refuses to create (404), `If-None-Match: *` refuses to update (412,
    /// "A record with matching key values already exists.", "Limit upsert
    /// operations", perform-conditional-operations-using-web-api).
    pub fn write(
        &mut self,
        table: &str,
        key: &RecordKey,
        body: &Map<String, Value>,
        mode: WriteMode,
        caller: Uuid,
    ) -> Result<Written, DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            match (s.find(table, key)?, mode) {
                (Some(_), WriteMode::Create | WriteMode::CreateOnly) => Err(duplicate_id()),
                (Some(id), WriteMode::Upsert | WriteMode::UpdateOnly) => {
                    s.update_in(t, id, body, caller, false)?;
                    Ok(Written { id, created: false })
                }
                (None, WriteMode::UpdateOnly) => Err(s.missing(table, key)),
                (None, _) => {
                    let (url_id, pairs) = match key {
                        RecordKey::Id(id) => (Some(*id), &[][..]),
                        RecordKey::Alternate(pairs) => (None, pairs.as_slice()),
                    };
                    let id = s.create_in(table, body, url_id, pairs, caller)?;
                    Ok(Written { id, created: true })
                }
            }
        })
    }

    /// `DELETE <set>(<key>)`. N:N links of the record go with it; records
    /// that cannot exist without it (see [`is_parental`]) are deleted too,
    /// and other lookups to it are cleared, as Dataverse's cascade and
    /// remove-link behaviours do.
    pub fn delete(&mut self, table: &str, key: &RecordKey) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            let id = s.retrieve_id(table, key)?;
            if s.protected[t as usize] {
                return Err(DvError::bad_request(format!(
                    "The 'Delete' method does not support entities of type '{table}'."
                )));
            }
            s.delete_cascade(t, id);
            Ok(())
        })
    }

    fn delete_cascade(&mut self, table: TableId, id: Uuid) {
        let mut pending = vec![(table, id)];
        let mut gone: HashSet<Uuid> = HashSet::new();
        while let Some((t, id)) = pending.pop() {
            if !gone.insert(id) {
                continue;
            }
            let referrers: Vec<(TableId, Uuid)> = self
                .refs
                .range((id, 0, Uuid::nil())..=(id, TableId::MAX, MAX_UUID))
                .map(|(_, rt, rid)| (*rt, *rid))
                .collect();
            for (rt, rid) in referrers {
                if gone.contains(&rid) {
                    continue;
                }
                let data = &self.data[rt as usize];
                let Some(record) = data.records.get(&rid) else {
                    continue;
                };
                let cols: Vec<ColId> = record
                    .cells
                    .iter()
                    .filter(|(_, cell)| matches!(cell, Cell::Ref(_, target) if *target == id))
                    .map(|(c, _)| *c)
                    .collect();
                let parental = self.table_def(&self.names[rt as usize]).is_some_and(|def| {
                    cols.iter().any(|c| {
                        def.column(&data.cols[*c as usize])
                            .is_some_and(|col| is_parental(def, col))
                    })
                });
                if parental {
                    pending.push((rt, rid));
                } else {
                    let mut record = record.clone();
                    for c in cols {
                        record.set(c, None);
                    }
                    self.version += 1;
                    record.version = self.version;
                    record.modified = now();
                    self.put_logged(rt, rid, Some(record));
                }
            }
            let name = self.names[t as usize].clone();
            let relationships: Vec<ManyToMany> = self
                .schema
                .many_to_many()
                .iter()
                .filter(|r| r.table1 == name || r.table2 == name)
                .cloned()
                .collect();
            for r in relationships {
                let mut pairs = Vec::new();
                if let Some(links) = self.links.get(&r.name) {
                    if r.table1 == name {
                        pairs.extend(
                            links
                                .forward
                                .range((id, Uuid::nil())..=(id, MAX_UUID))
                                .copied(),
                        );
                    }
                    if r.table2 == name {
                        pairs.extend(
                            links
                                .backward
                                .range((id, Uuid::nil())..=(id, MAX_UUID))
                                .map(|(b, a)| (*a, *b)),
                        );
                    }
                }
                for pair in pairs {
                    self.link_logged(&r.name, pair, false);
                }
            }
            self.put_logged(t, id, None);
        }
    }

    /// `GET <set>(<key>)`: the record in wire form (DESIGN.md).
    pub fn retrieve(&self, table: &str, key: &RecordKey) -> Result<Map<String, Value>, DvError> {
        let def = self.require_table(table)?;
        let id = self.retrieve_id(table, key)?;
        let t = self
            .tid(table)
            .expect("a record was found, so its table has storage");
        let layout = self.layout(def, t);
        Ok(self.wire(def, &layout, id, &self.data[t as usize].records[&id]))
    }

    /// Every record of `table` in wire form, in primary-id order.
    pub fn rows(&self, table: &str) -> Result<Vec<Map<String, Value>>, DvError> {
        Ok(self.scan(table)?.collect())
    }

    /// [`Store::rows`] one at a time: a filter or a page over a large table
    /// need not hold the whole table in wire form.
    pub fn scan<'a>(
        &'a self,
        table: &str,
    ) -> Result<impl Iterator<Item = Map<String, Value>> + 'a, DvError> {
        let def = self.require_table(table)?;
        let t = self.tid(table);
        let layout = t.map(|t| self.layout(def, t)).unwrap_or_default();
        let records = t.map(|t| &self.data[t as usize].records);
        Ok(records
            .into_iter()
            .flat_map(|r| r.iter())
            .map(move |(id, record)| self.wire(def, &layout, *id, record)))
    }

    /// The columns a record shows, in schema order, with their ids here.
    fn layout<'a>(&self, def: &'a Table, table: TableId) -> Vec<(&'a Column, Option<ColId>)> {
        let data = &self.data[table as usize];
        def.columns
            .iter()
            .filter(|c| {
                c.name != def.primary_id
                    && c.column_type != ColumnType::PartyList
                    && !is_lookup_type_column(def, c)
            })
            .map(|c| (c, data.col(&c.name)))
            .collect()
    }

    fn primary_name(&self, table: TableId, id: Uuid) -> Option<String> {
        let def = self.table_def(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let cell = data.records.get(&id)?.get(data.col(&def.primary_name)?)?;
        cell.as_text().map(str::to_string)
    }

    /// A record as the Web API returns it: `@odata.etag`, the primary id,
    /// every column (null when unset), lookups as `_x_value` with their
    /// target table and name annotations, and the system columns.
    fn wire(
        &self,
        def: &Table,
        layout: &[(&Column, Option<ColId>)],
        id: Uuid,
        record: &Record,
    ) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert(
            "@odata.etag".to_string(),
            Value::String(format!("W/\"{}\"", record.version)),
        );
        row.insert(def.primary_id.clone(), Value::String(id.to_string()));
        for (col, c) in layout {
            let cell = c.and_then(|c| record.get(c));
            if col.is_lookup() {
                let name = format!("_{}_value", col.name);
                if let Some(Cell::Ref(t, target)) = cell {
                    row.insert(
                        format!("{name}@Microsoft.Dynamics.CRM.lookuplogicalname"),
                        Value::String(self.names[*t as usize].clone()),
                    );
                    if let Some(label) = self.primary_name(*t, *target) {
                        row.insert(
                            format!("{name}@OData.Community.Display.V1.FormattedValue"),
                            Value::String(label),
                        );
                    }
                    row.insert(name, Value::String(target.to_string()));
                } else {
                    row.insert(name, Value::Null);
                }
            } else {
                row.insert(col.name.clone(), cell.map_or(Value::Null, cell_value));
            }
        }
        row.insert(
            "createdon".to_string(),
            Value::String(format_time(record.created)),
        );
        row.insert(
            "modifiedon".to_string(),
            Value::String(format_time(record.modified)),
        );
        row.insert("versionnumber".to_string(), json!(record.version));
        row
    }

    fn relationship(&self, name: &str) -> Option<ManyToMany> {
        self.schema
            .many_to_many()
            .iter()
            .find(|r| r.name == name)
            .cloned()
    }

    /// The (table1 id, table2 id) pair of an N:N link, whichever side the
    /// request came from.
    fn pair(
        &self,
        r: &ManyToMany,
        table: &str,
        id: Uuid,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(Uuid, Uuid), DvError> {
        let pair = if table == r.table1 && target_table == r.table2 {
            (id, target_id)
        } else if table == r.table2 && target_table == r.table1 {
            (target_id, id)
        } else {
            return Err(DvError::bad_request(format!(
                "The relationship '{}' links {} and {} records, not {table} and {target_table}.",
                r.name, r.table1, r.table2
            )));
        };
        self.retrieve_id(target_table, &RecordKey::Id(target_id))?;
        Ok(pair)
    }

    /// The table at the other end of a navigation property: an N:N
    /// relationship, or a lookup's (only, or named) target.
    pub fn navigation_target(&self, table: &str, navigation: &str) -> Result<String, DvError> {
        if let Some(r) = self.relationship(navigation) {
            return Ok(if r.table1 == table {
                r.table2
            } else {
                r.table1
            });
        }
        let def = self.require_table(table)?;
        match self.nav_column(def, navigation) {
            Some((_, Some(target))) => Ok(target),
            Some((col, None)) => col
                .targets
                .first()
                .cloned()
                .ok_or_else(|| DvError::no_segment(navigation)),
            None => Err(DvError::no_segment(navigation)),
        }
    }

    /// `POST|PUT <set>(id)/<navigation>/$ref`: links two records through an
    /// N:N relationship ("Associate and disassociate table rows",
    /// associate-disassociate-entities-using-web-api), or sets a lookup
    /// through its single-valued navigation property, with the same checks
    /// as `@odata.bind`. Linking a pair twice is a duplicate key, as in SQL.
    pub fn associate(
        &mut self,
        table: &str,
        id: Uuid,
        relationship: &str,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            s.retrieve_id(table, &RecordKey::Id(id))?;
            if let Some(r) = s.relationship(relationship) {
                let pair = s.pair(&r, table, id, target_table, target_id)?;
                if s.links
                    .get(&r.name)
                    .is_some_and(|l| l.forward.contains(&pair))
                {
                    return Err(DvError::new(
                        400,
                        error::DUPLICATE_RECORD,
                        "Cannot insert duplicate key.",
                    ));
                }
                s.link_logged(&r.name, pair, true);
                return Ok(());
            }
            let def = s.require_table(table)?;
            if s.nav_column(def, relationship).is_none() {
                return Err(DvError::no_segment(relationship));
            }
            let set = s.require_table(target_table)?.entity_set_name.clone();
            let mut body = Map::new();
            body.insert(
                format!("{relationship}@odata.bind"),
                Value::String(format!("/{set}({target_id})")),
            );
            s.update_in(t, id, &body, Uuid::nil(), false)
        })
    }

    /// `DELETE <set>(id)/<navigation>/$ref`: unlinks an N:N pair (removing
    /// a link that is not there is not an error) or clears a lookup.
    pub fn disassociate(
        &mut self,
        table: &str,
        id: Uuid,
        relationship: &str,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            s.retrieve_id(table, &RecordKey::Id(id))?;
            if let Some(r) = s.relationship(relationship) {
                if target_table.is_empty() || target_id.is_nil() {
                    return Err(DvError::bad_request(format!(
                        "Removing a link through '{relationship}' needs the other record: '$id' or its key in the path."
                    )));
                }
                let pair = s.pair(&r, table, id, target_table, target_id)?;
                s.link_logged(&r.name, pair, false);
                return Ok(());
            }
            let def = s.require_table(table)?;
            if s.nav_column(def, relationship).is_none() {
                return Err(DvError::no_segment(relationship));
            }
            let mut body = Map::new();
            body.insert(format!("{relationship}@odata.bind"), Value::Null);
            s.update_in(t, id, &body, Uuid::nil(), false)
        })
    }

    /// The records linked to `id` through an N:N relationship.
    pub fn linked(&self, relationship: &str, id: Uuid) -> Vec<Uuid> {
        let Some(links) = self.links.get(relationship) else {
            return Vec::new();
        };
        links
            .forward
            .range((id, Uuid::nil())..=(id, MAX_UUID))
            .chain(links.backward.range((id, Uuid::nil())..=(id, MAX_UUID)))
            .map(|(_, other)| *other)
            .collect()
    }

    /// `CloseIncident`: creates the case resolution (an activity, closed
    /// at once) and resolves the case with `status`, which must be a
    /// Resolved reason (5 Problem Solved, 1000 Information Provided; SPEC
    /// §9). A case already resolved or cancelled cannot be closed
    /// (`unManagedidsincidentinvalidstate`). Returns the resolution's id.
    pub fn close_incident(
        &mut self,
        resolution: &Map<String, Value>,
        status: i32,
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        self.transaction(|s| {
            let bind = resolution
                .get("incidentid@odata.bind")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    DvError::bad_request(
                        "The IncidentResolution needs 'incidentid@odata.bind': the case to close.",
                    )
                })?;
            let (set, key_text) = split_reference(bind)?;
            if s.table_for_set(set)? != "incident" {
                return Err(DvError::bad_request(format!(
                    "'{bind}' is not a case (incident) record."
                )));
            }
            let key = s.parse_key("incident", key_text)?;
            let incident = s.retrieve_id("incident", &key)?;
            let t = s.sync_table("incident")?;
            let def = s.require_table("incident")?;
            let (state_col, status_col) =
                state_columns(def).ok_or_else(|| DvError::no_segment("CloseIncident"))?;
            let data = &s.data[t as usize];
            let state = data
                .col(&state_col.name)
                .and_then(|c| cell_int(data.records[&incident].get(c)))
                .unwrap_or(0);
            if state != 0 {
                return Err(DvError::new(
                    400,
                    error::INCIDENT_INVALID_STATE,
                    format!(
                        "Incident state is invalid. The case {incident} is not active (statecode {state}); reactivate it before closing it."
                    ),
                ));
            }
            let resolved = status_col.option(status).and_then(|o| o.state) == Some(1);
            if !resolved {
                return Err(DvError::new(
                    400,
                    error::STATE_STATUS_MISMATCH,
                    format!(
                        "State code is invalid or state code is valid but status code is invalid for a specified state code. ({status} is not a Resolved status of incident)"
                    ),
                ));
            }
            let resolution_id = s.create_in("incidentresolution", resolution, None, &[], caller)?;
            // The resolution is a completed activity.
            let rt = s.sync_table("incidentresolution")?;
            s.update_in(rt, resolution_id, &state_body(1, None), caller, true)?;
            s.update_in(t, incident, &state_body(1, Some(status)), caller, true)?;
            Ok(resolution_id)
        })
    }
}

fn state_body(state: i32, status: Option<i32>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("statecode".to_string(), json!(state));
    if let Some(status) = status {
        body.insert("statuscode".to_string(), json!(status));
    }
    body
}

/// A table in a state file: its definition plus what serde leaves out of
/// one (the name and which parts ferry created).
#[derive(Serialize, Deserialize)]
struct SavedTable {
    logical_name: String,
    custom: bool,
    custom_columns: Vec<String>,
    definition: Table,
}

#[derive(Serialize, Deserialize)]
struct StateHeader {
    format: String,
    version: u32,
    /// The last record version handed out, so etags keep growing.
    last_version: u64,
    tables: Vec<SavedTable>,
}

fn encode_cell(cell: &Cell, names: &[String]) -> Value {
    match cell {
        Cell::Bool(b) => json!(["b", b]),
        Cell::Int(i) => json!(["i", i]),
        Cell::Num(n) => json!(["n", n]),
        Cell::Short { .. } | Cell::Text(_) => json!(["s", cell.as_text()]),
        Cell::Time(t) => json!(["t", t]),
        Cell::Date(d) => json!(["d", d]),
        Cell::Ref(t, id) => json!(["r", names[*t as usize], id.to_string()]),
    }
}

fn io_error(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

// Saving and loading.
impl Store {
    /// Writes the whole org to `path` as JSON lines: a header with the
    /// schema (so tables, columns, options and keys added at run time come
    /// back), then one line per record and one per N:N link. Written to a
    /// temporary file and renamed, so a crash leaves the old state intact;
    /// streamed, so a million records need no second copy in memory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = std::path::PathBuf::from(temporary);
        {
            let mut out = BufWriter::new(File::create(&temporary)?);
            let header = StateHeader {
                format: STATE_FORMAT.to_string(),
                version: STATE_VERSION,
                last_version: self.version,
                tables: self
                    .schema
                    .tables()
                    .map(|t| SavedTable {
                        logical_name: t.logical_name.clone(),
                        custom: t.custom,
                        custom_columns: t
                            .columns
                            .iter()
                            .filter(|c| c.custom)
                            .map(|c| c.name.clone())
                            .collect(),
                        definition: t.clone(),
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut out, &header)?;
            out.write_all(b"\n")?;
            for (name, data) in self.names.iter().zip(&self.data) {
                for (id, record) in &data.records {
                    let cells: Map<String, Value> = record
                        .cells
                        .iter()
                        .map(|(c, cell)| {
                            (
                                data.cols[*c as usize].to_string(),
                                encode_cell(cell, &self.names),
                            )
                        })
                        .collect();
                    let line = json!({
                        "table": name,
                        "id": id.to_string(),
                        "created": record.created,
                        "modified": record.modified,
                        "version": record.version,
                        "cells": cells,
                    });
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
            for (relationship, links) in &self.links {
                for (a, b) in &links.forward {
                    let line =
                        json!({"link": relationship, "a": a.to_string(), "b": b.to_string()});
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        std::fs::rename(&temporary, path)
    }

    /// Reads a state file written by [`Store::save`]. The saved schema
    /// replaces `schema`'s tables of the same name (it is `schema` plus
    /// whatever was created at run time); records are restored as they
    /// were, without re-validating or re-seeding.
    pub fn load(path: &Path, mut schema: Schema, org: OrgSettings) -> Result<Store, String> {
        let shown = path.display();
        let file = File::open(path).map_err(|e| format!("reading {shown}: {e}"))?;
        let mut lines = BufReader::new(file).lines();
        let first = lines
            .next()
            .ok_or_else(|| format!("{shown} is empty"))?
            .map_err(|e| format!("reading {shown}: {e}"))?;
        let header: StateHeader = serde_json::from_str(&first)
            .map_err(|e| format!("{shown} is not a ferry Dataverse state file: {e}"))?;
        if header.format != STATE_FORMAT || header.version != STATE_VERSION {
            return Err(format!(
                "{shown} is a '{}' file of version {}; this ferry reads '{STATE_FORMAT}' version {STATE_VERSION}",
                header.format, header.version
            ));
        }
        let tables = header
            .tables
            .into_iter()
            .map(|saved| {
                let mut table = saved.definition;
                table.logical_name = saved.logical_name;
                table.custom = saved.custom;
                for column in &mut table.columns {
                    column.custom = saved.custom_columns.contains(&column.name);
                }
                table
            })
            .collect();
        schema.replace_tables(tables);
        let mut store = Store::empty(schema, org);
        store.version = header.last_version;
        for (n, line) in lines.enumerate() {
            let at = |e: &dyn std::fmt::Display| format!("{shown} line {}: {e}", n + 2);
            let line = line.map_err(|e| at(&e))?;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&line).map_err(|e| at(&e))?;
            store.load_line(&value).map_err(|e| at(&e))?;
        }
        Ok(store)
    }

    fn load_line(&mut self, line: &Value) -> Result<(), std::io::Error> {
        let id_of = |v: &Value| {
            v.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| io_error(format!("bad id {v}")))
        };
        if let Some(relationship) = line.get("link").and_then(Value::as_str) {
            let pair = (id_of(&line["a"])?, id_of(&line["b"])?);
            self.set_link(relationship, pair, true);
            return Ok(());
        }
        let table = line["table"]
            .as_str()
            .ok_or_else(|| io_error("a record line without a table".to_string()))?;
        let t = self
            .sync_table(table)
            .map_err(|_| io_error(format!("unknown table {table}")))?;
        let id = id_of(&line["id"])?;
        let number = |key: &str| {
            line[key]
                .as_i64()
                .ok_or_else(|| io_error(format!("bad {key}")))
        };
        let mut record = Record::new(number("created")?);
        record.modified = number("modified")?;
        record.version = line["version"].as_u64().unwrap_or(0);
        let cells = line["cells"]
            .as_object()
            .ok_or_else(|| io_error("a record line without cells".to_string()))?;
        for (column, encoded) in cells {
            let bad = || io_error(format!("bad value of {column}: {encoded}"));
            let parts = encoded.as_array().ok_or_else(bad)?;
            let tag = parts.first().and_then(Value::as_str).ok_or_else(bad)?;
            let v = parts.get(1).ok_or_else(bad)?;
            let cell = match tag {
                "b" => Cell::Bool(v.as_bool().ok_or_else(bad)?),
                "i" => Cell::Int(v.as_i64().ok_or_else(bad)?),
                "n" => Cell::Num(v.as_f64().ok_or_else(bad)?),
                "s" => Cell::text(v.as_str().ok_or_else(bad)?),
                "t" => Cell::Time(v.as_i64().ok_or_else(bad)?),
                "d" => Cell::Date(
                    v.as_i64()
                        .and_then(|d| i32::try_from(d).ok())
                        .ok_or_else(bad)?,
                ),
                "r" => {
                    let target = v.as_str().ok_or_else(bad)?;
                    let tt = self
                        .sync_table(target)
                        .map_err(|_| io_error(format!("unknown table {target}")))?;
                    Cell::Ref(tt, id_of(parts.get(2).ok_or_else(bad)?)?)
                }
                _ => return Err(bad()),
            };
            let c = self.data[t as usize].intern(column);
            record.set(c, Some(cell));
        }
        self.version = self.version.max(record.version);
        self.put(t, id, Some(record));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(Schema::builtin("st"), OrgSettings::default())
    }

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    const ME: Uuid = APPLICATION_USER_ID;

    fn account(s: &mut Store, name: &str) -> Uuid {
        s.create("account", &body(json!({ "name": name })), ME)
            .expect("account")
    }

    fn incident(s: &mut Store, customer: Uuid) -> Uuid {
        s.create(
            "incident",
            &body(json!({
                "title": "No heat",
                "customerid_account@odata.bind": format!("/accounts({customer})"),
            })),
            ME,
        )
        .expect("incident")
    }

    fn get(s: &Store, table: &str, id: Uuid) -> Map<String, Value> {
        s.retrieve(table, &RecordKey::Id(id)).expect("retrieve")
    }

    fn enabled_user(s: &Store) -> &SeedUser {
        s.org().users.iter().skip(1).find(|u| !u.disabled).unwrap()
    }

    fn disabled_user(s: &Store) -> &SeedUser {
        s.org().users.iter().find(|u| u.disabled).unwrap()
    }

    #[test]
    fn seeds_the_org_of_spec_9() {
        let s = store();
        let users = &s.org().users;
        assert_eq!(users[0].id, APPLICATION_USER_ID);
        assert_eq!(users.iter().skip(1).filter(|u| !u.disabled).count(), 6);
        assert_eq!(users.iter().filter(|u| u.disabled).count(), 2);
        assert!(users
            .iter()
            .all(|u| u.email.ends_with("@contoso-emulator.example")));
        // Deterministic: the same org every time.
        assert_eq!(OrgSettings::default().users, *users);
        assert_eq!(s.count("systemuser"), 9);
        let grace = get(&s, "systemuser", disabled_user(&s).id);
        assert_eq!(grace["isdisabled"], json!(true));
        assert_eq!(
            grace["internalemailaddress"],
            json!(disabled_user(&s).email)
        );
        assert_eq!(
            grace["_businessunitid_value"],
            json!(s.business_unit_id().to_string())
        );
        let org = get(&s, "organization", s.organization_id());
        assert_eq!(org["maxuploadfilesize"], json!(5_242_880));
        assert_eq!(s.table_for_set("organizations").unwrap(), "organization");
        let usd = get(&s, "transactioncurrency", s.base_currency_id());
        assert_eq!(usd["currencyname"], json!("US Dollar"));
        assert_eq!(usd["isocurrencycode"], json!("USD"));
        let template = get(&s, "contracttemplate", s.contract_template_id());
        assert_eq!(template["name"], json!("Service"));
        let group = get(&s, "uomschedule", s.default_unit_group_id());
        assert_eq!(group["name"], json!("Default Unit"));
        assert_eq!(group["statecode"], json!(0));
        let unit = get(&s, "uom", s.primary_unit_id());
        assert_eq!(unit["name"], json!("Primary Unit"));
        assert_eq!(
            unit["_uomscheduleid_value"],
            json!(s.default_unit_group_id().to_string())
        );
        assert_eq!(
            unit["_uomscheduleid_value@OData.Community.Display.V1.FormattedValue"],
            json!("Default Unit")
        );
    }

    #[test]
    fn entity_sets_resolve_or_404() {
        let s = store();
        assert_eq!(s.table_for_set("accounts").unwrap(), "account");
        assert_eq!(s.table_for_set("st_equipments").unwrap(), "st_equipment");
        let err = s.table_for_set("Account").unwrap_err();
        assert_eq!((err.status, err.code), (404, error::RESOURCE_NOT_FOUND));
        assert_eq!(err.message, "Resource not found for the segment 'Account'.");
        let mut s = s;
        let err = s.create("nosuchtable", &Map::new(), ME).unwrap_err();
        assert_eq!(err.code, error::RESOURCE_NOT_FOUND);
        assert_eq!(s.count("nosuchtable"), 0);
        assert!(s.rows("account").unwrap().is_empty());
        assert_eq!(s.scan("systemuser").unwrap().count(), 9);
    }

    #[test]
    fn keys_parse_as_guid_primary_id_or_alternate() {
        let s = store();
        let id = Uuid::new_v4();
        assert_eq!(
            s.parse_key("account", &id.to_string()).unwrap(),
            RecordKey::Id(id)
        );
        assert_eq!(
            s.parse_key("account", &format!("accountid={id}")).unwrap(),
            RecordKey::Id(id)
        );
        assert_eq!(
            s.parse_key("contact", "firstname='Joe',st_record_id='O''Brien, A=1'")
                .unwrap(),
            RecordKey::Alternate(vec![
                ("firstname".into(), json!("Joe")),
                ("st_record_id".into(), json!("O'Brien, A=1")),
            ])
        );
        assert_eq!(
            s.parse_key("account", &format!("_primarycontactid_value={id},n=3"))
                .unwrap(),
            RecordKey::Alternate(vec![
                ("_primarycontactid_value".into(), json!(id.to_string())),
                ("n".into(), json!(3)),
            ])
        );
        assert_eq!(
            s.parse_key("st_equipment", "st_installdate=2019-03-04,n=-2")
                .unwrap(),
            RecordKey::Alternate(vec![
                ("st_installdate".into(), json!("2019-03-04")),
                ("n".into(), json!(-2)),
            ])
        );
        for bad in ["abc", "name='open", "name=", "=1", "a=1,,b=2"] {
            let err = s.parse_key("account", bad).unwrap_err();
            assert_eq!(err.code, error::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn create_and_retrieve_in_wire_form() {
        let mut s = store();
        let acme = account(&mut s, "Acme Heating");
        let contact = s
            .create(
                "contact",
                &body(json!({
                    "firstname": "Dana",
                    "lastname": "Reyes",
                    "emailaddress1": "dana@acme.example",
                    "parentcustomerid_account@odata.bind": format!("/accounts({acme})"),
                    "st_record_id": "C-1",
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "contact", contact);
        assert_eq!(row["contactid"], json!(contact.to_string()));
        assert!(row["@odata.etag"].as_str().unwrap().starts_with("W/\""));
        assert_eq!(row["fullname"], json!("Dana Reyes"));
        assert_eq!(row["_parentcustomerid_value"], json!(acme.to_string()));
        assert_eq!(
            row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
            json!("account")
        );
        assert_eq!(
            row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
            json!("Acme Heating")
        );
        // Owner defaults to the caller.
        assert_eq!(row["_ownerid_value"], json!(ME.to_string()));
        assert_eq!(
            row["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
            json!("systemuser")
        );
        assert_eq!(
            row["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
            json!("# ferry migration")
        );
        // State defaults: Active / Active.
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(0), json!(1))
        );
        // Every column shows, null when unset; lookups only as _x_value.
        assert_eq!(row["telephone1"], Value::Null);
        assert!(!row.contains_key("parentcustomerid"));
        assert!(!row.contains_key("owneridtype"));
        assert!(!row.contains_key("parentcustomeridtype"));
        let created = row["createdon"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'));
        assert_eq!(row["createdon"], row["modifiedon"]);
        // The same row comes out of rows(), which is in primary-id order.
        let rows = s.rows("contact").unwrap();
        assert_eq!(rows, vec![row]);
        let a = account(&mut s, "B");
        let b = account(&mut s, "C");
        let ids: Vec<String> = s
            .rows("account")
            .unwrap()
            .iter()
            .map(|r| r["accountid"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = vec![acme.to_string(), a.to_string(), b.to_string()];
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(s.count("account"), 3);
    }

    #[test]
    fn body_id_is_used_and_a_duplicate_is_refused() {
        let mut s = store();
        let id = Uuid::new_v4();
        let created = s
            .create(
                "account",
                &body(json!({"accountid": id.to_string(), "name": "A"})),
                ME,
            )
            .unwrap();
        assert_eq!(created, id);
        let err = s
            .create(
                "account",
                &body(json!({"accountid": id.to_string(), "name": "B"})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_RECORD));
        assert_eq!(get(&s, "account", id)["name"], json!("A"));
    }

    #[test]
    fn bind_to_a_missing_parent_fails_and_writes_nothing() {
        let mut s = store();
        let ghost = Uuid::new_v4();
        let err = s
            .create(
                "contact",
                &body(json!({
                    "lastname": "Reyes",
                    "parentcustomerid_account@odata.bind": format!("/accounts({ghost})"),
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
        assert_eq!(
            err.message,
            format!("account With Id = {ghost} Does Not Exist")
        );
        assert_eq!(s.count("contact"), 0);
        // By alternate key too, with the key wording.
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let err = s
            .create(
                "contact",
                &body(json!({
                    "lastname": "Reyes",
                    "parentcustomerid_account@odata.bind": "/accounts(st_record_id='nope')",
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        assert_eq!(
            err.message,
            "A record with the specified key values does not exist in account entity"
        );
        assert_eq!(s.count("contact"), 0);
    }

    #[test]
    fn binds_check_their_navigation_property_and_target() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "X"})), ME)
            .unwrap();
        // A contact record bound where the property says account.
        let err = s
            .create(
                "contact",
                &body(
                    json!({"parentcustomerid_account@odata.bind": format!("/contacts({contact})")}),
                ),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // Multi-target lookups need the suffixed name.
        let err = s
            .create(
                "contact",
                &body(json!({"parentcustomerid@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        assert!(
            err.message
                .starts_with("An undeclared property 'parentcustomerid'"),
            "{}",
            err.message
        );
        // Full URLs and bare set paths are both references.
        for reference in [
            format!("https://org.example.com/api/data/v9.2/accounts({acme})"),
            format!("accounts({acme})"),
        ] {
            s.create(
                "contact",
                &body(json!({"parentcustomerid_account@odata.bind": reference})),
                ME,
            )
            .unwrap();
        }
        // A lookup as a plain value, or its read-only _x_value.
        let err = s
            .create(
                "account",
                &body(json!({"primarycontactid": contact.to_string()})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.message, LOOKUP_AS_VALUE);
        let err = s
            .create(
                "account",
                &body(json!({"_primarycontactid_value": contact.to_string()})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.starts_with("CRM do not support direct update"));
        // Single-target lookups bind by the column name.
        let id = s
            .create(
                "account",
                &body(json!({"name": "B", "primarycontactid@odata.bind": format!("/contacts({contact})")})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "account", id)["_primarycontactid_value"],
            json!(contact.to_string())
        );
    }

    #[test]
    fn unknown_properties_and_annotations() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"nmae": "x"})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::BAD_REQUEST));
        assert_eq!(
            err.message,
            "Could not find a property named 'nmae' on type 'Microsoft.Dynamics.CRM.account'."
        );
        let err = s
            .create(
                "account",
                &body(json!({"nmae@odata.bind": "/accounts(x)"})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.starts_with("An undeclared property 'nmae' which only has property annotations in the payload but no property value was found in the payload."));
        // Party lists and lookup type columns are not properties.
        for key in ["to", "owneridtype"] {
            let target = if key == "to" { "phonecall" } else { "account" };
            let err = s
                .create(target, &body(json!({ key: "x" })), ME)
                .unwrap_err();
            assert!(
                err.message.starts_with("Could not find a property named"),
                "{key}"
            );
        }
        // @odata.type (bulk targets) is accepted when it names the table;
        // echoed annotations on known properties are ignored.
        s.create(
            "account",
            &body(json!({
                "@odata.type": "Microsoft.Dynamics.CRM.account",
                "name": "Typed",
                "name@OData.Community.Display.V1.FormattedValue": "Typed",
            })),
            ME,
        )
        .unwrap();
        let err = s
            .create(
                "account",
                &body(json!({"@odata.type": "Microsoft.Dynamics.CRM.contact"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn values_must_have_the_column_type() {
        let mut s = store();
        let cases = [
            ("prioritycode", json!("1"), "Edm.Int32"),
            ("title", json!(5), "Edm.String"),
            ("st_scheduledstart", json!("tomorrow"), "Edm.DateTimeOffset"),
            (
                "st_scheduledstart",
                json!("2024-05-01"),
                "Edm.DateTimeOffset",
            ),
        ];
        let acme = account(&mut s, "Acme");
        for (column, value, edm) in cases {
            let err = s
                .create(
                    "incident",
                    &body(json!({
                        "customerid_account@odata.bind": format!("/accounts({acme})"),
                        column: value,
                    })),
                    ME,
                )
                .unwrap_err();
            assert_eq!(err.code, error::BAD_REQUEST, "{column}");
            assert!(
                err.message
                    .ends_with(&format!("to the expected type '{edm}'.")),
                "{}",
                err.message
            );
        }
        // DateOnly columns take a date; instants come back in UTC.
        let eq = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Boiler", "st_installdate": "2019-03-04"})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "st_equipment", eq)["st_installdate"],
            json!("2019-03-04")
        );
        let err = s
            .create(
                "st_equipment",
                &body(json!({"st_installdate": "2019-03-04T10:00:00Z"})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.contains("'Edm.Date'"));
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "st_scheduledstart": "2024-05-01T15:00:00+02:00",
                })),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "incident", case)["st_scheduledstart"],
            json!("2024-05-01T13:00:00Z")
        );
        let err = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Old", "st_installdate": "1700-01-01"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INVALID_DATE_TIME);
        // Money, doubles and range checks.
        let err = s
            .create("account", &body(json!({"address1_latitude": 91.0})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::DECIMAL_OUT_OF_RANGE);
        let err = s
            .create(
                "account",
                &body(json!({"address1_utcoffset": 5_000_000_000_i64})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn max_length_counts_utf16_units() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"name": "x".repeat(161)})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::VALIDATION_ERROR));
        assert_eq!(
            err.message,
            "A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."
        );
        account(&mut s, &"x".repeat(160));
        // An emoji is two UTF-16 units, as .NET counts it.
        account(&mut s, &"😀".repeat(80));
        let err = s
            .create("account", &body(json!({"name": "😀".repeat(81)})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::VALIDATION_ERROR);
        // "é" is one unit however many bytes.
        account(&mut s, &"é".repeat(160));
        // Updates are held to it too.
        let a = account(&mut s, "short");
        let err = s
            .write(
                "account",
                &RecordKey::Id(a),
                &body(json!({"telephone1": "9".repeat(51)})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::VALIDATION_ERROR);
    }

    #[test]
    fn option_values_must_exist() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let err = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": 100_000_000,
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (400, error::PICKLIST_VALUE_OUT_OF_RANGE)
        );
        assert_eq!(
            err.message,
            "A validation error occurred. The value 100000000 of 'prioritycode' on record of type 'incident' is outside the valid range. Accepted Values: 1,2,3"
        );
        // Once InsertOptionValue added it, the value is accepted.
        let value = s
            .schema_mut()
            .insert_option("incident", "prioritycode", None, "Critical")
            .unwrap();
        assert_eq!(value, 100_000_000);
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": value,
                })),
                ME,
            )
            .unwrap();
        assert_eq!(get(&s, "incident", case)["prioritycode"], json!(value));
    }

    #[test]
    fn statecode_cannot_be_set_on_create_unless_the_schema_allows_it() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"name": "A", "statecode": 1})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::NOT_VALID_FOR_CREATE));
        assert!(
            err.message.contains("'statecode' of 'account'"),
            "{}",
            err.message
        );
        assert_eq!(s.count("account"), 0);
        // statuscode alone is valid for create but must fit the default state.
        let err = s
            .create("account", &body(json!({"name": "A", "statuscode": 2})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::STATE_STATUS_MISMATCH);
        // product.statecode is valid for create in the schema.
        let p = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "statecode": 2,
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({})", s.default_unit_group_id()),
                    "defaultuomid@odata.bind": format!("/uoms({})", s.primary_unit_id()),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "product", p);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(2), json!(0))
        );
    }

    #[test]
    fn state_and_status_must_pair() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let case = incident(&mut s, acme);
        let key = RecordKey::Id(case);
        let update = |s: &mut Store, v: Value| {
            s.write("incident", &key, &body(v), WriteMode::UpdateOnly, ME)
        };
        let err = update(&mut s, json!({"statecode": 2, "statuscode": 1})).unwrap_err();
        assert_eq!((err.status, err.code), (400, error::STATE_STATUS_MISMATCH));
        assert!(err.message.starts_with("State code is invalid or state code is valid but status code is invalid for a specified state code."));
        // A status of the current state is fine; so is a state alone, which
        // takes its default status (Cancelled → 6).
        update(&mut s, json!({"statuscode": 2})).unwrap();
        assert_eq!(get(&s, "incident", case)["statuscode"], json!(2));
        update(&mut s, json!({"statecode": 2})).unwrap();
        let row = get(&s, "incident", case);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(2), json!(6))
        );
        // Reactivate, then cancel as merged.
        update(&mut s, json!({"statecode": 0, "statuscode": 1})).unwrap();
        update(&mut s, json!({"statecode": 2, "statuscode": 2000})).unwrap();
        assert_eq!(get(&s, "incident", case)["statuscode"], json!(2000));
    }

    #[test]
    fn a_case_is_resolved_only_by_close_incident() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let case = incident(&mut s, acme);
        let key = RecordKey::Id(case);
        let err = s
            .write(
                "incident",
                &key,
                &body(json!({"statecode": 1, "statuscode": 5})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(
            err.message,
            "This message can not be used to set the state of incident to Resolved. In order to set state of incident to Resolved, use the CloseIncidentRequest message instead."
        );
        assert_eq!(get(&s, "incident", case)["statecode"], json!(0));
        let resolution = |subject: &str| {
            body(json!({
                "subject": subject,
                "incidentid@odata.bind": format!("/incidents({case})"),
                "timespent": 30,
            }))
        };
        // Only a Resolved reason closes a case.
        let err = s.close_incident(&resolution("Fixed"), 6, ME).unwrap_err();
        assert_eq!(err.code, error::STATE_STATUS_MISMATCH);
        assert_eq!(s.count("incidentresolution"), 0);
        let r = s.close_incident(&resolution("Fixed"), 5, ME).unwrap();
        let row = get(&s, "incident", case);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(1), json!(5))
        );
        let res = get(&s, "incidentresolution", r);
        assert_eq!(res["subject"], json!("Fixed"));
        assert_eq!(res["_incidentid_value"], json!(case.to_string()));
        assert_eq!(res["activitytypecode"], json!("incidentresolution"));
        assert_eq!(
            (res["statecode"].clone(), res["statuscode"].clone()),
            (json!(1), json!(2))
        );
        // Closing a closed case fails and adds no second resolution.
        let err = s
            .close_incident(&resolution("Again"), 1000, ME)
            .unwrap_err();
        assert_eq!(err.code, error::INCIDENT_INVALID_STATE);
        assert_eq!(s.count("incidentresolution"), 1);
        // The resolution needs its case, which must exist.
        let err = s
            .close_incident(&body(json!({"subject": "x"})), 5, ME)
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        let ghost = Uuid::new_v4();
        let err = s
            .close_incident(
                &body(json!({"subject": "x", "incidentid@odata.bind": format!("/incidents({ghost})")})),
                5,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        // Cancelling is an ordinary update (SPEC §9).
        let other = incident(&mut s, acme);
        s.write(
            "incident",
            &RecordKey::Id(other),
            &body(json!({"statecode": 2, "statuscode": 6})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        let err = s
            .close_incident(
                &body(json!({"subject": "x", "incidentid@odata.bind": format!("/incidents({other})")})),
                5,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INCIDENT_INVALID_STATE);
    }

    #[test]
    fn system_required_columns_the_platform_cannot_fill() {
        let mut s = store();
        // A case needs its customer; its title (ApplicationRequired) is
        // a form rule the Web API does not enforce.
        let err = s
            .create("incident", &body(json!({"title": "x"})), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                error::INCIDENT_CUSTOMER_MISSING,
                "You should specify a parent contact or account."
            )
        );
        let acme = account(&mut s, "Acme");
        s.create(
            "incident",
            &body(json!({"customerid_account@odata.bind": format!("/accounts({acme})")})),
            ME,
        )
        .unwrap();
        // An address needs its parent.
        let err = s
            .create(
                "customeraddress",
                &body(json!({"name": "Site", "line1": "1 Main"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::REQUIRED_MISSING);
        assert!(err.message.contains("'parentid'"));
        // A contract needs customer, billing customer, dates and template;
        // the currency defaults to the base currency.
        let mut contract = json!({
            "title": "PM",
            "billingcustomerid_account@odata.bind": format!("/accounts({acme})"),
            "activeon": "2024-01-01T00:00:00Z",
            "expireson": "2025-01-01T00:00:00Z",
            "contracttemplateid@odata.bind": format!("/contracttemplates({})", s.contract_template_id()),
        });
        let err = s
            .create("contract", &body(contract.clone()), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                error::CONTRACT_CUSTOMER_MISSING,
                "Account is required to save a contract."
            )
        );
        contract["customerid_account@odata.bind"] = json!(format!("/accounts({acme})"));
        let id = s.create("contract", &body(contract.clone()), ME).unwrap();
        let row = get(&s, "contract", id);
        assert_eq!(
            row["_transactioncurrencyid_value"],
            json!(s.base_currency_id().to_string())
        );
        assert_eq!(row["contracttemplateabbreviation"], json!("SVC"));
        assert!(row["contractnumber"].as_str().unwrap().starts_with("CNR-"));
        contract
            .as_object_mut()
            .unwrap()
            .remove("contracttemplateid@odata.bind");
        let err = s.create("contract", &body(contract), ME).unwrap_err();
        assert!(err.message.contains("'contracttemplateid'"));
        // A SystemRequired column cannot be emptied by an update.
        let err = s
            .write(
                "contract",
                &RecordKey::Id(id),
                &body(json!({"activeon": null})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::REQUIRED_MISSING);
    }

    #[test]
    fn products_need_a_unit_of_their_unit_group() {
        let mut s = store();
        let group = s.default_unit_group_id();
        let unit = s.primary_unit_id();
        let err = s
            .create(
                "product",
                &body(json!({"name": "Filter", "productnumber": "F-1"})),
                ME,
            )
            .unwrap_err();
        assert!(
            err.message.contains("'defaultuomscheduleid'"),
            "{}",
            err.message
        );
        let err = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({group})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap_err();
        assert!(err.message.contains("'productnumber'"), "{}", err.message);
        // A unit group made through the API brings its base unit name.
        let err = s
            .create("uomschedule", &body(json!({"name": "Boxes"})), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (error::BASE_UOM_NAME_MISSING, "baseuomname not specified")
        );
        let boxes = s
            .create(
                "uomschedule",
                &body(json!({"name": "Boxes", "baseuomname": "Box"})),
                ME,
            )
            .unwrap();
        let err = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({boxes})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INVALID_ARGUMENT);
        // ...but with the group's own base unit it is fine.
        let boxes_rows = s.rows("uom").unwrap();
        let bx = boxes_rows
            .iter()
            .find(|u| u["name"] == json!("Box"))
            .expect("the base unit was made with the group");
        assert_eq!(bx["_uomscheduleid_value"], json!(boxes.to_string()));
        assert_eq!(bx["quantity"], json!(1.0));
        s.create(
            "product",
            &body(json!({
                "name": "Boxed filter",
                "productnumber": "F-2",
                "defaultuomscheduleid@odata.bind": format!("/uomschedules({boxes})"),
                "defaultuomid@odata.bind": format!("/uoms({})", bx["uomid"].as_str().unwrap()),
            })),
            ME,
        )
        .unwrap();
        let p = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "price": 12.5,
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({group})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "product", p);
        assert_eq!(row["price"], json!(12.5));
        assert_eq!(row["productstructure"], json!(1));
        assert!(
            !row.contains_key("_ownerid_value"),
            "products are organization-owned"
        );
    }

    #[test]
    fn overriddencreatedon_is_for_create_only() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "Called about the boiler",
                    "overriddencreatedon": "2019-06-01T09:30:00Z",
                    "regardingobjectid_account_phonecall@odata.bind": format!("/accounts({acme})"),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "phonecall", call);
        assert_eq!(row["createdon"], json!("2019-06-01T09:30:00Z"));
        assert_ne!(row["overriddencreatedon"], json!("2019-06-01T09:30:00Z"));
        assert_eq!(row["_regardingobjectid_value"], json!(acme.to_string()));
        assert_eq!(row["activitytypecode"], json!("phonecall"));
        let err = s
            .write(
                "phonecall",
                &RecordKey::Id(call),
                &body(json!({"overriddencreatedon": "2018-01-01T00:00:00Z"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::NOT_VALID_FOR_UPDATE));
        assert!(err.message.contains("'overriddencreatedon' of 'phonecall'"));
        assert_eq!(
            get(&s, "phonecall", call)["createdon"],
            json!("2019-06-01T09:30:00Z")
        );
    }

    #[test]
    fn attachments_are_limited_by_their_base64_size() {
        let org = OrgSettings {
            max_upload_bytes: 16,
            ..OrgSettings::default()
        };
        let mut s = Store::new(Schema::builtin("st"), org);
        let acme = account(&mut s, "Acme");
        let note = |text: &str| {
            body(json!({
                "subject": "PM routine",
                "filename": "routine.txt",
                "mimetype": "text/plain",
                "documentbody": base64::engine::general_purpose::STANDARD.encode(text),
                "objectid_account@odata.bind": format!("/accounts({acme})"),
            }))
        };
        // 12 bytes of text are 16 base64 characters: exactly the limit.
        let ok = s.create("annotation", &note("twelve bytes"), ME).unwrap();
        let row = get(&s, "annotation", ok);
        assert_eq!(row["filesize"], json!(12));
        assert_eq!(row["isdocument"], json!(true));
        assert_eq!(row["objecttypecode"], json!("account"));
        assert_eq!(row["_objectid_value"], json!(acme.to_string()));
        let err = s
            .create("annotation", &note("thirteen byte"), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::ATTACHMENT_TOO_LARGE));
        assert_eq!(err.message, "Attachment file size is too big.");
        assert_eq!(s.count("annotation"), 1);
        let err = s
            .create(
                "annotation",
                &body(json!({"documentbody": "not base64!"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // The org's setting is the organization row, as in Dataverse.
        s.write(
            "organization",
            &RecordKey::Id(s.organization_id()),
            &body(json!({"maxuploadfilesize": 1024})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        s.create("annotation", &note("thirteen byte"), ME).unwrap();
        // A note without a document.
        let plain = s
            .create("annotation", &body(json!({"notetext": "hello"})), ME)
            .unwrap();
        assert_eq!(get(&s, "annotation", plain)["isdocument"], json!(false));
    }

    #[test]
    fn owners_must_be_enabled_users() {
        let mut s = store();
        let enabled = enabled_user(&s).clone();
        let disabled = disabled_user(&s).clone();
        let a = s
            .create(
                "account",
                &body(json!({"name": "A", "ownerid@odata.bind": format!("/systemusers({})", enabled.id)})),
                ME,
            )
            .unwrap();
        let row = get(&s, "account", a);
        assert_eq!(row["_ownerid_value"], json!(enabled.id.to_string()));
        assert_eq!(
            row["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
            json!(enabled.name)
        );
        let err = s
            .create(
                "account",
                &body(json!({"name": "B", "ownerid@odata.bind": format!("/systemusers({})", disabled.id)})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::USER_DISABLED));
        assert!(err.message.starts_with(
            "The specified user is either disabled or is not a member of any business unit."
        ));
        let err = s
            .write(
                "account",
                &RecordKey::Id(a),
                &body(json!({"ownerid@odata.bind": format!("/systemusers({})", disabled.id)})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::USER_DISABLED);
        assert_eq!(
            get(&s, "account", a)["_ownerid_value"],
            json!(enabled.id.to_string())
        );
        // A disabled user may still be referred to otherwise (a party).
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "x",
                    "phonecall_activity_parties": [
                        {"participationtypemask": 1, "partyid_systemuser@odata.bind": format!("/systemusers({})", disabled.id)}
                    ],
                })),
                ME,
            )
            .unwrap();
        assert_eq!(s.count("activityparty"), 1, "{call}");
        let err = s
            .delete("systemuser", &RecordKey::Id(disabled.id))
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn activity_parties_are_created_with_their_activity() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "Reyes"})), ME)
            .unwrap();
        let case = incident(&mut s, acme);
        let tech = enabled_user(&s).id;
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "Visit booked",
                    "regardingobjectid_incident_phonecall@odata.bind": format!("/incidents({case})"),
                    "phonecall_activity_parties": [
                        {"participationtypemask": 1, "partyid_systemuser@odata.bind": format!("/systemusers({tech})")},
                        {"participationtypemask": 2, "partyid_contact@odata.bind": format!("/contacts({contact})")},
                    ],
                })),
                ME,
            )
            .unwrap();
        let parties = s.rows("activityparty").unwrap();
        assert_eq!(parties.len(), 2);
        for party in &parties {
            assert_eq!(party["_activityid_value"], json!(call.to_string()));
            assert_eq!(
                party["_activityid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
                json!("phonecall")
            );
        }
        let mut kinds: Vec<&str> = parties
            .iter()
            .map(|p| p["partyobjecttypecode"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["contact", "systemuser"]);
        // A bad party fails the whole activity.
        let err = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "x",
                    "phonecall_activity_parties": [{"participationtypemask": 99}],
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::PICKLIST_VALUE_OUT_OF_RANGE);
        assert_eq!((s.count("phonecall"), s.count("activityparty")), (1, 2));
        // An update with a party list replaces it.
        s.write(
            "phonecall",
            &RecordKey::Id(call),
            &body(json!({"phonecall_activity_parties": [
                {"participationtypemask": 2, "partyid_account@odata.bind": format!("/accounts({acme})")}
            ]})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        assert_eq!(s.count("activityparty"), 1);
        // Deleting the activity takes its parties along.
        s.delete("phonecall", &RecordKey::Id(call)).unwrap();
        assert_eq!(s.count("activityparty"), 0);
    }

    #[test]
    fn upsert_by_id_creates_then_updates() {
        let mut s = store();
        let id = Uuid::new_v4();
        let key = RecordKey::Id(id);
        let first = s
            .write(
                "account",
                &key,
                &body(json!({"name": "First"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(first, Written { id, created: true });
        let etag = get(&s, "account", id)["@odata.etag"].clone();
        let second = s
            .write(
                "account",
                &key,
                &body(json!({"telephone1": "555-0100"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(second, Written { id, created: false });
        let row = get(&s, "account", id);
        assert_eq!(
            (row["name"].clone(), row["telephone1"].clone()),
            (json!("First"), json!("555-0100"))
        );
        assert_ne!(row["@odata.etag"], etag);
        assert_eq!(s.count("account"), 1);
        // The body may repeat the id, but not contradict it.
        let err = s
            .write(
                "account",
                &key,
                &body(json!({"accountid": Uuid::new_v4().to_string()})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // Primary ids are not valid for update either way.
        s.write(
            "account",
            &key,
            &body(json!({"accountid": id.to_string(), "name": "Same"})),
            WriteMode::Upsert,
            ME,
        )
        .unwrap();
    }

    #[test]
    fn if_match_and_if_none_match() {
        let mut s = store();
        let missing = Uuid::new_v4();
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "x"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
        assert_eq!(
            err.message,
            format!("account With Id = {missing} Does Not Exist")
        );
        assert_eq!(s.count("account"), 0);
        let made = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "x"})),
                WriteMode::CreateOnly,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "y"})),
                WriteMode::CreateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_RECORD));
        assert_eq!(
            err.message,
            "A record with matching key values already exists."
        );
        assert_eq!(get(&s, "account", missing)["name"], json!("x"));
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "y"})),
                WriteMode::Create,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 412);
    }

    #[test]
    fn alternate_keys_address_upsert_and_stay_unique() {
        let mut s = store();
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let key = s.parse_key("account", "st_record_id='ST-1'").unwrap();
        let made = s
            .write(
                "account",
                &key,
                &body(json!({"name": "Acme"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let row = get(&s, "account", made.id);
        assert_eq!(
            row["st_record_id"],
            json!("ST-1"),
            "the key's value is set on create"
        );
        let again = s
            .write(
                "account",
                &key,
                &body(json!({"name": "Acme Ltd"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(
            again,
            Written {
                id: made.id,
                created: false
            }
        );
        assert_eq!(
            s.retrieve("account", &key).unwrap()["name"],
            json!("Acme Ltd")
        );
        assert_eq!(s.retrieve_id("account", &key).unwrap(), made.id);
        // Keys compare without case, like the org's collation.
        let err = s
            .create(
                "account",
                &body(json!({"name": "Dup", "st_record_id": "st-1"})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_KEY_VALUE));
        assert!(err
            .message
            .starts_with("Entity Key st_record_key violated."));
        let other = s
            .create(
                "account",
                &body(json!({"name": "Other", "st_record_id": "ST-2"})),
                ME,
            )
            .unwrap();
        let err = s
            .write(
                "account",
                &RecordKey::Id(other),
                &body(json!({"st_record_id": "ST-1"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_KEY_VALUE);
        // Binds by key; a key nobody defined is refused.
        let c = s
            .create(
                "contact",
                &body(json!({"lastname": "R", "parentcustomerid_account@odata.bind": "/accounts(st_record_id='ST-2')"})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "contact", c)["_parentcustomerid_value"],
            json!(other.to_string())
        );
        let err = s
            .retrieve("account", &s.parse_key("account", "name='Acme'").unwrap())
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // If-Match on a key that finds nothing.
        let nothing = s.parse_key("account", "st_record_id='ST-9'").unwrap();
        let err = s
            .write(
                "account",
                &nothing,
                &body(json!({"name": "x"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 404);
        // A key added when records exist indexes them.
        s.schema_mut()
            .add_key("contact", "st_contact_key", vec!["st_record_id".into()])
            .unwrap();
        s.write(
            "contact",
            &RecordKey::Id(c),
            &body(json!({"st_record_id": "C-1"})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        let found = s.parse_key("contact", "st_record_id='C-1'").unwrap();
        assert_eq!(s.retrieve_id("contact", &found).unwrap(), c);
    }

    #[test]
    fn keys_over_lookups_and_several_columns() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        s.schema_mut()
            .add_key(
                "customeraddress",
                "st_site",
                vec!["parentid".into(), "addressnumber".into()],
            )
            .unwrap();
        let key = s
            .parse_key(
                "customeraddress",
                &format!("addressnumber=3,_parentid_value={acme}"),
            )
            .unwrap();
        let made = s
            .write(
                "customeraddress",
                &key,
                &body(json!({"name": "Depot", "line1": "9 Dock Rd"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let row = get(&s, "customeraddress", made.id);
        assert_eq!(row["_parentid_value"], json!(acme.to_string()));
        assert_eq!(row["addressnumber"], json!(3));
        assert_eq!(row["objecttypecode"], json!("account"));
        let again = s
            .write(
                "customeraddress",
                &key,
                &body(json!({"city": "Hull"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(!again.created);
        assert_eq!(s.count("customeraddress"), 1);
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let mut s = store();
        let before = s.rows("account").unwrap();
        let existing = account(&mut s, "Existing");
        let err = s
            .transaction(|s| {
                let mut ids = Vec::new();
                for name in ["A", "B", "C"] {
                    ids.push(s.create("account", &body(json!({ "name": name })), ME)?);
                }
                s.write(
                    "account",
                    &RecordKey::Id(existing),
                    &body(json!({"name": "Changed"})),
                    WriteMode::UpdateOnly,
                    ME,
                )?;
                s.delete("account", &RecordKey::Id(ids[0]))?;
                s.create("account", &body(json!({"name": "x".repeat(200)})), ME)?;
                Ok(ids)
            })
            .unwrap_err();
        assert_eq!(err.code, error::VALIDATION_ERROR);
        assert_eq!(s.count("account"), before.len() + 1);
        assert_eq!(get(&s, "account", existing)["name"], json!("Existing"));
        // A nested failure undoes only its own part.
        let kept = s
            .transaction(|s| {
                let kept = s.create("account", &body(json!({"name": "Kept"})), ME)?;
                let inner = s.transaction(|s| {
                    s.create("account", &body(json!({"name": "Inner"})), ME)?;
                    s.create("account", &body(json!({"name": 5})), ME)
                });
                assert!(inner.is_err());
                Ok(kept)
            })
            .unwrap();
        assert_eq!(get(&s, "account", kept)["name"], json!("Kept"));
        assert_eq!(s.count("account"), 2);
        // Indexes roll back with the records.
        s.schema_mut()
            .add_key("account", "k", vec!["st_record_id".into()])
            .unwrap();
        let _ = s.transaction(|s| {
            s.create(
                "account",
                &body(json!({"name": "K", "st_record_id": "K1"})),
                ME,
            )?;
            Err::<(), _>(DvError::bad_request("abort"))
        });
        s.create(
            "account",
            &body(json!({"name": "K", "st_record_id": "K1"})),
            ME,
        )
        .unwrap();
    }

    #[test]
    fn a_large_rollback_touches_only_what_it_wrote() {
        let mut s = store();
        for i in 0..2000 {
            account(&mut s, &format!("Base {i}"));
        }
        let started = std::time::Instant::now();
        let err = s.transaction(|s| {
            for i in 0..999 {
                s.create("account", &body(json!({ "name": format!("Bulk {i}") })), ME)?;
            }
            s.create("account", &body(json!({"nope": 1})), ME)
        });
        assert!(err.is_err());
        assert_eq!(s.count("account"), 2000);
        assert!(started.elapsed().as_secs() < 10);
    }

    #[test]
    fn many_to_many_associate_and_disassociate() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let site = s
            .create(
                "customeraddress",
                &body(json!({"name": "Plant", "parentid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        let boiler = s
            .create("st_equipment", &body(json!({"st_name": "Boiler"})), ME)
            .unwrap();
        let relationship = "st_equipment_customeraddress";
        assert_eq!(
            s.navigation_target("st_equipment", relationship).unwrap(),
            "customeraddress"
        );
        assert_eq!(
            s.navigation_target("customeraddress", relationship)
                .unwrap(),
            "st_equipment"
        );
        s.associate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        assert_eq!(s.linked(relationship, boiler), vec![site]);
        assert_eq!(s.linked(relationship, site), vec![boiler]);
        // From the other side it is the same pair, so a duplicate.
        let err = s
            .associate(
                "customeraddress",
                site,
                relationship,
                "st_equipment",
                boiler,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_RECORD);
        let err = s
            .associate(
                "st_equipment",
                boiler,
                relationship,
                "customeraddress",
                Uuid::new_v4(),
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        let err = s
            .associate("st_equipment", boiler, relationship, "account", acme)
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        let err = s
            .associate("st_equipment", boiler, "st_nothing", "account", acme)
            .unwrap_err();
        assert_eq!(err.code, error::RESOURCE_NOT_FOUND);
        s.disassociate(
            "customeraddress",
            site,
            relationship,
            "st_equipment",
            boiler,
        )
        .unwrap();
        assert!(s.linked(relationship, boiler).is_empty());
        // Removing an absent link is not an error.
        s.disassociate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        // Deleting a record drops its links.
        s.associate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        s.delete("st_equipment", &RecordKey::Id(boiler)).unwrap();
        assert!(s.linked(relationship, site).is_empty());
    }

    #[test]
    fn single_valued_ref_sets_and_clears_a_lookup() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "Reyes"})), ME)
            .unwrap();
        assert_eq!(
            s.navigation_target("account", "primarycontactid").unwrap(),
            "contact"
        );
        assert_eq!(
            s.navigation_target("contact", "parentcustomerid_account")
                .unwrap(),
            "account"
        );
        s.associate("account", acme, "primarycontactid", "contact", contact)
            .unwrap();
        assert_eq!(
            get(&s, "account", acme)["_primarycontactid_value"],
            json!(contact.to_string())
        );
        s.disassociate("account", acme, "primarycontactid", "", Uuid::nil())
            .unwrap();
        assert_eq!(
            get(&s, "account", acme)["_primarycontactid_value"],
            Value::Null
        );
        let err = s
            .associate(
                "account",
                acme,
                "primarycontactid",
                "contact",
                Uuid::new_v4(),
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
    }

    #[test]
    fn delete_cascades_to_dependents_and_clears_other_lookups() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create(
                "contact",
                &body(json!({"lastname": "Reyes", "parentcustomerid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        let site = s
            .create(
                "customeraddress",
                &body(json!({"name": "Plant", "parentid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        let note = s
            .create(
                "annotation",
                &body(json!({"notetext": "hi", "objectid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        s.delete("account", &RecordKey::Id(acme)).unwrap();
        assert_eq!(s.count("account"), 0);
        assert!(s.retrieve("customeraddress", &RecordKey::Id(site)).is_err());
        assert!(s.retrieve("annotation", &RecordKey::Id(note)).is_err());
        let row = get(&s, "contact", contact);
        assert_eq!(row["_parentcustomerid_value"], Value::Null);
        let err = s.delete("account", &RecordKey::Id(acme)).unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org.jsonl");
        let mut s = store();
        // Schema changes made at run time come back.
        let mut column = s.schema().column("account", "st_ponumber").unwrap().clone();
        column.name = "st_region".into();
        s.schema_mut().add_column("account", column).unwrap();
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let critical = s
            .schema_mut()
            .insert_option("incident", "prioritycode", None, "Critical")
            .unwrap();
        let acme = s
            .create("account", &body(json!({"name": "Acme", "st_region": "North", "st_record_id": "A1", "address1_latitude": 51.5})), ME)
            .unwrap();
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": critical,
                    "st_scheduledstart": "2024-05-01T13:00:00Z",
                })),
                ME,
            )
            .unwrap();
        let boiler = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Boiler", "st_installdate": "2020-02-29"})),
                ME,
            )
            .unwrap();
        let site = s
            .create(
                "customeraddress",
                &body(json!({"name": "Plant", "parentid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        s.associate(
            "st_equipment",
            boiler,
            "st_equipment_customeraddress",
            "customeraddress",
            site,
        )
        .unwrap();
        s.save(&path).unwrap();
        assert!(!dir.path().join("org.jsonl.tmp").exists());

        let mut loaded = Store::load(&path, Schema::builtin("st"), OrgSettings::default()).unwrap();
        for table in [
            "account",
            "incident",
            "st_equipment",
            "customeraddress",
            "systemuser",
            "uom",
            "organization",
        ] {
            assert_eq!(
                loaded.rows(table).unwrap(),
                s.rows(table).unwrap(),
                "{table}"
            );
        }
        assert!(loaded.schema().column("account", "st_region").is_some());
        assert_eq!(loaded.schema().table("account").unwrap().keys.len(), 1);
        assert!(loaded
            .schema()
            .column("incident", "prioritycode")
            .unwrap()
            .option(critical)
            .is_some());
        assert_eq!(
            loaded.linked("st_equipment_customeraddress", boiler),
            vec![site]
        );
        // Indexes work after a load, and etags keep growing.
        let err = loaded
            .create(
                "account",
                &body(json!({"name": "Dup", "st_record_id": "a1"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_KEY_VALUE);
        let etag = |row: &Map<String, Value>| row["versionnumber"].as_u64().unwrap();
        let before = etag(&get(&loaded, "incident", case));
        loaded
            .write(
                "incident",
                &RecordKey::Id(case),
                &body(json!({"title": "Again"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap();
        assert!(etag(&get(&loaded, "incident", case)) > before);
        // Deleting still cascades (the back-references were rebuilt).
        loaded.delete("account", &RecordKey::Id(acme)).unwrap();
        assert_eq!(loaded.count("customeraddress"), 0);
        assert_eq!(loaded.count("incident"), 0);

        std::fs::write(&path, "{\"format\":\"something\"}\n").unwrap();
        assert!(Store::load(&path, Schema::builtin("st"), OrgSettings::default()).is_err());
    }

    /// Resident memory of a store of contacts with ~15 columns each (a
    /// lookup, an owner, state, text). Run by hand:
    /// `cargo test --lib serve::dataverse::store -- --ignored --nocapture`.
    #[test]
    #[ignore = "measures memory; slow in a debug build"]
    fn memory_per_record() {
        fn resident_bytes() -> u64 {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
            let pages: u64 = statm
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            pages * 4096
        }
        const N: usize = 200_000;
        let mut s = store();
        s.schema_mut()
            .add_key("contact", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let accounts: Vec<Uuid> = (0..1000)
            .map(|i| account(&mut s, &format!("Customer {i}")))
            .collect();
        let before = resident_bytes();
        for i in 0..N {
            let parent = accounts[i % accounts.len()];
            s.create(
                "contact",
                &body(json!({
                    "firstname": "Dana",
                    "lastname": format!("Reyes {i}"),
                    "emailaddress1": format!("dana.reyes{i}@example.com"),
                    "telephone1": "+1 555 0100",
                    "jobtitle": "Facilities manager",
                    "address1_line1": format!("{i} Main Street"),
                    "address1_city": "Springfield",
                    "address1_postalcode": "12345",
                    "address1_country": "US",
                    "st_record_id": format!("CUST-{i:07}"),
                    "parentcustomerid_account@odata.bind": format!("/accounts({parent})"),
                })),
                ME,
            )
            .unwrap();
        }
        let per_record = (resident_bytes().saturating_sub(before)) / N as u64;
        println!("{N} contacts: {per_record} bytes a record resident");
        assert!(per_record < 2000, "{per_record} bytes a record");
    }
}
