//! Injected failures (`--faults`), so the loader's retry and idempotency
//! logic is exercised against the failures a real Dataverse org produces
//! under load: transient 503s, connections reset mid-request, slow answers,
//! and — the dangerous one — a write that was applied although the client
//! saw an error.
//!
//! The faults are drawn from a seeded ChaCha stream, one draw per request, so
//! a test run that injects faults is reproducible: the Nth request the
//! emulator sees always gets the same fault. (With parallel clients the
//! order in which requests reach the draw varies, so which *request* gets a
//! fault can vary; how many faults a run sees over many requests does not
//! drift.)
//!
//! What each fault means for the server (`api.rs` acts on them):
//!
//! - [`Fault::Unavailable`]: answer 503 with
//!   [`SERVICE_UNAVAILABLE`](super::error::SERVICE_UNAVAILABLE) *before*
//!   anything is done; a retry is always safe.
//! - [`Fault::DropConnection`]: close the connection without any response,
//!   *before* the request is applied; the client sees a transport error and
//!   cannot know that nothing happened.
//! - [`Fault::Slow`]: delay the response by the configured duration (the
//!   request is otherwise served normally), so client timeouts and the
//!   execution-time limit are exercised.
//! - [`Fault::FailAfterWrite`]: apply the write (and commit it), then answer
//!   500/503 or drop the connection. The client must treat its retry as
//!   possibly already applied — upsert by alternate key or id, or check
//!   before re-creating — or it duplicates records. A request that writes
//!   nothing is processed and then fails the same way, which a client cannot
//!   tell from a transient error.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How long a slow response is delayed when `slow=RATE` names no duration.
pub const DEFAULT_SLOW_FOR: Duration = Duration::from_secs(1);

/// Rates (each 0–1, of all requests) of each injected fault. The rates
/// partition one uniform draw, so together they cannot exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// 503 before the request is processed.
    pub unavailable: f64,
    /// Connection closed without a response, before the request is applied.
    pub drop: f64,
    /// Response delayed by `slow_for`.
    pub slow: f64,
    pub slow_for: Duration,
    /// Write applied, then an error or dropped connection.
    pub after_write: f64,
    pub seed: u64,
}

impl Default for FaultConfig {
    /// No faults.
    fn default() -> Self {
        FaultConfig {
            unavailable: 0.0,
            drop: 0.0,
            slow: 0.0,
            slow_for: DEFAULT_SLOW_FOR,
            after_write: 0.0,
            seed: 0,
        }
    }
}

impl FaultConfig {
    /// Whether no fault can ever be injected.
    pub fn is_none(&self) -> bool {
        self.unavailable + self.drop + self.slow + self.after_write == 0.0
    }
}

impl FromStr for FaultConfig {
    type Err = String;

    /// `none`, or a comma-separated subset of
    /// `503=RATE,drop=RATE,slow=RATE[:DURATION],after-write=RATE,seed=N`
    /// (`unavailable` is accepted for `503`; durations as `250ms` or `2s`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut config = FaultConfig::default();
        if s.eq_ignore_ascii_case("none") {
            return Ok(config);
        }
        if s.is_empty() {
            return Err("empty fault list: use `none` or e.g. `503=0.05,drop=0.02`".into());
        }
        let mut seen: Vec<&str> = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
            let key = key.trim();
            let value = value.trim();
            let canonical = match key {
                "503" | "unavailable" => "503",
                "drop" | "slow" | "after-write" | "seed" => key,
                _ => {
                    return Err(format!(
                        "`{part}`: unknown fault `{key}` (expected 503, drop, slow, after-write or seed)"
                    ))
                }
            };
            if seen.contains(&canonical) {
                return Err(format!("`{part}`: `{key}` is given twice"));
            }
            seen.push(canonical);
            match canonical {
                "503" => config.unavailable = parse_rate(part, value)?,
                "drop" => config.drop = parse_rate(part, value)?,
                "after-write" => config.after_write = parse_rate(part, value)?,
                "slow" => {
                    let (rate, delay) = match value.split_once(':') {
                        Some((rate, delay)) => (rate, Some(delay)),
                        None => (value, None),
                    };
                    config.slow = parse_rate(part, rate)?;
                    if let Some(delay) = delay {
                        config.slow_for = parse_duration(delay).ok_or_else(|| {
                            format!("`{part}`: `{delay}` is not a duration such as 250ms or 2s")
                        })?;
                    }
                }
                _ => {
                    config.seed = value
                        .parse()
                        .map_err(|_| format!("`{part}`: the seed must be a whole number"))?;
                }
            }
        }
        let total = config.unavailable + config.drop + config.slow + config.after_write;
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "`{s}`: the rates add up to {total}, more than 1 (one draw picks at most one fault)"
            ));
        }
        Ok(config)
    }
}

impl fmt::Display for FaultConfig {
    /// The `--faults` text that parses back to this configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        write!(
            f,
            "503={},drop={},slow={}:{},after-write={},seed={}",
            self.unavailable,
            self.drop,
            self.slow,
            DurationText(self.slow_for),
            self.after_write,
            self.seed
        )
    }
}

/// A duration as `--faults` and `--limits` write it: whole seconds as `2s`,
/// anything else in (possibly fractional) milliseconds.
pub(crate) struct DurationText(pub Duration);

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_nanos() as f64 / 1e6)
        }
    }
}

fn parse_rate(part: &str, value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("`{part}`: the rate `{value}` must be a number from 0 to 1"))
}

/// `250ms`, `2s`, `1.5s`, `0.5ms`: a non-negative amount with its unit. A
/// bare number is refused here because `250` could mean either unit.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (amount, nanos_per_unit) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e6)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1e9)
    } else {
        return None;
    };
    duration_from(amount.trim().parse().ok()?, nanos_per_unit)
}

/// `amount` units of `nanos_per_unit` each, rounded to whole nanoseconds so
/// `5ms` is exactly 5 ms rather than an f64 product truncated a nanosecond
/// short; `None` if negative, NaN or too large.
pub(crate) fn duration_from(amount: f64, nanos_per_unit: f64) -> Option<Duration> {
    let nanos = (amount * nanos_per_unit).round();
    (0.0..=u64::MAX as f64)
        .contains(&nanos)
        .then_some(nanos)
        .map(|nanos| Duration::from_nanos(nanos as u64))
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 503 `SERVICE_UNAVAILABLE` before anything is done.
    Unavailable,
    /// Close the connection without a response, before the request is applied.
    DropConnection,
    /// Serve the request, but delay the response by this long.
    Slow(Duration),
    /// Apply the write, then answer 500/503 or drop the connection.
    FailAfterWrite,
}

/// How many of each fault were injected; the emulator's stats endpoint
/// reports these so a test can check its client met the failures it meant
/// to provoke.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Requests that drew (faulted or not).
    pub requests: u64,
    pub unavailable: u64,
    pub dropped: u64,
    pub slow: u64,
    pub failed_after_write: u64,
}

/// The fault injector: thread-safe, one draw per request.
pub struct Faults {
    config: FaultConfig,
    state: Mutex<FaultState>,
}

struct FaultState {
    rng: ChaCha8Rng,
    stats: FaultStats,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Faults {
            config,
            state: Mutex::new(FaultState {
                rng,
                stats: FaultStats::default(),
            }),
        }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// The fault for the next request.
    pub fn next(&self) -> Fault {
        // A panic elsewhere while holding the lock leaves the state usable:
        // counters and an RNG cannot be half-updated in a harmful way.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stats.requests += 1;
        if self.config.is_none() {
            return Fault::None;
        }
        // One draw partitioned by the rates keeps the stream aligned with
        // the request count whatever the rates are, so changing one rate
        // does not reshuffle which requests the others hit.
        let draw: f64 = state.rng.gen();
        let c = &self.config;
        if draw < c.unavailable {
            state.stats.unavailable += 1;
            Fault::Unavailable
        } else if draw < c.unavailable + c.drop {
            state.stats.dropped += 1;
            Fault::DropConnection
        } else if draw < c.unavailable + c.drop + c.slow {
            state.stats.slow += 1;
            Fault::Slow(c.slow_for)
        } else if draw < c.unavailable + c.drop + c.slow + c.after_write {
            state.stats.failed_after_write += 1;
            Fault::FailAfterWrite
        } else {
            Fault::None
        }
    }

    pub fn stats(&self) -> FaultStats {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_default_are_the_same_and_never_fault() {
        let none: FaultConfig = "none".parse().unwrap();
        assert_eq!(none, FaultConfig::default());
        assert!(none.is_none());
        assert_eq!(none.to_string(), "none");
        let faults = Faults::new(none);
        assert!((0..10_000).all(|_| faults.next() == Fault::None));
        let stats = faults.stats();
        assert_eq!(stats.requests, 10_000);
        assert_eq!(
            stats,
            FaultStats {
                requests: 10_000,
                ..FaultStats::default()
            }
        );
    }

    #[test]
    fn parses_the_documented_form() {
        let c: FaultConfig = "503=0.05,drop=0.02,slow=0.1:250ms,after-write=0.02,seed=7"
            .parse()
            .unwrap();
        assert_eq!(
            c,
            FaultConfig {
                unavailable: 0.05,
                drop: 0.02,
                slow: 0.1,
                slow_for: Duration::from_millis(250),
                after_write: 0.02,
                seed: 7,
            }
        );
        // Display writes what parses back.
        assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);

        let c: FaultConfig = " slow = 0.5 : 2s , unavailable=1e-1 ".parse().unwrap();
        assert_eq!(
            (c.slow, c.slow_for, c.unavailable),
            (0.5, Duration::from_secs(2), 0.1)
        );
        let c: FaultConfig = "slow=0.5".parse().unwrap();
        assert_eq!(c.slow_for, DEFAULT_SLOW_FOR);
        let c: FaultConfig = "slow=0.5:1.5s".parse().unwrap();
        assert_eq!(c.slow_for, Duration::from_millis(1500));
        assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);
        let c: FaultConfig = "slow=0.5:0.5ms".parse().unwrap();
        assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);
        assert!("NONE".parse::<FaultConfig>().unwrap().is_none());
    }

    #[test]
    fn bad_strings_name_the_bad_part() {
        for (text, needle) in [
            ("", "empty"),
            ("503", "`503` is not KEY=VALUE"),
            ("503=1.5", "`503=1.5`"),
            ("503=-0.1", "from 0 to 1"),
            ("503=abc", "`abc`"),
            ("drop=0.1,boom=0.2", "unknown fault `boom`"),
            ("slow=0.1:250", "`250` is not a duration"),
            ("slow=0.1:fast", "`fast`"),
            ("seed=x", "`seed=x`"),
            ("seed=-1", "whole number"),
            ("drop=0.1,drop=0.2", "given twice"),
            ("503=0.1,unavailable=0.2", "given twice"),
            ("503=0.6,drop=0.6", "more than 1"),
        ] {
            let err = text.parse::<FaultConfig>().unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.25s"), Some(Duration::from_millis(250)));
        for bad in ["250", "ms", "-1s", "NaNs", "infs", "2 m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    fn run(config: &FaultConfig, n: usize) -> Vec<Fault> {
        let faults = Faults::new(config.clone());
        (0..n).map(|_| faults.next()).collect()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let c: FaultConfig = "503=0.1,drop=0.1,slow=0.1:5ms,after-write=0.1,seed=7"
            .parse()
            .unwrap();
        let a = run(&c, 1000);
        assert_eq!(a, run(&c, 1000));
        let other = FaultConfig { seed: 8, ..c };
        assert_ne!(a, run(&other, 1000));
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let c: FaultConfig = "503=0.05,drop=0.02,slow=0.1:250ms,after-write=0.03,seed=42"
            .parse()
            .unwrap();
        let faults = Faults::new(c);
        let mut slow_for = None;
        for _ in 0..10_000 {
            if let Fault::Slow(d) = faults.next() {
                slow_for = Some(d);
            }
        }
        assert_eq!(slow_for, Some(Duration::from_millis(250)));
        let s = faults.stats();
        assert_eq!(s.requests, 10_000);
        // Binomial(10 000, p): each band is well over 4 standard deviations.
        for (got, expected) in [
            (s.unavailable, 500.0_f64),
            (s.dropped, 200.0),
            (s.slow, 1000.0),
            (s.failed_after_write, 300.0),
        ] {
            let sd = (expected * (1.0 - expected / 10_000.0)).sqrt();
            assert!(
                (got as f64 - expected).abs() < 4.5 * sd,
                "{got} vs {expected}: {s:?}"
            );
        }
    }

    #[test]
    fn a_rate_of_one_always_faults() {
        let faults = Faults::new("drop=1".parse().unwrap());
        assert!((0..1000).all(|_| faults.next() == Fault::DropConnection));
        assert_eq!(faults.stats().dropped, 1000);
    }
}
