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
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use uuid::Uuid;

use crate::dataverse::schema::{Column, ColumnType, Ownership, RequiredLevel, Table};
use crate::error::{Error, Result};
use crate::workspace::TargetConfig;

mod batch;
mod bulk;
mod metadata;
mod records;
mod schema_changes;
mod token;
mod transport;

pub use token::Credentials;
use token::Token;
use transport::*;

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
        let http = crate::http::client(options.connect_timeout, options.timeout)
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
}

/// Names spliced into URLs are logical names: letters, digits and
/// underscores. Anything else would change the request's meaning.
pub(super) fn check_name(name: &str, what: &str) -> DvResult<()> {
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
