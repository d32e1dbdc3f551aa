//! Who ferry is to the org and how it proves it: the app registration's
//! client credentials (the secret from the environment, never printed), the
//! OAuth client-credentials grant, and the access token kept fresh and
//! shared by every request.

use crate::http::{is_loopback, secret_from_env, EnvSecret};

use super::*;

/// A value that must never be printed; `Debug` hides it and it has no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Secret(String);

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
        let EnvSecret::Value(secret) = secret_from_env(var) else {
            return Err(Error::Usage(format!(
                "the Dataverse client secret is read from ${var}, which is not set; export {var}=<the app registration's secret> (ferry never reads secrets from ferry.toml)"
            )));
        };
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

/// An access token and when to renew it.
pub(super) struct Token {
    pub(super) value: Secret,
    pub(super) refresh_at: Instant,
}

impl DataverseClient {
    /// A valid access token, fetched or refreshed when needed. One refresh
    /// at a time: the others wait for it rather than asking Entra in a
    /// crowd.
    pub(super) async fn bearer(&self) -> DvResult<String> {
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
    pub(super) async fn forget_token(&self, used: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value.0 == used) {
            *slot = None;
        }
    }

    /// The client-credentials grant (SPEC §9 Auth): form `client_id,
    /// client_secret, grant_type=client_credentials, scope={org}/.default`.
    pub(super) async fn fetch_token(&self) -> DvResult<Token> {
        let c = &self.credentials;
        let scope = c.scope();
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.secret.0.as_str()),
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ])
            .finish();
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

    /// Belt and braces: no server echoes the secret, but should one ever
    /// do, it must not reach a terminal or a log. Very short secrets are
    /// not searched for, since they would garble ordinary words.
    pub(super) fn redact(&self, text: String) -> String {
        let secret = &self.credentials.secret.0;
        if secret.len() >= 6 && text.contains(secret.as_str()) {
            text.replace(secret.as_str(), "<redacted>")
        } else {
            text
        }
    }
}
