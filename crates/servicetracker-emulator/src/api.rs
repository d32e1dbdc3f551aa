//! The HTTP surface of the ServiceTracker emulator: routes, the gate every
//! `/api/v2` request passes (key, budget, throttling), and the handlers.
//! Every refusal is a JSON error body; nothing a client sends can panic it.
//!
//! Helpers return axum's `Response` as their error so a refusal flows
//! through `?` straight to the client; boxing it would only add an
//! allocation to every refusal.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::limits::{LimitConfig, Limits, Verdict};
use super::records::{Dataset, DeletedRecord, Record};
use super::{MalformedPage, Stats};
use crate::export::{read_attachment, AttachmentContent};
use crate::query::parse_query;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
const REMAINING_HEADER: &str = "x-ratelimit-remaining";

pub struct AppState {
    data: Arc<Dataset>,
    limits: Limits,
    malformed: Vec<MalformedPage>,
    stats: Mutex<Stats>,
    /// Page requests seen per object (for `--malformed-page`).
    pages: Mutex<HashMap<String, u64>>,
}

impl AppState {
    pub fn new(data: Arc<Dataset>, limits: LimitConfig, malformed: Vec<MalformedPage>) -> Self {
        AppState {
            data,
            limits: Limits::new(limits, Instant::now()),
            malformed,
            stats: Mutex::new(Stats::default()),
            pages: Mutex::new(HashMap::new()),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats_mut().clone()
    }

    fn stats_mut(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats
            .lock()
            .expect("no handler panics holding the stats")
    }
}

type Shared = Arc<AppState>;

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/api/v2/picklists", get(picklists))
        .route("/api/v2/deleted", get(deleted))
        .route("/api/v2/attachments/{id}/content", get(attachment))
        .route("/api/v2/{object}", get(list))
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .route("/_emulator/stats", get(stats))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `{"error":{"code":…,"message":…}}` with `status`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message.into()}});
    (status, json_headers(), body.to_string()).into_response()
}

fn bad_request(code: &str, message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

fn json_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )]
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Key, budget and throttling, before any handler runs.
async fn gate(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_string(),
        |p| p.as_str().to_string(),
    );
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verdict = app
        .limits
        .check(authorization, &target, Instant::now(), unix_now());
    app.stats_mut().requests += 1;
    let (mut response, remaining) = match verdict {
        Verdict::Pass { remaining } => (next.run(request).await, remaining),
        Verdict::Refuse(refusal) => {
            {
                let mut stats = app.stats_mut();
                if refusal.status == StatusCode::UNAUTHORIZED {
                    stats.unauthorized += 1;
                } else {
                    stats.throttled += 1;
                    stats.early_retries += u64::from(refusal.early_retry);
                }
            }
            let mut response = error(refusal.status, refusal.code, refusal.message);
            if let Some(seconds) = refusal.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            let Some(remaining) = refusal.remaining else {
                return response;
            };
            (response, remaining)
        }
    };
    response
        .headers_mut()
        .insert(REMAINING_HEADER, HeaderValue::from(remaining));
    response
}

async fn stats(State(app): State<Shared>) -> Response {
    let body = serde_json::to_string(&app.stats()).expect("stats serialize");
    (json_headers(), body).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: see /api/v2/{object}, /api/v2/deleted, /api/v2/picklists, /api/v2/attachments/{id}/content",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the API is read-only: use GET",
    )
}

async fn picklists(State(app): State<Shared>, RawQuery(query): RawQuery) -> Response {
    if let Err(message) = parse_query(query.as_deref(), &[]) {
        return bad_request("invalid_parameter", message);
    }
    (json_headers(), app.data.picklists.clone()).into_response()
}

/// Parses an RFC 3339 instant to UTC microseconds.
fn parse_instant(name: &str, text: &str) -> Result<i64, Response> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            bad_request(
                &format!("invalid_{name}"),
                format!(
                    "{name} `{text}` is not an RFC 3339 timestamp such as 2026-10-01T12:00:00Z"
                ),
            )
        })
}

fn unknown_object(app: &AppState, object: &str) -> Response {
    let known: Vec<&str> = app.data.objects.keys().map(String::as_str).collect();
    error(
        StatusCode::NOT_FOUND,
        "unknown_object",
        format!("no object `{object}`; objects: {}", known.join(", ")),
    )
}

/// The parameters of a page request, checked.
struct PageRequest {
    limit: usize,
    after: Option<String>,
    modified_since: Option<i64>,
}

fn page_request(query: Option<&str>) -> Result<PageRequest, Response> {
    let params = parse_query(query, &["limit", "cursor", "modified_since"])
        .map_err(|m| bad_request("invalid_parameter", m))?;
    let limit = parse_limit(params.get("limit"), DEFAULT_LIMIT)?;
    let after = match params.get("cursor") {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            bad_request(
                "invalid_cursor",
                format!(
                    "cursor `{cursor}` is not one this API issued: pass next_cursor back unchanged"
                ),
            )
        })?),
    };
    let modified_since = params
        .get("modified_since")
        .map(|t| parse_instant("modified_since", t))
        .transpose()?;
    Ok(PageRequest {
        limit,
        after,
        modified_since,
    })
}

/// `limit`: 1 to [`MAX_LIMIT`], `default` when absent.
fn parse_limit(text: Option<&String>, default: usize) -> Result<usize, Response> {
    match text {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(bad_request(
                "invalid_limit",
                format!("limit `{text}` must be a whole number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// A cursor is the base64url (unpadded) of the last id served.
pub fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    String::from_utf8(bytes).ok().filter(|id| !id.is_empty())
}

/// One page: the records after `after` that match, and the cursor for the
/// next page when any further record matches.
fn page<'r>(records: &'r [Record], start: usize, req: &PageRequest) -> (Vec<&'r Record>, bool) {
    let matches = |r: &Record| {
        req.modified_since
            .is_none_or(|since| r.modified_at >= since)
    };
    let mut rest = records[start..].iter().filter(|r| matches(r));
    let served: Vec<&Record> = rest.by_ref().take(req.limit).collect();
    let more = rest.next().is_some();
    (served, more)
}

async fn list(
    State(app): State<Shared>,
    object: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(Path(object)) = object else {
        return bad_request("invalid_path", "the object name is not valid UTF-8");
    };
    let Some(records) = app.data.objects.get(&object) else {
        return unknown_object(&app, &object);
    };
    let req = match page_request(query.as_deref()) {
        Ok(req) => req,
        Err(response) => return response,
    };
    let start = req.after.as_deref().map_or(0, |id| records.after(id));
    let (served, more) = page(&records.records, start, &req);

    let size: usize = served.iter().map(|r| r.json.len() + 1).sum();
    let mut body = String::with_capacity(size + 64);
    body.push_str("{\"data\":[");
    for (i, record) in served.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&record.json);
    }
    body.push_str("],\"next_cursor\":");
    match served.last().filter(|_| more) {
        Some(last) => {
            body.push('"');
            body.push_str(&encode_cursor(&last.id));
            body.push('"');
        }
        None => body.push_str("null"),
    }
    body.push('}');

    let nth = {
        let mut pages = app.pages.lock().expect("no handler panics holding pages");
        let n = pages.entry(object.clone()).or_insert(0);
        *n += 1;
        *n
    };
    if app
        .malformed
        .iter()
        .any(|m| m.object == object && m.page == nth)
    {
        app.stats_mut().malformed_pages += 1;
        let mut cut = body.len() / 2;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        return (json_headers(), body).into_response();
    }
    {
        let mut stats = app.stats_mut();
        stats.served_records += served.len() as u64;
        *stats.by_object.entry(object).or_insert(0) += served.len() as u64;
    }
    (json_headers(), body).into_response()
}

/// The fields of an attachment record the content endpoint needs.
#[derive(Deserialize)]
struct AttachmentRecord {
    content_type: Option<String>,
}

async fn attachment(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(Path(id)) = id else {
        return bad_request("invalid_path", "the attachment id is not valid UTF-8");
    };
    if let Err(message) = parse_query(query.as_deref(), &[]) {
        return bad_request("invalid_parameter", message);
    }
    let content_type = app
        .data
        .objects
        .get("attachments")
        .and_then(|o| o.get(&id))
        .and_then(|r| serde_json::from_str::<AttachmentRecord>(&r.json).ok())
        .and_then(|r| r.content_type)
        .and_then(|t| HeaderValue::from_str(&t).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let dir = app.data.export_dir.clone();
    let read_id = id.clone();
    let content = tokio::task::spawn_blocking(move || read_attachment(&dir, &read_id)).await;
    match content {
        Ok(AttachmentContent::Found(bytes)) => {
            ([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response()
        }
        Ok(AttachmentContent::Missing(reason)) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("attachment `{id}` has no content: {reason}"),
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "reading the attachment failed",
        ),
    }
}

/// Deletions per page of `/deleted` unless `limit` says otherwise.
pub const DELETED_PAGE: usize = 1000;

/// A `/deleted` cursor: the last deletion served, as
/// `<deleted_at micros>:<object>:<id>` in base64url.
fn deleted_cursor(d: &DeletedRecord) -> String {
    encode_cursor(&format!("{}:{}:{}", d.deleted_at, d.object, d.id))
}

fn parse_deleted_cursor(cursor: &str) -> Option<(i64, String, String)> {
    let text = decode_cursor(cursor)?;
    let mut parts = text.splitn(3, ':');
    let at = parts.next()?.parse().ok()?;
    Some((at, parts.next()?.to_string(), parts.next()?.to_string()))
}

async fn deleted(State(app): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = match parse_query(query.as_deref(), &["object", "since", "limit", "cursor"]) {
        Ok(p) => p,
        Err(message) => return bad_request("invalid_parameter", message),
    };
    let object = params.get("object");
    if let Some(object) = object {
        let known = app.data.objects.contains_key(object) || crate::model::object(object).is_some();
        if !known {
            return unknown_object(&app, object);
        }
    }
    let since = match params.get("since").map(|t| parse_instant("since", t)) {
        Some(Err(response)) => return response,
        Some(Ok(since)) => Some(since),
        None => None,
    };
    let limit = match parse_limit(params.get("limit"), DELETED_PAGE) {
        Ok(limit) => limit,
        Err(response) => return response,
    };
    let all = &app.data.deleted;
    let start = match params.get("cursor") {
        None => 0,
        Some(cursor) => match parse_deleted_cursor(cursor) {
            Some((at, o, id)) => all.partition_point(|d| {
                (d.deleted_at, d.object.as_str(), d.id.as_str()) <= (at, o.as_str(), id.as_str())
            }),
            None => {
                return bad_request(
                    "invalid_cursor",
                    format!(
                    "cursor `{cursor}` is not one this API issued: pass next_cursor back unchanged"
                ),
                )
            }
        },
    };
    let matches = |d: &&DeletedRecord| {
        object.is_none_or(|o| *o == d.object) && since.is_none_or(|s| d.deleted_at >= s)
    };
    let mut rest = all[start..].iter().filter(matches);
    let served: Vec<&DeletedRecord> = rest.by_ref().take(limit).collect();
    let next_cursor = match (served.last(), rest.next()) {
        (Some(last), Some(_)) => Some(deleted_cursor(last)),
        _ => None,
    };
    let data: Vec<serde_json::Value> = served
        .iter()
        .map(|d| {
            serde_json::json!({
                "object": d.object,
                "id": d.id,
                "deleted_at": super::encode::timestamp_text(d.deleted_at),
            })
        })
        .collect();
    let body = serde_json::json!({"data": data, "next_cursor": next_cursor});
    (json_headers(), body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_cursors_round_trip() {
        let d = DeletedRecord {
            object: "notes".into(),
            id: "NOT:1".into(),
            deleted_at: -5,
        };
        assert_eq!(
            parse_deleted_cursor(&deleted_cursor(&d)),
            Some((-5, "notes".into(), "NOT:1".into()))
        );
        assert_eq!(parse_deleted_cursor(&encode_cursor("x:notes")), None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        for id in ["CUS-000123", "WO-0004567", "ünï/+=?"] {
            let c = encode_cursor(id);
            assert!(c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(decode_cursor(&c).as_deref(), Some(id));
        }
        assert_eq!(
            decode_cursor("Q1VTLTAwMDEyMw==").as_deref(),
            Some("CUS-000123")
        );
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])), None);
    }

    fn record(id: &str, modified_at: i64) -> Record {
        Record {
            id: id.into(),
            modified_at,
            json: format!("{{\"id\":\"{id}\"}}").into(),
        }
    }

    #[test]
    fn pages_say_whether_more_match() {
        let records = vec![
            record("A", 1),
            record("B", 5),
            record("C", 2),
            record("D", 9),
        ];
        let req = |limit, since| PageRequest {
            limit,
            after: None,
            modified_since: since,
        };
        let ids = |(page, more): (Vec<&Record>, bool)| {
            (
                page.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
                more,
            )
        };
        assert_eq!(
            ids(page(&records, 0, &req(2, None))),
            (vec!["A".into(), "B".into()], true)
        );
        assert_eq!(
            ids(page(&records, 2, &req(2, None))),
            (vec!["C".into(), "D".into()], false)
        );
        // Only B and D are modified at or after 5: the page after B holds D.
        assert_eq!(
            ids(page(&records, 0, &req(1, Some(5)))),
            (vec!["B".into()], true)
        );
        assert_eq!(
            ids(page(&records, 2, &req(1, Some(5)))),
            (vec!["D".into()], false)
        );
        assert_eq!(ids(page(&records, 0, &req(5, Some(10)))), (vec![], false));
    }
}
