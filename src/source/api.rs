//! A client for ServiceTracker's REST API (SPEC §8.3): bearer-key auth,
//! cursor paging, the deleted-records feed and attachment contents, with the
//! retry discipline a rate-limited API needs.
//!
//! - 429: wait exactly what `Retry-After` says (plus a small margin, since
//!   the server measures from when it answered), then send the same request
//!   again. A 429 for the daily budget is not retried: the extract stops and
//!   resumes from its checkpoint when run again.
//! - 5xx (except 501, "not implemented", which no retry cures) and
//!   connection failures: a bounded number of retries with jittered
//!   exponential backoff ([`crate::http::RetryPolicy`]), then exit 3 naming
//!   the request.
//! - 401/403: stop at once; retrying a refused key only burns budget.
//!
//! The API key lives only in the request header: it is never formatted
//! into an error, a log line or a manifest ([`ApiKey`]'s `Debug` hides it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::http::{error_chain, is_loopback, is_transient, retry_after, RetryPolicy};

/// Attempts for one request that keeps failing with 5xx or dropped
/// connections (429s with `Retry-After` do not count against this).
pub const MAX_ATTEMPTS: u32 = 5;
/// 5xx and connection failures: [`MAX_ATTEMPTS`] attempts, backing off
/// from 200 ms, doubling per failure up to 6.4 s.
const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: MAX_ATTEMPTS,
    first_backoff: Duration::from_millis(200),
    max_backoff: Duration::from_millis(6400),
};
/// Added to every `Retry-After` wait: the server's clock started when it
/// answered, ours when the answer arrived, and whole seconds are rounded.
const RETRY_AFTER_MARGIN: Duration = Duration::from_millis(50);
/// Longest `Retry-After` ferry waits out in-process; a longer one (a daily
/// budget reset) ends the run so it can be resumed later.
const LONGEST_WAIT: Duration = Duration::from_secs(120);

/// The ServiceTracker API key; `Debug` never shows it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        ApiKey(key)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What the client met on its way, for the manifest and the summary.
#[derive(Debug, Default)]
pub struct ApiCounters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retried_failures: AtomicU64,
    /// The last `X-RateLimit-Remaining` seen, if any.
    pub budget_remaining: AtomicU64,
}

/// One page of an object listing, its records kept as their exact JSON.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub data: Vec<Box<RawValue>>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One entry of `/deleted`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct DeletedRecord {
    pub id: String,
    pub deleted_at: String,
}

#[derive(Debug, Deserialize)]
struct DeletedPage {
    data: Vec<DeletedRecord>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    key: ApiKey,
    /// Name of the variable the key came from, for error messages.
    key_env: String,
    pub counters: ApiCounters,
}

impl ApiClient {
    /// `base_url` is the server root (e.g. `http://127.0.0.1:8080`); plain
    /// `http://` is accepted only for loopback hosts, so a key never crosses
    /// a network unencrypted.
    pub fn new(base_url: &str, key: ApiKey, key_env: &str) -> Result<Self> {
        let base = Url::parse(base_url).map_err(|e| {
            Error::Usage(format!(
                "source.url `{base_url}` is not a URL ({e}); set it to the ServiceTracker server, e.g. https://acme.servicetracker.example"
            ))
        })?;
        let loopback = is_loopback(&base);
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(Error::Usage(format!(
                    "source.url `{base_url}` uses plain http to a non-loopback host: the API key would travel unencrypted; use https"
                )))
            }
            other => {
                return Err(Error::Usage(format!(
                    "source.url `{base_url}` has scheme `{other}`; use https (or http for a local emulator)"
                )))
            }
        }
        let http = crate::http::client(Duration::from_secs(10), Duration::from_secs(120))
            .map_err(|e| Error::Remote(format!("cannot start an HTTP client: {e}")))?;
        Ok(ApiClient {
            http,
            base,
            key,
            key_env: key_env.to_string(),
            counters: ApiCounters::default(),
        })
    }

    /// The server root as configured, safe to record (it holds no key).
    pub fn location(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}/api/v2/{path}"));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// One page of `object`. `Ok(None)` when the server does not know the
    /// object (404).
    pub async fn page(
        &self,
        object: &str,
        limit: usize,
        cursor: Option<&str>,
        modified_since: Option<&str>,
    ) -> Result<Option<(Page, usize)>> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        if let Some(since) = modified_since {
            query.push(("modified_since", since));
        }
        let url = self.url(object, &query);
        let what = format!(
            "{object} page at cursor {}",
            cursor.unwrap_or("(first page)")
        );
        let Some(body) = self.get(url, &what).await? else {
            return Ok(None);
        };
        let page: Page = serde_json::from_slice(&body).map_err(|e| {
            Error::Remote(format!(
                "ServiceTracker sent a {what} that is not valid JSON ({e}); nothing of it was landed. \
                 Run `ferry extract` again: it resumes from this page"
            ))
        })?;
        Ok(Some((page, body.len())))
    }

    /// Every deletion the source reports for `object` since `since` (all
    /// of them without `since`).
    pub async fn deleted(&self, object: &str, since: Option<&str>) -> Result<Vec<DeletedRecord>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("object", object)];
            if let Some(since) = since {
                query.push(("since", since));
            }
            if let Some(c) = cursor.as_deref() {
                query.push(("cursor", c));
            }
            let url = self.url("deleted", &query);
            let what = format!("list of deleted {object}");
            let Some(body) = self.get(url, &what).await? else {
                return Ok(out);
            };
            let page: DeletedPage = serde_json::from_slice(&body).map_err(|e| {
                Error::Remote(format!(
                    "ServiceTracker sent a {what} that is not valid JSON ({e}); run `ferry extract` again"
                ))
            })?;
            out.extend(page.data);
            match page.next_cursor {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// An attachment's bytes; `Ok(None)` when the server has none (404).
    pub async fn attachment(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let mut url = self.url("attachments", &[]);
        url.path_segments_mut()
            .expect("http URLs have path segments")
            .push(id)
            .push("content");
        self.get(url, &format!("content of attachment {id}")).await
    }

    /// GET with ServiceTracker's retry rules; `Ok(None)` on 404.
    async fn get(&self, url: Url, what: &str) -> Result<Option<Vec<u8>>> {
        let mut failures = 0u32;
        loop {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .http
                .get(url.clone())
                .bearer_auth(&self.key.0)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    if RETRY.gives_up_after(failures) {
                        return Err(Error::Remote(format!(
                            "cannot reach ServiceTracker at {} for the {what} after {failures} attempts: {}. \
                             Check source.url and the network, then run `ferry extract` again (it resumes)",
                            self.location(),
                            error_chain(&e)
                        )));
                    }
                    self.counters
                        .retried_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(RETRY.backoff(failures)).await;
                    continue;
                }
            };
            if let Some(remaining) = response
                .headers()
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                self.counters
                    .budget_remaining
                    .store(remaining, Ordering::Relaxed);
            }
            let status = response.status();
            if status.is_success() {
                match response.bytes().await {
                    Ok(body) => return Ok(Some(body.to_vec())),
                    Err(e) => {
                        failures += 1;
                        if RETRY.gives_up_after(failures) {
                            return Err(Error::Remote(format!(
                                "the {what} broke off while downloading, {failures} times: {}; run `ferry extract` again",
                                error_chain(&e)
                            )));
                        }
                        self.counters
                            .retried_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(RETRY.backoff(failures)).await;
                        continue;
                    }
                }
            }
            let retry_after = retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            let message = server_message(&body);
            match status {
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(Error::Remote(format!(
                        "ServiceTracker refused the API key from ${} ({status}{}). \
                         Set ${} to a valid key for {} and run `ferry extract` again",
                        self.key_env,
                        message.map(|m| format!(": {m}")).unwrap_or_default(),
                        self.key_env,
                        self.location()
                    )))
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    let wait = retry_after.unwrap_or(Duration::from_secs(1));
                    if wait > LONGEST_WAIT {
                        return Err(Error::Remote(format!(
                            "ServiceTracker asks ferry to wait {}s before the next request{} — the daily budget is used up. \
                             Run `ferry extract` again after that: it resumes where it stopped",
                            wait.as_secs(),
                            message.map(|m| format!(" ({m})")).unwrap_or_default()
                        )));
                    }
                    tokio::time::sleep(wait + RETRY_AFTER_MARGIN).await;
                }
                s if is_transient(s) => {
                    failures += 1;
                    if RETRY.gives_up_after(failures) {
                        return Err(Error::Remote(format!(
                            "ServiceTracker failed the {what} {failures} times (last: {status}{}); run `ferry extract` again later (it resumes)",
                            message.map(|m| format!(": {m}")).unwrap_or_default()
                        )));
                    }
                    self.counters
                        .retried_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(retry_after.unwrap_or_else(|| RETRY.backoff(failures)))
                        .await;
                }
                _ => {
                    return Err(Error::Remote(format!(
                        "ServiceTracker refused the {what} ({status}{})",
                        message.map(|m| format!(": {m}")).unwrap_or_default()
                    )))
                }
            }
        }
    }
}

/// The `error.message` of a ServiceTracker error body, if it has one.
fn server_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value
        .pointer("/error/message")
        .and_then(|m| m.as_str())
        .map(|m| m.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new("sekrit-123".into());
        assert!(!format!("{key:?}").contains("sekrit"));
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        let key = || ApiKey::new("k".into());
        assert!(ApiClient::new("http://127.0.0.1:9", key(), "K").is_ok());
        assert!(ApiClient::new("http://localhost:9", key(), "K").is_ok());
        assert!(ApiClient::new("https://st.example.com", key(), "K").is_ok());
        let err = ApiClient::new("http://st.example.com", key(), "K").unwrap_err();
        assert!(err.to_string().contains("unencrypted"), "{err}");
    }

    #[test]
    fn urls_keep_a_base_path_and_escape_ids() {
        let client =
            ApiClient::new("http://127.0.0.1:9/st/", ApiKey::new("k".into()), "K").unwrap();
        assert_eq!(
            client
                .url("customers", &[("limit", "5"), ("cursor", "a b")])
                .as_str(),
            "http://127.0.0.1:9/st/api/v2/customers?limit=5&cursor=a+b"
        );
    }
}
