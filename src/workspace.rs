//! The workspace: a folder holding `ferry.toml`, the landing zone, the
//! staging database, mappings, SQL and reports (SPEC §2).
//!
//! Raw command-line flags become a validated [`Workspace`] here, before any
//! core code runs; the rest of ferry only ever sees resolved paths and typed
//! settings. Secrets are named by environment variable and read only when a
//! command needs them, so they never sit in a struct that might be printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

pub const CONFIG_FILE: &str = "ferry.toml";
pub const DATABASE_FILE: &str = "ferry.duckdb";

/// Settings from `ferry.toml`. Unknown keys are rejected so a typo never
/// silently falls back to a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sales` or `field-service`.
    #[serde(default = "default_profile")]
    pub profile: Profile,
    /// Publisher prefix of custom columns and tables.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Namespace of the deterministic record GUIDs (SPEC §6). `ferry init`
    /// writes a fresh one; it must never change once anything was pushed,
    /// or re-runs would address different records.
    #[serde(default)]
    pub namespace: Option<uuid::Uuid>,
    #[serde(default)]
    pub source: SourceConfig,
    /// The Dataverse orgs this workspace migrates into, by name
    /// (`[targets.test]`, `[targets.prod]`): a sample goes to a test org,
    /// the full run to production.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetConfig>,
    /// The target a command uses without `--target`; unset with one
    /// target, that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_target: Option<String>,
    /// `[target]`, as workspaces written before named targets hold it: read
    /// as the target named [`LEGACY_TARGET_NAME`].
    #[serde(default, rename = "target", skip_serializing)]
    pub legacy_target: Option<TargetConfig>,
    /// The target this invocation talks to, resolved from `targets`,
    /// `default_target` and `--target` (see [`Workspace::with_target`]).
    #[serde(skip)]
    pub target: TargetConfig,
    /// Its name (`default` when ferry.toml names none).
    #[serde(skip)]
    pub target_name: String,
    #[serde(default)]
    pub extract: ExtractConfig,
    #[serde(default)]
    pub push: PushConfig,
}

/// How records are written to the target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Records per bulk request (`CreateMultiple`/`UpdateMultiple`):
    /// Microsoft recommends 100–1,000 (SPEC §9).
    #[serde(default = "default_push_batch_size")]
    pub batch_size: usize,
    /// Application users the load is spread over; each has its own service
    /// protection limits.
    #[serde(default = "default_application_users")]
    pub application_users: u32,
    /// Requests in flight at once before the org's `x-ms-dop-hint` is known.
    #[serde(default = "default_push_concurrency")]
    pub concurrency: usize,
    /// E-mail of the user who owns records whose technician has no enabled
    /// user in the target. Unset: the application user (Dataverse's default).
    #[serde(default)]
    pub fallback_owner: Option<String>,
}

fn default_push_batch_size() -> usize {
    500
}
fn default_application_users() -> u32 {
    1
}
fn default_push_concurrency() -> usize {
    4
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            batch_size: default_push_batch_size(),
            application_users: default_application_users(),
            concurrency: default_push_concurrency(),
            fallback_owner: None,
        }
    }
}

/// The target org's licence tier, for its limits (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Licence {
    #[default]
    Enterprise,
    /// Dynamics 365 Professional: at most 15 custom tables.
    Professional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    Sales,
    FieldService,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Sales => "sales",
            Profile::FieldService => "field-service",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Csv,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    #[serde(default = "default_source_kind")]
    pub kind: SourceKind,
    /// CSV export folder (relative paths are relative to the workspace).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// ServiceTracker API base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Name of the environment variable holding the API key.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "default_authority")]
    pub authority: String,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default = "default_client_secret_env")]
    pub client_secret_env: String,
    /// The org's `maxuploadfilesize` in bytes: it limits the *base64* size of
    /// an attachment (SPEC §9). Dataverse's default is 5 MB, at most 128 MB.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    #[serde(default)]
    pub licence: Licence,
    /// ISO code of the currency money columns and contracts use; the
    /// org's base currency when not set (SPEC §9 contract).
    #[serde(default)]
    pub currency: Option<String>,
    /// Name or abbreviation of the contract template contracts are created
    /// from; the org's first template when not set (SPEC §9 contract).
    #[serde(default)]
    pub contract_template: Option<String>,
    /// E-mail of the user who owns records whose technician has no enabled
    /// user in this org; overrides `[push] fallback_owner`.
    #[serde(default)]
    pub fallback_owner: Option<String>,
}

/// The name a workspace's single `[target]` (written before named targets)
/// and `ferry init --target URL` go by.
pub const LEGACY_TARGET_NAME: &str = "default";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractConfig {
    /// Rows per Arrow batch / Parquet write.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Objects extracted at the same time.
    #[serde(default = "default_parallel_objects")]
    pub parallel_objects: usize,
    /// Records per API page (`limit`; ServiceTracker allows at most 1000).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Attachment downloads in flight at once (API source).
    #[serde(default = "default_parallel_downloads")]
    pub parallel_downloads: usize,
}

fn default_profile() -> Profile {
    Profile::Sales
}
fn default_prefix() -> String {
    "st".into()
}
fn default_source_kind() -> SourceKind {
    SourceKind::Csv
}
fn default_api_key_env() -> String {
    "SERVICETRACKER_API_KEY".into()
}
fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_client_secret_env() -> String {
    "FERRY_CLIENT_SECRET".into()
}
fn default_max_upload_bytes() -> u64 {
    5 * 1024 * 1024
}
fn default_batch_rows() -> usize {
    32 * 1024
}
fn default_page_size() -> usize {
    1000
}
fn default_parallel_downloads() -> usize {
    4
}
fn default_parallel_objects() -> usize {
    2
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: default_source_kind(),
            path: None,
            url: None,
            api_key_env: default_api_key_env(),
        }
    }
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            url: None,
            authority: default_authority(),
            tenant: None,
            client_id: None,
            client_secret_env: default_client_secret_env(),
            max_upload_bytes: default_max_upload_bytes(),
            licence: Licence::default(),
            currency: None,
            contract_template: None,
            fallback_owner: None,
        }
    }
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            batch_rows: default_batch_rows(),
            parallel_objects: default_parallel_objects(),
            page_size: default_page_size(),
            parallel_downloads: default_parallel_downloads(),
        }
    }
}

impl Config {
    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String, what: &str| Err(Error::input(path, message, what));
        if !self
            .prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            || self.prefix.len() < 2
            || self.prefix.len() > 8
            || !self.prefix.starts_with(|c: char| c.is_ascii_lowercase())
        {
            return bad(
                format!("prefix `{}` is not a valid publisher prefix", self.prefix),
                "use 2-8 lowercase letters or digits, starting with a letter (Dataverse's rule), e.g. prefix = \"st\"",
            );
        }
        const MAX_UPLOAD_LIMIT: u64 = 128 * 1024 * 1024;
        for (name, target) in &self.targets {
            if !(1..=MAX_UPLOAD_LIMIT).contains(&target.max_upload_bytes) {
                return bad(
                    format!("targets.{name}.max_upload_bytes is {}", target.max_upload_bytes),
                    "Dataverse's maxuploadfilesize is at most 131072000 bytes (128 MB); set the org's value, default 5242880",
                );
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad(
                    format!("target name `{name}` is not a plain name"),
                    "name targets with letters, digits, - and _ ([targets.test], [targets.prod])",
                );
            }
        }
        if let Some(name) = &self.default_target {
            if !self.targets.contains_key(name) {
                return bad(
                    format!(
                        "default_target is `{name}`, but ferry.toml configures {}",
                        describe_targets(&self.targets)
                    ),
                    "set default_target to one of the [targets.<name>] tables, or add that table",
                );
            }
        }
        if !(1..=1000).contains(&self.push.batch_size) || self.push.application_users == 0 {
            return bad(
                format!(
                    "push.batch_size is {} and push.application_users is {}",
                    self.push.batch_size, self.push.application_users
                ),
                "bulk requests take 1 to 1000 records (100-1000 recommended) and at least one application user is needed",
            );
        }
        if !(1..=1000).contains(&self.extract.page_size) {
            return bad(
                format!("extract.page_size is {}", self.extract.page_size),
                "ServiceTracker pages hold 1 to 1000 records: set extract.page_size in that range",
            );
        }
        if self.extract.batch_rows == 0
            || self.extract.parallel_objects == 0
            || self.extract.parallel_downloads == 0
        {
            return bad(
                "extract.batch_rows, extract.parallel_objects and extract.parallel_downloads must be at least 1".into(),
                "remove them to use the defaults",
            );
        }
        Ok(())
    }
}

/// A workspace folder with its parsed settings.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// Opens the workspace at `root`, reading and validating `ferry.toml`.
    pub fn open(root: &Path) -> Result<Self> {
        let config_path = root.join(CONFIG_FILE);
        if !root.is_dir() {
            return Err(Error::input(
                root,
                "workspace folder does not exist",
                "create one with `ferry init DIR`, or pass --workspace DIR",
            ));
        }
        let text = match std::fs::read_to_string(&config_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::input(
                    &config_path,
                    "not a ferry workspace (no ferry.toml)",
                    "run `ferry init DIR` first, or pass --workspace DIR",
                ))
            }
            Err(e) => return Err(e).at(&config_path),
        };
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            Error::input(
                &config_path,
                format!("invalid settings: {}", e.to_string().trim_end()),
                "fix the line named above; `ferry init` writes a documented example",
            )
        })?;
        if let Some(legacy) = config.legacy_target.take() {
            if !config.targets.is_empty() {
                return Err(Error::input(
                    &config_path,
                    "ferry.toml has both a [target] table and [targets.<name>] tables",
                    format!(
                        "move [target] to [targets.{LEGACY_TARGET_NAME}] (or delete it): one workspace names its targets one way"
                    ),
                ));
            }
            config
                .targets
                .insert(LEGACY_TARGET_NAME.to_string(), legacy);
        }
        config.validate(&config_path)?;
        let default = config.default_target.clone().or_else(|| {
            (config.targets.len() == 1).then(|| config.targets.keys().next().cloned())?
        });
        if let Some(name) = default {
            config.target = config.targets[&name].clone();
            config.target_name = name;
        } else {
            config.target_name = LEGACY_TARGET_NAME.to_string();
        }
        let root = std::path::absolute(root).at(root)?;
        Ok(Workspace { root, config })
    }

    /// The workspace talking to the target `name` (`--target NAME`), or to
    /// the default one. Unknown names, and several targets with no
    /// `default_target` and no `--target`, are usage errors naming the
    /// configured targets.
    pub fn with_target(mut self, name: Option<&str>) -> Result<Self> {
        let targets = &self.config.targets;
        let chosen = match name {
            Some(name) => match targets.get(name) {
                Some(t) => (name.to_string(), t.clone()),
                None => {
                    return Err(Error::Usage(format!(
                        "--target {name}: ferry.toml configures {}; pass one of them, or add [targets.{name}] to {}",
                        describe_targets(targets),
                        self.config_path().display()
                    )))
                }
            },
            None if targets.len() > 1 && self.config.default_target.is_none() => {
                return Err(Error::Usage(format!(
                    "ferry.toml configures {} and no default_target; pass --target NAME",
                    describe_targets(targets)
                )))
            }
            None => return Ok(self),
        };
        (self.config.target_name, self.config.target) = chosen;
        Ok(self)
    }

    /// The namespace of deterministic record GUIDs; workspaces made before
    /// `namespace` existed in `ferry.toml` use [`crate::identity::DEFAULT_NAMESPACE`].
    pub fn namespace(&self) -> uuid::Uuid {
        self.config
            .namespace
            .unwrap_or(crate::identity::DEFAULT_NAMESPACE)
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }
    pub fn database_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }
    pub fn landing_dir(&self) -> PathBuf {
        self.root.join("landing")
    }
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
    pub fn sql_dir(&self) -> PathBuf {
        self.root.join("sql")
    }
    pub fn mapping_dir(&self) -> PathBuf {
        self.root.join("mapping")
    }

    /// The CSV export folder named by `source.path`, resolved against the
    /// workspace.
    pub fn csv_source_dir(&self) -> Result<PathBuf> {
        match &self.config.source.path {
            Some(p) if p.is_absolute() => Ok(p.clone()),
            Some(p) => Ok(self.root.join(p)),
            None => Err(Error::input(
                self.config_path(),
                "source.kind is \"csv\" but source.path is not set",
                "set source.path to the ServiceTracker export folder (the one holding manifest.json)",
            )),
        }
    }

    /// The ServiceTracker API root (`source.url`).
    pub fn api_source_url(&self) -> Result<String> {
        match &self.config.source.url {
            Some(url) if !url.trim().is_empty() => Ok(url.trim().to_string()),
            _ => Err(Error::input(
                self.config_path(),
                "source.kind is \"api\" but source.url is not set",
                "set source.url to the ServiceTracker server, e.g. url = \"https://acme.servicetracker.example\"",
            )),
        }
    }

    /// The API key, read from the environment variable `source.api_key_env`
    /// names. The key itself never appears in an error.
    pub fn api_key(&self) -> Result<String> {
        let name = &self.config.source.api_key_env;
        match crate::http::secret_from_env(name) {
            crate::http::EnvSecret::Value(key) => Ok(key),
            crate::http::EnvSecret::Blank => Err(Error::Usage(format!(
                "the environment variable {name} (source.api_key_env in ferry.toml) is empty; set it to the ServiceTracker API key"
            ))),
            crate::http::EnvSecret::Unset => Err(Error::Usage(format!(
                "the environment variable {name} (source.api_key_env in ferry.toml) is not set; \
                 export {name}=<ServiceTracker API key> and run again"
            ))),
        }
    }
}

/// `the targets test, prod` / `the target default` / `no target`.
fn describe_targets(targets: &BTreeMap<String, TargetConfig>) -> String {
    let names: Vec<&str> = targets.keys().map(String::as_str).collect();
    match names.len() {
        0 => "no target".to_string(),
        1 => format!("the target {}", names[0]),
        _ => format!("the targets {}", names.join(", ")),
    }
}

/// The documented `ferry.toml` that `ferry init` writes.
pub fn config_template(
    profile: Profile,
    source: &SourceSetting,
    target: Option<&str>,
    namespace: uuid::Uuid,
) -> String {
    let (kind, location) = match source {
        SourceSetting::Csv(path) => (
            "csv",
            format!("path = {}", toml_string(&path.to_string_lossy())),
        ),
        SourceSetting::Api(url) => ("api", format!("url = {}", toml_string(url))),
        SourceSetting::Unset => (
            "csv",
            "# path = \"/data/servicetracker-export\"".to_string(),
        ),
    };
    let target_url = match target {
        Some(url) => format!("url = {}", toml_string(url)),
        None => "# url = \"https://contoso.crm.dynamics.com\"".to_string(),
    };
    format!(
        r#"# ferry workspace settings.
# Secrets never live in this file: only the *names* of the environment
# variables that hold them.

# Target model: "sales" (work orders become Cases) or "field-service"
# (work orders become msdyn_workorder).
profile = "{profile}"

# Publisher prefix of the custom columns and tables ferry creates
# (st_record_id, st_equipment, ...). 2-8 lowercase letters or digits.
prefix = "st"

# Namespace of the deterministic record GUIDs (UUIDv5 of "<table>:<source id>").
# Generated for this workspace; never change it after a push, or re-runs
# would address different records.
namespace = "{namespace}"

# The Dataverse orgs this workspace migrates into, one [targets.<name>] table
# each (for example a test org for the sample and a production org for the
# full run); commands that talk to an org take --target NAME.
default_target = "{LEGACY_TARGET_NAME}"

[source]
# "csv": a ServiceTracker CSV export folder (the one holding manifest.json).
# "api": the ServiceTracker REST API.
kind = "{kind}"
{location}
# Environment variable holding the ServiceTracker API key (kind = "api").
api_key_env = "SERVICETRACKER_API_KEY"

[targets.{LEGACY_TARGET_NAME}]
# Dataverse organisation URL.
{target_url}
# Entra ID token authority and tenant for the client-credentials flow.
authority = "https://login.microsoftonline.com"
# tenant = "00000000-0000-0000-0000-000000000000"
# client_id = "00000000-0000-0000-0000-000000000000"
# Environment variable holding the client secret.
client_secret_env = "FERRY_CLIENT_SECRET"
# The org's maxuploadfilesize (bytes; limits an attachment's base64 size).
max_upload_bytes = 5242880
# Licence tier: "enterprise" or "professional" (at most 15 custom tables).
licence = "enterprise"
# Currency (ISO code) and contract template (name or abbreviation) contracts
# are created with; by default the org's base currency and first template.
# currency = "USD"
# contract_template = "Service"
# Owner of records whose technician has no enabled user in this org (e-mail
# of an enabled user); by default [push] fallback_owner or the application user.
# fallback_owner = "dispatch@contoso.com"

[extract]
# Rows per Arrow batch written to Parquet.
batch_rows = 32768
# How many objects are extracted at the same time.
parallel_objects = 2
# API source: records per page (1-1000) and attachment downloads in flight.
page_size = 1000
parallel_downloads = 4

[push]
# Records per bulk request (Microsoft recommends 100-1000).
batch_size = 500
# Application users the load is spread over (each has its own limits).
application_users = 1
# Requests in flight before the org recommends a number (x-ms-dop-hint).
concurrency = 4
# Owner of records whose technician has no enabled user in the target
# (e-mail of an enabled user); by default the application user.
# fallback_owner = "dispatch@contoso.com"
"#
    )
}

/// Where `ferry init --source` points the workspace.
#[derive(Debug, Clone)]
pub enum SourceSetting {
    Csv(PathBuf),
    Api(String),
    Unset,
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_the_documented_defaults() {
        let namespace = uuid::Uuid::new_v4();
        let text = config_template(Profile::Sales, &SourceSetting::Unset, None, namespace);
        let config: Config = toml::from_str(&text).unwrap();
        assert_eq!(config.prefix, "st");
        assert_eq!(config.source.kind, SourceKind::Csv);
        assert_eq!(config.source.api_key_env, "SERVICETRACKER_API_KEY");
        assert_eq!(config.target.authority, "https://login.microsoftonline.com");
        assert_eq!(config.extract.batch_rows, 32768);
        assert_eq!(config.namespace, Some(namespace));
        assert_eq!(config.target.max_upload_bytes, 5 * 1024 * 1024);
    }

    #[test]
    fn template_quotes_paths_safely() {
        let text = config_template(
            Profile::FieldService,
            &SourceSetting::Csv(PathBuf::from("C:\\exports\\\"q\"")),
            Some("http://127.0.0.1:9000"),
            uuid::Uuid::new_v4(),
        );
        let config: Config = toml::from_str(&text).unwrap();
        assert_eq!(config.profile, Profile::FieldService);
        assert_eq!(
            config.source.path.unwrap(),
            PathBuf::from("C:\\exports\\\"q\"")
        );
        assert_eq!(config.default_target.as_deref(), Some(LEGACY_TARGET_NAME));
        assert_eq!(
            config.targets[LEGACY_TARGET_NAME].url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    fn workspace_with(config: &str) -> (tempfile::TempDir, Result<Workspace>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
        let ws = Workspace::open(dir.path());
        (dir, ws)
    }

    #[test]
    fn a_single_target_table_of_an_earlier_ferry_is_the_target_named_default() {
        let (_dir, ws) = workspace_with("[target]\nurl = \"https://old.crm.dynamics.com\"\n");
        let ws = ws.unwrap().with_target(None).unwrap();
        assert_eq!(ws.config.target_name, "default");
        assert_eq!(
            ws.config.target.url.as_deref(),
            Some("https://old.crm.dynamics.com")
        );
        let ws = ws.with_target(Some("default")).unwrap();
        assert_eq!(ws.config.target_name, "default");
    }

    #[test]
    fn targets_are_chosen_by_name_and_unknown_names_list_the_configured_ones() {
        let two = "[targets.test]\nurl = \"https://test.crm.dynamics.com\"\n\
                   [targets.prod]\nurl = \"https://prod.crm.dynamics.com\"\nfallback_owner = \"ops@contoso.com\"\n";
        let (_dir, ws) = workspace_with(two);
        let ws = ws.unwrap();
        let err = ws.clone().with_target(None).unwrap_err().to_string();
        assert!(
            err.contains("the targets prod, test and no default_target"),
            "{err}"
        );
        assert!(err.contains("--target NAME"), "{err}");
        let err = ws.clone().with_target(Some("staging")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("configures the targets prod, test"),
            "{err}"
        );
        let prod = ws.with_target(Some("prod")).unwrap();
        assert_eq!(
            prod.config.target.url.as_deref(),
            Some("https://prod.crm.dynamics.com")
        );
        assert_eq!(
            prod.config.target.fallback_owner.as_deref(),
            Some("ops@contoso.com")
        );

        let (_dir, ws) = workspace_with(&format!("default_target = \"test\"\n{two}"));
        let ws = ws.unwrap().with_target(None).unwrap();
        assert_eq!(ws.config.target_name, "test");
    }

    #[test]
    fn both_target_forms_or_a_default_that_names_nothing_are_refused() {
        let (_dir, ws) =
            workspace_with("[target]\nurl = \"https://a\"\n[targets.prod]\nurl = \"https://b\"\n");
        assert!(ws
            .unwrap_err()
            .to_string()
            .contains("both a [target] table and [targets.<name>]"));
        let (_dir, ws) =
            workspace_with("default_target = \"prod\"\n[targets.test]\nurl = \"https://a\"\n");
        assert!(ws
            .unwrap_err()
            .to_string()
            .contains("default_target is `prod`, but ferry.toml configures the target test"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("prefx = \"st\"").unwrap_err();
        assert!(err.to_string().contains("prefx"));
    }
}
