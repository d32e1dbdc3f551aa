//! Staged rows as the loader sends and compares them: reading a window of
//! `stg.<table>` in primary-id order, turning each row into Web API values
//! (lookups as `@odata.bind`, instants as UTC to the second, dates as
//! dates), and deciding whether what the target holds already equals it.
//!
//! Values are read from DuckDB as text (instants as epoch seconds) and typed
//! here by the target column's kind, so there is one conversion per kind
//! and no DuckDB type reaches the wire unconverted.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::Result;
use crate::plan::steps::{Kind, SentColumn, Step, StepKind};
use crate::stage::db::{qualified, quote_ident};

/// One staged value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    /// Seconds since the Unix epoch, UTC.
    Time(i64),
    Date(String),
    /// A lookup: target table and GUID.
    Ref(String, Uuid),
}

impl Cell {
    fn parse(kind: &Kind, text: Option<String>, ref_table: Option<String>) -> Cell {
        let Some(text) = text else {
            return Cell::Null;
        };
        match kind {
            Kind::Text => Cell::Text(text),
            Kind::Integer => text.parse().map_or(Cell::Text(text), Cell::Int),
            Kind::Number => text.parse().map_or(Cell::Text(text), Cell::Num),
            Kind::Boolean => Cell::Bool(text == "true"),
            Kind::DateTime => text.parse().map_or(Cell::Text(text), Cell::Time),
            Kind::DateOnly => Cell::Date(text),
            Kind::Lookup => match (Uuid::parse_str(&text), ref_table) {
                (Ok(id), Some(table)) => Cell::Ref(table, id),
                _ => Cell::Null,
            },
        }
    }

    /// The value on the wire (lookups are bound separately).
    pub fn wire(&self) -> Value {
        match self {
            Cell::Null | Cell::Ref(..) => Value::Null,
            Cell::Text(s) | Cell::Date(s) => Value::String(s.clone()),
            Cell::Int(n) => json!(n),
            Cell::Num(x) => json!(x),
            Cell::Bool(b) => json!(b),
            Cell::Time(t) => Value::String(format_time(*t)),
        }
    }

    /// Whether `read` (the target's value of the column, as the Web API
    /// returns it) already equals this value, after Dataverse's own
    /// normalisation: instants to the second, numbers to the column's
    /// precision, lookups by GUID.
    pub fn same_as(&self, read: Option<&Value>, precision: Option<u32>) -> bool {
        let read = read.filter(|v| !v.is_null());
        match (self, read) {
            (Cell::Null, None) => true,
            (Cell::Null, Some(Value::String(s))) => s.is_empty(),
            (_, None) | (Cell::Null, Some(_)) => false,
            (Cell::Text(a), Some(Value::String(b))) => a == b,
            (Cell::Int(a), Some(b)) => b.as_i64() == Some(*a),
            (Cell::Num(a), Some(b)) => b.as_f64().is_some_and(|b| {
                let scale = 10f64.powi(precision.unwrap_or(4).min(10) as i32);
                ((a * scale).round() - (b * scale).round()).abs() < 0.5
            }),
            (Cell::Bool(a), Some(b)) => b.as_bool() == Some(*a),
            (Cell::Time(a), Some(Value::String(b))) => parse_time(b) == Some(*a),
            (Cell::Date(a), Some(Value::String(b))) => b.get(..10) == Some(a.as_str()),
            (Cell::Ref(_, id), Some(Value::String(b))) => {
                Uuid::parse_str(b).is_ok_and(|b| b == *id)
            }
            _ => false,
        }
    }
}

/// 1753-01-01T00:00:00Z: the earliest DateTime Dataverse stores (SQL
/// Server's `datetime`; the emulator refuses earlier ones with 0x80040239).
pub const EARLIEST_DATAVERSE_TIME: i64 = -6_847_804_800;

fn is_before_dataverse_dates(cell: &Cell) -> bool {
    match cell {
        Cell::Time(t) => *t < EARLIEST_DATAVERSE_TIME,
        Cell::Date(d) => d.as_str() < "1753-01-01",
        _ => false,
    }
}

pub fn format_time(epoch: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn parse_time(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// One staged record of a step.
#[derive(Debug, Clone)]
pub struct Desired {
    pub guid: Uuid,
    pub record_id: String,
    /// One cell per [`Step::columns`].
    pub cells: Vec<Cell>,
    /// The owner the record should have, resolved to a user (None: the
    /// caller, Dataverse's default).
    pub owner: Option<Uuid>,
    /// Sent on create only: parties, a note's file body.
    pub create_only: Map<String, Value>,
    /// Associate: the record on the other side.
    pub related: Option<Uuid>,
    /// Why the record cannot be sent at all (recorded as failed).
    pub problem: Option<(String, String)>,
    /// Owner substitutions to report: (column, wanted, reason, used).
    pub substitutions: Vec<(String, String, String, String)>,
    /// Approximate size of the create payload in bytes.
    pub bytes: usize,
}

/// What a step needs to know to build payloads.
pub struct Context<'a> {
    pub step: &'a Step,
    /// Lower-cased e-mail → (systemuserid, disabled).
    pub users: &'a HashMap<String, (Uuid, bool)>,
    /// Used instead of a disabled or unknown owner.
    pub fallback_owner: Option<(Uuid, String)>,
    /// Staged GUID → the GUID the target gave the record (a unit group's
    /// base unit, which Dataverse creates itself).
    pub guid_map: &'a HashMap<Uuid, Uuid>,
    /// Entity set of every table a lookup may point at.
    pub entity_sets: &'a HashMap<String, String>,
    /// Bound on every create (`transactioncurrencyid` → `/transactioncurrencies(…)`).
    pub org_binds: &'a [(String, String)],
    pub max_upload_bytes: u64,
}

impl Context<'_> {
    pub fn remap(&self, id: Uuid) -> Uuid {
        self.guid_map.get(&id).copied().unwrap_or(id)
    }

    fn bind(&self, column: &SentColumn, table_name: &str, cell: &Cell) -> (String, Value) {
        let nav = if column.name == "regardingobjectid" {
            let target = match cell {
                Cell::Ref(t, _) => t.as_str(),
                _ => "",
            };
            format!("regardingobjectid_{target}_{table_name}")
        } else if column.multi_target {
            match cell {
                Cell::Ref(t, _) => format!("{}_{t}", column.name),
                _ => column.name.clone(),
            }
        } else {
            column.name.clone()
        };
        let value = match cell {
            Cell::Ref(t, id) => {
                let set = self
                    .entity_sets
                    .get(t)
                    .cloned()
                    .unwrap_or_else(|| crate::plan::steps::default_entity_set(t));
                Value::String(format!("/{set}({})", self.remap(*id)))
            }
            _ => Value::Null,
        };
        (format!("{nav}@odata.bind"), value)
    }

    /// The body of a create: the record's id, every column valid on
    /// create, the owner, org records, and what travels only on create.
    pub fn create_payload(&self, d: &Desired) -> Map<String, Value> {
        let step = self.step;
        let mut body = Map::new();
        body.insert(step.primary_id.clone(), Value::String(d.guid.to_string()));
        for (column, cell) in step.columns.iter().zip(&d.cells) {
            if !column.on_create || *cell == Cell::Null {
                continue;
            }
            if column.kind == Kind::Lookup {
                let (k, v) = self.bind(column, &step.table, cell);
                body.insert(k, v);
            } else {
                body.insert(column.name.clone(), cell.wire());
            }
        }
        if let Some(owner) = d.owner {
            body.insert(
                "ownerid@odata.bind".into(),
                Value::String(format!("/systemusers({owner})")),
            );
        }
        for (column, bind) in self.org_binds {
            body.insert(format!("{column}@odata.bind"), Value::String(bind.clone()));
        }
        for (k, v) in &d.create_only {
            body.insert(k.clone(), v.clone());
        }
        body
    }

    /// The body of an update setting `changed` (indexes into the step's
    /// columns, plus the owner when `owner_changed`).
    pub fn update_payload(
        &self,
        d: &Desired,
        changed: &[usize],
        owner_changed: bool,
    ) -> Map<String, Value> {
        let step = self.step;
        let mut body = Map::new();
        body.insert(step.primary_id.clone(), Value::String(d.guid.to_string()));
        for &i in changed {
            let column = &step.columns[i];
            let cell = &d.cells[i];
            if column.kind == Kind::Lookup {
                let (k, v) = self.bind(column, &step.table, cell);
                body.insert(k, v);
            } else {
                body.insert(column.name.clone(), cell.wire());
            }
        }
        if owner_changed {
            if let Some(owner) = d.owner {
                body.insert(
                    "ownerid@odata.bind".into(),
                    Value::String(format!("/systemusers({owner})")),
                );
            }
        }
        body
    }

    /// The columns of `d` whose value differs from `current` (columns
    /// the target lets an update change), and whether the owner differs.
    pub fn differences(&self, d: &Desired, current: &Map<String, Value>) -> (Vec<usize>, bool) {
        let mut changed = Vec::new();
        for (i, (column, cell)) in self.step.columns.iter().zip(&d.cells).enumerate() {
            if !column.on_update {
                continue;
            }
            let read = current.get(&read_name(column));
            let cell = match cell {
                Cell::Ref(t, id) => Cell::Ref(t.clone(), self.remap(*id)),
                other => other.clone(),
            };
            if !cell.same_as(read, column.precision) {
                changed.push(i);
            }
        }
        let owner_changed = d.owner.is_some_and(|owner| {
            !Cell::Ref("systemuser".into(), owner).same_as(current.get("_ownerid_value"), None)
        });
        (changed, owner_changed)
    }
}

/// The property a read returns a column under (`_x_value` for lookups).
pub fn read_name(column: &SentColumn) -> String {
    if column.kind == Kind::Lookup {
        format!("_{}_value", column.name)
    } else {
        column.name.clone()
    }
}

/// `$select` of an existence read: the id and every compared column.
pub fn select_list(step: &Step) -> String {
    let mut names = vec![step.primary_id.clone()];
    names.extend(step.columns.iter().map(read_name));
    if step.owner {
        names.push("_ownerid_value".into());
    }
    names.join(",")
}

/// SQL text expression giving the column's value as the loader parses it.
fn text_expr(column: &SentColumn, duck_type: &str) -> String {
    let c = format!("t.{}", quote_ident(&column.name));
    match column.kind {
        // Through TIMESTAMP: without DuckDB's ICU extension (not bundled)
        // that cast is the UTC wall clock, and epoch() of a TIMESTAMPTZ
        // would need ICU.
        Kind::DateTime if duck_type.starts_with("TIMESTAMP") => {
            format!("CAST(epoch(CAST({c} AS TIMESTAMP)) AS BIGINT)::VARCHAR")
        }
        Kind::DateOnly if duck_type.starts_with("TIMESTAMP") => {
            format!("strftime(CAST(CAST({c} AS TIMESTAMP) AS DATE), '%Y-%m-%d')")
        }
        Kind::Boolean => format!("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"),
        _ => format!("CAST({c} AS VARCHAR)"),
    }
}

/// Which rows of the step's table a step reads.
pub struct Window<'a> {
    /// Exclusive lower bound of the primary id (resume cursor).
    pub after: Option<Uuid>,
    pub limit: usize,
    /// Only rows whose id is in `push_sample` for this table.
    pub sampled: bool,
    pub extra_filter: Option<&'a str>,
}

/// Reads the next window of a step's staged rows, in primary-id order.
pub fn fetch(
    conn: &Connection,
    ctx: &Context,
    duck_types: &BTreeMap<String, String>,
    window: &Window,
) -> Result<Vec<Desired>> {
    let step = ctx.step;
    let table = &step.table;
    if step.kind == StepKind::Associate {
        return fetch_links(conn, step, window);
    }
    let pk = format!("t.{}", quote_ident(&step.primary_id));
    let mut select = vec![
        format!("CAST({pk} AS VARCHAR)"),
        format!(
            "CAST(t.{} AS VARCHAR)",
            quote_ident(&record_id_column(duck_types))
        ),
    ];
    for column in &step.columns {
        let duck = duck_types
            .get(&column.name)
            .map_or("VARCHAR", String::as_str);
        select.push(text_expr(column, duck));
        select.push(if column.kind == Kind::Lookup {
            format!("t.{}", quote_ident(&format!("{}_table", column.name)))
        } else {
            "NULL::VARCHAR".into()
        });
    }
    select.push(if step.owner {
        "t._owner_email".into()
    } else {
        "NULL::VARCHAR".into()
    });
    let is_note_with_file = step.kind == StepKind::Records
        && table == "annotation"
        && duck_types.contains_key("_attachment_id");
    let mut from = format!("{} AS t", qualified("stg", table));
    if is_note_with_file {
        select.push("to_base64(ac.content)".into());
        from.push_str(
            " LEFT JOIN raw.attachment_content AS ac ON ac.attachment_id = t._attachment_id AND ac.sha256 = t._sha256",
        );
    } else {
        select.push("NULL::VARCHAR".into());
    }
    let mut filters = Vec::new();
    if let Some(after) = window.after {
        filters.push(format!("{pk} > '{after}'::UUID"));
    }
    if window.sampled {
        filters.push(format!(
            "{pk} IN (SELECT guid FROM temp.push_sample WHERE table_name = '{}')",
            table.replace('\'', "''")
        ));
    }
    if let Some(f) = window.extra_filter {
        filters.push(f.to_string());
    }
    let sql = format!(
        "SELECT {} FROM {from} {} ORDER BY {pk} LIMIT {}",
        select.join(", "),
        if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        },
        window.limit
    );
    let mut stmt = conn.prepare(&sql)?;
    let n = step.columns.len();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let guid: String = row.get(0)?;
        let record_id: Option<String> = row.get(1)?;
        let mut cells = Vec::with_capacity(n);
        let mut bytes = 64usize;
        for (i, column) in step.columns.iter().enumerate() {
            let text: Option<String> = row.get(2 + 2 * i)?;
            let ref_table: Option<String> = row.get(3 + 2 * i)?;
            bytes += column.name.len() + text.as_ref().map_or(0, |t| t.len() + 8);
            cells.push(Cell::parse(&column.kind, text, ref_table));
        }
        let out_of_range = step
            .columns
            .iter()
            .zip(&cells)
            .find(|(_, cell)| is_before_dataverse_dates(cell))
            .map(|(c, cell)| (c.name.clone(), cell.wire()));
        let owner_email: Option<String> = row.get(2 + 2 * n)?;
        let file_body: Option<String> = row.get(3 + 2 * n)?;
        let mut d = Desired {
            guid: Uuid::parse_str(&guid).unwrap_or_default(),
            record_id: record_id.unwrap_or_default(),
            cells,
            owner: None,
            create_only: Map::new(),
            related: None,
            problem: None,
            substitutions: Vec::new(),
            bytes,
        };
        if let Some((column, value)) = out_of_range {
            // Refused here, not by a round trip that would fail the whole
            // bulk request and cost a split to find the record.
            d.problem = Some((
                "ferry:date_out_of_range".into(),
                format!(
                    "{column} is {value}; Dataverse stores dates from 1753-01-01 on (its error 0x80040239) — correct the date at the source or in the transform"
                ),
            ));
        }
        if step.owner {
            resolve_owner(ctx, &mut d, owner_email);
        }
        if is_note_with_file {
            let is_document = is_document_note(&d, step);
            attach_file_body(ctx, &mut d, file_body, is_document);
        }
        out.push(d);
    }
    Ok(out)
}

/// `st_record_id` (whatever the prefix): the first `*_record_id` column.
fn record_id_column(duck_types: &BTreeMap<String, String>) -> String {
    duck_types
        .keys()
        .find(|c| c.ends_with("_record_id") && !c.starts_with('_'))
        .cloned()
        .unwrap_or_else(|| "st_record_id".into())
}

fn is_document_note(d: &Desired, step: &Step) -> bool {
    step.columns
        .iter()
        .zip(&d.cells)
        .any(|(c, v)| c.name == "isdocument" && *v == Cell::Bool(true))
}

/// A note's file travels as base64 `documentbody` on create. A body over
/// the org's `maxuploadfilesize` (which limits the base64 size, SPEC §9)
/// is refused here with the sizes, never sent to fail or silently cut.
fn attach_file_body(ctx: &Context, d: &mut Desired, body: Option<String>, is_document: bool) {
    match body {
        Some(b64) if b64.len() as u64 > ctx.max_upload_bytes => {
            d.problem = Some((
                "ferry:attachment_too_large".into(),
                format!(
                    "the attachment's base64 body is {} bytes; the org's maxuploadfilesize is {} — raise maxuploadfilesize (up to 128 MB) and the target's max_upload_bytes in ferry.toml, or move the file elsewhere and waive the finding",
                    b64.len(),
                    ctx.max_upload_bytes
                ),
            ));
        }
        Some(b64) => {
            d.bytes += b64.len();
            d.create_only
                .insert("documentbody".into(), Value::String(b64));
        }
        None if is_document => {
            d.problem = Some((
                "ferry:attachment_missing".into(),
                "the note is a file, but no landed attachment content matches its id and sha256 — re-run `ferry extract` and `ferry stage`".into(),
            ));
        }
        None => {}
    }
}

/// Technicians own records through their Dataverse user, matched by
/// e-mail (`internalemailaddress`). A disabled or unknown user cannot own
/// records (SPEC §9 systemuser): the fallback owner takes them, reported.
fn resolve_owner(ctx: &Context, d: &mut Desired, email: Option<String>) {
    let Some(email) = email.filter(|e| !e.trim().is_empty()) else {
        return;
    };
    let reason = match ctx.users.get(&email.trim().to_lowercase()) {
        Some((id, false)) => {
            d.owner = Some(*id);
            return;
        }
        Some((_, true)) => "the user is disabled in the target",
        None => "no enabled user in the target has this e-mail",
    };
    let used = match &ctx.fallback_owner {
        Some((id, label)) => {
            d.owner = Some(*id);
            label.clone()
        }
        None => "the application user (Dataverse's default owner)".into(),
    };
    d.substitutions
        .push(("ownerid".into(), email, reason.into(), used));
}

/// N:N pairs: `stg.<relationship>` holds the two ids and `*_record_id`.
fn fetch_links(conn: &Connection, step: &Step, window: &Window) -> Result<Vec<Desired>> {
    let [(_, id1, _), (_, id2, _)] = step.sides.as_ref().expect("associate step has sides");
    let (c1, c2) = (quote_ident(id1), quote_ident(id2));
    let mut filters = Vec::new();
    if let Some(after) = window.after {
        filters.push(format!("{c1} > '{after}'::UUID"));
    }
    if window.sampled {
        filters.push(format!(
            "{c1} IN (SELECT guid FROM temp.push_sample) AND {c2} IN (SELECT guid FROM temp.push_sample)"
        ));
    }
    // Links are keyed by the pair; windows advance on the first id, so a
    // window always holds every link of the ids it includes.
    let sql = format!(
        "WITH w AS (SELECT DISTINCT {c1} AS a FROM {tab} {filter} ORDER BY 1 LIMIT {limit})
         SELECT CAST(l.{c1} AS VARCHAR), CAST(l.{c2} AS VARCHAR), CAST(l.st_record_id AS VARCHAR)
         FROM {tab} AS l JOIN w ON l.{c1} = w.a ORDER BY l.{c1}, l.{c2}",
        tab = qualified("stg", &step.table),
        filter = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        },
        limit = window.limit.max(1),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (a, b, record_id) = row?;
        out.push(Desired {
            guid: Uuid::parse_str(&a).unwrap_or_default(),
            related: Uuid::parse_str(&b).ok(),
            record_id: record_id.unwrap_or_default(),
            cells: Vec::new(),
            owner: None,
            create_only: Map::new(),
            problem: None,
            substitutions: Vec::new(),
            bytes: 200,
        });
    }
    Ok(out)
}

/// Activity parties of the activities in `(after, last]`, grouped by
/// activity, as `<activity>_activity_parties` items. A technician party
/// whose user is unknown or disabled is left out and reported.
pub fn attach_parties(
    conn: &Connection,
    ctx: &Context,
    rows: &mut [Desired],
    after: Option<Uuid>,
) -> Result<()> {
    let Some(last) = rows.last().map(|d| d.guid) else {
        return Ok(());
    };
    let table = &ctx.step.table;
    let mut filter = format!("activityid_table = ? AND activityid <= '{last}'::UUID");
    if let Some(after) = after {
        filter.push_str(&format!(" AND activityid > '{after}'::UUID"));
    }
    let sql = format!(
        "SELECT CAST(activityid AS VARCHAR), participationtypemask, CAST(partyid AS VARCHAR), partyid_table, _party_email
         FROM stg.activityparty WHERE {filter} ORDER BY activityid, participationtypemask, partyid"
    );
    let mut stmt = conn.prepare(&sql)?;
    let found = stmt.query_map([table], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut parties: HashMap<Uuid, Vec<Value>> = HashMap::new();
    let mut dropped: HashMap<Uuid, Vec<(String, String)>> = HashMap::new();
    for row in found {
        let (activity, mask, party, party_table, email) = row?;
        let Ok(activity) = Uuid::parse_str(&activity) else {
            continue;
        };
        let bound = match (party.and_then(|p| Uuid::parse_str(&p).ok()), party_table) {
            (Some(id), Some(t)) if t != "systemuser" => {
                let set = ctx
                    .entity_sets
                    .get(&t)
                    .cloned()
                    .unwrap_or_else(|| crate::plan::steps::default_entity_set(&t));
                Some((
                    format!("partyid_{t}@odata.bind"),
                    format!("/{set}({})", ctx.remap(id)),
                ))
            }
            _ => match email.as_deref().map(|e| e.trim().to_lowercase()) {
                Some(e) => match ctx.users.get(&e) {
                    Some((id, false)) => Some((
                        "partyid_systemuser@odata.bind".to_string(),
                        format!("/systemusers({id})"),
                    )),
                    Some((_, true)) => {
                        dropped
                            .entry(activity)
                            .or_default()
                            .push((e, "the user is disabled in the target".into()));
                        None
                    }
                    None => {
                        dropped
                            .entry(activity)
                            .or_default()
                            .push((e, "no user in the target has this e-mail".into()));
                        None
                    }
                },
                None => None,
            },
        };
        if let Some((k, v)) = bound {
            let mut party = Map::new();
            party.insert("participationtypemask".into(), json!(mask.unwrap_or(1)));
            party.insert(k, Value::String(v));
            parties
                .entry(activity)
                .or_default()
                .push(Value::Object(party));
        }
    }
    let property = format!("{table}_activity_parties");
    for d in rows.iter_mut() {
        if let Some(list) = parties.remove(&d.guid) {
            d.bytes += list.len() * 120;
            d.create_only.insert(property.clone(), Value::Array(list));
        }
        for (email, reason) in dropped.remove(&d.guid).unwrap_or_default() {
            d.substitutions.push((
                "activityparty".into(),
                email,
                reason,
                "party left out".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_the_way_dataverse_normalises_them() {
        assert!(Cell::Time(1_700_000_000).same_as(Some(&json!("2023-11-14T22:13:20Z")), None));
        assert!(!Cell::Time(1_700_000_001).same_as(Some(&json!("2023-11-14T22:13:20Z")), None));
        assert!(Cell::Num(12.34).same_as(Some(&json!(12.3400)), Some(2)));
        assert!(!Cell::Num(12.34).same_as(Some(&json!(12.35)), Some(2)));
        assert!(Cell::Date("2024-05-01".into()).same_as(Some(&json!("2024-05-01")), None));
        assert!(Cell::Null.same_as(None, None));
        assert!(Cell::Null.same_as(Some(&Value::Null), None));
        assert!(!Cell::Text("a".into()).same_as(Some(&Value::Null), None));
        assert!(!Cell::Text("a ".into()).same_as(Some(&json!("a")), None));
        let id = Uuid::new_v4();
        assert!(Cell::Ref("account".into(), id).same_as(Some(&json!(id.to_string())), None));
        assert!(Cell::Int(5).same_as(Some(&json!(5)), None));
        assert!(Cell::Bool(false).same_as(Some(&json!(false)), None));
    }

    #[test]
    fn dates_before_1753_are_caught_before_sending() {
        assert_eq!(format_time(EARLIEST_DATAVERSE_TIME), "1753-01-01T00:00:00Z");
        assert!(is_before_dataverse_dates(&Cell::Time(
            EARLIEST_DATAVERSE_TIME - 1
        )));
        assert!(!is_before_dataverse_dates(&Cell::Time(
            EARLIEST_DATAVERSE_TIME
        )));
        assert!(is_before_dataverse_dates(&Cell::Date("1752-12-31".into())));
        assert!(!is_before_dataverse_dates(&Cell::Date("2024-01-01".into())));
    }

    #[test]
    fn instants_go_out_as_utc_to_the_second() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            Cell::Time(1_700_000_000).wire(),
            json!("2023-11-14T22:13:20Z")
        );
    }
}
