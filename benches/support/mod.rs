//! What every ferry benchmark needs: run the ferry binary as a child and
//! read its peak RSS, scratch folders, sizes in MiB, and the independent
//! anchor every comparison ends with: the stock DuckDB of the version ferry
//! links, running the same SQL on a copy of the same database file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub struct Measured {
    pub seconds: f64,
    pub peak_rss_bytes: u64,
    pub stdout: String,
}

/// The ferry binary to measure: `FERRY_BENCH_BIN` (another build, for an
/// A/B comparison), or the one this bench was built with.
pub fn ferry_bin() -> PathBuf {
    std::env::var_os("FERRY_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ferry")))
}

/// Runs the ferry binary and reads the child's peak RSS from `wait4`.
// The child is reaped by `wait4` (not `Child::wait`) to get its rusage.
#[allow(clippy::zombie_processes)]
pub fn run_ferry(args: &[&str]) -> Measured {
    let start = Instant::now();
    let child = Command::new(ferry_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn ferry");
    let pid = child.id() as libc::pid_t;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout {
        use std::io::Read;
        out.read_to_string(&mut stdout).expect("read stdout");
    }
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; status and usage are valid out-pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let code = libc::WEXITSTATUS(status);
    assert!(code == 0 || code == 1, "ferry {args:?} exited {code}");
    Measured {
        seconds: start.elapsed().as_secs_f64(),
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        stdout,
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `FERRY_BENCH_CUSTOMERS`, or `default`.
pub fn customers(default: u64) -> u64 {
    std::env::var("FERRY_BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A scratch folder under `FERRY_BENCH_DIR` (default: the temp folder).
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ferry-bench-")
        .tempdir_in(
            std::env::var("FERRY_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| std::env::temp_dir()),
        )
        .expect("scratch dir")
}

/// The DuckDB linked into ferry: `(library_version, source_id, threads)`.
pub fn linked_duckdb() -> (String, String, i64) {
    let conn = ferry::duck::open_in_memory().expect("open DuckDB");
    conn.query_row(
        "SELECT library_version, source_id, current_setting('threads')::BIGINT FROM pragma_version()",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .expect("DuckDB's version")
}

/// One statement's time in the stock DuckDB.
pub struct StockTiming {
    pub name: String,
    pub seconds: f64,
    /// The first value the statement returned, when it was an integer
    /// (a `count(*)`, an INSERT's row count).
    pub rows: Option<i64>,
}

pub struct StockRun {
    pub seconds: f64,
    pub timings: Vec<StockTiming>,
}

impl StockRun {
    pub fn seconds_of(&self, name: &str) -> f64 {
        self.timings
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.seconds)
            .unwrap_or_else(|| panic!("the stock run has no statement {name}"))
    }
}

/// The independent anchor: DuckDB as DuckDB's own project builds it (the
/// `duckdb` package from PyPI, the very version ferry links), driven by
/// `benches/stock_duckdb.py`. An in-process baseline shares ferry's DuckDB
/// build, so a slow build slows both sides and the ratio hides it; this
/// one does not.
pub struct StockDuckdb {
    python: PathBuf,
    version: String,
    source_id: String,
    threads: i64,
}

impl StockDuckdb {
    /// `FERRY_BENCH_STOCK_PYTHON` (a Python with that `duckdb` package), or
    /// a virtual environment under the target directory, made and filled
    /// from PyPI the first time (`python3 -m venv`, `pip install
    /// duckdb==<version>`).
    pub fn install() -> StockDuckdb {
        let (version, source_id, threads) = linked_duckdb();
        let pip_version = version.trim_start_matches('v').to_string();
        let python = match std::env::var_os("FERRY_BENCH_STOCK_PYTHON") {
            Some(python) => PathBuf::from(python),
            None => {
                let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                    .join(format!("stock-duckdb-{pip_version}"));
                let python = venv.join("bin").join("python");
                if !has_duckdb(&python, &pip_version) {
                    eprintln!(
                        "installing the stock DuckDB {pip_version} from PyPI into {} …",
                        venv.display()
                    );
                    run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                    run_checked(Command::new(&python).args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        &format!("duckdb=={pip_version}"),
                    ]));
                }
                python
            }
        };
        assert!(
            has_duckdb(&python, &pip_version),
            "{} has no duckdb {pip_version}: `pip install duckdb=={pip_version}` there, or unset FERRY_BENCH_STOCK_PYTHON",
            python.display()
        );
        StockDuckdb {
            python,
            version,
            source_id,
            threads,
        }
    }

    /// Runs `statements` (name, SQL) in order, in one transaction when
    /// asked (as `ferry transform` and `ferry validate` run theirs), with
    /// ferry's thread count and the settings of ferry's matching `open`:
    /// on a database file with [`ferry::duck::MEMORY_LIMIT`]
    /// (`ferry::duck::open`), or in memory with DuckDB's default limit
    /// (`ferry::duck::open_in_memory`) when `database` is `None`.
    pub fn run(
        &self,
        database: Option<&Path>,
        transaction: bool,
        statements: &[(String, String)],
    ) -> StockRun {
        let mut settings = serde_json::json!({"threads": self.threads});
        if database.is_some() {
            settings["memory_limit"] = ferry::duck::MEMORY_LIMIT.into();
        }
        let database = database.map_or(":memory:".to_string(), |p| p.display().to_string());
        let job = serde_json::json!({
            "database": database,
            "expect": {"library_version": self.version, "source_id": self.source_id},
            "settings": settings,
            "transaction": transaction,
            "statements": statements
                .iter()
                .map(|(name, sql)| serde_json::json!({"name": name, "sql": sql}))
                .collect::<Vec<_>>(),
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/stock_duckdb.py");
        let mut child = Command::new(&self.python)
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the stock DuckDB");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(job.to_string().as_bytes())
                .expect("send the job");
        }
        let out = child.wait_with_output().expect("stock DuckDB");
        assert!(
            out.status.success(),
            "the stock DuckDB run failed ({}); see above",
            out.status
        );
        let result: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the stock run's JSON");
        eprintln!(
            "  stock DuckDB ran with memory_limit = {}, threads = {}",
            result["settings"]["memory_limit"], result["settings"]["threads"]
        );
        StockRun {
            seconds: result["seconds"].as_f64().expect("seconds"),
            timings: result["timings"]
                .as_array()
                .expect("timings")
                .iter()
                .map(|t| StockTiming {
                    name: t["name"].as_str().unwrap_or_default().to_string(),
                    seconds: t["seconds"].as_f64().unwrap_or_default(),
                    rows: t["rows"].as_i64(),
                })
                .collect(),
        }
    }

    /// "stock DuckDB v2.0.0 (d54cbbe3df, the PyPI package), 2 threads"
    pub fn describe(&self) -> String {
        format!(
            "stock DuckDB {} ({}, the PyPI package), {} threads",
            self.version, self.source_id, self.threads
        )
    }
}

fn has_duckdb(python: &Path, version: &str) -> bool {
    Command::new(python)
        .args(["-c", "import duckdb, sys; print(duckdb.__version__)"])
        .output()
        .is_ok_and(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == version
        })
}

fn run_checked(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?} failed ({status})");
}

/// Copies a database file so each side of a comparison starts from the
/// same bytes. The source must be closed (its write-ahead log folded in).
pub fn copy_database(from: &Path, to: &Path) {
    let wal = PathBuf::from(format!("{}.wal", from.display()));
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "{} has a write-ahead log: close every connection (or CHECKPOINT) before copying",
        from.display()
    );
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} → {}: {e}", from.display(), to.display()));
}
