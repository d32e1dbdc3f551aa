//! The axum side: the one fallback handler that applies auth, service
//! protection and injected faults before the operation, the token endpoint's
//! form fields, the `/_emulator/*` test hooks, and Web API responses turned
//! into HTTP ones.

use super::*;

pub(super) fn to_http(response: DvResponse, extra: Vec<(&'static str, String)>) -> Response {
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
pub(super) fn dropped_connection() -> Response {
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

pub(super) fn form_fields(body: &[u8]) -> HashMap<String, String> {
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
                    crate::error::SERVICE_UNAVAILABLE,
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
            crate::error::BAD_REQUEST,
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
                crate::error::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable (injected fault after the write was applied).",
            )),
            extra,
        );
    }
    log(&state, op);
    to_http(response, extra)
}

/// `/_emulator/…`: test hooks, not part of the Web API (no auth).
pub(super) fn emulator_endpoint(state: &AppState, method: &Method, rest: &str) -> Response {
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
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2100)), 3);
    }
}
