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

mod binding;
mod operations;
mod persistence;
mod seed;
mod storage;
#[cfg(test)]
mod test_support;
mod validation;
use binding::*;
use seed::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

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
}
