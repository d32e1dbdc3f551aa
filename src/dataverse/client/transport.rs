//! How a request reaches the org: URLs kept on the org, the retry loop of
//! the client's module note (429 waits, backoff on 5xx and dropped
//! connections, one token refresh on 401), pacing under a stated request
//! limit, and Dataverse's error bodies turned into messages.

use crate::http::{error_chain, is_transient, retry_after, RetryPolicy};

use super::*;

/// 429 codes for combined execution time (0x80072321) and concurrent
/// requests (0x80072326): fewer requests in flight cure these, unlike the
/// request-count limit (0x80072322), which only pacing cures (api-limits,
/// "Service protection API limit errors returned").
pub(super) const LOAD_LIMIT_CODES: [&str; 2] = ["0x80072321", "0x80072326"];

/// Margin on top of the stated window: the org's clock starts a request's
/// window when the request arrives, a little after ferry sent it.
pub(super) const PACING_MARGIN: Duration = Duration::from_millis(20);

/// A request-count limit as the org states it in its 429 message: "Number
/// of requests exceeded the limit of 6000 over time window of 300 seconds."
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RequestLimit {
    pub(super) requests: usize,
    pub(super) window: Duration,
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
pub(super) struct RequestPacer {
    pub(super) limit: Option<RequestLimit>,
    pub(super) sent: std::collections::VecDeque<Instant>,
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

/// A request as the retry loop sees it. Not `Debug`: the token request's
/// body holds the client secret.
pub(super) struct Spec {
    pub(super) method: Method,
    pub(super) url: Url,
    /// For messages: `GET accounts?$select=name`.
    pub(super) what: String,
    pub(super) body: Option<(String, Vec<u8>)>,
    pub(super) headers: Vec<(&'static str, String)>,
    /// `$batch` answers 4xx with a multipart body that still holds one
    /// response per part; that is an answer to read, not a failure.
    pub(super) multipart_answers: bool,
}

pub(super) struct HttpReply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

pub(super) enum Outcome {
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
pub(super) struct RetryState {
    pub(super) failures: u32,
    pub(super) throttles: u32,
}

impl DataverseClient {
    /// A path below the Web API root, or a full URL that must point at the
    /// org itself: the bearer token is never sent anywhere else.
    pub(super) fn url(&self, path_or_url: &str) -> DvResult<Url> {
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

    pub(super) fn spec(
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
    pub(super) async fn run(&self, spec: &Spec) -> DvResult<HttpReply> {
        Ok(self.run_tracked(spec).await?.0)
    }

    /// [`run`](Self::run), also saying whether the request was sent again
    /// after an attempt that may have been applied (429 and 401 are refused
    /// before anything is written; 5xx and dropped connections may not be).
    pub(super) async fn run_tracked(&self, spec: &Spec) -> DvResult<(HttpReply, bool)> {
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
    pub(super) async fn run_token(&self, spec: &Spec) -> DvResult<HttpReply> {
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
    pub(super) async fn attempt(&self, spec: &Spec, bearer: Option<&str>) -> Outcome {
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
            s if is_transient(s) => {
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
    pub(super) fn throttle_wait(
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

    pub(super) async fn backoff_or_fail(
        &self,
        retry: &mut RetryState,
        spec: &Spec,
        why: String,
        retry_after_header: Option<Duration>,
        reply: Option<HttpReply>,
    ) -> DvResult<()> {
        retry.failures += 1;
        if self.retry_policy().gives_up_after(retry.failures) {
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

    /// The failure backoff of [`ClientOptions`] (jittered, see
    /// [`RetryPolicy::backoff`]).
    pub(super) fn backoff(&self, n: u32) -> Duration {
        self.retry_policy().backoff(n)
    }

    pub(super) fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.options.max_attempts,
            first_backoff: self.options.first_backoff,
            max_backoff: self.options.max_backoff,
        }
    }

    pub(super) fn hold_off(&self, wait: Duration) {
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
    pub(super) async fn pace(&self) {
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

    pub(super) async fn stay_quiet(&self) {
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

    pub(super) fn remote_error(&self, spec: &Spec, reply: &HttpReply) -> DvClientError {
        let (code, message) = error_fields_of(reply);
        DvClientError::Remote {
            status: reply.status.as_u16(),
            code,
            message: self.redact(message),
            request: spec.what.clone(),
        }
    }
}

pub(super) fn common_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Accept", "application/json".to_string()),
        ("OData-MaxVersion", "4.0".to_string()),
        ("OData-Version", "4.0".to_string()),
    ]
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn prefixed(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{prefix}{text}")
    }
}

/// A request description short enough for one line of a message.
pub(super) fn describe(text: &str) -> String {
    if text.chars().count() <= WHAT_LIMIT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(WHAT_LIMIT).collect();
        format!("{cut}…")
    }
}

pub(super) fn parse_json(spec: &Spec, reply: &HttpReply) -> DvResult<Value> {
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
pub(super) fn error_fields(body: &Value) -> (String, String) {
    let error = &body["error"];
    let text = |v: &Value| v.as_str().unwrap_or_default().trim().to_string();
    if error.is_object() {
        (text(&error["code"]), text(&error["message"]))
    } else {
        (text(error), text(&body["error_description"]))
    }
}

pub(super) fn error_fields_of(reply: &HttpReply) -> (String, String) {
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
