//! Command-line definitions (clap) and nothing else: `lib.rs` turns them into
//! a validated [`crate::workspace::Workspace`] and calls the commands, which
//! never see clap types.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Migrate a ServiceTracker CRM into Dynamics 365 Sales (Dataverse), verified field by field",
    after_help = "Exit codes: 0 ok, 1 the command ran and found problems, 2 usage or configuration error, 3 the remote side failed."
)]
pub struct Cli {
    /// The workspace folder (holding ferry.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub workspace: PathBuf,

    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new workspace with a documented ferry.toml.
    Init {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = ProfileArg::Sales)]
        profile: ProfileArg,
        /// `csv:EXPORT_DIR` or `api:URL`.
        #[arg(long)]
        source: Option<String>,
        /// Dataverse organisation URL.
        #[arg(long)]
        target: Option<String>,
    },
    /// Write a synthetic ServiceTracker CSV export (deterministic for a seed).
    Generate {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// No injected dirt.
        #[arg(long)]
        clean: bool,
    },
    /// Land the source in Parquet (landing/<extract_id>/) with a manifest and quarantine.
    Extract {
        /// Land the data even while work orders wait for offline sync.
        #[arg(long)]
        allow_pending: bool,
    },
    /// Load landed extracts into raw.* in ferry.duckdb and build the inventory.
    Stage,
    /// Query the staging database; reads statements from stdin without QUERY.
    Sql {
        query: Option<String>,
        #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
        format: SqlFormat,
    },
    /// Generate a dataset and run every stage that exists on it, end to end.
    Demo {
        /// Folder for the demo (a previous demo's folder is replaced).
        #[arg(default_value = "ferry-demo")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Render reports to reports/.
    Report {
        #[arg(default_value = "all")]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Sales,
    FieldService,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
}
