//! ferry's client for the Dataverse Web API v9.2 (SPEC §6, §9): OAuth client
//! credentials, metadata reads and the schema changes `ferry plan --apply`
//! makes, paged reads for `ferry verify`, bulk writes and `$batch` for
//! `ferry push`.
//!
//! It exists so that every command talks to the target through one place
//! that knows Dataverse's rules: which failures are worth retrying, how long
//! a throttled client must stay quiet, how a token is refreshed, and how an
//! error body is turned into a message an analyst can act on. The loader
//! above it decides *what* to send (chunking, create vs update, splitting a
//! failed chunk); this module decides *how* a request reaches the org.
//!
//! Retry discipline (each rule is repeated where it is applied):
//!
//! - 429: wait what `Retry-After` says, plus a small margin, and send the
//!   same request again — never earlier. The whole client stays quiet until
//!   then, because the limits are per user, not per request (Microsoft,
//!   "Service protection API limits", learn.microsoft.com/power-apps/
//!   developer/data-platform/api-limits, "How to re-try").
//! - 5xx other than 501, dropped connections and timeouts: jittered
//!   exponential backoff, at most [`ClientOptions::max_attempts`] attempts
//!   (SPEC §6 Throttling). A write that may have been applied is safe to
//!   send again because ferry addresses records by deterministic ids; a
//!   retried CreateMultiple can then meet "duplicate record", which the
//!   loader resolves by reading which ids exist.
//! - 401: the token may have expired or been revoked; fetch a new one and
//!   send once more. A second 401 is an authorization problem, not a
//!   transient one.
//! - Any other 4xx: the request itself is wrong; it fails at once with
//!   Dataverse's error code and message ([`DvClientError::Remote`]).
//!
//! The client secret and the access token live only in request bodies and
//! headers: no `Debug` output and no error message shows them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use rand::Rng;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use uuid::Uuid;

use crate::dataverse::schema::{Column, ColumnType, Ownership, RequiredLevel, Table};
use crate::error::{Error, Result};
use crate::workspace::TargetConfig;

/// Where the Web API lives under the org URL.
pub const API_PATH: &str = "/api/data/v9.2/";
/// Records per CreateMultiple / UpdateMultiple / UpsertMultiple request: the
/// top of the 100–1,000 Microsoft recommends, and what the emulator accepts
/// (SPEC §9 Web API). Longer slices are sent in several requests.
pub const MAX_BULK_RECORDS: usize = 1000;
/// `Prefer: odata.maxpagesize` is capped at 5,000 by Dataverse (SPEC §9).
pub const MAX_PAGE_SIZE: usize = 5000;
/// A `$batch` holds at most 1,000 requests (SPEC §9).
pub const MAX_BATCH_REQUESTS: usize = 1000;
/// Entra ID, the authority of every non-loopback org (SPEC §9 Auth).
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// English (United States): the language of every label ferry creates.
const LANGUAGE_CODE: i64 = 1033;
const CRM: &str = "Microsoft.Dynamics.CRM.";
/// Added to every `Retry-After` wait: the server's clock started when it
/// answered, ours when the answer arrived.
const RETRY_AFTER_MARGIN: Duration = Duration::from_millis(100);
/// A token is renewed this long before it expires, so a request never
/// leaves with a token that runs out on the way.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Option-set reads in flight at once while reading a table's definition.
const METADATA_PARALLELISM: usize = 4;
/// Longest request description kept for messages (filters can be long).
const WHAT_LIMIT: usize = 160;

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

/// A value that must never be printed; `Debug` hides it and it has no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who ferry is to the org: an app registration's client credentials.
#[derive(Clone)]
pub struct Credentials {
    /// The org, e.g. `https://contoso.crm.dynamics.com` (no trailing slash).
    pub org_url: String,
    /// The token authority, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    secret: Secret,
    /// Where the secret came from (`$FERRY_CLIENT_SECRET`), for messages.
    secret_source: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("org_url", &self.org_url)
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .finish()
    }
}

impl Credentials {
    /// Checks and normalises the settings. `authority: None` means Entra ID
    /// for a real org, and the org itself for a loopback one (SPEC §3: "a
    /// loopback target also serves as its own token authority").
    ///
    /// Plain `http://` is accepted only for loopback hosts: the secret and
    /// the token would otherwise cross a network unencrypted.
    pub fn new(
        org_url: &str,
        authority: Option<&str>,
        tenant: &str,
        client_id: &str,
        secret: String,
    ) -> Result<Credentials> {
        let org = checked_url(org_url, "target.url")?;
        let mut org_url = org.as_str().trim_end_matches('/').to_string();
        // People paste the Web API root; the org is what the scope names.
        for suffix in ["/api/data/v9.2", "/api/data"] {
            if let Some(stripped) = org_url.strip_suffix(suffix) {
                org_url = stripped.to_string();
            }
        }
        let authority = match authority.map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => {
                checked_url(a, "target.authority")?;
                a.trim_end_matches('/').to_string()
            }
            None if is_loopback(&org) => org_url.clone(),
            None => MICROSOFT_AUTHORITY.to_string(),
        };
        let tenant = tenant.trim();
        if tenant.is_empty() || tenant.contains(['/', '?', '#']) {
            return Err(Error::Usage(format!(
                "target.tenant `{tenant}` is not a tenant id; set it to your Entra tenant id or domain (e.g. contoso.onmicrosoft.com)"
            )));
        }
        let client_id = client_id.trim();
        if client_id.is_empty() {
            return Err(Error::Usage(
                "target.client_id is empty; set it to the application (client) id of the app registration ferry signs in as".into(),
            ));
        }
        if secret.is_empty() {
            return Err(Error::Usage(
                "the client secret is empty; set the variable named by target.client_secret_env to the app registration's secret".into(),
            ));
        }
        Ok(Credentials {
            org_url,
            authority,
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            secret: Secret(secret),
            secret_source: None,
        })
    }

    /// The credentials `ferry.toml`'s target section names, the secret read
    /// from the environment variable it names.
    ///
    /// For a loopback org (the emulator) the authority defaults to the org
    /// itself, and a missing tenant or client id to `ferry`: the emulator
    /// accepts any, and `ferry demo` should not need them.
    pub fn from_target(target: &TargetConfig) -> Result<Credentials> {
        let url = target.url.as_deref().ok_or_else(|| {
            Error::Usage(
                "target.url is not set in ferry.toml; set it to your org (e.g. https://contoso.crm.dynamics.com), or run `ferry init --target URL`".into(),
            )
        })?;
        let loopback = Url::parse(url).is_ok_and(|u| is_loopback(&u));
        let var = &target.client_secret_env;
        let secret = std::env::var(var).unwrap_or_default();
        if secret.is_empty() {
            return Err(Error::Usage(format!(
                "the Dataverse client secret is read from ${var}, which is not set; export {var}=<the app registration's secret> (ferry never reads secrets from ferry.toml)"
            )));
        }
        let setting = |value: &Option<String>, key: &str| -> Result<String> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => Ok(v.to_string()),
                None if loopback => Ok("ferry".to_string()),
                None => Err(Error::Usage(format!(
                    "target.{key} is not set in ferry.toml; it is needed to sign in to {url}"
                ))),
            }
        };
        let tenant = setting(&target.tenant, "tenant")?;
        let client_id = setting(&target.client_id, "client_id")?;
        // The default authority is Entra's; a loopback org is its own.
        let authority = if loopback && target.authority.trim_end_matches('/') == MICROSOFT_AUTHORITY
        {
            None
        } else {
            Some(target.authority.as_str())
        };
        let mut credentials = Credentials::new(url, authority, &tenant, &client_id, secret)?;
        credentials.secret_source = Some(format!("${var}"));
        Ok(credentials)
    }

    /// Names where the secret came from in messages (`$VAR`).
    pub fn with_secret_source(mut self, source: impl Into<String>) -> Self {
        self.secret_source = Some(source.into());
        self
    }

    /// `POST {authority}/{tenant}/oauth2/v2.0/token` (SPEC §9 Auth).
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    /// The client-credentials scope: the org's `/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.org_url)
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn checked_url(text: &str, setting: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::Usage(format!(
            "{setting} `{text}` is not a URL ({e}); use e.g. https://contoso.crm.dynamics.com"
        ))
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Usage(format!("{setting} `{text}` names no host")));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::Usage(format!(
            "{setting} `{text}` uses plain http to a host that is not this machine: the client secret and access token would travel unencrypted; use https:// (plain http is allowed only for 127.0.0.1, localhost and ::1)"
        ))),
        other => Err(Error::Usage(format!(
            "{setting} `{text}` has scheme `{other}`; use https:// (or http:// for a local emulator)"
        ))),
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What went wrong talking to Dataverse. The loader matches on
/// [`DvClientError::Remote`]'s `code` (e.g. to split a bulk chunk); commands
/// turn it into [`crate::Error`] with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DvClientError {
    /// Dataverse (or the token authority) refused a request: HTTP status,
    /// Dataverse's error code (`0x80040237`, or OAuth's `invalid_client`)
    /// and message, and which request it was.
    Remote {
        status: u16,
        code: String,
        message: String,
        request: String,
    },
    /// The org could not be reached, or answered with something that is
    /// not the Web API, after every retry.
    Transport(String),
    /// Signing in failed, or the org refused a fresh token.
    Auth(String),
    /// The caller asked for something the client will not send (a name
    /// that is not a logical name, a column type Dataverse cannot create
    /// this way, a link to another host). A bug or a configuration error,
    /// not a remote failure.
    Invalid(String),
}

pub type DvResult<T> = std::result::Result<T, DvClientError>;

impl DvClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            DvClientError::Remote { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            DvClientError::Remote { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl std::fmt::Display for DvClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DvClientError::Remote {
                status,
                code,
                message,
                request,
            } => {
                let code = if code.is_empty() {
                    String::new()
                } else {
                    format!(", error {code}")
                };
                write!(
                    f,
                    "Dataverse refused {request} (HTTP {status}{code}): {message}"
                )?;
                let hint = match status {
                    400 => "fix the value or definition named above (or the mapping that produced it) and run the command again",
                    403 => "the application user lacks a privilege for this; give it a security role that allows it (System Customizer for schema changes) and run again",
                    404 => "it does not exist in the target; check the name, or run `ferry plan --apply` to create what is missing",
                    409 | 412 => "a record with the same id or key already exists; run the command again (it reads what exists and updates instead)",
                    429 => "the org kept throttling ferry; wait a few minutes and run the command again (it resumes where it stopped)",
                    s if *s >= 500 => "the org kept failing; run the command again later (it resumes where it stopped)",
                    _ => "",
                };
                if !hint.is_empty() {
                    write!(f, "\n  what to do: {hint}")?;
                }
                Ok(())
            }
            DvClientError::Transport(m) | DvClientError::Auth(m) | DvClientError::Invalid(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for DvClientError {}

impl From<DvClientError> for Error {
    fn from(e: DvClientError) -> Self {
        match e {
            DvClientError::Invalid(m) => Error::Usage(m),
            other => Error::Remote(other.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------
// Options and counters
// ---------------------------------------------------------------------------

/// How patient the client is.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Attempts for one request that keeps failing with 5xx, a dropped
    /// connection or a timeout (429s do not count against this).
    pub max_attempts: u32,
    /// First backoff after such a failure; doubles per attempt.
    pub first_backoff: Duration,
    /// Longest single backoff.
    pub max_backoff: Duration,
    /// 429s one request may meet before the client gives up.
    pub max_throttled_retries: u32,
    /// Longest `Retry-After` waited out in-process; a longer one ends the
    /// command so it can be resumed later.
    pub max_throttle_wait: Duration,
    /// Whole-request timeout. Dataverse ends an operation after 2 minutes;
    /// a little more leaves room for the transfer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_attempts: 5,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_throttled_retries: 100,
            // The limits' window is 5 minutes, so one wait can approach it.
            max_throttle_wait: Duration::from_secs(600),
            timeout: Duration::from_secs(180),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// What the client met so far, for run summaries and audit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// HTTP requests sent, token requests and retries included.
    pub requests: u64,
    /// 429 answers.
    pub throttled: u64,
    /// 429 answers for concurrency or execution time (0x80072326,
    /// 0x80072321): the ones fewer parallel requests can cure. A request-count
    /// 429 (0x80072322) is cured by pacing instead.
    pub throttled_for_load: u64,
    /// Requests sent again after a 429, 5xx, 401 or transport failure.
    pub retries: u64,
    /// Time spent waiting before retries, summed over requests.
    pub waited_ms: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    throttled_for_load: AtomicU64,
    retries: AtomicU64,
    waited_ms: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A `$batch`'s answers, one per part in request order.
#[derive(Debug, Default)]
pub struct BatchAnswers {
    pub answers: Vec<BatchResponse>,
    /// The batch went out again after a 5xx or a dropped connection, so a
    /// part answered "duplicate" may be our own earlier attempt's write.
    pub resent_after_possible_write: bool,
}

/// 429 codes for combined execution time (0x80072321) and concurrent
/// requests (0x80072326): fewer requests in flight cure these, unlike the
/// request-count limit (0x80072322), which only pacing cures (api-limits,
/// "Service protection API limit errors returned").
const LOAD_LIMIT_CODES: [&str; 2] = ["0x80072321", "0x80072326"];

/// Margin on top of the stated window: the org's clock starts a request's
/// window when the request arrives, a little after ferry sent it.
const PACING_MARGIN: Duration = Duration::from_millis(20);

/// A request-count limit as the org states it in its 429 message: "Number
/// of requests exceeded the limit of 6000 over time window of 300 seconds."
#[derive(Debug, Clone, Copy, PartialEq)]
struct RequestLimit {
    requests: usize,
    window: Duration,
}

impl RequestLimit {
    fn stated_in(message: &str) -> Option<RequestLimit> {
        let rest = message.split("exceeded the limit of ").nth(1)?;
        let (requests, rest) = rest.split_once(" over time window of ")?;
        let seconds = rest.split_whitespace().next()?;
        let requests: usize = requests.trim().parse().ok()?;
        let seconds: f64 = seconds.parse().ok()?;
        (requests > 0 && seconds.is_finite() && seconds > 0.0).then(|| RequestLimit {
            requests,
            window: Duration::from_secs_f64(seconds),
        })
    }
}

/// The send times inside the stated window, once a limit is known.
#[derive(Debug, Default)]
struct RequestPacer {
    limit: Option<RequestLimit>,
    sent: std::collections::VecDeque<Instant>,
}

impl RequestPacer {
    /// Records a send at `now` and returns `None`, or returns when to ask
    /// again. One request of the limit is left unused for requests the
    /// client does not pace (token refreshes, other processes' reads).
    fn admit(&mut self, now: Instant) -> Option<Instant> {
        let limit = self.limit?;
        while self
            .sent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= limit.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() + 1 < limit.requests {
            self.sent.push_back(now);
            return None;
        }
        let oldest = *self.sent.front().expect("a full window has a first send");
        Some(oldest + limit.window + PACING_MARGIN)
    }
}

// ---------------------------------------------------------------------------
// Public result types
// ---------------------------------------------------------------------------

/// `WhoAmI`: who the org thinks ferry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhoAmI {
    pub user_id: Uuid,
    pub business_unit_id: Uuid,
    pub organization_id: Uuid,
}

/// One page of a collection read.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub rows: Vec<Map<String, Value>>,
    /// `@odata.nextLink`: pass it to [`DataverseClient::get_page`] for the
    /// next page.
    pub next_link: Option<String>,
}

/// The answer to a single request sent with [`DataverseClient::send_json`].
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `OData-EntityId`: the URL of the record a create or upsert wrote.
    pub entity_id: Option<String>,
    pub body: Option<Value>,
}

impl Reply {
    /// The GUID at the end of `OData-EntityId` (`accounts(<guid>)`).
    pub fn id(&self) -> Option<Uuid> {
        let entity = self.entity_id.as_deref()?;
        let open = entity.rfind('(')?;
        Uuid::parse_str(entity[open + 1..].trim_end_matches(')')).ok()
    }
}

/// One request of a `$batch`.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub method: Method,
    /// Below the Web API root (`accounts`, `accounts(<guid>)`), or `$1`
    /// for the record an earlier part of the same change set created.
    pub path: String,
    pub body: Option<Value>,
    /// Set automatically inside a change set when left out.
    pub content_id: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl BatchRequest {
    pub fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        BatchRequest {
            method,
            path: path.into(),
            body,
            content_id: None,
            headers: Vec::new(),
        }
    }
}

/// One response of a `$batch`, in request order.
#[derive(Debug, Clone)]
pub struct BatchResponse {
    pub status: u16,
    pub content_id: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl BatchResponse {
    /// Dataverse's `error.code` and `error.message`, when the part failed.
    pub fn error(&self) -> Option<(String, String)> {
        if self.status < 400 {
            return None;
        }
        let (code, message) = self.body.as_ref().map(error_fields).unwrap_or_default();
        Some((code, message))
    }
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

struct Token {
    value: Secret,
    refresh_at: Instant,
}

/// A request as the retry loop sees it. Not `Debug`: the token request's
/// body holds the client secret.
struct Spec {
    method: Method,
    url: Url,
    /// For messages: `GET accounts?$select=name`.
    what: String,
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(&'static str, String)>,
    /// `$batch` answers 4xx with a multipart body that still holds one
    /// response per part; that is an answer to read, not a failure.
    multipart_answers: bool,
}

struct HttpReply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

enum Outcome {
    Done(HttpReply),
    Refused(HttpReply),
    Unauthorized(HttpReply),
    Throttled(HttpReply),
    Transient {
        why: String,
        retry_after: Option<Duration>,
        reply: Option<HttpReply>,
    },
}

#[derive(Default)]
struct RetryState {
    failures: u32,
    throttles: u32,
}

/// An authenticated connection to one org. Cheap to share behind an `Arc`;
/// every method takes `&self` and may run concurrently.
pub struct DataverseClient {
    http: reqwest::Client,
    credentials: Credentials,
    /// `{org}/api/data/v9.2/`.
    api: Url,
    token_url: Url,
    options: ClientOptions,
    token: tokio::sync::Mutex<Option<Token>>,
    /// No request leaves before this instant: set by a 429's `Retry-After`.
    quiet_until: Mutex<Option<Instant>>,
    /// Keeps the client under the request-count limit once the org has
    /// stated it, so it does not meet the same 429 again.
    pacer: Mutex<RequestPacer>,
    /// The last `x-ms-dop-hint`; 0 until one arrived.
    dop_hint: AtomicU32,
    counters: Counters,
}

impl std::fmt::Debug for DataverseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataverseClient")
            .field("org", &self.credentials.org_url)
            .field("credentials", &self.credentials)
            .field("stats", &self.stats())
            .finish()
    }
}

impl DataverseClient {
    /// Signs in (client credentials) with the default [`ClientOptions`].
    pub async fn connect(credentials: Credentials) -> DvResult<Self> {
        Self::connect_with(credentials, ClientOptions::default()).await
    }

    /// Signs in with `options`; the token is fetched now so bad credentials
    /// fail before any work starts.
    pub async fn connect_with(credentials: Credentials, options: ClientOptions) -> DvResult<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DvClientError::Transport(format!("cannot start an HTTP client: {e}")))?;
        let api = Url::parse(&format!("{}{API_PATH}", credentials.org_url)).map_err(|e| {
            DvClientError::Invalid(format!(
                "target.url `{}` does not make a Web API URL: {e}",
                credentials.org_url
            ))
        })?;
        let token_url = Url::parse(&credentials.token_url()).map_err(|e| {
            DvClientError::Invalid(format!(
                "the token URL `{}` is not valid: {e}; check target.authority and target.tenant",
                credentials.token_url()
            ))
        })?;
        let client = DataverseClient {
            http,
            credentials,
            api,
            token_url,
            options: ClientOptions {
                max_attempts: options.max_attempts.max(1),
                ..options
            },
            token: tokio::sync::Mutex::new(None),
            quiet_until: Mutex::new(None),
            pacer: Mutex::new(RequestPacer::default()),
            dop_hint: AtomicU32::new(0),
            counters: Counters::default(),
        };
        client.bearer().await?;
        Ok(client)
    }

    /// The org URL, safe to record (it holds no secret).
    pub fn org_url(&self) -> &str {
        &self.credentials.org_url
    }

    pub fn stats(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests: get(&self.counters.requests),
            throttled: get(&self.counters.throttled),
            throttled_for_load: get(&self.counters.throttled_for_load),
            retries: get(&self.counters.retries),
            waited_ms: get(&self.counters.waited_ms),
        }
    }

    /// The degree of parallelism the org last recommended
    /// (`x-ms-dop-hint`, "Send parallel requests" on learn.microsoft.com);
    /// `None` until a response carried one.
    pub fn dop_hint(&self) -> Option<usize> {
        match self.dop_hint.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n as usize),
        }
    }

    // --- Records ------------------------------------------------------

    /// `WhoAmI`: proves the token works against the org's Web API.
    pub async fn whoami(&self) -> DvResult<WhoAmI> {
        let body = self.get_json("WhoAmI").await?;
        let id = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    DvClientError::Transport(format!(
                        "the org's WhoAmI answer has no {key}; is {} a Dataverse org?",
                        self.credentials.org_url
                    ))
                })
        };
        Ok(WhoAmI {
            user_id: id("UserId")?,
            business_unit_id: id("BusinessUnitId")?,
            organization_id: id("OrganizationId")?,
        })
    }

    /// GET of one resource below the Web API root (or a full URL on the
    /// org), parsed as JSON.
    pub async fn get_json(&self, path_or_url: &str) -> DvResult<Value> {
        let spec = self.spec(Method::GET, path_or_url, None, &[])?;
        let reply = self.run(&spec).await?;
        parse_json(&spec, &reply)
    }

    /// Any single request with an optional JSON body and `Prefer` values
    /// (PATCH upserts, `CloseIncident`, `$ref` associations, deletes).
    pub async fn send_json(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<&Value>,
        prefer: &[&str],
    ) -> DvResult<Reply> {
        let spec = self.spec(method, path_or_url, body, prefer)?;
        let reply = self.run(&spec).await?;
        let json = if reply.body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(parse_json(&spec, &reply)?)
        };
        Ok(Reply {
            status: reply.status.as_u16(),
            entity_id: header(&reply.headers, "odata-entityid"),
            body: json,
        })
    }

    /// One page of a collection: a path below the Web API root
    /// (`accounts?$select=name`) or an `@odata.nextLink`. Dataverse wants
    /// the same `Prefer: odata.maxpagesize` on every page of a read, so
    /// `page_size` is given each time.
    pub async fn get_page(&self, path_or_url: &str, page_size: Option<usize>) -> DvResult<Page> {
        let prefer = page_size.map(|n| format!("odata.maxpagesize={}", n.clamp(1, MAX_PAGE_SIZE)));
        let prefer: Vec<&str> = prefer.iter().map(String::as_str).collect();
        let spec = self.spec(Method::GET, path_or_url, None, &prefer)?;
        let reply = self.run(&spec).await?;
        let body = parse_json(&spec, &reply)?;
        let rows = match body.get("value") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect(),
            _ => {
                return Err(DvClientError::Transport(format!(
                    "{} did not answer with a collection (no \"value\" array)",
                    spec.what
                )))
            }
        };
        Ok(Page {
            rows,
            next_link: body
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Every row of a collection read, following `@odata.nextLink` with
    /// `Prefer: odata.maxpagesize=page_size`. Rows are held in memory: use
    /// [`get_page`](Self::get_page) to stream a large table.
    pub async fn get_all(&self, path: &str, page_size: usize) -> DvResult<Vec<Map<String, Value>>> {
        let mut rows = Vec::new();
        let mut next = Some(path.to_string());
        let mut seen = std::collections::HashSet::new();
        while let Some(link) = next.take() {
            if !seen.insert(link.clone()) {
                return Err(DvClientError::Transport(format!(
                    "the org sent the same next-page link twice while reading {}; the read was stopped so it cannot loop",
                    describe(path)
                )));
            }
            let page = self.get_page(&link, Some(page_size)).await?;
            rows.extend(page.rows);
            next = page.next_link;
        }
        Ok(rows)
    }

    /// `CreateMultiple`: creates `rows` in `set` (entity set of `table`)
    /// and returns their ids in order. Rows carrying their primary id keep
    /// it (ferry's deterministic GUIDs). Each request of at most
    /// [`MAX_BULK_RECORDS`] is all-or-nothing on standard tables.
    pub async fn create_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<Vec<Uuid>> {
        check_name(set, "entity set")?;
        check_name(table, "table")?;
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(MAX_BULK_RECORDS) {
            let body = bulk_body(table, chunk);
            let path = format!("{set}/{CRM}CreateMultiple");
            let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
            let reply = self.run(&spec).await?;
            let answer = parse_json(&spec, &reply)?;
            let returned: Vec<Uuid> = answer
                .get("Ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|s| Uuid::parse_str(s).ok())
                        .collect()
                })
                .unwrap_or_default();
            if returned.len() != chunk.len() {
                return Err(DvClientError::Transport(format!(
                    "{} answered with {} ids for {} records; read back the table to see what was created",
                    spec.what,
                    returned.len(),
                    chunk.len()
                )));
            }
            ids.extend(returned);
        }
        Ok(ids)
    }

    /// `UpdateMultiple`: every row names its record by primary id (or
    /// `@odata.id`). Sent in requests of at most [`MAX_BULK_RECORDS`].
    pub async fn update_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<()> {
        self.bulk_without_answer(set, table, rows, "UpdateMultiple")
            .await
    }

    /// `UpsertMultiple`: creates or updates each row by primary id,
    /// `@odata.id` or alternate key.
    pub async fn upsert_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<()> {
        self.bulk_without_answer(set, table, rows, "UpsertMultiple")
            .await
    }

    async fn bulk_without_answer(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
        action: &str,
    ) -> DvResult<()> {
        check_name(set, "entity set")?;
        check_name(table, "table")?;
        for chunk in rows.chunks(MAX_BULK_RECORDS) {
            let body = bulk_body(table, chunk);
            let spec = self.spec(
                Method::POST,
                &format!("{set}/{CRM}{action}"),
                Some(&body),
                &[],
            )?;
            self.run(&spec).await?;
        }
        Ok(())
    }

    /// `$batch` of up to [`MAX_BATCH_REQUESTS`] requests, for tables
    /// without bulk messages. `atomic`: all parts in one change set (all or
    /// nothing; no GETs). `continue_on_error`: later parts run after one
    /// fails (`Prefer: odata.continue-on-error`). The batch is retried as a
    /// whole on 429/5xx like any request; the answers come back per part,
    /// failures included, in request order.
    pub async fn send_batch(
        &self,
        parts: &[BatchRequest],
        atomic: bool,
        continue_on_error: bool,
    ) -> DvResult<Vec<BatchResponse>> {
        Ok(self
            .send_batch_resent(parts, atomic, continue_on_error)
            .await?
            .answers)
    }

    /// [`send_batch`](Self::send_batch), also saying whether the batch was
    /// sent again after an attempt the org may have applied (a 5xx or a
    /// dropped connection), so the caller can tell "already there because of
    /// our own earlier attempt" from "already there before us".
    pub async fn send_batch_resent(
        &self,
        parts: &[BatchRequest],
        atomic: bool,
        continue_on_error: bool,
    ) -> DvResult<BatchAnswers> {
        if parts.is_empty() {
            return Ok(BatchAnswers::default());
        }
        if parts.len() > MAX_BATCH_REQUESTS {
            return Err(DvClientError::Invalid(format!(
                "a $batch takes at most {MAX_BATCH_REQUESTS} requests; this one has {} — split it",
                parts.len()
            )));
        }
        if atomic && parts.iter().any(|p| p.method == Method::GET) {
            return Err(DvClientError::Invalid(
                "a change set cannot hold GET requests; send reads outside it".into(),
            ));
        }
        let (content_type, body) = self.batch_body(parts, atomic);
        let prefer = if continue_on_error {
            vec![("Prefer", "odata.continue-on-error".to_string())]
        } else {
            Vec::new()
        };
        let spec = Spec {
            method: Method::POST,
            url: self.url("$batch")?,
            what: format!("a $batch of {} requests", parts.len()),
            body: Some((content_type, body.into_bytes())),
            headers: [common_headers(), prefer].concat(),
            multipart_answers: true,
        };
        let (reply, resent_after_possible_write) = self.run_tracked(&spec).await?;
        let content_type = header(&reply.headers, "content-type").unwrap_or_default();
        let boundary = boundary_of(&content_type).ok_or_else(|| {
            DvClientError::Transport(format!(
                "{} was answered with `{content_type}`, not multipart/mixed",
                spec.what
            ))
        })?;
        let text = String::from_utf8_lossy(&reply.body);
        Ok(BatchAnswers {
            answers: parse_batch_response(&text, &boundary),
            resent_after_possible_write,
        })
    }

    fn batch_body(&self, parts: &[BatchRequest], atomic: bool) -> (String, String) {
        let batch = format!("batch_{}", Uuid::new_v4().simple());
        let changeset = format!("changeset_{}", Uuid::new_v4().simple());
        let mut out = String::new();
        let write_part = |out: &mut String, part: &BatchRequest, content_id: Option<String>| {
            out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
            if let Some(id) = content_id {
                out.push_str(&format!("Content-ID: {id}\r\n"));
            }
            out.push_str("\r\n");
            // `$1` references stay relative: the server resolves them.
            let target = if part.path.starts_with('$') {
                part.path.clone()
            } else {
                format!("{}{}", self.api, part.path.trim_start_matches('/'))
            };
            out.push_str(&format!("{} {target} HTTP/1.1\r\n", part.method));
            for (name, value) in &part.headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            match &part.body {
                Some(body) => {
                    out.push_str("Content-Type: application/json; type=entry\r\n\r\n");
                    out.push_str(&body.to_string());
                    out.push_str("\r\n");
                }
                None => out.push_str("\r\n"),
            }
        };
        if atomic {
            out.push_str(&format!(
                "--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
            ));
            for (i, part) in parts.iter().enumerate() {
                out.push_str(&format!("--{changeset}\r\n"));
                // OData wants a Content-ID on every change-set member.
                let id = part
                    .content_id
                    .clone()
                    .unwrap_or_else(|| (i + 1).to_string());
                write_part(&mut out, part, Some(id));
            }
            out.push_str(&format!("--{changeset}--\r\n"));
        } else {
            for part in parts {
                out.push_str(&format!("--{batch}\r\n"));
                write_part(&mut out, part, part.content_id.clone());
            }
        }
        out.push_str(&format!("--{batch}--\r\n"));
        (format!("multipart/mixed; boundary={batch}"), out)
    }

    // --- Metadata -----------------------------------------------------

    /// The named tables as the org defines them: columns from
    /// `EntityDefinitions(LogicalName='x')?$expand=Attributes`, alternate
    /// keys from `/Keys`, and the options of every choice, state and status
    /// column from its cast (`…/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`),
    /// because an expanded attribute list carries no option sets. A table
    /// the org does not have is left out, not an error: finding out is what
    /// `ferry plan` asks.
    pub async fn entity_definitions(&self, names: &[&str]) -> DvResult<Vec<Table>> {
        let mut tables = Vec::with_capacity(names.len());
        for &name in names {
            check_name(name, "table")?;
            let root = format!("EntityDefinitions(LogicalName='{name}')");
            let mut entity = match self.get_json(&format!("{root}?$expand=Attributes")).await {
                Ok(entity) => entity,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let keys = self.get_json(&format!("{root}/Keys")).await?;
            let wanted: Vec<(usize, String, &'static str)> = entity
                .get("Attributes")
                .and_then(Value::as_array)
                .map(|attributes| {
                    attributes
                        .iter()
                        .enumerate()
                        .filter_map(|(i, a)| {
                            let column = a.get("LogicalName")?.as_str()?.to_string();
                            Some((i, column, option_cast(a)?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let root = &root;
            let fetched: Vec<(usize, DvResult<Value>)> = stream::iter(wanted)
                .map(|(i, column, cast)| async move {
                    let path = format!(
                        "{root}/Attributes(LogicalName='{column}')/{CRM}{cast}?$select=LogicalName&$expand=OptionSet"
                    );
                    (i, self.get_json(&path).await)
                })
                .buffer_unordered(METADATA_PARALLELISM)
                .collect()
                .await;
            let attributes = entity
                .get_mut("Attributes")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| {
                    DvClientError::Transport(format!(
                        "the org's definition of {name} has no Attributes although they were asked for"
                    ))
                })?;
            for (i, answer) in fetched {
                if let Some(set) = answer?.get("OptionSet").filter(|s| !s.is_null()) {
                    attributes[i]["OptionSet"] = set.clone();
                }
            }
            entity["Keys"] = keys.get("value").cloned().unwrap_or(json!([]));
            let read = super::org_metadata::tables_from_org_metadata(&entity).map_err(|e| {
                DvClientError::Transport(format!(
                    "the org's definition of {name} could not be read: {e}"
                ))
            })?;
            tables.extend(read);
        }
        Ok(tables)
    }

    /// Creates a column on an existing table. Lookups are created the way
    /// Dataverse requires, as a one-to-many relationship whose `Lookup` is
    /// the column (`POST RelationshipDefinitions`); other types through
    /// `POST EntityDefinitions(LogicalName='t')/Attributes`.
    pub async fn create_column(&self, table: &str, column: &Column) -> DvResult<()> {
        check_name(table, "table")?;
        check_name(&column.name, "column")?;
        if column.is_lookup() || column.column_type == ColumnType::PartyList {
            return self.create_lookup(table, column).await;
        }
        let body = attribute_body(column, false)?;
        let path = format!("EntityDefinitions(LogicalName='{table}')/Attributes");
        let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    async fn create_lookup(&self, table: &str, column: &Column) -> DvResult<()> {
        let target = match (column.column_type, column.targets.as_slice()) {
            (ColumnType::Lookup, [target]) => target,
            _ => {
                return Err(DvClientError::Invalid(format!(
                    "{table}.{} is a {} column with targets [{}]; ferry creates lookups to exactly one table (customer, owner and party-list columns belong to the platform)",
                    column.name,
                    column.column_type.as_str(),
                    column.targets.join(", ")
                )))
            }
        };
        check_name(target, "table")?;
        let lookup = json!({
            "@odata.type": format!("{CRM}LookupAttributeMetadata"),
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "SchemaName": column.name,
            "DisplayName": label(&display_name(&column.name)),
            "Description": label(""),
            "RequiredLevel": required_level(column.required_level),
        });
        let prefix = column.name.split('_').next().unwrap_or("ferry");
        let relationship = json!({
            "@odata.type": format!("{CRM}OneToManyRelationshipMetadata"),
            "SchemaName": format!("{prefix}_{target}_{}_{}", unprefixed(table), unprefixed(&column.name)),
            "ReferencedEntity": target,
            "ReferencedAttribute": primary_id_of(target),
            "ReferencingEntity": table,
            // Deleting a parent clears the link rather than the child: a
            // rollback deletes children first anyway, and an analyst's
            // manual delete must not cascade through migrated data.
            "CascadeConfiguration": {
                "Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade",
                "Reparent": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade",
            },
            "Lookup": lookup,
        });
        let spec = self.spec(
            Method::POST,
            "RelationshipDefinitions",
            Some(&relationship),
            &[],
        )?;
        match self.run(&spec).await {
            Ok(_) => Ok(()),
            // The in-tree emulator has no RelationshipDefinitions route and
            // takes the lookup with its Targets on the Attributes collection
            // instead; a real org always knows the segment.
            Err(e) if matches!(e.status(), Some(404 | 405)) => {
                let mut body = lookup;
                body["Targets"] = json!([target]);
                let path = format!("EntityDefinitions(LogicalName='{table}')/Attributes");
                let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
                self.run(&spec).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a custom table: first the table with its primary name
    /// column (the only attribute Dataverse takes in the create body), then
    /// every other column ferry defines, then its alternate keys. Columns
    /// the platform adds itself (id, owner, state, status,
    /// `overriddencreatedon`, currency) are not sent.
    pub async fn create_table(&self, table: &Table) -> DvResult<()> {
        check_name(&table.logical_name, "table")?;
        let ownership = match table.ownership {
            Ownership::UserOwned => "UserOwned",
            Ownership::OrganizationOwned => "OrganizationOwned",
            other => {
                return Err(DvClientError::Invalid(format!(
                    "{} is {}-owned; a new table can only be user- or organization-owned",
                    table.logical_name,
                    other.as_str()
                )))
            }
        };
        let primary = table.column(&table.primary_name).ok_or_else(|| {
            DvClientError::Invalid(format!(
                "{} names {} as its primary name but has no such column",
                table.logical_name, table.primary_name
            ))
        })?;
        if primary.column_type != ColumnType::String {
            return Err(DvClientError::Invalid(format!(
                "the primary name {}.{} must be a text column",
                table.logical_name, primary.name
            )));
        }
        let title = display_name(&table.logical_name);
        let body = json!({
            "@odata.type": format!("{CRM}EntityMetadata"),
            "SchemaName": table.logical_name,
            "DisplayName": label(&title),
            "DisplayCollectionName": label(&format!("{title}s")),
            "Description": label(&format!("Created by ferry for {title} records migrated from ServiceTracker.")),
            "OwnershipType": ownership,
            "EntitySetName": table.entity_set_name,
            "IsActivity": false,
            "HasActivities": false,
            // Notes carry attachments and history (SPEC §10).
            "HasNotes": true,
            "PrimaryNameAttribute": primary.name,
            "Attributes": [attribute_body(primary, true)?],
        });
        let spec = self.spec(Method::POST, "EntityDefinitions", Some(&body), &[])?;
        self.run(&spec).await?;
        for column in &table.columns {
            if column.name == table.primary_name || platform_column(table, column) {
                continue;
            }
            self.create_column(&table.logical_name, column).await?;
        }
        for key in &table.keys {
            let columns: Vec<&str> = key.columns.iter().map(String::as_str).collect();
            self.create_key(&table.logical_name, &key.name, &columns)
                .await?;
        }
        Ok(())
    }

    /// `InsertOptionValue` on a local choice column; `value: None` lets
    /// Dataverse pick the next value in the publisher's range. Returns the
    /// value the option got.
    pub async fn insert_option_value(
        &self,
        table: &str,
        column: &str,
        value: Option<i32>,
        option_label: &str,
    ) -> DvResult<i32> {
        check_name(table, "table")?;
        check_name(column, "column")?;
        let mut body = json!({
            "EntityLogicalName": table,
            "AttributeLogicalName": column,
            "Label": label(option_label),
        });
        if let Some(v) = value {
            body["Value"] = json!(v);
        }
        let spec = self.spec(Method::POST, "InsertOptionValue", Some(&body), &[])?;
        let reply = self.run(&spec).await?;
        let answer = parse_json(&spec, &reply)?;
        answer
            .get("NewOptionValue")
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| {
                DvClientError::Transport(format!(
                    "{} was answered without a NewOptionValue",
                    spec.what
                ))
            })
    }

    /// Creates an alternate key. A real org builds the key's index in the
    /// background: it is usable once `EntityKeyIndexStatus` is `Active`.
    pub async fn create_key(&self, table: &str, name: &str, columns: &[&str]) -> DvResult<()> {
        check_name(table, "table")?;
        check_name(name, "key")?;
        for column in columns {
            check_name(column, "column")?;
        }
        let body = json!({
            "SchemaName": name,
            "DisplayName": label(&display_name(name)),
            "KeyAttributes": columns,
        });
        let path = format!("EntityDefinitions(LogicalName='{table}')/Keys");
        let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    /// `PublishAllXml`: makes new columns and options visible in forms and
    /// views (the Web API can use them before that).
    /// The org's N:N relationships among `tables` (intersect name and the
    /// two tables), so a plan can tell which it still has to create.
    pub async fn many_to_many(
        &self,
        tables: &[&str],
    ) -> DvResult<Vec<crate::dataverse::schema::ManyToMany>> {
        let spec = self.spec(
            Method::GET,
            "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=SchemaName,Entity1LogicalName,Entity2LogicalName",
            None,
            &[],
        )?;
        // The emulator serves the collection without the type cast.
        let (spec, reply) = match self.run(&spec).await {
            Ok(reply) => (spec, reply),
            Err(e) if matches!(e.status(), Some(404) | Some(400)) => {
                let spec = self.spec(Method::GET, "RelationshipDefinitions", None, &[])?;
                let reply = self.run(&spec).await?;
                (spec, reply)
            }
            Err(e) => return Err(e),
        };
        let body = parse_json(&spec, &reply)?;
        Ok(body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let t1 = r["Entity1LogicalName"].as_str()?.to_lowercase();
                let t2 = r["Entity2LogicalName"].as_str()?.to_lowercase();
                (tables.contains(&t1.as_str()) || tables.contains(&t2.as_str())).then(|| {
                    crate::dataverse::schema::ManyToMany {
                        name: r["SchemaName"].as_str().unwrap_or_default().to_lowercase(),
                        table1: t1,
                        table2: t2,
                    }
                })
            })
            .collect())
    }

    /// Creates an N:N relationship (`ManyToManyRelationshipMetadata`,
    /// Microsoft "Create and update table relationships using the Web API").
    pub async fn create_many_to_many(
        &self,
        name: &str,
        table1: &str,
        table2: &str,
    ) -> DvResult<()> {
        check_name(name, "relationship")?;
        check_name(table1, "table")?;
        check_name(table2, "table")?;
        let body = json!({
            "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
            "SchemaName": name,
            "IntersectEntityName": name,
            "Entity1LogicalName": table1,
            "Entity2LogicalName": table2,
        });
        let spec = self.spec(Method::POST, "RelationshipDefinitions", Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    pub async fn publish_all(&self) -> DvResult<()> {
        let spec = self.spec(Method::POST, "PublishAllXml", Some(&json!({})), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    // --- Transport ----------------------------------------------------

    /// A path below the Web API root, or a full URL that must point at the
    /// org itself: the bearer token is never sent anywhere else.
    fn url(&self, path_or_url: &str) -> DvResult<Url> {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            let url = Url::parse(path_or_url).map_err(|e| {
                DvClientError::Invalid(format!("`{}` is not a URL: {e}", describe(path_or_url)))
            })?;
            if url.origin() != self.api.origin() {
                return Err(DvClientError::Invalid(format!(
                    "`{}` is not on the org {}; ferry sends its access token only to the org",
                    describe(path_or_url),
                    self.credentials.org_url
                )));
            }
            return Ok(url);
        }
        Url::parse(&format!(
            "{}{}",
            self.api,
            path_or_url.trim_start_matches('/')
        ))
        .map_err(|e| {
            DvClientError::Invalid(format!(
                "`{}` does not make a Web API URL: {e}",
                describe(path_or_url)
            ))
        })
    }

    fn spec(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<&Value>,
        prefer: &[&str],
    ) -> DvResult<Spec> {
        let url = self.url(path_or_url)?;
        let shown = url
            .as_str()
            .strip_prefix(self.api.as_str())
            .unwrap_or(url.as_str());
        let mut headers = common_headers();
        if !prefer.is_empty() {
            headers.push(("Prefer", prefer.join(",")));
        }
        Ok(Spec {
            what: format!("{method} {}", describe(shown)),
            method,
            url,
            body: body.map(|b| {
                (
                    "application/json; charset=utf-8".to_string(),
                    b.to_string().into_bytes(),
                )
            }),
            headers,
            multipart_answers: false,
        })
    }

    /// Sends a Web API request with the retry discipline of the module
    /// note, and returns its 2xx answer.
    async fn run(&self, spec: &Spec) -> DvResult<HttpReply> {
        Ok(self.run_tracked(spec).await?.0)
    }

    /// [`run`](Self::run), also saying whether the request was sent again
    /// after an attempt that may have been applied (429 and 401 are refused
    /// before anything is written; 5xx and dropped connections may not be).
    async fn run_tracked(&self, spec: &Spec) -> DvResult<(HttpReply, bool)> {
        let mut retry = RetryState::default();
        let mut refreshed = false;
        loop {
            self.stay_quiet().await;
            self.pace().await;
            let token = self.bearer().await?;
            match self.attempt(spec, Some(&token)).await {
                Outcome::Done(reply) => return Ok((reply, retry.failures > 0)),
                Outcome::Refused(reply) => return Err(self.remote_error(spec, &reply)),
                // 401 once: the token expired or was revoked between our
                // refresh check and the server's; a fresh one settles it.
                Outcome::Unauthorized(reply) => {
                    if refreshed {
                        let (code, message) = error_fields_of(&reply);
                        return Err(DvClientError::Auth(self.redact(format!(
                            "the org {} refused ferry's access token for {} even after a fresh one was fetched ({code}: {message}). \
                             Make sure the app registration {} is an application user of this environment with a security role \
                             (Power Platform admin center → Environments → Settings → Users + permissions → Application users), then run the command again",
                            self.credentials.org_url, spec.what, self.credentials.client_id
                        ))));
                    }
                    refreshed = true;
                    Counters::add(&self.counters.retries, 1);
                    self.forget_token(&token).await;
                }
                // 429: the whole client waits out Retry-After before any
                // request leaves (api-limits, "How to re-try"; the limits
                // are per user, so other requests would be refused too).
                Outcome::Throttled(reply) => {
                    let wait = self.throttle_wait(&mut retry, spec, &reply)?;
                    self.hold_off(wait);
                }
                // 5xx (not 501), dropped connections, timeouts: jittered
                // exponential backoff (SPEC §6 Throttling).
                Outcome::Transient {
                    why,
                    retry_after,
                    reply,
                } => {
                    self.backoff_or_fail(&mut retry, spec, why, retry_after, reply)
                        .await?;
                }
            }
        }
    }

    /// The token request's own loop: the same rules, except that a refusal
    /// is an answer for [`fetch_token`](Self::fetch_token) to explain, and
    /// Entra's throttling does not silence requests to the org.
    async fn run_token(&self, spec: &Spec) -> DvResult<HttpReply> {
        let mut retry = RetryState::default();
        loop {
            match self.attempt(spec, None).await {
                Outcome::Done(reply) | Outcome::Refused(reply) | Outcome::Unauthorized(reply) => {
                    return Ok(reply)
                }
                Outcome::Throttled(reply) => {
                    let wait = self.throttle_wait(&mut retry, spec, &reply)?;
                    Counters::add(&self.counters.waited_ms, wait.as_millis() as u64);
                    tokio::time::sleep(wait).await;
                }
                Outcome::Transient {
                    why,
                    retry_after,
                    reply,
                } => {
                    self.backoff_or_fail(&mut retry, spec, why, retry_after, reply)
                        .await?;
                }
            }
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(&self, spec: &Spec, bearer: Option<&str>) -> Outcome {
        Counters::add(&self.counters.requests, 1);
        let mut request = self.http.request(spec.method.clone(), spec.url.clone());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in &spec.headers {
            request = request.header(*name, value.as_str());
        }
        if let Some((content_type, body)) = &spec.body {
            request = request
                .header(CONTENT_TYPE, content_type.as_str())
                .body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Transient {
                    why: error_chain(&e),
                    retry_after: None,
                    reply: None,
                }
            }
        };
        if let Some(hint) = header(response.headers(), "x-ms-dop-hint")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
        {
            self.dop_hint.store(hint, Ordering::Relaxed);
        }
        let status = response.status();
        let headers = response.headers().clone();
        // A body that breaks off is a dropped connection: the request may
        // or may not have been applied, which deterministic ids make safe.
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(e) => {
                return Outcome::Transient {
                    why: format!("the answer broke off ({})", error_chain(&e)),
                    retry_after: None,
                    reply: None,
                }
            }
        };
        let reply = HttpReply {
            status,
            headers,
            body,
        };
        if status.is_success() {
            return Outcome::Done(reply);
        }
        match status {
            StatusCode::TOO_MANY_REQUESTS => Outcome::Throttled(reply),
            StatusCode::UNAUTHORIZED if bearer.is_some() => Outcome::Unauthorized(reply),
            // 501 says the operation does not exist here: retrying cannot help.
            s if s.is_server_error() && s != StatusCode::NOT_IMPLEMENTED => {
                let (code, message) = error_fields_of(&reply);
                Outcome::Transient {
                    why: format!("HTTP {}{}: {message}", s.as_u16(), prefixed(", ", &code)),
                    retry_after: retry_after(&reply.headers),
                    reply: Some(reply),
                }
            }
            _ if spec.multipart_answers
                && header(&reply.headers, "content-type")
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/mixed")) =>
            {
                Outcome::Done(reply)
            }
            _ => Outcome::Refused(reply),
        }
    }

    /// How long to stay quiet after a 429, or why to give up.
    fn throttle_wait(
        &self,
        retry: &mut RetryState,
        spec: &Spec,
        reply: &HttpReply,
    ) -> DvResult<Duration> {
        Counters::add(&self.counters.throttled, 1);
        retry.throttles += 1;
        let (code, message) = error_fields_of(reply);
        if LOAD_LIMIT_CODES.contains(&code.as_str()) {
            Counters::add(&self.counters.throttled_for_load, 1);
        }
        if let Some(limit) = RequestLimit::stated_in(&message) {
            self.pacer.lock().unwrap_or_else(|e| e.into_inner()).limit = Some(limit);
        }
        let asked = retry_after(&reply.headers);
        let give_up = |why: String| DvClientError::Remote {
            status: 429,
            code: code.clone(),
            message: self.redact(format!("{message} ({why})")),
            request: spec.what.clone(),
        };
        if retry.throttles > self.options.max_throttled_retries {
            return Err(give_up(format!("throttled {} times", retry.throttles)));
        }
        // Without Retry-After, back off as for a server error rather than
        // hammering an org that said it is overloaded.
        let wait = asked.unwrap_or_else(|| self.backoff(retry.throttles));
        if wait > self.options.max_throttle_wait {
            return Err(give_up(format!(
                "the org asked ferry to wait {} s, longer than the {} s it waits in-process",
                wait.as_secs(),
                self.options.max_throttle_wait.as_secs()
            )));
        }
        Counters::add(&self.counters.retries, 1);
        Ok(wait + RETRY_AFTER_MARGIN)
    }

    async fn backoff_or_fail(
        &self,
        retry: &mut RetryState,
        spec: &Spec,
        why: String,
        retry_after_header: Option<Duration>,
        reply: Option<HttpReply>,
    ) -> DvResult<()> {
        retry.failures += 1;
        if retry.failures >= self.options.max_attempts {
            return Err(match reply {
                Some(reply) => {
                    let mut error = self.remote_error(spec, &reply);
                    if let DvClientError::Remote { message, .. } = &mut error {
                        message.push_str(&format!(" (failed {} times)", retry.failures));
                    }
                    error
                }
                None => DvClientError::Transport(self.redact(format!(
                    "cannot reach {} for {} after {} attempts: {why}. \
                     Check target.url and the network, then run the command again (it resumes where it stopped)",
                    spec.url.origin().ascii_serialization(),
                    spec.what,
                    retry.failures
                ))),
            });
        }
        // A 503 may say when to come back; never earlier than that.
        let wait = self
            .backoff(retry.failures)
            .max(retry_after_header.unwrap_or_default());
        Counters::add(&self.counters.retries, 1);
        Counters::add(&self.counters.waited_ms, wait.as_millis() as u64);
        tracing::debug!(
            "{} failed ({why}); retrying in {} ms",
            spec.what,
            wait.as_millis()
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// `first · 2^(n-1)`, capped, plus up to half of it at random so
    /// parallel workers do not retry in step.
    fn backoff(&self, n: u32) -> Duration {
        let base = self
            .options
            .first_backoff
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(16)))
            .min(self.options.max_backoff);
        let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 2);
        base + Duration::from_millis(jitter)
    }

    fn hold_off(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut quiet = self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
        if quiet.is_none_or(|t| t < until) {
            *quiet = Some(until);
        }
    }

    /// Waits until one more request stays under the org's stated
    /// request-count limit. Without pacing, a client woken from a 429 lets
    /// every waiting request go at once and meets the limit again within
    /// the same window (measured: 3.1% of requests throttled in
    /// `cargo bench --bench push`; 0.13% with pacing).
    async fn pace(&self) {
        loop {
            let wait = {
                let mut pacer = self.pacer.lock().unwrap_or_else(|e| e.into_inner());
                match pacer.admit(Instant::now()) {
                    None => return,
                    Some(until) => until,
                }
            };
            Counters::add(
                &self.counters.waited_ms,
                wait.saturating_duration_since(Instant::now()).as_millis() as u64,
            );
            tokio::time::sleep_until(wait).await;
        }
    }

    async fn stay_quiet(&self) {
        loop {
            let until = *self.quiet_until.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match until {
                Some(t) if t > now => {
                    Counters::add(&self.counters.waited_ms, (t - now).as_millis() as u64);
                    tokio::time::sleep_until(t).await;
                }
                _ => return,
            }
        }
    }

    /// A valid access token, fetched or refreshed when needed. One refresh
    /// at a time: the others wait for it rather than asking Entra in a
    /// crowd.
    async fn bearer(&self) -> DvResult<String> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok(token.value.0.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.0.clone();
        *slot = Some(fresh);
        Ok(value)
    }

    /// Drops `used` unless another request already replaced it.
    async fn forget_token(&self, used: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value.0 == used) {
            *slot = None;
        }
    }

    /// The client-credentials grant (SPEC §9 Auth): form `client_id,
    /// client_secret, grant_type=client_credentials, scope={org}/.default`.
    async fn fetch_token(&self) -> DvResult<Token> {
        let c = &self.credentials;
        let scope = c.scope();
        let form = form_encode(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.secret.0.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
        ]);
        let spec = Spec {
            method: Method::POST,
            url: self.token_url.clone(),
            what: format!("the token request to {}", self.token_url),
            body: Some((
                "application/x-www-form-urlencoded".to_string(),
                form.into_bytes(),
            )),
            headers: vec![("Accept", "application/json".to_string())],
            multipart_answers: false,
        };
        let reply = self.run_token(&spec).await?;
        let source = c
            .secret_source
            .as_deref()
            .unwrap_or("the variable named by target.client_secret_env");
        if !reply.status.is_success() {
            let (code, message) = error_fields_of(&reply);
            return Err(DvClientError::Auth(self.redact(format!(
                "signing in to {} failed: {} refused the client credentials (HTTP {}{}: {message}). \
                 Check target.tenant ({}) and target.client_id ({}) in ferry.toml and the secret in {source} \
                 (an expired secret must be renewed in the app registration), then run the command again",
                c.org_url,
                self.token_url,
                reply.status.as_u16(),
                prefixed(" ", &code),
                c.tenant,
                c.client_id,
            ))));
        }
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                DvClientError::Auth(format!(
                    "{} answered without an access_token; is target.authority ({}) an OAuth 2.0 authority?",
                    spec.what, c.authority
                ))
            })?;
        // Entra's v2 endpoint sends a number, v1 a string of digits.
        let lifetime = body
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(3600));
        let margin = TOKEN_REFRESH_MARGIN.min(lifetime / 2);
        Ok(Token {
            value: Secret(token.to_string()),
            refresh_at: Instant::now() + lifetime - margin,
        })
    }

    fn remote_error(&self, spec: &Spec, reply: &HttpReply) -> DvClientError {
        let (code, message) = error_fields_of(reply);
        DvClientError::Remote {
            status: reply.status.as_u16(),
            code,
            message: self.redact(message),
            request: spec.what.clone(),
        }
    }

    /// Belt and braces: no server echoes the secret, but should one ever
    /// do, it must not reach a terminal or a log. Very short secrets are
    /// not searched for, since they would garble ordinary words.
    fn redact(&self, text: String) -> String {
        let secret = &self.credentials.secret.0;
        if secret.len() >= 6 && text.contains(secret.as_str()) {
            text.replace(secret.as_str(), "<redacted>")
        } else {
            text
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn common_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Accept", "application/json".to_string()),
        ("OData-MaxVersion", "4.0".to_string()),
        ("OData-Version", "4.0".to_string()),
    ]
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn prefixed(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{prefix}{text}")
    }
}

/// A request description short enough for one line of a message.
fn describe(text: &str) -> String {
    if text.chars().count() <= WHAT_LIMIT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(WHAT_LIMIT).collect();
        format!("{cut}…")
    }
}

fn parse_json(spec: &Spec, reply: &HttpReply) -> DvResult<Value> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        DvClientError::Transport(format!(
            "{} was answered with HTTP {} and a body that is not JSON ({e}); is target.url a Dataverse org?",
            spec.what,
            reply.status.as_u16()
        ))
    })
}

/// `{"error":{"code","message"}}` (the Web API) or
/// `{"error":"…","error_description":"…"}` (OAuth).
fn error_fields(body: &Value) -> (String, String) {
    let error = &body["error"];
    let text = |v: &Value| v.as_str().unwrap_or_default().trim().to_string();
    if error.is_object() {
        (text(&error["code"]), text(&error["message"]))
    } else {
        (text(error), text(&body["error_description"]))
    }
}

fn error_fields_of(reply: &HttpReply) -> (String, String) {
    let parsed = serde_json::from_slice::<Value>(&reply.body)
        .map(|b| error_fields(&b))
        .unwrap_or_default();
    let (code, mut message) = parsed;
    if message.is_empty() {
        let text = String::from_utf8_lossy(&reply.body);
        let text = text.trim();
        message = if text.is_empty() {
            reply
                .status
                .canonical_reason()
                .unwrap_or("no details")
                .to_string()
        } else {
            describe(text)
        };
    }
    (code, message)
}

/// `Retry-After` as delay-seconds (what Dataverse sends) or an HTTP date
/// (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line ("connection refused" sits deep in
/// reqwest's chain).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// `application/x-www-form-urlencoded`: everything but unreserved
/// characters percent-encoded.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Names spliced into URLs are logical names: letters, digits and
/// underscores. Anything else would change the request's meaning.
fn check_name(name: &str, what: &str) -> DvResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(DvClientError::Invalid(format!(
            "`{name}` is not a Dataverse {what} name (letters, digits and underscores only)"
        )))
    }
}

/// The metadata cast whose `$expand=OptionSet` holds a column's options.
fn option_cast(attribute: &Value) -> Option<&'static str> {
    let declared = attribute
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches('#').trim_start_matches(CRM));
    let type_name = attribute
        .get("AttributeTypeName")
        .and_then(|t| t.get("Value"))
        .and_then(Value::as_str);
    let kind = attribute.get("AttributeType").and_then(Value::as_str);
    let cast = match (declared, type_name, kind) {
        (Some("PicklistAttributeMetadata"), _, _) | (None, _, Some("Picklist")) => {
            "PicklistAttributeMetadata"
        }
        (Some("MultiSelectPicklistAttributeMetadata"), _, _)
        | (None, Some("MultiSelectPicklistType"), _) => "MultiSelectPicklistAttributeMetadata",
        (Some("StateAttributeMetadata"), _, _) | (None, _, Some("State")) => {
            "StateAttributeMetadata"
        }
        (Some("StatusAttributeMetadata"), _, _) | (None, _, Some("Status")) => {
            "StatusAttributeMetadata"
        }
        _ => return None,
    };
    Some(cast)
}

fn bulk_body(table: &str, rows: &[Map<String, Value>]) -> Value {
    let kind = Value::String(format!("{CRM}{table}"));
    let targets: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.insert("@odata.type".to_string(), kind.clone());
            Value::Object(row)
        })
        .collect();
    json!({ "Targets": targets })
}

/// A `Label` with one English localized label.
fn label(text: &str) -> Value {
    json!({
        "@odata.type": format!("{CRM}Label"),
        "LocalizedLabels": [{
            "@odata.type": format!("{CRM}LocalizedLabel"),
            "Label": text,
            "LanguageCode": LANGUAGE_CODE,
        }],
    })
}

fn required_level(level: RequiredLevel) -> Value {
    // SystemRequired is the platform's own; a customizer can ask for
    // ApplicationRequired at most.
    let level = match level {
        RequiredLevel::SystemRequired => RequiredLevel::ApplicationRequired,
        other => other,
    };
    json!({
        "Value": level.as_str(),
        "CanBeChanged": true,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    })
}

fn unprefixed(name: &str) -> &str {
    name.split_once('_').map_or(name, |(_, rest)| rest)
}

/// `st_billing_contact` → `Billing contact`: the only label ferry knows.
fn display_name(name: &str) -> String {
    let text = unprefixed(name).replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_string(),
    }
}

/// The primary id a relationship references: `<table>id`, except for
/// activities, which share `activityid`.
fn primary_id_of(table: &str) -> String {
    const ACTIVITIES: [&str; 6] = ["phonecall", "email", "appointment", "task", "letter", "fax"];
    if ACTIVITIES.contains(&table) {
        "activityid".to_string()
    } else {
        format!("{table}id")
    }
}

/// Columns Dataverse adds to every new table (or with its first money
/// column), which a create request must not name.
fn platform_column(table: &Table, column: &Column) -> bool {
    column.name == table.primary_id
        || matches!(
            column.column_type,
            ColumnType::Uniqueidentifier
                | ColumnType::Owner
                | ColumnType::EntityName
                | ColumnType::State
                | ColumnType::Status
        )
        || matches!(
            column.name.as_str(),
            "overriddencreatedon"
                | "transactioncurrencyid"
                | "exchangerate"
                | "createdon"
                | "modifiedon"
                | "createdby"
                | "modifiedby"
                | "owningbusinessunit"
                | "versionnumber"
                | "importsequencenumber"
                | "timezoneruleversionnumber"
                | "utcconversiontimezonecode"
        )
}

/// A whole number as a JSON integer, anything else as a float.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&n) {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// The body that creates `column` ("Create and update column definitions
/// using the Web API" on learn.microsoft.com).
fn attribute_body(column: &Column, primary_name: bool) -> DvResult<Value> {
    let t = column.column_type;
    let (metadata_type, attribute_type) = match t {
        ColumnType::String => ("StringAttributeMetadata", "String"),
        ColumnType::Memo => ("MemoAttributeMetadata", "Memo"),
        ColumnType::Integer => ("IntegerAttributeMetadata", "Integer"),
        ColumnType::BigInt => ("BigIntAttributeMetadata", "BigInt"),
        ColumnType::Decimal => ("DecimalAttributeMetadata", "Decimal"),
        ColumnType::Double => ("DoubleAttributeMetadata", "Double"),
        ColumnType::Money => ("MoneyAttributeMetadata", "Money"),
        ColumnType::Boolean => ("BooleanAttributeMetadata", "Boolean"),
        ColumnType::DateTime => ("DateTimeAttributeMetadata", "DateTime"),
        ColumnType::Picklist => ("PicklistAttributeMetadata", "Picklist"),
        // Multi-select choices are `Virtual` to the metadata API.
        ColumnType::MultiSelectPicklist => ("MultiSelectPicklistAttributeMetadata", "Virtual"),
        other => {
            return Err(DvClientError::Invalid(format!(
                "ferry does not create {} columns like {} (lookups go through create_column; id, owner, state, status and image columns belong to the platform)",
                other.as_str(),
                column.name
            )))
        }
    };
    let mut a = Map::new();
    let mut put = |key: &str, value: Value| {
        a.insert(key.to_string(), value);
    };
    put("@odata.type", json!(format!("{CRM}{metadata_type}")));
    put("SchemaName", json!(column.name));
    put("AttributeType", json!(attribute_type));
    put(
        "AttributeTypeName",
        json!({ "Value": format!("{}Type", t.as_str()) }),
    );
    put("DisplayName", label(&display_name(&column.name)));
    put("Description", label(""));
    put("RequiredLevel", required_level(column.required_level));
    if primary_name {
        put("IsPrimaryName", json!(true));
    }
    let range = |put: &mut dyn FnMut(&str, Value)| {
        if let Some(min) = column.min {
            put("MinValue", number(min));
        }
        if let Some(max) = column.max {
            put("MaxValue", number(max));
        }
    };
    match t {
        ColumnType::String => {
            put("MaxLength", json!(column.max_length.unwrap_or(100)));
            put(
                "FormatName",
                json!({ "Value": column.format.as_deref().unwrap_or("Text") }),
            );
        }
        ColumnType::Memo => {
            put("MaxLength", json!(column.max_length.unwrap_or(2000)));
            put(
                "Format",
                json!(column.format.as_deref().unwrap_or("TextArea")),
            );
        }
        ColumnType::Integer => {
            range(&mut put);
            put("Format", json!(column.format.as_deref().unwrap_or("None")));
        }
        ColumnType::BigInt => range(&mut put),
        ColumnType::Decimal | ColumnType::Double => {
            range(&mut put);
            if let Some(p) = column.precision {
                put("Precision", json!(p));
            }
        }
        ColumnType::Money => {
            range(&mut put);
            if let Some(p) = column.precision {
                put("Precision", json!(p));
                // 0: the column's own Precision, not the currency's.
                put("PrecisionSource", json!(0));
            }
        }
        ColumnType::DateTime => {
            let behavior = column.behavior.as_deref().unwrap_or("UserLocal");
            let format = column
                .format
                .as_deref()
                .unwrap_or(if behavior == "DateOnly" {
                    "DateOnly"
                } else {
                    "DateAndTime"
                });
            put("Format", json!(format));
            put("DateTimeBehavior", json!({ "Value": behavior }));
        }
        ColumnType::Boolean => {
            let text = |value: i32, fallback: &str| {
                column
                    .option(value)
                    .map_or(fallback.to_string(), |o| o.label.clone())
            };
            put("DefaultValue", json!(false));
            put(
                "OptionSet",
                json!({
                    "@odata.type": format!("{CRM}BooleanOptionSetMetadata"),
                    "TrueOption": {"Value": 1, "Label": label(&text(1, "Yes"))},
                    "FalseOption": {"Value": 0, "Label": label(&text(0, "No"))},
                }),
            );
        }
        ColumnType::Picklist | ColumnType::MultiSelectPicklist => {
            let options: Vec<Value> = column
                .options
                .iter()
                .map(|o| json!({"Value": o.value, "Label": label(&o.label)}))
                .collect();
            put(
                "OptionSet",
                json!({
                    "@odata.type": format!("{CRM}OptionSetMetadata"),
                    "IsGlobal": false,
                    "OptionSetType": "Picklist",
                    "Options": options,
                }),
            );
        }
        _ => {}
    }
    Ok(Value::Object(a))
}

/// `boundary=` of a multipart content type, unquoted.
fn boundary_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    content_type.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts between `--boundary` delimiters, as lines.
fn multipart_parts<'a>(lines: &[&'a str], boundary: &str) -> Vec<Vec<&'a str>> {
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for &line in lines {
        let trimmed = line.trim_end();
        if trimmed == close {
            if let Some(part) = current.take() {
                parts.push(part);
            }
            break;
        }
        if trimmed == open {
            if let Some(part) = current.take() {
                parts.push(part);
            }
            current = Some(Vec::new());
        } else if let Some(part) = current.as_mut() {
            part.push(line);
        }
    }
    if let Some(part) = current {
        parts.push(part);
    }
    parts
}

/// Splits header lines from content at the first empty line.
fn split_headers<'a>(lines: &'a [&'a str]) -> (Vec<(String, String)>, &'a [&'a str]) {
    let mut headers = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        i += 1;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (headers, &lines[i..])
}

fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn parse_batch_response(text: &str, boundary: &str) -> Vec<BatchResponse> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for part in multipart_parts(&lines, boundary) {
        collect_part(&part, &mut out);
    }
    out
}

fn collect_part(lines: &[&str], out: &mut Vec<BatchResponse>) {
    let (mime, content) = split_headers(lines);
    if let Some(inner) = find_header(&mime, "content-type").and_then(boundary_of) {
        for part in multipart_parts(content, &inner) {
            collect_part(&part, out);
        }
        return;
    }
    let content_id = find_header(&mime, "content-id").map(str::to_string);
    let mut rest = content;
    while rest.first().is_some_and(|l| l.trim().is_empty()) {
        rest = &rest[1..];
    }
    let Some((status_line, after)) = rest.split_first() else {
        return;
    };
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let (headers, body) = split_headers(after);
    let body_text = body.join("\n");
    let body_text = body_text.trim();
    let content_id = content_id.or_else(|| find_header(&headers, "content-id").map(str::to_string));
    out.push(BatchResponse {
        status,
        content_id,
        body: (!body_text.is_empty())
            .then(|| serde_json::from_str(body_text).unwrap_or_else(|_| json!(body_text))),
        headers,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_limit_is_read_from_the_orgs_message() {
        let stated = RequestLimit::stated_in(
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        );
        assert_eq!(
            stated,
            Some(RequestLimit {
                requests: 6000,
                window: Duration::from_secs(300)
            })
        );
        let scaled = RequestLimit::stated_in(
            "Number of requests exceeded the limit of 100 over time window of 11.3 seconds.",
        )
        .unwrap();
        assert_eq!(scaled.window, Duration::from_millis(11_300));
        assert_eq!(
            RequestLimit::stated_in("Number of concurrent requests exceeded the limit of 52."),
            None
        );
    }

    #[test]
    fn the_pacer_keeps_one_request_under_the_limit_per_window() {
        let mut pacer = RequestPacer::default();
        let start = Instant::now();
        assert_eq!(pacer.admit(start), None, "no limit known: no pacing");
        pacer.limit = Some(RequestLimit {
            requests: 4,
            window: Duration::from_secs(10),
        });
        pacer.sent.clear();
        for i in 0..3 {
            assert_eq!(pacer.admit(start + Duration::from_secs(i)), None);
        }
        let wait = pacer.admit(start + Duration::from_secs(3)).unwrap();
        assert_eq!(wait, start + Duration::from_secs(10) + PACING_MARGIN);
        // Once the first send slides out, one more goes.
        assert_eq!(pacer.admit(wait), None);
        assert!(pacer.admit(wait).is_some());
    }
}
