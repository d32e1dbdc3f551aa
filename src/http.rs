//! What ferry's two HTTP clients share: the Dataverse client
//! ([`crate::dataverse::client`]) and the ServiceTracker client
//! ([`crate::source::api`]) read their secrets from the environment, refuse
//! plain `http://` beyond this machine, and retry by the same rules — how
//! long to back off, which answers are worth another attempt, and how to
//! read a server's `Retry-After`. Each client keeps what is its own (its
//! limits, its messages, Dataverse's 429 pacing and token refresh); the
//! rules live here once so the two cannot drift apart.

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

/// What an environment variable that should hold a secret holds.
#[derive(PartialEq, Eq)]
pub enum EnvSecret {
    /// The variable is not set (or not valid Unicode).
    Unset,
    /// The variable is set but holds only whitespace.
    Blank,
    /// The secret, without surrounding whitespace (a pasted line end is not
    /// part of any key).
    Value(String),
}

impl std::fmt::Debug for EnvSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvSecret::Unset => f.write_str("Unset"),
            EnvSecret::Blank => f.write_str("Blank"),
            EnvSecret::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// Reads the secret the environment variable `name` holds. Secrets come
/// only from the environment: never from `ferry.toml`, which is shared.
pub fn secret_from_env(name: &str) -> EnvSecret {
    match std::env::var(name) {
        Err(_) => EnvSecret::Unset,
        Ok(value) if value.trim().is_empty() => EnvSecret::Blank,
        Ok(value) => EnvSecret::Value(value.trim().to_string()),
    }
}

/// Whether `url` points at this machine (`localhost`, `127.0.0.0/8`, `::1`):
/// the only hosts a secret may reach over plain `http://`.
pub fn is_loopback(url: &Url) -> bool {
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

/// An HTTP client with ferry's user agent and the given timeouts.
pub fn client(connect_timeout: Duration, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// How often and how patiently a request that fails transiently (a 5xx
/// other than 501, a dropped connection, a timeout) is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff after the first failure; doubles per failure.
    pub first_backoff: Duration,
    /// Longest single backoff before jitter.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Whether another attempt is allowed after `failures` failed ones.
    pub fn gives_up_after(&self, failures: u32) -> bool {
        failures >= self.max_attempts
    }

    /// `first · 2^(n-1)`, capped at `max_backoff`, plus up to half of it at
    /// random so parallel workers do not retry in step.
    pub fn backoff(&self, failures: u32) -> Duration {
        let base = self.base_backoff(failures);
        let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 2);
        base + Duration::from_millis(jitter)
    }

    /// The backoff before jitter.
    fn base_backoff(&self, failures: u32) -> Duration {
        self.first_backoff
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
            .min(self.max_backoff)
    }
}

/// Whether an answer with this status is worth sending again: a server
/// error, except 501, which says the operation does not exist there.
pub fn is_transient(status: StatusCode) -> bool {
    status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); a
/// date in the past is no wait at all.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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
pub fn error_chain(err: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers)
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&HeaderMap::new()), None);
        assert_eq!(retry_after_of("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after_of(" 0 "), Some(Duration::ZERO));
        assert_eq!(retry_after_of("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after_of("-1"), None);
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(
            retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after_of(&later).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_at_most_half_again_of_jitter() {
        let policy = RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_millis(6400),
        };
        let bases: Vec<u128> = (1..=8)
            .map(|n| policy.base_backoff(n).as_millis())
            .collect();
        assert_eq!(bases, [200, 400, 800, 1600, 3200, 6400, 6400, 6400]);
        assert_eq!(policy.base_backoff(0).as_millis(), 200);
        assert_eq!(policy.base_backoff(u32::MAX).as_millis(), 6400);
        for n in 1..=8 {
            let wait = policy.backoff(n);
            let base = policy.base_backoff(n);
            assert!(wait >= base && wait <= base + base / 2, "{n}: {wait:?}");
        }
        assert!(!policy.gives_up_after(4));
        assert!(policy.gives_up_after(5));
    }

    #[test]
    fn server_errors_retry_except_not_implemented() {
        assert!(is_transient(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_transient(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_transient(StatusCode::GATEWAY_TIMEOUT));
        assert!(!is_transient(StatusCode::NOT_IMPLEMENTED));
        assert!(!is_transient(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_transient(StatusCode::NOT_FOUND));
    }

    #[test]
    fn loopback_is_this_machine_only() {
        let loopback = |u: &str| is_loopback(&Url::parse(u).unwrap());
        assert!(loopback("http://127.0.0.1:9"));
        assert!(loopback("http://LOCALHOST:9"));
        assert!(loopback("http://[::1]:9"));
        assert!(!loopback("http://st.example.com"));
        assert!(!loopback("http://10.0.0.1"));
    }

    #[test]
    fn secrets_come_trimmed_and_never_print() {
        let name = "FERRY_HTTP_TEST_SECRET";
        std::env::set_var(name, "  s3cr3t\n");
        let secret = secret_from_env(name);
        assert_eq!(secret, EnvSecret::Value("s3cr3t".into()));
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        std::env::set_var(name, " \t");
        assert_eq!(secret_from_env(name), EnvSecret::Blank);
        std::env::remove_var(name);
        assert_eq!(secret_from_env(name), EnvSecret::Unset);
    }
}
