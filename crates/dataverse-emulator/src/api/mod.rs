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

use crate::auth::{Authority, Caller};
use crate::batch::{self, BatchItem, ItemResponse, PartResponse};
use crate::error::DvError;
use crate::faults::{Fault, Faults};
use crate::limits::ServiceProtection;
use crate::metadata;
use crate::odata;
use crate::store::{RecordKey, Store, WriteMode};

mod batch_parts;
mod http;
mod metadata_routes;
mod paths;
mod records;

use batch_parts::*;
pub use http::*;
use metadata_routes::*;
use paths::*;
use records::*;

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
