//! An emulator of the Dataverse Web API v9.2 (ferry's SPEC §7, served by
//! `ferry serve dataverse`) for everything a migration does — auth, metadata, records,
//! bulk messages, `$batch`, validation with Dataverse's error codes, service
//! protection limits and injected faults — so the loader is built and tested
//! against the real API's behaviour, offline.
//!
//! It runs in-process ([`DataverseEmulator::spawn`] on an ephemeral port,
//! for tests and `ferry demo`) or behind a CLI command
//! ([`DataverseEmulator::serve`]). It knows nothing of ferry's code: what the
//! two share is data (the table contract, see [`schema`]). `DESIGN.md` at
//! the crate's root says which module owns what.

pub mod api;
pub mod auth;
pub mod batch;
pub mod emulator_error;
pub mod error;
pub mod faults;
pub mod limits;
pub mod metadata;
pub mod odata;
pub mod schema;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use emulator_error::{Error, Result};
use faults::{FaultConfig, Faults};
use limits::{LimitsConfig, ServiceProtection};
use schema::Schema;
use store::{OrgSettings, Store};
use uuid::Uuid;

/// How the emulator behaves.
#[derive(Clone)]
pub struct DataverseConfig {
    /// The tables it knows: the shared table contract, optionally
    /// overridden by metadata pulled from a real org (`--metadata`).
    pub schema: Schema,
    pub org: OrgSettings,
    pub limits: LimitsConfig,
    pub faults: FaultConfig,
    /// Loaded at start when it exists, written at stop.
    pub state_file: Option<PathBuf>,
    /// The client secret the token endpoint accepts; `None` accepts any.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for DataverseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataverseConfig")
            .field("limits", &self.limits)
            .field("faults", &self.faults)
            .field("state_file", &self.state_file)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl DataverseConfig {
    /// The shared table contract with publisher prefix `prefix`, realistic limits,
    /// no faults, no state file.
    pub fn new(prefix: &str) -> Self {
        DataverseConfig {
            schema: Schema::builtin(prefix),
            org: OrgSettings::default(),
            limits: LimitsConfig::realistic(),
            faults: FaultConfig::default(),
            state_file: None,
            client_secret: None,
        }
    }

    /// Replaces the built-in tables with those of a metadata file pulled
    /// from a real org (the Web API's JSON).
    pub fn with_metadata_file(mut self, path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!("not JSON: {e}"),
                "pass metadata as the Web API returns it (EntityDefinitions?$expand=Attributes, or RetrieveMetadataChanges)",
            )
        })?;
        let tables = metadata::tables_from_org_metadata(&json).map_err(|e| {
            Error::input(
                path,
                e,
                "pass metadata as the Web API returns it (EntityDefinitions?$expand=Attributes, or RetrieveMetadataChanges)",
            )
        })?;
        self.schema.replace_tables(tables);
        Ok(self)
    }
}

impl DataverseConfig {
    /// Seeds a user for every technician of a ServiceTracker export
    /// (`technicians.csv`) with an e-mail at the company's domain (the
    /// domain most technicians share): enabled when the technician is
    /// active, disabled when not. A real org has its people before a
    /// migration starts (SPEC §9 systemuser: users are matched, never
    /// created), so a rehearsal org needs them too. Technicians without an
    /// e-mail, or with a personal one (a gmail address), stay without a
    /// user, as in a real tenant, whose users sign in with company accounts.
    pub fn with_technician_users(mut self, technicians_csv: &std::path::Path) -> Result<Self> {
        let mut reader = csv::Reader::from_path(technicians_csv).map_err(|e| {
            Error::input(
                technicians_csv,
                format!("cannot read: {e}"),
                "pass the technicians.csv of a ServiceTracker export",
            )
        })?;
        let headers = reader
            .headers()
            .map_err(|e| Error::input(technicians_csv, e.to_string(), "pass a CSV file"))?
            .clone();
        let column = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                Error::input(
                    technicians_csv,
                    format!("no `{name}` column"),
                    "pass the technicians.csv of a ServiceTracker export",
                )
            })
        };
        let (first, last, email, active) = (
            column("first_name")?,
            column("last_name")?,
            column("email")?,
            column("active")?,
        );
        let mut records = Vec::new();
        for (line, record) in reader.records().enumerate() {
            records.push(record.map_err(|e| {
                Error::input(
                    technicians_csv,
                    format!("line {}: {e}", line + 2),
                    "fix the CSV",
                )
            })?);
        }
        let mail_of =
            |record: &csv::StringRecord| record.get(email).unwrap_or("").trim().to_lowercase();
        let mut domains: std::collections::BTreeMap<String, usize> = Default::default();
        for record in &records {
            if let Some((_, domain)) = mail_of(record).split_once('@') {
                *domains.entry(domain.to_string()).or_default() += 1;
            }
        }
        let company_domain = domains
            .iter()
            .max_by_key(|(domain, n)| (**n, std::cmp::Reverse((*domain).clone())))
            .map(|(domain, _)| domain.clone());
        for record in &records {
            let mail = mail_of(record);
            let at_company = mail
                .split_once('@')
                .is_some_and(|(_, d)| Some(d) == company_domain.as_deref());
            if !at_company || self.org.users.iter().any(|u| u.email == mail) {
                continue;
            }
            self.org.users.push(store::SeedUser {
                id: Uuid::new_v5(
                    &Uuid::NAMESPACE_OID,
                    format!("systemuser:{mail}").as_bytes(),
                ),
                name: format!(
                    "{} {}",
                    record.get(first).unwrap_or("").trim(),
                    record.get(last).unwrap_or("").trim()
                ),
                email: mail,
                disabled: record.get(active).map(str::trim) == Some("false"),
            });
        }
        Ok(self)
    }
}

/// An emulator ready to serve.
pub struct DataverseEmulator {
    config: DataverseConfig,
}

impl DataverseEmulator {
    pub fn new(config: DataverseConfig) -> Self {
        DataverseEmulator { config }
    }

    fn initial_store(&self) -> Result<Store> {
        match &self.config.state_file {
            Some(path) if path.exists() => {
                Store::load(path, self.config.schema.clone(), self.config.org.clone()).map_err(
                    |e| {
                        Error::input(
                            path,
                            format!("cannot load the emulator state: {e}"),
                            "delete the file to start from an empty org, or pass another --state",
                        )
                    },
                )
            }
            _ => Ok(Store::new(
                self.config.schema.clone(),
                self.config.org.clone(),
            )),
        }
    }

    fn new_state(&self) -> Result<Arc<api::AppState>> {
        let store = self.initial_store()?;
        let application_user = store.org().application_user();
        let schema = self.config.schema.clone();
        let org = self.config.org.clone();
        Ok(Arc::new(api::AppState {
            store: Mutex::new(store),
            authority: auth::Authority::new(self.config.client_secret.clone(), application_user),
            limits: ServiceProtection::new(self.config.limits.clone()),
            faults: Faults::new(self.config.faults.clone()),
            ops: Mutex::new(api::OpsLog::default()),
            started: Instant::now(),
            fresh: Box::new(move || Store::new(schema.clone(), org.clone())),
        }))
    }

    fn router(state: Arc<api::AppState>) -> axum::Router {
        axum::Router::new()
            .fallback(api::handle)
            .with_state(state)
            // Bulk requests of 1,000 records with attachments run large;
            // Dataverse itself accepts requests far beyond axum's 2 MB default.
            .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
    }

    /// Serves on `listener` until `shutdown` completes, then saves the state
    /// file (if any).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let state = self.new_state()?;
        axum::serve(listener, Self::router(state.clone()))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::Serve(format!("the Dataverse emulator stopped: {e}")))?;
        self.save(&state)
    }

    fn save(&self, state: &api::AppState) -> Result<()> {
        if let Some(path) = &self.config.state_file {
            let store = state.store.lock().expect("store");
            store.save(path).map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
        }
        Ok(())
    }

    /// Starts serving on `addr` (port 0: any free port) on a thread of its
    /// own with its own tokio runtime.
    pub fn spawn(self, addr: SocketAddr) -> Result<RunningDataverse> {
        let cannot = |e: std::io::Error| Error::Usage(format!("cannot listen on {addr}: {e}"));
        let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
        listener.set_nonblocking(true).map_err(cannot)?;
        let local = listener.local_addr().map_err(cannot)?;
        let state = self.new_state()?;
        let router = Self::router(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dataverse-emulator".into())
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
        Ok(RunningDataverse {
            addr: local,
            state,
            emulator: self,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A Dataverse emulator serving on its own thread; stopped by
/// [`RunningDataverse::stop`] or when dropped.
pub struct RunningDataverse {
    pub addr: SocketAddr,
    state: Arc<api::AppState>,
    emulator: DataverseEmulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningDataverse {
    /// The org URL, `http://HOST:PORT` (the Web API is under `/api/data/v9.2/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request answered so far (newest last).
    pub fn operations(&self) -> Vec<api::Operation> {
        self.state.ops.lock().expect("ops log").entries()
    }

    pub fn limit_stats(&self) -> limits::LimitStats {
        self.state.limits.stats()
    }

    /// Runs `f` on the store (for tests and the demo's seeding).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.state.store.lock().expect("store"))
    }

    /// Stops serving, finishes the requests in flight, saves the state file.
    pub fn stop(mut self) -> Result<()> {
        self.shut_down();
        self.emulator.save(&self.state)
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("the Dataverse emulator stopped with: {e}"),
                Err(_) => tracing::warn!("the Dataverse emulator thread panicked"),
            }
        }
    }
}

impl Drop for RunningDataverse {
    fn drop(&mut self) {
        self.shut_down();
    }
}
