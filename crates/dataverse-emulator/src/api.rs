//! The emulator's HTTP surface: one axum fallback handler that takes every
//! request apart the way the Web API addresses resources
//! (`accounts(guid)`, `EntityDefinitions(LogicalName='x')/Attributes`,
//! `incidents/Microsoft.Dynamics.CRM.CreateMultiple`, `$batch`), because
//! OData paths with parentheses and quotes do not fit a router's patterns.
//!
//! Order of work for a Web API request, as the real service does it: auth
//! (401), service protection (429 with `Retry-After`), injected faults, then
//! the operation against the store. Parts of a `$batch` run through the same
//! [`execute`] as single requests, so they validate identically.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::auth::{Authority, Caller};
use super::batch::{self, BatchItem, ItemResponse, PartResponse};
use super::error::DvError;
use super::faults::{Fault, Faults};
use super::limits::ServiceProtection;
use super::metadata;
use super::odata;
use super::store::{RecordKey, Store, WriteMode};

/// Where the Web API lives under the org URL.
pub const API_PREFIX: &str = "/api/data/v9.2/";
/// `Prefer: odata.maxpagesize` is capped at 5,000 (SPEC §9 Paging).
pub const MAX_PAGE_SIZE: usize = 5000;
/// Bulk messages take 100–1,000 records per request (SPEC §9); more is
/// refused so a client that forgets to chunk finds out here.
pub const MAX_BULK_TARGETS: usize = 1000;
/// The operations log keeps this many newest entries.
const OPS_LOG_CAPACITY: usize = 200_000;

/// One request the emulator answered, for tests that check client
/// behaviour (who wrote what, when; retries; throttling).
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub seq: u64,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Records created, updated or deleted by it.
    pub records_written: usize,
    /// Set when the request was refused by service protection.
    pub throttled: bool,
    /// The fault injected, if any.
    pub fault: Option<String>,
}

#[derive(Debug, Default)]
pub struct OpsLog {
    next_seq: u64,
    entries: std::collections::VecDeque<Operation>,
}

impl OpsLog {
    fn push(&mut self, mut op: Operation) {
        op.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == OPS_LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(op);
    }

    pub fn entries(&self) -> Vec<Operation> {
        self.entries.iter().cloned().collect()
    }
}

/// Everything a request handler shares.
pub struct AppState {
    pub store: Mutex<Store>,
    pub authority: Authority,
    pub limits: ServiceProtection,
    pub faults: Faults,
    pub ops: Mutex<OpsLog>,
    pub started: Instant,
    /// A fresh store for `POST /_emulator/reset`.
    pub fresh: Box<dyn Fn() -> Store + Send + Sync>,
}

/// A Web API request, from HTTP or from a `$batch` part.
#[derive(Debug, Clone)]
pub struct DvRequest {
    pub method: String,
    /// After `/api/data/v9.2/`, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// `http://host:port` + [`API_PREFIX`], for `@odata.context`, ids and links.
    pub base: String,
}

impl DvRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `Prefer` holds `preference` (comma-separated list).
    fn prefers(&self, preference: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("prefer"))
            .flat_map(|(_, v)| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case(preference))
    }

    fn max_page_size(&self) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("prefer"))
            .flat_map(|(_, v)| v.split(','))
            .find_map(|p| {
                p.trim()
                    .strip_prefix("odata.maxpagesize=")
                    .and_then(|n| n.trim().parse::<usize>().ok())
            })
            .map_or(MAX_PAGE_SIZE, |n| n.clamp(1, MAX_PAGE_SIZE))
    }

    fn json_body(&self) -> Result<Map<String, Value>, DvError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(DvError::bad_request(
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(DvError::bad_request(format!(
                "Error parsing the request body as JSON: {e}"
            ))),
        }
    }
}

/// A Web API response before it becomes HTTP.
#[derive(Debug, Clone)]
pub struct DvResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Records created, updated or deleted.
    pub written: usize,
}

impl DvResponse {
    fn json(status: u16, value: Value) -> Self {
        DvResponse {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; odata.metadata=minimal".into(),
            )],
            body: Some(value.to_string()),
            written: 0,
        }
    }

    fn empty(status: u16) -> Self {
        DvResponse {
            status,
            headers: Vec::new(),
            body: None,
            written: 0,
        }
    }

    fn error(err: &DvError) -> Self {
        DvResponse::json(err.status, err.body())
    }

    fn written(mut self, n: usize) -> Self {
        self.written = n;
        self
    }

    fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }
}

/// One path segment: `name` and the text inside its parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    name: String,
    key: Option<String>,
}

/// Splits `accounts(name='a/b')/contact_customer_accounts/$ref` at `/`
/// outside quotes and parentheses, and each piece into name and key.
fn segments(path: &str) -> Result<Vec<Segment>, DvError> {
    let decoded = percent_decode(path)?;
    let mut pieces = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = decoded.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b'/' if !quoted && depth == 0 => {
                pieces.push(&decoded[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&decoded[start..]);
    pieces
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('(') {
            Some(open) if p.ends_with(')') => Ok(Segment {
                name: p[..open].to_string(),
                key: Some(p[open + 1..p.len() - 1].to_string()),
            }),
            Some(_) => Err(DvError::bad_request(format!(
                "Bad Request - Error in query syntax: unbalanced parentheses in '{p}'."
            ))),
            None => Ok(Segment {
                name: p.to_string(),
                key: None,
            }),
        })
        .collect()
}

/// Decodes the `%XX` escapes of a path or query, with the Web API's 400
/// when one is broken (`percent_encoding` alone would pass `%zz` through).
/// A `+` stays a plus sign: it is a space only in HTML form encoding.
fn percent_decode(text: &str) -> Result<String, DvError> {
    let broken = text.match_indices('%').any(|(i, _)| {
        !text
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if broken {
        return Err(DvError::bad_request(format!(
            "broken percent-encoding in `{text}`"
        )));
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| DvError::bad_request(format!("`{text}` does not decode to UTF-8")))
}

/// `LogicalName='account'` → `account`.
fn logical_name_key(key: &str) -> Result<String, DvError> {
    key.trim()
        .strip_prefix("LogicalName=")
        .map(|v| v.trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            DvError::bad_request(format!(
                "Metadata is addressed by LogicalName='…' in this emulator, not '{key}'."
            ))
        })
}

fn unsupported(method: &str, path: &str) -> DvError {
    DvError::new(
        405,
        super::error::BAD_REQUEST,
        format!("The HTTP method '{method}' is not allowed for '{path}'."),
    )
}

/// Runs one Web API operation against the store.
pub fn execute(store: &mut Store, req: &DvRequest, caller: &Caller) -> DvResponse {
    match dispatch(store, req, caller) {
        Ok(response) => response,
        Err(err) => DvResponse::error(&err),
    }
}

fn dispatch(store: &mut Store, req: &DvRequest, caller: &Caller) -> Result<DvResponse, DvError> {
    let segs = segments(&req.path)?;
    let Some(first) = segs.first() else {
        // The service document.
        let sets: Vec<Value> = store
            .schema()
            .tables()
            .map(|t| json!({"name": t.entity_set_name, "kind": "EntitySet", "url": t.entity_set_name}))
            .collect();
        return Ok(DvResponse::json(
            200,
            json!({"@odata.context": format!("{}$metadata", req.base), "value": sets}),
        ));
    };
    let method = req.method.as_str();
    match (first.name.as_str(), segs.len()) {
        ("WhoAmI", 1) if method == "GET" => Ok(DvResponse::json(
            200,
            json!({
                "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", req.base),
                "BusinessUnitId": store.business_unit_id().to_string(),
                "UserId": caller.user_id.to_string(),
                "OrganizationId": store.organization_id().to_string(),
            }),
        )),
        ("EntityDefinitions", _) => metadata_request(store, req, &segs),
        ("InsertOptionValue", 1) if method == "POST" => {
            let body = Value::Object(req.json_body()?);
            let insert = metadata::parse_insert_option_value(&body)?;
            let value = store
                .schema_mut()
                .insert_option(&insert.table, &insert.column, insert.value, &insert.label)
                .map_err(DvError::bad_request)?;
            Ok(DvResponse::json(
                200,
                json!({
                    "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.InsertOptionValueResponse", req.base),
                    "NewOptionValue": value
                }),
            ))
        }
        ("PublishAllXml", 1) if method == "POST" => Ok(DvResponse::empty(204)),
        ("RelationshipDefinitions", 1) => relationship_request(store, req),
        ("CloseIncident", 1) if method == "POST" => {
            let body = req.json_body()?;
            let resolution = match body.get("IncidentResolution") {
                Some(Value::Object(r)) => r.clone(),
                _ => {
                    return Err(DvError::bad_request(
                        "CloseIncident needs an IncidentResolution object.",
                    ))
                }
            };
            let status = body
                .get("Status")
                .and_then(Value::as_i64)
                .ok_or_else(|| DvError::bad_request("CloseIncident needs an integer Status."))?;
            store.transaction(|s| s.close_incident(&resolution, status as i32, caller.user_id))?;
            Ok(DvResponse::empty(204).written(2))
        }
        (name, _) if name.starts_with('$') => Err(DvError::no_segment(name)),
        _ => record_request(store, req, &segs, caller),
    }
}

fn metadata_request(
    store: &mut Store,
    req: &DvRequest,
    segs: &[Segment],
) -> Result<DvResponse, DvError> {
    let method = req.method.as_str();
    let query = req.query.clone().unwrap_or_default();
    let expand_attributes = percent_decode(&query)?.contains("$expand=Attributes");
    let table = segs[0].key.as_deref().map(logical_name_key).transpose()?;
    match (method, table, segs.len()) {
        ("GET", None, 1) => Ok(DvResponse::json(
            200,
            metadata::entity_definitions(store.schema(), &req.base),
        )),
        ("POST", None, 1) => {
            let table = metadata::table_from_entity_metadata(&Value::Object(req.json_body()?))?;
            let name = table.logical_name.clone();
            store
                .schema_mut()
                .add_table(table)
                .map_err(|e| DvError::new(400, super::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!("{}EntityDefinitions(LogicalName='{name}')", req.base),
            ))
        }
        ("GET", Some(table), 1) => Ok(DvResponse::json(
            200,
            metadata::entity_definition(store.schema(), &req.base, &table, expand_attributes)?,
        )),
        ("GET", Some(table), 2) if segs[1].name == "Attributes" && segs[1].key.is_none() => {
            let definition = metadata::entity_definition(store.schema(), &req.base, &table, true)?;
            Ok(DvResponse::json(
                200,
                json!({"value": definition.get("Attributes").cloned().unwrap_or(Value::Array(Vec::new()))}),
            ))
        }
        ("GET", Some(table), 3) if segs[1].name == "Attributes" => {
            let column = logical_name_key(segs[1].key.as_deref().unwrap_or_default())?;
            let cast = segs[2]
                .name
                .strip_prefix("Microsoft.Dynamics.CRM.")
                .unwrap_or(&segs[2].name);
            Ok(DvResponse::json(
                200,
                metadata::attribute_with_optionset(store.schema(), &table, &column, cast)?,
            ))
        }
        ("GET", Some(table), 2) if segs[1].name == "Keys" => Ok(DvResponse::json(
            200,
            metadata::keys(store.schema(), &table)?,
        )),
        ("POST", Some(table), 2) if segs[1].name == "Attributes" => {
            let column =
                metadata::column_from_attribute_metadata(&Value::Object(req.json_body()?))?;
            let name = column.name.clone();
            store
                .schema_mut()
                .add_column(&table, column)
                .map_err(|e| DvError::new(400, super::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!(
                    "{}EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{name}')",
                    req.base
                ),
            ))
        }
        ("POST", Some(table), 2) if segs[1].name == "Keys" => {
            let (name, columns) = metadata::key_from_metadata(&Value::Object(req.json_body()?))?;
            store
                .schema_mut()
                .add_key(&table, &name, columns)
                .map_err(|e| DvError::new(400, super::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204))
        }
        _ => Err(unsupported(method, &req.path)),
    }
}

/// `RelationshipDefinitions`: N:N relationships (creating and reading
/// `ManyToManyRelationshipMetadata`), so a plan can create the intersect
/// ferry's equipment ↔ address links need ("Create and update table
/// relationships using the Web API").
fn relationship_request(store: &mut Store, req: &DvRequest) -> Result<DvResponse, DvError> {
    match req.method.as_str() {
        "GET" => {
            let value: Vec<Value> = store
                .schema()
                .many_to_many()
                .iter()
                .map(|m| {
                    json!({
                        "@odata.type": "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
                        "SchemaName": m.name,
                        "IntersectEntityName": m.name,
                        "Entity1LogicalName": m.table1,
                        "Entity2LogicalName": m.table2,
                    })
                })
                .collect();
            Ok(DvResponse::json(
                200,
                json!({"@odata.context": format!("{}$metadata#RelationshipDefinitions", req.base), "value": value}),
            ))
        }
        "POST" => {
            let body = req.json_body()?;
            let kind = body
                .get("@odata.type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !kind.ends_with("ManyToManyRelationshipMetadata") {
                // 405, which clients (ferry's among them) take as "use the
                // Attributes route for lookups instead".
                return Err(DvError::new(
                    405,
                    super::error::BAD_REQUEST,
                    "this emulator creates N:N relationships here (ManyToManyRelationshipMetadata); create lookups through EntityDefinitions(...)/Attributes",
                ));
            }
            let text = |key: &str| -> Result<String, DvError> {
                body.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        DvError::bad_request(format!("ManyToManyRelationshipMetadata needs {key}."))
                    })
            };
            let name = text("SchemaName")?;
            let (table1, table2) = (text("Entity1LogicalName")?, text("Entity2LogicalName")?);
            store
                .schema_mut()
                .add_many_to_many(&name, &table1, &table2)
                .map_err(|e| DvError::new(400, super::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!("{}RelationshipDefinitions(SchemaName='{name}')", req.base),
            ))
        }
        other => Err(unsupported(other, &req.path)),
    }
}

/// The lookup-free properties a query may name: columns, `_x_value` for
/// lookups, and the system columns every row carries.
fn check_properties(store: &Store, table: &str, names: &[String]) -> Result<(), DvError> {
    let Some(t) = store.schema().table(table) else {
        return Ok(());
    };
    for name in names {
        let plain = name
            .strip_prefix('_')
            .and_then(|n| n.strip_suffix("_value"))
            .unwrap_or(name);
        let known = t.column(plain).is_some()
            || matches!(
                plain,
                "createdon" | "modifiedon" | "versionnumber" | "ownerid"
            );
        if !known {
            return Err(DvError::bad_request(format!(
                "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table}'."
            )));
        }
    }
    Ok(())
}

fn record_request(
    store: &mut Store,
    req: &DvRequest,
    segs: &[Segment],
    caller: &Caller,
) -> Result<DvResponse, DvError> {
    let set = &segs[0].name;
    let table = store.table_for_set(set)?;
    let method = req.method.as_str();
    match (segs.len(), &segs[0].key) {
        (1, None) => match method {
            "GET" => list(store, req, &table),
            "POST" => {
                let body = req.json_body()?;
                let id = store.transaction(|s| s.create(&table, &body, caller.user_id))?;
                created_response(store, req, &table, set, id, true)
            }
            _ => Err(unsupported(method, &req.path)),
        },
        (1, Some(key)) => {
            let key = store.parse_key(&table, key)?;
            match method {
                "GET" => {
                    let row = store.retrieve(&table, &key)?;
                    let row = select_row(store, req, &table, row)?;
                    let mut row = row;
                    row.insert(
                        "@odata.context".into(),
                        Value::String(format!("{}$metadata#{set}/$entity", req.base)),
                    );
                    Ok(DvResponse::json(200, Value::Object(row)))
                }
                "PATCH" => {
                    let mode = if req.header("if-match").is_some() {
                        WriteMode::UpdateOnly
                    } else if req.header("if-none-match") == Some("*") {
                        WriteMode::CreateOnly
                    } else {
                        WriteMode::Upsert
                    };
                    let body = req.json_body()?;
                    let written = store
                        .transaction(|s| s.write(&table, &key, &body, mode, caller.user_id))?;
                    if req.prefers("return=representation") {
                        let row = store.retrieve(&table, &RecordKey::Id(written.id))?;
                        let status = if written.created { 201 } else { 200 };
                        Ok(DvResponse::json(status, Value::Object(row)).written(1))
                    } else {
                        Ok(DvResponse::empty(204)
                            .with_header(
                                "OData-EntityId",
                                format!("{}{set}({})", req.base, written.id),
                            )
                            .written(1))
                    }
                }
                "DELETE" => {
                    store.transaction(|s| s.delete(&table, &key))?;
                    Ok(DvResponse::empty(204).written(1))
                }
                _ => Err(unsupported(method, &req.path)),
            }
        }
        (2, None) if method == "POST" => {
            let action = segs[1]
                .name
                .strip_prefix("Microsoft.Dynamics.CRM.")
                .unwrap_or(&segs[1].name);
            bulk(store, req, &table, set, action, caller)
        }
        (3, Some(key)) | (4, Some(key)) if segs.last().is_some_and(|s| s.name == "$ref") => {
            let key = store.parse_key(&table, key)?;
            let id = store.retrieve_id(&table, &key)?;
            reference(store, req, &table, id, &segs[1], caller)
        }
        _ => Err(unsupported(method, &req.path)),
    }
}

/// `$ref` on a navigation property: associate (POST/PUT) or disassociate
/// (DELETE, with the target in the path or in `$id`).
fn reference(
    store: &mut Store,
    req: &DvRequest,
    table: &str,
    id: Uuid,
    nav: &Segment,
    _caller: &Caller,
) -> Result<DvResponse, DvError> {
    let target_of = |store: &Store, url: &str| -> Result<(String, Uuid), DvError> {
        let path = url
            .split_once(API_PREFIX)
            .map_or(url, |(_, p)| p)
            .trim_start_matches('/');
        let segs = segments(path)?;
        let seg = segs
            .first()
            .filter(|s| s.key.is_some())
            .ok_or_else(|| DvError::bad_request(format!("'{url}' does not address a record.")))?;
        let target_table = store.table_for_set(&seg.name)?;
        let key = store.parse_key(&target_table, seg.key.as_deref().unwrap_or_default())?;
        let target_id = store.retrieve_id(&target_table, &key)?;
        Ok((target_table, target_id))
    };
    match req.method.as_str() {
        "POST" | "PUT" => {
            let body = req.json_body()?;
            let url = body
                .get("@odata.id")
                .and_then(Value::as_str)
                .ok_or_else(|| DvError::bad_request("A $ref body needs \"@odata.id\"."))?;
            let (target_table, target_id) = target_of(store, url)?;
            store.transaction(|s| s.associate(table, id, &nav.name, &target_table, target_id))?;
            Ok(DvResponse::empty(204).written(1))
        }
        "DELETE" => {
            let (target_table, target_id) = match &nav.key {
                Some(key) => {
                    let target = store.navigation_target(table, &nav.name)?;
                    let key = store.parse_key(&target, key)?;
                    (target.clone(), store.retrieve_id(&target, &key)?)
                }
                None => {
                    let query = percent_decode(req.query.as_deref().unwrap_or_default())?;
                    match query.split('&').find_map(|p| p.strip_prefix("$id=")) {
                        Some(url) => target_of(store, url)?,
                        None => (String::new(), Uuid::nil()),
                    }
                }
            };
            store
                .transaction(|s| s.disassociate(table, id, &nav.name, &target_table, target_id))?;
            Ok(DvResponse::empty(204).written(1))
        }
        other => Err(unsupported(other, &req.path)),
    }
}

fn created_response(
    store: &Store,
    req: &DvRequest,
    table: &str,
    set: &str,
    id: Uuid,
    _created: bool,
) -> Result<DvResponse, DvError> {
    let entity = format!("{}{set}({id})", req.base);
    if req.prefers("return=representation") {
        let row = store.retrieve(table, &RecordKey::Id(id))?;
        let row = select_row(store, req, table, row)?;
        Ok(DvResponse::json(201, Value::Object(row))
            .with_header("OData-EntityId", entity)
            .written(1))
    } else {
        Ok(DvResponse::empty(204)
            .with_header("OData-EntityId", entity)
            .written(1))
    }
}

fn select_row(
    store: &Store,
    req: &DvRequest,
    table: &str,
    row: Map<String, Value>,
) -> Result<Map<String, Value>, DvError> {
    let options = odata::parse_query_options(req.query.as_deref())?;
    match &options.select {
        Some(select) => {
            check_properties(store, table, select)?;
            let primary = store
                .schema()
                .table(table)
                .map(|t| t.primary_id.clone())
                .unwrap_or_default();
            Ok(odata::apply_select(&row, select, &[primary.as_str()]))
        }
        None => Ok(row),
    }
}

/// The ids of a filter that is exactly `Microsoft.Dynamics.CRM.In` over the
/// primary id, when every value is a GUID.
fn ids_filter(filter: Option<&odata::Filter>, primary: &str) -> Option<Vec<Uuid>> {
    match filter? {
        odata::Filter::In {
            property,
            values,
            negated: false,
        } if property == primary => values
            .iter()
            .map(|v| match v {
                odata::Literal::Guid(s) | odata::Literal::Text(s) => Uuid::parse_str(s).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A collection read: filter, order, count, then one page.
fn list(store: &Store, req: &DvRequest, table: &str) -> Result<DvResponse, DvError> {
    let options = odata::parse_query_options(req.query.as_deref())?;
    let mut named: Vec<String> = options.select.clone().unwrap_or_default();
    if let Some(filter) = &options.filter {
        named.extend(filter.properties());
    }
    named.extend(options.orderby.iter().map(|o| o.column.clone()));
    check_properties(store, table, &named)?;
    let primary = store
        .schema()
        .table(table)
        .map(|t| t.primary_id.clone())
        .unwrap_or_default();
    // `scan` yields one record at a time: only the matching ones are kept,
    // so a filtered read of a large table does not copy all of it.
    let mut rows: Vec<Map<String, Value>> = match ids_filter(options.filter.as_ref(), &primary) {
        // `In` over the primary id (how a loader asks which of its ids
        // exist): the records by id, not a scan of the table — same rows,
        // same order.
        Some(mut ids) => {
            ids.sort();
            ids.dedup();
            ids.into_iter()
                .filter_map(|id| store.retrieve(table, &RecordKey::Id(id)).ok())
                .collect()
        }
        None => store
            .scan(table)?
            .filter(|r| options.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect(),
    };
    if !options.orderby.is_empty() {
        // Rows arrive in primary-id order; a stable sort keeps that as the
        // tie-break, so paging is deterministic.
        rows.sort_by(|a, b| odata::compare_rows(a, b, &options.orderby));
    }
    let total = rows.len();
    let limit = options.top.unwrap_or(usize::MAX).min(total);
    let offset = match &options.skiptoken {
        Some(token) => odata::decode_skiptoken(token)?,
        None => 0,
    };
    let page_size = req.max_page_size();
    let end = (offset + page_size).min(limit);
    let page: Vec<Value> = rows
        .into_iter()
        .take(end)
        .skip(offset.min(end))
        .map(|r| match &options.select {
            Some(select) => Value::Object(odata::apply_select(&r, select, &[primary.as_str()])),
            None => Value::Object(r),
        })
        .collect();
    let set = store
        .schema()
        .table(table)
        .map(|t| t.entity_set_name.clone())
        .unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(format!("{}$metadata#{set}", req.base)),
    );
    if options.count {
        body.insert("@odata.count".into(), json!(total.min(limit)));
    }
    body.insert("value".into(), Value::Array(page));
    if end < limit {
        let kept: Vec<&str> = req
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter(|p| {
                !p.is_empty() && !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken=")
            })
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("$skiptoken=");
        query.push_str(&odata::encode_skiptoken(end));
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!("{}{set}?{query}", req.base)),
        );
    }
    Ok(DvResponse::json(200, Value::Object(body)).with_header(
        "Preference-Applied",
        format!("odata.maxpagesize={page_size}"),
    ))
}

/// `CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`: all-or-nothing on
/// standard tables (SPEC §9): one bad target and nothing is written.
fn bulk(
    store: &mut Store,
    req: &DvRequest,
    table: &str,
    set: &str,
    action: &str,
    caller: &Caller,
) -> Result<DvResponse, DvError> {
    let body = req.json_body()?;
    let targets = match body.get("Targets") {
        Some(Value::Array(targets)) => targets,
        _ => {
            return Err(DvError::bad_request(format!(
                "{action} needs a \"Targets\" array."
            )))
        }
    };
    if targets.is_empty() || targets.len() > MAX_BULK_TARGETS {
        return Err(DvError::bad_request(format!(
            "{action} takes 1 to {MAX_BULK_TARGETS} targets per request; this one has {}.",
            targets.len()
        )));
    }
    let expected_type = format!("Microsoft.Dynamics.CRM.{table}");
    let mut records = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter().enumerate() {
        let Value::Object(record) = target else {
            return Err(DvError::bad_request(format!(
                "Targets[{i}] is not an object."
            )));
        };
        match record.get("@odata.type").and_then(Value::as_str) {
            Some(t) if t.trim_start_matches('#') == expected_type => {}
            other => {
                return Err(DvError::bad_request(format!(
                    "Targets[{i}]: \"@odata.type\" must be \"{expected_type}\" (found {}).",
                    other.unwrap_or("none")
                )))
            }
        }
        let mut record = record.clone();
        record.remove("@odata.type");
        records.push(record);
    }
    let primary = store
        .schema()
        .table(table)
        .map(|t| t.primary_id.clone())
        .unwrap_or_default();
    match action {
        "CreateMultiple" => {
            let ids = store.transaction(|s| {
                records
                    .iter()
                    .map(|r| s.create(table, r, caller.user_id))
                    .collect::<Result<Vec<Uuid>, DvError>>()
            })?;
            let n = ids.len();
            Ok(DvResponse::json(
                200,
                json!({
                    "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", req.base),
                    "Ids": ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
                }),
            )
            .written(n))
        }
        "UpdateMultiple" | "UpsertMultiple" => {
            let mode = if action == "UpdateMultiple" {
                WriteMode::UpdateOnly
            } else {
                WriteMode::Upsert
            };
            let n = records.len();
            store.transaction(|s| {
                for (i, record) in records.iter().enumerate() {
                    let key = target_key(s, table, set, &primary, record).map_err(|e| {
                        DvError::new(e.status, e.code, format!("Targets[{i}]: {}", e.message))
                    })?;
                    let mut record = record.clone();
                    record.remove("@odata.id");
                    s.write(table, &key, &record, mode, caller.user_id)?;
                }
                Ok(())
            })?;
            Ok(DvResponse::empty(204).written(n))
        }
        other => Err(DvError::no_segment(&format!(
            "Microsoft.Dynamics.CRM.{other}"
        ))),
    }
}

/// Which record a bulk update/upsert target addresses: `@odata.id`
/// (`accounts(guid)` or an alternate key) or its primary id column.
fn target_key(
    store: &Store,
    table: &str,
    set: &str,
    primary: &str,
    record: &Map<String, Value>,
) -> Result<RecordKey, DvError> {
    if let Some(id) = record.get("@odata.id").and_then(Value::as_str) {
        let path = id.split_once(API_PREFIX).map_or(id, |(_, p)| p);
        let segs = segments(path.trim_start_matches('/'))?;
        return match segs.first() {
            Some(Segment {
                name,
                key: Some(key),
            }) if name == set => store.parse_key(table, key),
            _ => Err(DvError::bad_request(format!(
                "\"@odata.id\" '{id}' does not address a record of {set}."
            ))),
        };
    }
    match record
        .get(primary)
        .and_then(Value::as_str)
        .map(Uuid::parse_str)
    {
        Some(Ok(id)) => Ok(RecordKey::Id(id)),
        _ => Err(DvError::bad_request(format!(
            "each target needs \"{primary}\" or \"@odata.id\"."
        ))),
    }
}

/// `$batch`: parts run in order; a changeset is one transaction and its
/// parts may refer to records created earlier in it by `$<Content-ID>`.
/// Without `Prefer: odata.continue-on-error` the batch stops at the first
/// failed item (Microsoft: "Execute batch operations using the Web API").
fn run_batch(state: &AppState, req: &DvRequest, caller: &Caller) -> DvResponse {
    let content_type = req.header("content-type").unwrap_or_default().to_string();
    let items = match batch::parse_batch(&content_type, &req.body) {
        Ok(items) => items,
        Err(err) => return DvResponse::error(&err),
    };
    let continue_on_error = req.prefers("odata.continue-on-error");
    let mut responses = Vec::new();
    let mut written = 0;
    for item in items {
        let (response, failed) = match item {
            BatchItem::Single(part) => {
                let sub = part_request(req, &part, &HashMap::new());
                let mut store = state.store.lock().expect("store");
                let response = execute(&mut store, &sub, caller);
                written += response.written;
                let failed = response.status >= 400;
                (
                    ItemResponse::Single(part_response(response, part.content_id.clone())),
                    failed,
                )
            }
            BatchItem::ChangeSet(parts) => {
                let mut store = state.store.lock().expect("store");
                let mut locations: HashMap<String, String> = HashMap::new();
                let outcome = store.transaction(|s| {
                    let mut out = Vec::new();
                    for part in &parts {
                        let sub = part_request(req, part, &locations);
                        let response = execute(s, &sub, caller);
                        if response.status >= 400 {
                            return Err(part_error(&response));
                        }
                        if let (Some(id), Some((_, location))) = (
                            &part.content_id,
                            response
                                .headers
                                .iter()
                                .find(|(n, _)| n.eq_ignore_ascii_case("OData-EntityId")),
                        ) {
                            locations.insert(id.clone(), location.clone());
                        }
                        out.push((response, part.content_id.clone()));
                    }
                    Ok(out)
                });
                match outcome {
                    Ok(parts) => {
                        written += parts.iter().map(|(r, _)| r.written).sum::<usize>();
                        (
                            ItemResponse::ChangeSet(
                                parts
                                    .into_iter()
                                    .map(|(r, id)| part_response(r, id))
                                    .collect(),
                            ),
                            false,
                        )
                    }
                    Err(err) => (
                        ItemResponse::Single(part_response(DvResponse::error(&err), None)),
                        true,
                    ),
                }
            }
        };
        responses.push(response);
        if failed && !continue_on_error {
            break;
        }
    }
    let status = batch::batch_status(&responses, continue_on_error);
    let (content_type, body) = batch::render_batch(&responses);
    DvResponse {
        status,
        headers: vec![("content-type".into(), content_type)],
        body: Some(body),
        written,
    }
}

fn part_error(response: &DvResponse) -> DvError {
    let body: Value = response
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("the request failed")
        .to_string();
    DvError::new(response.status, known_code(code), message)
}

/// The `&'static` code constant equal to `code` (error bodies carry text).
fn known_code(code: &str) -> &'static str {
    use super::error::*;
    [
        OBJECT_DOES_NOT_EXIST,
        DUPLICATE_RECORD,
        RESOURCE_NOT_FOUND,
        BAD_REQUEST,
        VALIDATION_ERROR,
        REQUIRED_MISSING,
        ATTACHMENT_TOO_LARGE,
        USER_DISABLED,
        UNAUTHORIZED,
        THROTTLE_REQUESTS,
        THROTTLE_TIME,
        THROTTLE_CONCURRENCY,
        SERVICE_UNAVAILABLE,
        PICKLIST_VALUE_OUT_OF_RANGE,
        STATE_STATUS_MISMATCH,
        NOT_VALID_FOR_CREATE,
        NOT_VALID_FOR_UPDATE,
        DUPLICATE_KEY_VALUE,
        INTEGER_OUT_OF_RANGE,
        DECIMAL_OUT_OF_RANGE,
        INVALID_DATE_TIME,
        INVALID_ARGUMENT,
        INCIDENT_CUSTOMER_MISSING,
        INCIDENT_INVALID_STATE,
        CONTRACT_CUSTOMER_MISSING,
        BASE_UOM_NAME_MISSING,
    ]
    .into_iter()
    .find(|c| c.eq_ignore_ascii_case(code))
    .unwrap_or(BAD_REQUEST)
}

fn part_request(
    outer: &DvRequest,
    part: &batch::Part,
    locations: &HashMap<String, String>,
) -> DvRequest {
    let url = batch::resolve_content_ids(&part.relative_path(), locations);
    // The query is split off first: it may itself hold a URL with the API
    // prefix (`$ref?$id=https://…/api/data/v9.2/…`), which must not be
    // taken for the part's own path.
    let (url, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (url, None),
    };
    let path = url
        .split_once(API_PREFIX)
        .map_or(url.as_str(), |(_, p)| p)
        .trim_start_matches('/')
        .to_string();
    let body = part
        .body
        .as_deref()
        .map(|b| batch::resolve_content_ids(b, locations))
        .unwrap_or_default();
    DvRequest {
        method: part.method.clone(),
        path,
        query,
        headers: part
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        body: Bytes::from(body),
        base: outer.base.clone(),
    }
}

fn part_response(response: DvResponse, content_id: Option<String>) -> PartResponse {
    PartResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
        content_id,
    }
}

fn to_http(response: DvResponse, extra: Vec<(&'static str, String)>) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("OData-Version", "4.0");
    for (name, value) in response.headers.iter() {
        if let Ok(v) = HeaderValue::from_str(value) {
            builder = builder.header(name.as_str(), v);
        }
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            builder = builder.header(name, v);
        }
    }
    builder
        .body(Body::from(response.body.unwrap_or_default()))
        .expect("response parts are valid")
}

/// A response whose body fails mid-stream: hyper closes the connection
/// without completing it, which is what a dropped connection looks like to
/// a client.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected dropped connection",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("valid response")
}

fn form_fields(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let decode = |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_default();
            Some((decode(k), decode(v)))
        })
        .collect()
}

/// Every request enters here.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    if let Some(rest) = path.strip_prefix("/_emulator/") {
        return emulator_endpoint(&state, &method, rest);
    }
    if method == Method::POST && path.ends_with("/oauth2/v2.0/token") {
        let (status, body) = state.authority.token(&form_fields(&body));
        return to_http(DvResponse::json(status, body), Vec::new());
    }
    let Some(api_path) = path
        .strip_prefix(API_PREFIX)
        .or_else(|| (path == API_PREFIX.trim_end_matches('/')).then_some(""))
    else {
        return to_http(
            DvResponse::error(&DvError::no_segment(path.trim_start_matches('/'))),
            Vec::new(),
        );
    };
    let mut op = Operation {
        seq: 0,
        at_ms: state.started.elapsed().as_millis() as u64,
        method: method.to_string(),
        path: match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        },
        status: 0,
        records_written: 0,
        throttled: false,
        fault: None,
    };
    let log = |state: &AppState, op: Operation| state.ops.lock().expect("ops log").push(op);

    let caller = match state
        .authority
        .check(headers.get("authorization").and_then(|h| h.to_str().ok()))
    {
        Ok(caller) => caller,
        Err(err) => {
            op.status = err.status;
            log(&state, op);
            return to_http(
                DvResponse::error(&err),
                vec![(
                    "WWW-Authenticate",
                    format!("Bearer authorization_uri=http://{host}/common/oauth2/authorize"),
                )],
            );
        }
    };
    let user = caller.user_id.to_string();
    let permit = match state.limits.admit(&user) {
        Ok(permit) => permit,
        Err(throttled) => {
            op.status = 429;
            op.throttled = true;
            log(&state, op);
            let mut extra = state.limits.headers(&user);
            extra.push(("Retry-After", throttled.retry_after_header()));
            return to_http(DvResponse::error(&throttled.to_error()), extra);
        }
    };
    let fault = state.faults.next();
    match fault {
        Fault::Unavailable => {
            op.status = 503;
            op.fault = Some("unavailable".into());
            log(&state, op);
            drop(permit);
            return to_http(
                DvResponse::error(&DvError::new(
                    503,
                    super::error::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable (injected fault).",
                )),
                Vec::new(),
            );
        }
        Fault::DropConnection => {
            op.fault = Some("dropped".into());
            log(&state, op);
            drop(permit);
            return dropped_connection();
        }
        Fault::Slow(delay) => {
            op.fault = Some(format!("slow {} ms", delay.as_millis()));
            tokio::time::sleep(delay).await;
        }
        Fault::None | Fault::FailAfterWrite => {}
    }
    let request = DvRequest {
        method: method.to_string(),
        path: api_path.to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
        base: format!("http://{host}{API_PREFIX}"),
    };
    let worker_state = state.clone();
    let response = tokio::task::spawn_blocking(move || {
        if request.path == "$batch" && request.method == "POST" {
            run_batch(&worker_state, &request, &caller)
        } else {
            let mut store = worker_state.store.lock().expect("store");
            execute(&mut store, &request, &caller)
        }
    })
    .await
    .unwrap_or_else(|e| {
        DvResponse::error(&DvError::new(
            500,
            super::error::BAD_REQUEST,
            format!("the emulator failed: {e}"),
        ))
    });
    op.status = response.status;
    op.records_written = response.written;
    permit.finish();
    let extra = state.limits.headers(&user);
    if fault == Fault::FailAfterWrite && method != Method::GET {
        // The write above stands; the client only learns that it failed.
        op.fault = Some("failed after write".into());
        op.status = 503;
        log(&state, op);
        return to_http(
            DvResponse::error(&DvError::new(
                503,
                super::error::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable (injected fault after the write was applied).",
            )),
            extra,
        );
    }
    log(&state, op);
    to_http(response, extra)
}

/// `/_emulator/…`: test hooks, not part of the Web API (no auth).
fn emulator_endpoint(state: &AppState, method: &Method, rest: &str) -> Response {
    let ok = |value: Value| to_http(DvResponse::json(200, value), Vec::new());
    match (method.as_str(), rest) {
        ("GET", "ops") => ok(json!(state.ops.lock().expect("ops log").entries())),
        ("GET", "stats") => {
            let store = state.store.lock().expect("store");
            ok(json!({
                "records": store
                    .schema()
                    .tables()
                    .map(|t| (t.logical_name.clone(), json!(store.count(&t.logical_name))))
                    .filter(|(_, n)| n != &json!(0))
                    .collect::<Map<String, Value>>(),
                "limits": state.limits.stats(),
                "faults": state.faults.stats(),
            }))
        }
        ("POST", "reset") => {
            *state.store.lock().expect("store") = (state.fresh)();
            *state.ops.lock().expect("ops log") = OpsLog::default();
            to_http(DvResponse::empty(204), Vec::new())
        }
        _ => to_http(DvResponse::error(&DvError::no_segment(rest)), Vec::new()),
    }
}

/// How long a throttled client should wait, as a whole number of seconds.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_outside_quotes_and_parentheses() {
        let segs = segments("accounts(name='a/b')/contact_customer_accounts/$ref").unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0].name, "accounts");
        assert_eq!(segs[0].key.as_deref(), Some("name='a/b'"));
        assert_eq!(segs[2].name, "$ref");
        let segs = segments(
            "EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='prioritycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        )
        .unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            logical_name_key(segs[1].key.as_deref().unwrap()).unwrap(),
            "prioritycode"
        );
        assert!(segments("accounts(").is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2100)), 3);
    }
}
