//! `ferry serve servicetracker --data EXPORT_DIR …` and `ferry serve
//! dataverse …`: run one of the emulators (the member crates
//! `servicetracker-emulator` and `dataverse-emulator`) in the foreground, so
//! every path that reaches a remote API can run offline on loopback.
//!
//! The first line on stdout is `listening on http://HOST:PORT` (flushed at
//! once, so `--addr 127.0.0.1:0` can be used by scripts); loading notes and
//! the final statistics go to stderr. SIGINT or SIGTERM stops it cleanly.
//! The API key is never printed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::Outcome;
use servicetracker_emulator::{Emulator, EmulatorConfig, MalformedPage, API_KEY_ENV};

/// The `serve servicetracker` flags, as parsed.
#[derive(Debug, Clone)]
pub struct ServiceTrackerArgs {
    pub data: PathBuf,
    pub addr: SocketAddr,
    pub api_key: Option<String>,
    pub rate_limit: Option<u32>,
    pub throttle_fraction: f64,
    pub retry_after: u64,
    pub daily_budget: u64,
    pub malformed_pages: Vec<MalformedPage>,
    pub seed: u64,
}

pub fn run_servicetracker(args: ServiceTrackerArgs) -> Result<Outcome> {
    let Some(api_key) = args.api_key.filter(|k| !k.is_empty()) else {
        return Err(Error::Usage(format!(
            "no API key: pass --api-key KEY or set {API_KEY_ENV}"
        )));
    };
    let config = EmulatorConfig {
        data: args.data.clone(),
        api_key,
        rate_limit: args.rate_limit,
        throttle_fraction: args.throttle_fraction,
        retry_after_secs: args.retry_after,
        daily_budget: args.daily_budget,
        malformed_pages: args.malformed_pages,
        seed: args.seed,
    };
    eprintln!("loading {} …", args.data.display());
    let clock = std::time::Instant::now();
    let emulator = Emulator::load(config)?;
    let summary = emulator.summary();
    eprintln!(
        "serving {} records of {} objects ({} rows quarantined by the CSV reader are not served, {} deletions) — loaded in {:.1} s",
        summary.records.values().sum::<u64>(),
        summary.records.len(),
        summary.quarantined,
        summary.deleted,
        clock.elapsed().as_secs_f64()
    );

    let runtime = crate::runtime::get()?;
    let stats = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}");
        let _ = stdout.flush();
        drop(stdout);
        Ok::<_, Error>(emulator.serve(listener, shutdown_signal()).await?)
    })?;
    eprintln!(
        "stopped: {} requests, {} records served, {} throttled ({} early retries), {} unauthorised",
        stats.requests,
        stats.served_records,
        stats.throttled,
        stats.early_retries,
        stats.unauthorized
    );
    Ok(Outcome::Ok)
}

/// The `serve dataverse` flags, as parsed.
#[derive(Debug, Clone)]
pub struct DataverseArgs {
    pub addr: SocketAddr,
    pub state: Option<PathBuf>,
    pub limits: dataverse_emulator::limits::LimitsConfig,
    pub faults: dataverse_emulator::faults::FaultConfig,
    pub metadata: Option<PathBuf>,
    pub prefix: String,
    pub client_secret: Option<String>,
    pub max_upload_bytes: u64,
    pub users_from: Option<PathBuf>,
}

/// `ferry serve dataverse`: the Dataverse Web API emulator in the
/// foreground; `listening on http://HOST:PORT` first on stdout, the state
/// file (if any) written when SIGINT or SIGTERM stops it.
pub fn run_dataverse(args: DataverseArgs) -> Result<Outcome> {
    use dataverse_emulator::{DataverseConfig, DataverseEmulator};
    let mut config = DataverseConfig::new(&args.prefix);
    if let Some(path) = &args.metadata {
        config = config.with_metadata_file(path)?;
    }
    config.limits = args.limits;
    config.faults = args.faults;
    config.state_file = args.state;
    config.client_secret = args.client_secret.filter(|s| !s.is_empty());
    config.org.max_upload_bytes = args.max_upload_bytes;
    if let Some(path) = &args.users_from {
        config = config.with_technician_users(path)?;
    }
    let emulator = DataverseEmulator::new(config);
    let runtime = crate::runtime::get()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}");
        let _ = stdout.flush();
        drop(stdout);
        eprintln!(
            "Web API at http://{local}/api/data/v9.2/, token endpoint http://{local}/<tenant>/oauth2/v2.0/token"
        );
        emulator
            .serve(listener, shutdown_signal())
            .await
            .map_err(Error::from)
    })?;
    eprintln!("stopped");
    Ok(Outcome::Ok)
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
