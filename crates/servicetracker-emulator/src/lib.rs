//! An emulator of ServiceTracker's REST API (SPEC §8.3) over a CSV export
//! folder (`ferry serve servicetracker`), so an API extract, its paging,
//! deltas, deletions and retry behaviour can be exercised offline.
//!
//! It knows nothing of ferry's code. At start-up its own small reader
//! ([`export`], [`object_file`], [`typing`]) reads the export against the
//! contract ferry keeps as data (`src/source/servicetracker-objects.json`,
//! see [`model`]) and serialises every record once to compact JSON. Records
//! broken only in the CSV export (an unquoted comma, a truncated line, an
//! untypeable value, a repeated id) are not served: the API would never
//! have produced them. ferry's tests compare what is served with what
//! ferry's CSV path lands from the same export.
//!
//! # Record shape
//!
//! ```json
//! {"id":"CUS-000001","company_name":"…",…,"modified_at":"2025-03-01T14:05:00Z",
//!  "custom_fields":{"account_tier":"Gold","credit_limit":25000.00,"industry":null,"tax_exempt":false}}
//! ```
//!
//! - documented fields and undocumented non-`cf_` columns are top-level keys
//!   in landed column order; `_row_hash` and `_source_line` are not served;
//! - custom (`cf_*`) fields sit in `custom_fields`, without the prefix, keys
//!   sorted, every custom column of the object present (null when null);
//!   objects without custom fields carry `"custom_fields":{}`;
//! - null → `null`; text → string; integer → number; decimal(p,s) → a number
//!   with exactly `s` fractional digits; double → shortest round-tripping
//!   number; boolean → `true`/`false`; date → `"YYYY-MM-DD"`; timestamp →
//!   `"YYYY-MM-DDTHH:MM:SSZ"` (UTC, `.ffffff` only when not whole seconds).
//!
//! # Endpoints (all under `/api/v2`, all needing `Authorization: Bearer <key>`)
//!
//! - `GET /{object}?limit=N&cursor=C&modified_since=TS` → `{"data":[…],"next_cursor":"…"|null}`:
//!   sorted by id (byte order); `limit` 1–1000 (default 100); the cursor is
//!   the base64url of the last id served, so it stays valid across restarts
//!   (the next page is the ids after it); `modified_since` (RFC 3339) keeps
//!   records with `modified_at >= TS`. `next_cursor` is null exactly when no
//!   further record matches.
//! - `GET /attachments/{id}/content` → the bytes of the single file in
//!   `files/<id>/`, typed by the record's `content_type`.
//! - `GET /deleted?object=O&since=TS` → `{"data":[{"object","id","deleted_at"}],"next_cursor":…}`
//!   from the export's `deleted.csv` (written by `ferry generate --mutate`),
//!   oldest first; `object` and `since` (inclusive) are optional; pages of
//!   1000 (`limit`, `cursor` as for objects), so `next_cursor` is null for
//!   any export with fewer deletions.
//! - `GET /picklists` → `{"data":{"<object>":{"<field>":[values]}}}`, documented fields only.
//! - `GET /_emulator/stats` (no key) → [`Stats`].
//!
//! Unknown query parameters are refused (400), so a client typo is caught
//! here rather than silently ignored. Every authorised response carries
//! `X-RateLimit-Remaining`; refusals are JSON `{"error":{"code","message"}}`.
//! Throttling, the daily budget and early-retry detection live in
//! [`limits`].

mod api;
mod encode;
mod error;
mod export;
pub mod limits;
mod model;
mod object_file;
mod query;
mod records;
mod typing;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
use records::Dataset;

/// Default daily request budget.
pub const DEFAULT_DAILY_BUDGET: u64 = 1_000_000;
/// The environment variable the CLI reads the key from.
pub const API_KEY_ENV: &str = "SERVICETRACKER_API_KEY";

/// How the emulator behaves. Build with [`EmulatorConfig::new`] and adjust.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The CSV export folder to serve.
    pub data: PathBuf,
    /// The single API key accepted (never logged or printed).
    pub api_key: String,
    /// Token bucket: requests per second, bursts of the same size.
    pub rate_limit: Option<u32>,
    /// Share (0–1) of otherwise-good requests answered 429, chosen by a
    /// deterministic draw from `seed` and a request counter.
    pub throttle_fraction: f64,
    /// `Retry-After` seconds of simulated throttling.
    pub retry_after_secs: u64,
    /// Requests per UTC day.
    pub daily_budget: u64,
    /// Pages answered with truncated JSON.
    pub malformed_pages: Vec<MalformedPage>,
    pub seed: u64,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("data", &self.data)
            .field("api_key", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("throttle_fraction", &self.throttle_fraction)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("daily_budget", &self.daily_budget)
            .field("malformed_pages", &self.malformed_pages)
            .field("seed", &self.seed)
            .finish()
    }
}

impl EmulatorConfig {
    /// No throttling, the default budget, no malformed pages.
    pub fn new(data: impl Into<PathBuf>, api_key: impl Into<String>) -> EmulatorConfig {
        EmulatorConfig {
            data: data.into(),
            api_key: api_key.into(),
            rate_limit: None,
            throttle_fraction: 0.0,
            retry_after_secs: 1,
            daily_budget: DEFAULT_DAILY_BUDGET,
            malformed_pages: Vec::new(),
            seed: 42,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.api_key.trim().is_empty() || self.api_key.chars().any(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "the API key must be a non-empty token without spaces (set --api-key or {API_KEY_ENV})"
            )));
        }
        if !(0.0..=1.0).contains(&self.throttle_fraction) {
            return Err(Error::Usage(format!(
                "--throttle-fraction must be between 0 and 1, not {}",
                self.throttle_fraction
            )));
        }
        if self.rate_limit == Some(0) {
            return Err(Error::Usage(
                "--rate-limit must be at least 1 request per second".into(),
            ));
        }
        Ok(())
    }

    fn limit_config(&self) -> limits::LimitConfig {
        limits::LimitConfig {
            api_key: self.api_key.clone(),
            rate_limit: self.rate_limit,
            throttle_fraction: self.throttle_fraction,
            retry_after_secs: self.retry_after_secs,
            daily_budget: self.daily_budget,
            seed: self.seed,
        }
    }
}

/// `OBJECT:N`: the Nth (1-based) page request of OBJECT gets a 200 whose
/// body is truncated JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPage {
    pub object: String,
    pub page: u64,
}

impl std::str::FromStr for MalformedPage {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (object, page) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("`{s}` is not OBJECT:N (e.g. customers:3)"))?;
        let page: u64 = page
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{s}`: N must be a page number from 1"))?;
        if object.is_empty() {
            return Err(format!("`{s}` names no object"));
        }
        Ok(MalformedPage {
            object: object.to_string(),
            page,
        })
    }
}

/// What the emulator has answered; `GET /_emulator/stats` returns the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request under `/api/v2`.
    pub requests: u64,
    /// Refused for a missing or wrong key (401).
    pub unauthorized: u64,
    /// Answered 429 (rate limit, simulated throttling, budget, early retry).
    pub throttled: u64,
    /// Requests repeated before their `Retry-After` had passed (also in
    /// `throttled`).
    pub early_retries: u64,
    /// Pages deliberately answered with truncated JSON.
    pub malformed_pages: u64,
    /// Records returned in object pages.
    pub served_records: u64,
    /// Records returned per object.
    pub by_object: BTreeMap<String, u64>,
}

/// What was loaded, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSummary {
    /// Records served per object.
    pub records: BTreeMap<String, u64>,
    /// Records of the object files that are not served (broken only in the
    /// CSV export).
    pub quarantined: u64,
    /// Deletions listed by the export.
    pub deleted: u64,
}

/// An export loaded and ready to serve; cheap to share, each server
/// started from it keeps its own limits and statistics.
#[derive(Clone)]
pub struct Emulator {
    config: Arc<EmulatorConfig>,
    data: Arc<Dataset>,
}

impl Emulator {
    /// Checks the configuration and reads the export.
    pub fn load(config: EmulatorConfig) -> Result<Emulator> {
        config.validate()?;
        let data = Dataset::load(&config.data)?;
        for page in &config.malformed_pages {
            if !data.objects.contains_key(&page.object) {
                return Err(Error::Usage(format!(
                    "--malformed-page names `{}`, which the export does not hold",
                    page.object
                )));
            }
        }
        Ok(Emulator {
            config: Arc::new(config),
            data: Arc::new(data),
        })
    }

    pub fn summary(&self) -> LoadSummary {
        LoadSummary {
            records: self
                .data
                .objects
                .iter()
                .map(|(name, o)| (name.clone(), o.records.len() as u64))
                .collect(),
            quarantined: self.data.quarantined,
            deleted: self.data.deleted.len() as u64,
        }
    }

    fn new_state(&self) -> Arc<api::AppState> {
        Arc::new(api::AppState::new(
            self.data.clone(),
            self.config.limit_config(),
            self.config.malformed_pages.clone(),
        ))
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the
    /// requests in flight and returns the statistics.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Stats> {
        let state = self.new_state();
        let addr = listener.local_addr().ok();
        axum::serve(listener, api::router(state.clone()))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| {
                Error::Serve(format!(
                    "the emulator on {} stopped: {e}",
                    addr.map_or_else(|| "?".into(), |a| a.to_string())
                ))
            })?;
        Ok(state.stats())
    }

    /// Starts serving on `addr` (use port 0 for any free port) on a thread
    /// of its own with its own tokio runtime.
    pub fn spawn(&self, addr: SocketAddr) -> Result<RunningEmulator> {
        let cannot = |e: std::io::Error| Error::Usage(format!("cannot listen on {addr}: {e}"));
        let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
        listener.set_nonblocking(true).map_err(cannot)?;
        let local = listener.local_addr().map_err(cannot)?;
        let state = self.new_state();
        let router = api::router(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("servicetracker-emulator".into())
            .spawn(move || -> std::io::Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                })
            })
            .map_err(|e| Error::Usage(format!("cannot start the emulator thread: {e}")))?;
        Ok(RunningEmulator {
            addr: local,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// An emulator serving on its own thread; stopped by [`RunningEmulator::stop`]
/// or when dropped.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    state: Arc<api::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningEmulator {
    /// `http://HOST:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Stops accepting requests, finishes those in flight and waits for the
    /// server thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("the ServiceTracker emulator stopped with: {e}"),
                Err(_) => tracing::warn!("the ServiceTracker emulator thread panicked"),
            }
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_page_flags_parse() {
        assert_eq!(
            "customers:3".parse::<MalformedPage>().unwrap(),
            MalformedPage {
                object: "customers".into(),
                page: 3
            }
        );
        for bad in ["customers", "customers:0", ":2", "customers:x"] {
            assert!(bad.parse::<MalformedPage>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let config = EmulatorConfig::new("/tmp/x", "s3cret-key");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn bad_settings_are_usage_errors() {
        let mut config = EmulatorConfig::new("/tmp/x", "key");
        config.throttle_fraction = 1.5;
        assert_eq!(config.validate().unwrap_err().exit_code(), 2);
        let config = EmulatorConfig::new("/tmp/x", " ");
        assert_eq!(config.validate().unwrap_err().exit_code(), 2);
        let mut config = EmulatorConfig::new("/tmp/x", "key");
        config.rate_limit = Some(0);
        assert_eq!(config.validate().unwrap_err().exit_code(), 2);
    }
}
