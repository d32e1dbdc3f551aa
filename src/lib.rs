//! ferry moves a ServiceTracker CRM into Dynamics 365 Sales (Dataverse):
//! extract → land in Parquet → stage in DuckDB → transform → validate →
//! push → verify → reconcile (SPEC §1).
//!
//! The library holds everything; `main.rs` only parses arguments and maps the
//! [`Outcome`] or [`Error`] to an exit code.

pub mod atomic_write;
pub mod cli;
pub mod commands;
pub mod dataverse;
pub mod duck;
pub mod error;
pub mod http;
pub mod identity;
pub mod landing;
pub mod mapping;
pub mod plan;
pub mod progress;
pub mod push;
pub mod reconcile;
pub mod report;
pub mod runtime;
pub mod source;
pub mod sql_catalog;
pub mod stage;
pub mod templates;
pub mod transform;
pub mod validate;
pub mod verify;
pub mod workspace;

pub use error::{Error, Result};

/// How a command that ran to the end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: the command ran and found problems (pending records,
    /// validation errors, mismatches, failed records).
    Problems,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Problems => 1,
        }
    }
}

/// Runs one command line.
pub fn run(cli: cli::Cli) -> Result<Outcome> {
    commands::dispatch(cli)
}

/// Logs go to stderr, filtered by `FERRY_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
