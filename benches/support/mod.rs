//! What every ferry benchmark needs: run the ferry binary as a child and
//! read its peak RSS, scratch folders, sizes in MiB.

#![allow(dead_code)]

use std::path::PathBuf;
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
