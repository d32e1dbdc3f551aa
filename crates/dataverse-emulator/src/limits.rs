//! Dataverse's service protection limits (`--limits`), so the loader's
//! pacing, parallelism and 429 handling are tested against the limits it
//! will meet in a real org rather than discovered there.
//!
//! What is mimicked, from Microsoft's "Service protection API limits"
//! (learn.microsoft.com/power-apps/developer/data-platform/api-limits) and
//! "Send parallel requests" (…/send-parallel-requests):
//!
//! - Limits are per user, over a 5-minute *sliding* window: 6,000 requests,
//!   1,200 s combined execution time; and 52 concurrent requests at any
//!   moment. Exceeding any of them answers 429 Too Many Requests with a
//!   `Retry-After` header in seconds, and the error codes 0x80072322
//!   (requests), 0x80072321 (execution time), 0x80072326 (concurrency) with
//!   the messages the service sends.
//! - Every response carries `x-ms-ratelimit-burst-remaining-xrm-requests`
//!   and `x-ms-ratelimit-time-remaining-xrm-requests`, and `x-ms-dop-hint`,
//!   the degree of parallelism the service recommends.
//!
//! What the emulator adds: it remembers every `Retry-After` it gave a user
//! and counts requests that arrive before it has passed (*early retries*),
//! refusing them again, so a test can prove the client waited. The memory
//! is per user, not per request, because the limits are: a client whose
//! other workers keep sending while one of them waits is not honouring the
//! throttle either.
//!
//! Time comes from a [`Clock`], so tests step a [`ManualClock`] instead of
//! sleeping through windows.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{DvError, THROTTLE_CONCURRENCY, THROTTLE_REQUESTS, THROTTLE_TIME};
use super::faults::{duration_from, parse_duration, DurationText};

/// Requests left in the window ("the remaining number of requests for this
/// connection", api-limits, "Monitoring" headers).
pub const HEADER_BURST_REMAINING: &str = "x-ms-ratelimit-burst-remaining-xrm-requests";
/// Execution time left in the window ("the remaining combined duration for
/// all connections using the same user account"). The docs give no unit or
/// format and say the value is for debugging only; the emulator sends
/// seconds with two decimals, which any number parser reads.
pub const HEADER_TIME_REMAINING: &str = "x-ms-ratelimit-time-remaining-xrm-requests";
/// "Use the integer value returned from the x-ms-dop-hint response header"
/// (send-parallel-requests, "Optimum degree of parallelism").
pub const HEADER_DOP_HINT: &str = "x-ms-dop-hint";

/// `Retry-After` after a concurrency refusal. The concurrency limit is not
/// windowed — it clears as soon as one request finishes — so the wait is a
/// short fixed one rather than derived from expiring entries.
pub const CONCURRENCY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The limits in force. `Default` is [`LimitsConfig::realistic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `false`: everything is admitted (headers still report).
    pub enabled: bool,
    /// Requests per user per window.
    pub requests: u32,
    /// Combined execution time per user per window.
    pub execution: Duration,
    /// Requests in flight per user.
    pub concurrent: u32,
    pub window: Duration,
    /// The `x-ms-dop-hint` value.
    pub dop_hint: u32,
}

impl LimitsConfig {
    /// The documented defaults: 6,000 requests and 1,200 s of execution per
    /// user per 300 s sliding window, 52 concurrent requests (api-limits,
    /// "Service protection API limits" table). The docs give no default
    /// `x-ms-dop-hint` ("no fixed number"); 4 is a modest value that keeps a
    /// client honouring it far below the concurrency limit.
    pub fn realistic() -> Self {
        LimitsConfig {
            enabled: true,
            requests: 6_000,
            execution: Duration::from_secs(1_200),
            concurrent: 52,
            window: Duration::from_secs(300),
            dop_hint: 4,
        }
    }

    /// No enforcement; the realistic numbers remain for the headers.
    pub fn off() -> Self {
        LimitsConfig {
            enabled: false,
            ..Self::realistic()
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self::realistic()
    }
}

impl FromStr for LimitsConfig {
    type Err = String;

    /// `realistic`, `off`, or any subset of
    /// `requests=N,time=SECS,concurrent=C,window=SECS,dop=D` over the
    /// realistic values. Seconds may be fractional (`window=2`,
    /// `time=0.5`) or carry a unit (`window=500ms`), so tests can scale the
    /// window down.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("realistic") {
            return Ok(Self::realistic());
        }
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        if s.is_empty() {
            return Err(
                "empty limits: use `realistic`, `off` or e.g. `requests=100,window=2`".into(),
            );
        }
        let mut config = Self::realistic();
        let mut seen: Vec<&str> = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(format!("`{part}`: `{key}` is given twice"));
            }
            match key {
                "requests" => config.requests = parse_count(part, value)?,
                "concurrent" => config.concurrent = parse_count(part, value)?,
                "dop" => config.dop_hint = parse_count(part, value)?,
                "time" => config.execution = parse_seconds(part, value)?,
                "window" => config.window = parse_seconds(part, value)?,
                _ => {
                    return Err(format!(
                        "`{part}`: unknown limit `{key}` (expected requests, time, concurrent, window or dop)"
                    ))
                }
            }
            seen.push(key);
        }
        Ok(config)
    }
}

impl fmt::Display for LimitsConfig {
    /// The `--limits` text that parses back to this configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.enabled {
            // `off` with custom numbers has no spelling; the numbers then
            // only feed the headers, so `off` says what matters.
            return f.write_str("off");
        }
        write!(
            f,
            "requests={},time={},concurrent={},window={},dop={}",
            self.requests,
            DurationText(self.execution),
            self.concurrent,
            DurationText(self.window),
            self.dop_hint
        )
    }
}

fn parse_count(part: &str, value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("`{part}`: `{value}` must be a whole number from 1"))
}

fn parse_seconds(part: &str, value: &str) -> Result<Duration, String> {
    let bare = value
        .parse::<f64>()
        .ok()
        .and_then(|secs| duration_from(secs, 1e9));
    bare.or_else(|| parse_duration(value))
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!("`{part}`: `{value}` must be a positive number of seconds (e.g. 2, 0.5, 500ms)")
        })
}

/// Where the limits get the time, so tests can step it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic clock; what the server uses.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told; clones share the same time.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(Arc::new(Mutex::new(Instant::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A refused request: what the 429 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// One of the three throttle codes in `error.rs`.
    pub code: &'static str,
    pub retry_after: Duration,
    pub message: String,
}

impl Throttled {
    /// The 429 error body.
    pub fn to_error(&self) -> DvError {
        DvError::new(429, self.code, self.message.clone())
    }

    /// `Retry-After` in whole seconds (the header's unit per api-limits),
    /// rounded up so a client that waits exactly this long is never early,
    /// and at least 1 because `0` reads as "retry now".
    pub fn retry_after_header(&self) -> String {
        let d = self.retry_after;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        secs.max(1).to_string()
    }
}

/// What the limits have decided so far, over all users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitStats {
    pub admitted: u64,
    /// Answered 429, early retries included.
    pub throttled: u64,
    /// Requests that arrived before a `Retry-After` given to the same user
    /// had passed (also in `throttled`).
    pub early_retries: u64,
    /// The most requests one user had in flight at once.
    pub peak_concurrency: u32,
}

/// Service protection for all users; clones share state.
#[derive(Clone)]
pub struct ServiceProtection {
    inner: Arc<Inner>,
}

struct Inner {
    config: LimitsConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, UserWindow>,
    stats: LimitStats,
}

/// One user's sliding window.
#[derive(Default)]
struct UserWindow {
    /// Start times of admitted requests still in the window, oldest first.
    starts: VecDeque<Instant>,
    /// (finished at, execution time) of requests still in the window; a
    /// request's time counts from when it finished, since only then is it
    /// known.
    runs: VecDeque<(Instant, Duration)>,
    run_total: Duration,
    in_flight: u32,
    /// The last refusal, until its `Retry-After` has passed.
    refused: Option<Refusal>,
}

struct Refusal {
    until: Instant,
    code: &'static str,
    message: String,
}

impl UserWindow {
    /// Drops entries that have slid out: an entry at `t` counts while
    /// `now - t < window`.
    fn slide(&mut self, now: Instant, window: Duration) {
        while let Some(&t) = self.starts.front() {
            if now.saturating_duration_since(t) < window {
                break;
            }
            self.starts.pop_front();
        }
        while let Some(&(t, d)) = self.runs.front() {
            if now.saturating_duration_since(t) < window {
                break;
            }
            self.runs.pop_front();
            self.run_total = self.run_total.saturating_sub(d);
        }
        if self.runs.is_empty() {
            // Keeps rounding in the running sum from outliving the entries.
            self.run_total = Duration::ZERO;
        }
    }
}

impl ServiceProtection {
    pub fn new(config: LimitsConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: LimitsConfig, clock: Arc<dyn Clock>) -> Self {
        ServiceProtection {
            inner: Arc::new(Inner {
                config,
                clock,
                state: Mutex::new(State::default()),
            }),
        }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.inner.config
    }

    /// Admits one request of `user`, or says why not. Hold the [`Permit`]
    /// until the response is ready: while it lives the request counts as
    /// concurrent, and its lifetime is the execution time recorded.
    pub fn admit(&self, user: &str) -> Result<Permit, Throttled> {
        let config = &self.inner.config;
        let mut state = self.inner.lock();
        let now = self.inner.clock.now();
        let State { users, stats } = &mut *state;
        // Looked up first so a known user costs no key allocation.
        let window = match users.get_mut(user) {
            Some(window) => window,
            None => users.entry(user.to_string()).or_default(),
        };

        if config.enabled {
            window.slide(now, config.window);
            if let Err(throttled) = check(config, window, now, stats) {
                stats.throttled += 1;
                return Err(throttled);
            }
            window.starts.push_back(now);
        }
        window.in_flight += 1;
        stats.admitted += 1;
        stats.peak_concurrency = stats.peak_concurrency.max(window.in_flight);
        Ok(Permit {
            inner: Arc::clone(&self.inner),
            user: user.to_string(),
            started: now,
            charged: Duration::ZERO,
            finished: false,
        })
    }

    /// The `x-ms-ratelimit-*` and `x-ms-dop-hint` headers for `user`'s
    /// responses, as the window stands now (call after [`admit`] so the
    /// current request is counted). With limits off they report the full
    /// allowance, as an org far from its limits does.
    ///
    /// [`admit`]: ServiceProtection::admit
    pub fn headers(&self, user: &str) -> Vec<(&'static str, String)> {
        let config = &self.inner.config;
        let (requests_left, time_left) = if config.enabled {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            match state.users.get_mut(user) {
                Some(window) => {
                    window.slide(now, config.window);
                    let used = u32::try_from(window.starts.len()).unwrap_or(u32::MAX);
                    (
                        config.requests.saturating_sub(used),
                        config.execution.saturating_sub(window.run_total),
                    )
                }
                None => (config.requests, config.execution),
            }
        } else {
            (config.requests, config.execution)
        };
        vec![
            (HEADER_BURST_REMAINING, requests_left.to_string()),
            (
                HEADER_TIME_REMAINING,
                format!("{:.2}", time_left.as_secs_f64()),
            ),
            (HEADER_DOP_HINT, config.dop_hint.to_string()),
        ]
    }

    pub fn stats(&self) -> LimitStats {
        self.inner.lock().stats.clone()
    }
}

impl Inner {
    /// A panic elsewhere while holding the lock must not take the limits
    /// (and with them every later request, and permits being dropped) down;
    /// the state is counters and queues that stay consistent per operation.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Decides whether `window` admits one more request at `now`.
fn check(
    config: &LimitsConfig,
    window: &mut UserWindow,
    now: Instant,
    stats: &mut LimitStats,
) -> Result<(), Throttled> {
    // A request before an earlier Retry-After has passed is refused again
    // with the same error, and counted: that is how a test proves its client
    // waited. The deadline is not extended (the real service may lengthen
    // the wait for clients that keep sending, but the docs give no rule), so
    // the `Retry-After` a client is told stays true.
    if let Some(refused) = &window.refused {
        if now < refused.until {
            stats.early_retries += 1;
            return Err(Throttled {
                code: refused.code,
                retry_after: refused.until - now,
                message: refused.message.clone(),
            });
        }
        window.refused = None;
    }

    let throttled = if window.starts.len() >= config.requests as usize {
        // Admitting one more needs the oldest `len - requests + 1` starts to
        // slide out; the last of those goes at its start + window.
        let oldest_to_go = window.starts[window.starts.len() - config.requests as usize];
        Some(Throttled {
            code: THROTTLE_REQUESTS,
            retry_after: (oldest_to_go + config.window).saturating_duration_since(now),
            message: format!(
                "Number of requests exceeded the limit of {} over time window of {} seconds.",
                config.requests,
                seconds_text(config.window)
            ),
        })
    } else if window.run_total >= config.execution {
        // The oldest runs must slide out until the total is under the limit.
        let mut left = window.run_total;
        let mut until = now;
        for &(finished, took) in &window.runs {
            left = left.saturating_sub(took);
            until = finished + config.window;
            if left < config.execution {
                break;
            }
        }
        Some(Throttled {
            code: THROTTLE_TIME,
            retry_after: until.saturating_duration_since(now),
            message: format!(
                "Combined execution time of incoming requests exceeded limit of {} milliseconds \
                 over time window of {} seconds. Decrease number of concurrent requests or \
                 reduce the duration of requests and try again later.",
                thousands(config.execution.as_millis()),
                seconds_text(config.window)
            ),
        })
    } else if window.in_flight >= config.concurrent {
        Some(Throttled {
            code: THROTTLE_CONCURRENCY,
            retry_after: CONCURRENCY_RETRY_AFTER,
            message: format!(
                "Number of concurrent requests exceeded the limit of {}.",
                config.concurrent
            ),
        })
    } else {
        None
    };
    match throttled {
        None => Ok(()),
        Some(throttled) => {
            window.refused = Some(Refusal {
                until: now + throttled.retry_after,
                code: throttled.code,
                message: throttled.message.clone(),
            });
            Err(throttled)
        }
    }
}

/// `300`, or `2.5` for a scaled window.
fn seconds_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        d.as_secs_f64().to_string()
    }
}

/// `1,200,000`, as the service writes the execution limit.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One admitted request. Dropping it (or [`finish`](Permit::finish)) ends
/// the request: it stops counting as concurrent and its execution time
/// enters the window.
pub struct Permit {
    inner: Arc<Inner>,
    user: String,
    started: Instant,
    charged: Duration,
    finished: bool,
}

impl Permit {
    /// Adds execution time the request did not spend in wall-clock time,
    /// for a server that models work (e.g. a bulk message) as costing more
    /// than the emulator takes to do it.
    pub fn charge(&mut self, extra: Duration) {
        self.charged += extra;
    }

    /// Ends the request now; returns the execution time recorded.
    pub fn finish(mut self) -> Duration {
        self.end()
    }

    fn end(&mut self) -> Duration {
        if self.finished {
            return Duration::ZERO;
        }
        self.finished = true;
        let config = &self.inner.config;
        let mut state = self.inner.lock();
        let now = self.inner.clock.now();
        let took = now.saturating_duration_since(self.started) + self.charged;
        if let Some(window) = state.users.get_mut(&self.user) {
            window.in_flight = window.in_flight.saturating_sub(1);
            if config.enabled {
                window.slide(now, config.window);
                window.runs.push_back((now, took));
                window.run_total += took;
            }
        }
        took
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("user", &self.user)
            .field("started", &self.started)
            .field("charged", &self.charged)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn limits(text: &str) -> (ServiceProtection, ManualClock) {
        let clock = ManualClock::new();
        let config: LimitsConfig = text.parse().unwrap();
        (
            ServiceProtection::with_clock(config, Arc::new(clock.clone())),
            clock,
        )
    }

    fn header(limits: &ServiceProtection, user: &str, name: &str) -> String {
        limits
            .headers(user)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap()
    }

    #[test]
    fn realistic_defaults_are_the_documented_ones() {
        let c = LimitsConfig::realistic();
        assert!(c.enabled);
        assert_eq!(c.requests, 6_000);
        assert_eq!(c.execution, Duration::from_secs(1_200));
        assert_eq!(c.concurrent, 52);
        assert_eq!(c.window, Duration::from_secs(300));
        assert_eq!(c.dop_hint, 4);
        assert_eq!(LimitsConfig::default(), c);
        assert_eq!("realistic".parse::<LimitsConfig>().unwrap(), c);
        let off: LimitsConfig = "off".parse().unwrap();
        assert_eq!(off, LimitsConfig::off());
        assert!(!off.enabled);
        assert_eq!(off.to_string(), "off");
    }

    #[test]
    fn parses_any_subset_over_realistic() {
        let c: LimitsConfig = "requests=10,time=1.5,concurrent=3,window=2,dop=2"
            .parse()
            .unwrap();
        assert_eq!(
            c,
            LimitsConfig {
                enabled: true,
                requests: 10,
                execution: Duration::from_millis(1_500),
                concurrent: 3,
                window: Duration::from_secs(2),
                dop_hint: 2,
            }
        );
        assert_eq!(c.to_string().parse::<LimitsConfig>().unwrap(), c);
        let c: LimitsConfig = " window = 0.25 , requests=5 ".parse().unwrap();
        assert_eq!(
            c,
            LimitsConfig {
                window: Duration::from_millis(250),
                requests: 5,
                ..LimitsConfig::realistic()
            }
        );
        let c: LimitsConfig = "window=500ms,time=2s".parse().unwrap();
        assert_eq!(
            (c.window, c.execution),
            (Duration::from_millis(500), 2 * SEC)
        );
        assert_eq!(
            LimitsConfig::realistic().to_string(),
            "requests=6000,time=1200s,concurrent=52,window=300s,dop=4"
        );
    }

    #[test]
    fn bad_strings_name_the_bad_part() {
        for (text, needle) in [
            ("", "empty"),
            ("fast", "`fast` is not KEY=VALUE"),
            ("requests=0", "`requests=0`"),
            ("requests=-3", "whole number"),
            ("requests=1.5", "`1.5`"),
            ("concurrent=x", "`concurrent=x`"),
            ("dop=0", "`dop=0`"),
            ("window=0", "`window=0`"),
            ("window=-2", "positive"),
            ("time=soon", "`time=soon`"),
            ("window=2,burst=5", "unknown limit `burst`"),
            ("window=2,window=3", "given twice"),
        ] {
            let err = text.parse::<LimitsConfig>().unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_burst_is_throttled_until_the_window_slides() {
        let (l, clock) = limits("requests=5,window=2");
        for i in 0..5 {
            l.admit("u").unwrap().finish();
            if i < 4 {
                clock.advance(Duration::from_millis(100));
            }
        }
        assert_eq!(header(&l, "u", HEADER_BURST_REMAINING), "0");
        // 400 ms after the first request: it slides out 1.6 s from now.
        let t = l.admit("u").unwrap_err();
        assert_eq!(t.code, THROTTLE_REQUESTS);
        assert_eq!(t.retry_after, Duration::from_millis(1_600));
        assert_eq!(t.retry_after_header(), "2");
        assert_eq!(
            t.message,
            "Number of requests exceeded the limit of 5 over time window of 2 seconds."
        );
        let e = t.to_error();
        assert_eq!((e.status, e.code), (429, THROTTLE_REQUESTS));
        // Another user has a window of its own.
        assert!(l.admit("other").is_ok());

        clock.advance(Duration::from_millis(1_600));
        assert!(l.admit("u").is_ok());
        // Only the first request has slid out, so the next waits for the second.
        let t = l.admit("u").unwrap_err();
        assert_eq!(t.retry_after, Duration::from_millis(100));
        assert_eq!(t.retry_after_header(), "1");
        clock.advance(Duration::from_millis(100));
        assert!(l.admit("u").is_ok());

        let s = l.stats();
        assert_eq!((s.admitted, s.throttled, s.early_retries), (8, 2, 0));
    }

    #[test]
    fn early_retries_are_refused_and_counted() {
        let (l, clock) = limits("requests=1,window=3");
        drop(l.admit("u").unwrap());
        let t = l.admit("u").unwrap_err();
        assert_eq!(t.retry_after, 3 * SEC);
        clock.advance(SEC);
        // Too early: refused with the same error and the time still left.
        let early = l.admit("u").unwrap_err();
        assert_eq!(early.code, THROTTLE_REQUESTS);
        assert_eq!(early.retry_after, 2 * SEC);
        assert_eq!(early.message, t.message);
        clock.advance(Duration::from_millis(1_999));
        assert!(l.admit("u").is_err());
        assert_eq!(l.stats().early_retries, 2);
        // Exactly at Retry-After the request is admitted.
        clock.advance(Duration::from_millis(1));
        assert!(l.admit("u").is_ok());
        let s = l.stats();
        assert_eq!((s.admitted, s.throttled, s.early_retries), (2, 3, 2));
    }

    #[test]
    fn execution_time_is_limited_over_the_window() {
        let (l, clock) = limits("time=3,window=10");
        assert_eq!(header(&l, "u", HEADER_TIME_REMAINING), "3.00");
        // Two requests of 1 s and 2 s, finishing at t=1 and t=3.
        let p = l.admit("u").unwrap();
        clock.advance(SEC);
        assert_eq!(p.finish(), SEC);
        let p = l.admit("u").unwrap();
        clock.advance(2 * SEC);
        drop(p);
        assert_eq!(header(&l, "u", HEADER_TIME_REMAINING), "0.00");
        let t = l.admit("u").unwrap_err();
        assert_eq!(t.code, THROTTLE_TIME);
        // The 1 s run (finished at t=1) sliding out at t=11 frees enough.
        assert_eq!(t.retry_after, 8 * SEC);
        assert!(t.message.starts_with(
            "Combined execution time of incoming requests exceeded limit of 3,000 milliseconds \
             over time window of 10 seconds."
        ));
        clock.advance(8 * SEC);
        let p = l.admit("u").unwrap();
        assert_eq!(header(&l, "u", HEADER_TIME_REMAINING), "1.00");
        drop(p);
    }

    #[test]
    fn charged_time_counts_as_execution() {
        let (l, _clock) = limits("time=2,window=10");
        let mut p = l.admit("u").unwrap();
        p.charge(2 * SEC);
        assert_eq!(p.finish(), 2 * SEC);
        assert_eq!(l.admit("u").unwrap_err().code, THROTTLE_TIME);
    }

    #[test]
    fn concurrency_is_limited_and_permits_release_on_drop() {
        let (l, clock) = limits("concurrent=2");
        let a = l.admit("u").unwrap();
        let b = l.admit("u").unwrap();
        let t = l.admit("u").unwrap_err();
        assert_eq!(t.code, THROTTLE_CONCURRENCY);
        assert_eq!(t.retry_after, CONCURRENCY_RETRY_AFTER);
        assert_eq!(t.retry_after_header(), "1");
        assert_eq!(
            t.message,
            "Number of concurrent requests exceeded the limit of 2."
        );
        // Concurrency is per user.
        let c = l.admit("v").unwrap();
        drop(a);
        clock.advance(CONCURRENCY_RETRY_AFTER);
        let d = l.admit("u").unwrap();
        assert!(l.admit("u").is_err());
        drop((b, c, d));
        clock.advance(CONCURRENCY_RETRY_AFTER);
        let held: Vec<_> = (0..2).map(|_| l.admit("u").unwrap()).collect();
        assert_eq!(held.len(), 2);
        let s = l.stats();
        assert_eq!(s.peak_concurrency, 2);
        assert_eq!((s.admitted, s.throttled, s.early_retries), (6, 2, 0));
    }

    #[test]
    fn permits_work_across_threads() {
        let l = ServiceProtection::new("concurrent=8".parse().unwrap());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        drop(l.admit("u").unwrap());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = l.stats();
        assert_eq!((s.admitted, s.throttled), (800, 0));
        assert!((1..=8).contains(&s.peak_concurrency), "{s:?}");
        assert_eq!(header(&l, "u", HEADER_BURST_REMAINING), "5200");
    }

    #[test]
    fn off_admits_everything_and_still_reports() {
        let (l, _clock) = limits("off");
        let held: Vec<_> = (0..200).map(|_| l.admit("u").unwrap()).collect();
        for _ in 0..10_000 {
            drop(l.admit("u").unwrap());
        }
        let s = l.stats();
        assert_eq!((s.admitted, s.throttled), (10_200, 0));
        // 200 held plus the one passing through.
        assert_eq!(s.peak_concurrency, 201);
        drop(held);
        assert_eq!(
            l.headers("u"),
            vec![
                (HEADER_BURST_REMAINING, "6000".to_string()),
                (HEADER_TIME_REMAINING, "1200.00".to_string()),
                (HEADER_DOP_HINT, "4".to_string()),
            ]
        );
    }

    #[test]
    fn headers_count_down_and_recover() {
        let (l, clock) = limits("requests=100,window=2,dop=7");
        assert_eq!(header(&l, "nobody", HEADER_BURST_REMAINING), "100");
        for _ in 0..3 {
            drop(l.admit("u").unwrap());
        }
        assert_eq!(header(&l, "u", HEADER_BURST_REMAINING), "97");
        assert_eq!(header(&l, "u", HEADER_DOP_HINT), "7");
        clock.advance(2 * SEC);
        assert_eq!(header(&l, "u", HEADER_BURST_REMAINING), "100");
    }

    #[test]
    fn retry_after_header_rounds_up_to_at_least_one_second() {
        let t = |ms| Throttled {
            code: THROTTLE_REQUESTS,
            retry_after: Duration::from_millis(ms),
            message: String::new(),
        };
        assert_eq!(t(0).retry_after_header(), "1");
        assert_eq!(t(1).retry_after_header(), "1");
        assert_eq!(t(1_000).retry_after_header(), "1");
        assert_eq!(t(1_001).retry_after_header(), "2");
        assert_eq!(t(299_500).retry_after_header(), "300");
    }

    #[test]
    fn realistic_messages_match_the_service() {
        assert_eq!(thousands(1_200_000), "1,200,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(seconds_text(Duration::from_secs(300)), "300");
        assert_eq!(seconds_text(Duration::from_millis(2_500)), "2.5");
        let (l, _clock) = limits("realistic");
        let held: Vec<_> = (0..52).map(|_| l.admit("u").unwrap()).collect();
        let t = l.admit("u").unwrap_err();
        assert_eq!(
            t.message,
            "Number of concurrent requests exceeded the limit of 52."
        );
        drop(held);
    }
}
