//! `$batch` dispatch: each part run through [`super::execute`] like a single
//! request, changesets as one transaction with `$<Content-ID>` references,
//! and a failed part's error carried into the batch response.

use super::*;

/// `$batch`: parts run in order; a changeset is one transaction and its
/// parts may refer to records created earlier in it by `$<Content-ID>`.
/// Without `Prefer: odata.continue-on-error` the batch stops at the first
/// failed item (Microsoft: "Execute batch operations using the Web API").
pub(super) fn run_batch(state: &AppState, req: &DvRequest, caller: &Caller) -> DvResponse {
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

pub(super) fn part_error(response: &DvResponse) -> DvError {
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
pub(super) fn known_code(code: &str) -> &'static str {
    use crate::error::*;
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

pub(super) fn part_request(
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

pub(super) fn part_response(response: DvResponse, content_id: Option<String>) -> PartResponse {
    PartResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
        content_id,
    }
}
