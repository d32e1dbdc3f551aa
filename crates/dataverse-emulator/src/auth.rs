//! The emulator's stand-in for Microsoft Entra ID: the client-credentials
//! token endpoint (`POST /{tenant}/oauth2/v2.0/token`) and the bearer check
//! every Web API request passes, so the loader's auth code runs unchanged
//! against a loopback org (SPEC §9 Auth).
//!
//! Tokens are opaque random strings that expire after an hour, as Entra's
//! do (`expires_in` 3599). The client secret is checked only when the
//! emulator was given one; otherwise any non-empty secret is accepted, which
//! is what a throwaway test org needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{DvError, UNAUTHORIZED};

/// How long an access token lives (Entra's default for client credentials).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    /// The application user the client id maps to (SPEC §9 systemuser).
    pub user_id: Uuid,
}

#[derive(Debug)]
pub struct Authority {
    /// `None`: any non-empty secret is accepted.
    secret: Option<String>,
    application_user: Uuid,
    tokens: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl Authority {
    pub fn new(secret: Option<String>, application_user: Uuid) -> Self {
        Authority {
            secret,
            application_user,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Answers a token request (form-encoded body) the way Entra ID does:
    /// 200 with `access_token`, or 400/401 with an OAuth error body.
    pub fn token(&self, form: &HashMap<String, String>) -> (u16, Value) {
        let oauth_error = |status: u16, error: &str, description: &str| {
            (
                status,
                json!({ "error": error, "error_description": description }),
            )
        };
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: the emulator supports grant_type=client_credentials only.",
            );
        }
        let client_id = match form.get("client_id") {
            Some(id) if !id.trim().is_empty() => id.clone(),
            _ => return oauth_error(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            ),
        };
        if !form.get("scope").is_some_and(|s| s.ends_with("/.default")) {
            return oauth_error(
                400,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
            );
        }
        let secret_ok = match (&self.secret, form.get("client_secret")) {
            (_, None) => false,
            (None, Some(given)) => !given.is_empty(),
            (Some(expected), Some(given)) => expected == given,
        };
        if !secret_ok {
            return oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            );
        }
        let token = format!("ferry-emu.{}", Uuid::new_v4().simple());
        let caller = Caller {
            client_id,
            user_id: self.application_user,
        };
        self.tokens
            .lock()
            .expect("token table")
            .insert(token.clone(), (caller, Instant::now() + TOKEN_LIFETIME));
        (
            200,
            json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME.as_secs(),
                "ext_expires_in": TOKEN_LIFETIME.as_secs(),
                "access_token": token,
            }),
        )
    }

    /// The caller behind an `Authorization` header, or Dataverse's 401.
    pub fn check(&self, authorization: Option<&str>) -> Result<Caller, DvError> {
        let refused = |why: &str| DvError::new(401, UNAUTHORIZED, why.to_string());
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| refused("Bearer token is missing from the Authorization header."))?;
        let tokens = self.tokens.lock().expect("token table");
        match tokens.get(token) {
            Some((caller, expires)) if *expires > Instant::now() => Ok(caller.clone()),
            Some(_) => Err(refused("The access token has expired.")),
            None => Err(refused(
                "The access token is not valid for this organization.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("grant_type", "client_credentials"),
        ("client_id", "app"),
        ("client_secret", "s3cret"),
        ("scope", "http://127.0.0.1:1/.default"),
    ];

    #[test]
    fn a_token_from_good_credentials_passes_the_bearer_check() {
        let auth = Authority::new(Some("s3cret".into()), Uuid::nil());
        let (status, body) = auth.token(&form(GOOD));
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let caller = auth.check(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(caller.client_id, "app");
        assert_eq!(auth.check(Some("Bearer nope")).unwrap_err().status, 401);
        assert_eq!(auth.check(None).unwrap_err().code, UNAUTHORIZED);
    }

    #[test]
    fn a_wrong_secret_or_grant_is_refused_like_entra_does() {
        let auth = Authority::new(Some("s3cret".into()), Uuid::nil());
        let mut wrong = form(GOOD);
        wrong.insert("client_secret".into(), "guess".into());
        assert_eq!(auth.token(&wrong).0, 401);
        let mut grant = form(GOOD);
        grant.insert("grant_type".into(), "password".into());
        assert_eq!(auth.token(&grant).1["error"], "unsupported_grant_type");
        let mut scope = form(GOOD);
        scope.insert("scope".into(), "user.read".into());
        assert_eq!(auth.token(&scope).1["error"], "invalid_scope");
    }
}
