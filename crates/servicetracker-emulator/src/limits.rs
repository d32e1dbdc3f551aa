//! Who may call the emulator and how often: the API key, the daily request
//! budget, the per-key token bucket, deterministic simulated throttling and
//! the memory of every `Retry-After` handed out, so a client that retries
//! too early is caught and counted.
//!
//! The emulator accepts a single API key, so "per key" state is simply the
//! emulator's state. Every authorised request spends one unit of the daily
//! budget (throttled ones too, as real APIs count them), which resets at
//! midnight UTC.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

/// What the limits need to know, validated by the caller.
#[derive(Clone)]
pub struct LimitConfig {
    pub api_key: String,
    /// Requests per second (burst of the same size); `None` for unlimited.
    pub rate_limit: Option<u32>,
    /// Share of otherwise-good requests answered 429.
    pub throttle_fraction: f64,
    /// `Retry-After` of simulated throttling, in seconds.
    pub retry_after_secs: u64,
    pub daily_budget: u64,
    pub seed: u64,
}

/// Why a request is refused, as the API will say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for `Retry-After` (429 only).
    pub retry_after: Option<u64>,
    /// Budget left, for `X-RateLimit-Remaining` (absent on 401).
    pub remaining: Option<u64>,
    /// A retry before an earlier `Retry-After` had passed.
    pub early_retry: bool,
}

/// What the limits decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass { remaining: u64 },
    Refuse(Refusal),
}

pub struct Limits {
    config: LimitConfig,
    state: std::sync::Mutex<State>,
}

struct State {
    /// Day number (UTC) the budget is counting, and requests spent in it.
    budget_day: i64,
    budget_used: u64,
    tokens: f64,
    refilled_at: Instant,
    /// Requests that reached the simulated-throttling draw.
    draws: u64,
    /// path+query → when its `Retry-After` ends, and the code given.
    deadlines: HashMap<String, (Instant, &'static str)>,
}

/// Deadlines kept before expired ones are swept out.
const DEADLINES_SWEEP_AT: usize = 10_000;

/// Seconds until `deadline`, rounded up, at least 1.
fn seconds_until(deadline: Instant, now: Instant) -> u64 {
    let left = deadline.saturating_duration_since(now);
    let whole = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    whole.max(1)
}

/// A uniform draw in [0, 1) from the seed and a counter (SplitMix64).
pub fn draw(seed: u64, counter: u64) -> f64 {
    let mut z = seed ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl Limits {
    pub fn new(config: LimitConfig, now: Instant) -> Limits {
        let tokens = f64::from(config.rate_limit.unwrap_or(0));
        Limits {
            config,
            state: std::sync::Mutex::new(State {
                budget_day: i64::MIN,
                budget_used: 0,
                tokens,
                refilled_at: now,
                draws: 0,
                deadlines: HashMap::new(),
            }),
        }
    }

    /// Whether `authorization` carries the API key.
    pub fn authorised(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && constant_time_eq(token.trim(), &self.config.api_key)
    }

    /// Decides one request. `target` is its path and query (the key under
    /// which a `Retry-After` is remembered); `unix_secs` is the wall clock
    /// for the daily budget, `now` the monotonic clock for everything else.
    pub fn check(
        &self,
        authorization: Option<&str>,
        target: &str,
        now: Instant,
        unix_secs: i64,
    ) -> Verdict {
        if !self.authorised(authorization) {
            return Verdict::Refuse(Refusal {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthorized",
                message: "missing or wrong API key: send `Authorization: Bearer <api key>`".into(),
                retry_after: None,
                remaining: None,
                early_retry: false,
            });
        }
        let mut state = self
            .state
            .lock()
            .expect("no thread panics holding the limits");

        // The daily budget, reset at midnight UTC.
        let day = unix_secs.div_euclid(86_400);
        if state.budget_day != day {
            state.budget_day = day;
            state.budget_used = 0;
        }
        if state.budget_used >= self.config.daily_budget {
            let until_midnight = (86_400 - unix_secs.rem_euclid(86_400)).max(1) as u64;
            state.remember(
                target,
                now + Duration::from_secs(until_midnight),
                "daily_budget_exhausted",
            );
            return Verdict::Refuse(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "daily_budget_exhausted",
                message: format!(
                    "the daily budget of {} requests is spent; it resets at midnight UTC",
                    self.config.daily_budget
                ),
                retry_after: Some(until_midnight),
                remaining: Some(0),
                early_retry: false,
            });
        }
        state.budget_used += 1;
        let remaining = self.config.daily_budget - state.budget_used;
        let refuse = |code: &'static str, message: String, retry_after: u64, early: bool| {
            Verdict::Refuse(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                code,
                message,
                retry_after: Some(retry_after),
                remaining: Some(remaining),
                early_retry: early,
            })
        };

        // A retry of a refused request before its Retry-After ran out.
        if let Some(&(deadline, code)) = state.deadlines.get(target) {
            if now < deadline {
                let wait = seconds_until(deadline, now);
                return refuse(
                    code,
                    format!("retried before Retry-After had passed: wait {wait} s more"),
                    wait,
                    true,
                );
            }
            state.deadlines.remove(target);
        }

        // The token bucket: `rate` per second, bursts of `rate`.
        if let Some(rate) = self.config.rate_limit {
            let rate = f64::from(rate);
            let elapsed = now
                .saturating_duration_since(state.refilled_at)
                .as_secs_f64();
            state.tokens = (state.tokens + elapsed * rate).min(rate);
            state.refilled_at = now;
            if state.tokens < 1.0 {
                let wait_secs = ((1.0 - state.tokens) / rate).ceil().max(1.0) as u64;
                state.remember(target, now + Duration::from_secs(wait_secs), "rate_limited");
                return refuse(
                    "rate_limited",
                    format!("more than {rate} requests per second"),
                    wait_secs,
                    false,
                );
            }
            state.tokens -= 1.0;
        }

        // Simulated throttling of a deterministic share of requests.
        if self.config.throttle_fraction > 0.0 {
            let counter = state.draws;
            state.draws += 1;
            if draw(self.config.seed, counter) < self.config.throttle_fraction {
                let wait = self.config.retry_after_secs;
                state.remember(target, now + Duration::from_secs(wait), "rate_limited");
                return refuse(
                    "rate_limited",
                    "the service is busy (simulated throttling); retry after the given delay"
                        .into(),
                    wait,
                    false,
                );
            }
        }
        Verdict::Pass { remaining }
    }
}

impl State {
    fn remember(&mut self, target: &str, deadline: Instant, code: &'static str) {
        if self.deadlines.len() >= DEADLINES_SWEEP_AT {
            let now = Instant::now();
            self.deadlines.retain(|_, (d, _)| *d > now);
        }
        self.deadlines.insert(target.to_string(), (deadline, code));
    }
}

/// Compares without stopping at the first difference, so response times do
/// not reveal how much of a guessed key was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "Bearer k3y";
    const NOON: i64 = 1_790_856_000; // 2026-10-01T12:00:00Z

    fn limits(f: impl FnOnce(&mut LimitConfig)) -> (Limits, Instant) {
        let mut config = LimitConfig {
            api_key: "k3y".into(),
            rate_limit: None,
            throttle_fraction: 0.0,
            retry_after_secs: 1,
            daily_budget: 1_000_000,
            seed: 7,
        };
        f(&mut config);
        let now = Instant::now();
        (Limits::new(config, now), now)
    }

    fn refusal(v: Verdict) -> Refusal {
        match v {
            Verdict::Refuse(r) => r,
            Verdict::Pass { .. } => panic!("expected a refusal"),
        }
    }

    #[test]
    fn the_key_must_be_a_bearer_token() {
        let (l, now) = limits(|_| {});
        assert_eq!(
            refusal(l.check(None, "/a", now, NOON)).status,
            StatusCode::UNAUTHORIZED
        );
        for wrong in ["k3y", "Bearer k3", "Basic k3y", "Bearer k3yy", "Bearer"] {
            assert!(!l.authorised(Some(wrong)), "{wrong}");
        }
        assert!(l.authorised(Some("bearer k3y")));
        assert_eq!(
            l.check(Some(KEY), "/a", now, NOON),
            Verdict::Pass { remaining: 999_999 }
        );
    }

    #[test]
    fn the_budget_runs_out_until_midnight_utc() {
        let (l, now) = limits(|c| c.daily_budget = 2);
        assert_eq!(
            l.check(Some(KEY), "/a", now, NOON),
            Verdict::Pass { remaining: 1 }
        );
        assert_eq!(
            l.check(Some(KEY), "/b", now, NOON),
            Verdict::Pass { remaining: 0 }
        );
        let r = refusal(l.check(Some(KEY), "/c", now, NOON));
        assert_eq!(r.code, "daily_budget_exhausted");
        assert_eq!(r.retry_after, Some(12 * 3600));
        assert_eq!(r.remaining, Some(0));
        // The next day starts afresh.
        assert_eq!(
            l.check(Some(KEY), "/d", now, NOON + 12 * 3600),
            Verdict::Pass { remaining: 1 }
        );
    }

    #[test]
    fn the_token_bucket_allows_bursts_then_refills() {
        let (l, t0) = limits(|c| c.rate_limit = Some(3));
        for i in 0..3 {
            assert!(matches!(
                l.check(Some(KEY), &format!("/{i}"), t0, NOON),
                Verdict::Pass { .. }
            ));
        }
        let r = refusal(l.check(Some(KEY), "/x", t0, NOON));
        assert_eq!((r.code, r.retry_after), ("rate_limited", Some(1)));
        // Retrying the same request early is noticed; another path is not.
        let early = refusal(l.check(Some(KEY), "/x", t0 + Duration::from_millis(100), NOON));
        assert!(early.early_retry);
        assert_eq!(early.retry_after, Some(1));
        let t1 = t0 + Duration::from_millis(1_100);
        assert!(matches!(
            l.check(Some(KEY), "/x", t1, NOON),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn simulated_throttling_is_deterministic_and_near_its_fraction() {
        let run = || {
            let (l, now) = limits(|c| {
                c.throttle_fraction = 0.5;
                c.retry_after_secs = 2;
            });
            (0..1000)
                .map(|i| match l.check(Some(KEY), &format!("/{i}"), now, NOON) {
                    Verdict::Pass { .. } => false,
                    Verdict::Refuse(r) => {
                        assert_eq!(r.retry_after, Some(2));
                        true
                    }
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let refused = a.iter().filter(|r| **r).count();
        assert!((400..600).contains(&refused), "{refused}");
    }

    #[test]
    fn draws_are_uniform_enough() {
        let mean = (0..10_000).map(|i| draw(42, i)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert!((0..10_000).all(|i| (0.0..1.0).contains(&draw(1, i))));
    }
}
