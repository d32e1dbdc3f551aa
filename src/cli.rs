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
    /// Write a synthetic ServiceTracker CSV export (deterministic for a seed),
    /// or with --mutate change and delete records of an existing one.
    Generate {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// No injected dirt.
        #[arg(long)]
        clean: bool,
        /// Change and delete records of the existing export in DIR (for
        /// delta extracts); ground truth goes to DIR/mutations.json.
        #[arg(long, conflicts_with_all = ["customers", "clean"])]
        mutate: bool,
        /// With --mutate: how many records to change.
        #[arg(long, requires = "mutate", default_value_t = 0, value_name = "N")]
        change: u64,
        /// With --mutate: how many records to delete.
        #[arg(long, requires = "mutate", default_value_t = 0, value_name = "M")]
        delete: u64,
    },
    /// Land the source in Parquet (landing/<extract_id>/) with a manifest and quarantine.
    Extract {
        /// Land the data even while work orders wait for offline sync.
        #[arg(long)]
        allow_pending: bool,
        /// Delta: land only records modified at or after this instant that no
        /// earlier extract landed identically, and the deletions since then.
        /// `last` = the newest complete extract's watermark; otherwise an RFC
        /// 3339 timestamp (2026-10-01T12:00:00Z).
        #[arg(long, value_name = "last|TIMESTAMP")]
        since: Option<String>,
    },
    /// Load landed extracts into raw.* in ferry.duckdb and build the inventory.
    Stage,
    /// Run the versioned SQL transforms (sql/transforms): raw.* → map.*, stg.*.
    Transform {
        #[command(subcommand)]
        action: Option<TransformAction>,
    },
    /// Run the checks (sql/checks) into check.findings; exit 1 while
    /// unwaived errors remain.
    Validate,
    /// The schema the staged rows need against the target's metadata, and
    /// the load estimate (reports/plan.html); exit 1 while anything is missing.
    Plan {
        /// Create the missing custom tables, columns and option values.
        #[arg(long)]
        apply: bool,
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// Load stg.* into Dataverse: deterministic ids, parents first, bulk
    /// writes, audited, resumable (run it again after any interruption).
    Push {
        /// Build every payload and print the request plan and estimate;
        /// write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Load about N records: a referentially closed sample.
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
        /// Only these tables (comma-separated logical names).
        #[arg(long, value_delimiter = ',', value_name = "T,...")]
        only: Vec<String>,
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// Read back every pushed record into dv.* and diff it field by field
    /// against stg.* (reports/diff.html); exit 1 on any difference.
    Verify {
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// Counts per object through every stage, conservation checks, picklist
    /// distributions and a spot-check (reports/reconcile.html); exit 1 on a
    /// break.
    Reconcile {
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// The whole pipeline for a configured workspace, in order: extract,
    /// stage, transform, validate, plan, push, verify, reconcile, report.
    Run {
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// Undo a push run: delete what it created, restore what it updated.
    Rollback {
        /// Undo only this push run (default: every run not yet rolled back, newest first).
        #[arg(long)]
        run: Option<i32>,
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// The map: propose it, sign it off, or see what changed since sign-off.
    Map {
        #[command(subcommand)]
        action: MapAction,
    },
    /// Query the staging database; reads statements from stdin without QUERY.
    Sql {
        query: Option<String>,
        #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
        format: SqlFormat,
    },
    /// Generate a dataset, start both emulators in-process and run the whole
    /// pipeline on it, end to end; prints where the reports are.
    Demo {
        /// Folder for the demo (a previous demo's folder is replaced).
        #[arg(default_value = "ferry-demo")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Run an emulator of a remote system on loopback.
    Serve {
        #[command(subcommand)]
        target: ServeTarget,
    },
    /// Render reports to reports/.
    Report {
        #[arg(default_value = "all")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MapAction {
    /// Propose a target column for every source field and an option value
    /// for every picklist value (reports/mapping-proposal.html); appends
    /// proposals to mapping/optionsets.csv and writes custom-field transforms.
    Propose {
        /// The [targets.<name>] org to talk to (default: default_target).
        #[arg(long = "target", value_name = "NAME")]
        target: Option<String>,
    },
    /// Record the checksums of every transform and mapping file as signed
    /// off; `ferry push` refuses while any of them changes afterwards.
    Confirm {
        /// Who signs off (default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// List the files changed since the sign-off; exit 1 while any has.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum TransformAction {
    /// Each transform file as applied / pending / modified since the last run.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ServeTarget {
    /// ServiceTracker's REST API over a CSV export folder (SPEC §8.3).
    Servicetracker {
        /// The CSV export folder to serve.
        #[arg(long, value_name = "EXPORT_DIR")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The API key clients must send as `Authorization: Bearer KEY`.
        #[arg(long, env = "SERVICETRACKER_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Token bucket: at most N requests per second (bursts of N).
        #[arg(long, value_name = "N")]
        rate_limit: Option<u32>,
        /// Answer this share (0–1) of good requests with 429 (deterministic for --seed).
        #[arg(long, default_value_t = 0.0, value_name = "F")]
        throttle_fraction: f64,
        /// Retry-After seconds of --throttle-fraction refusals.
        #[arg(long, default_value_t = 1, value_name = "SECS")]
        retry_after: u64,
        /// Requests allowed per UTC day.
        #[arg(long, default_value_t = 1_000_000, value_name = "N")]
        daily_budget: u64,
        /// Answer the Nth page request of OBJECT with truncated JSON (repeatable).
        #[arg(long, value_name = "OBJECT:N")]
        malformed_page: Vec<servicetracker_emulator::MalformedPage>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The Dataverse Web API v9.2 (SPEC §7): token endpoint, metadata,
    /// records, bulk messages, $batch, validation, limits and faults.
    Dataverse {
        #[arg(long, default_value = "127.0.0.1:8081")]
        addr: std::net::SocketAddr,
        /// Keep the org in this file: loaded at start, written at stop.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Service protection: realistic | off | requests=N,time=SECS,concurrent=C,window=SECS[,dop=D]
        #[arg(long, default_value = "realistic", value_name = "L")]
        limits: dataverse_emulator::limits::LimitsConfig,
        /// Injected faults: none | 503=R,drop=R,slow=R[:250ms],after-write=R,seed=N
        #[arg(long, default_value = "none", value_name = "F")]
        faults: dataverse_emulator::faults::FaultConfig,
        /// Table metadata pulled from a real org (Web API JSON) instead of the built-in tables.
        #[arg(long, value_name = "FILE")]
        metadata: Option<PathBuf>,
        /// Publisher prefix of ferry's custom columns and tables.
        #[arg(long, default_value = "st")]
        prefix: String,
        /// The client secret the token endpoint accepts (default: any).
        #[arg(long, env = "FERRY_EMULATOR_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// Seed a user for every technician of this technicians.csv (a
        /// rehearsal org needs the people a real one has).
        #[arg(long, value_name = "CSV")]
        users_from: Option<PathBuf>,
        /// The org's maxuploadfilesize in bytes (limits an attachment's base64 size).
        #[arg(long, default_value_t = 5 * 1024 * 1024, value_name = "BYTES")]
        max_upload_bytes: u64,
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
