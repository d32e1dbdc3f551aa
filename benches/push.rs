//! `ferry push` against the in-tree Dataverse emulator with service
//! protection limits scaled to seconds, side by side with the same push
//! against the same emulator with the limits off (the baseline).
//!
//! What it checks (the loader's requirement):
//! - achieved records/s ÷ the ceiling the limits allow ≥ 0.85, where the
//!   ceiling = records per request × requests the limits admit per second
//!   (`requests ÷ window`);
//! - 429 answers ≤ 2% of the HTTP requests sent;
//! - requests per record ≤ 0.01 on bulk-capable tables (the `records` steps
//!   of every table; N:N links, deferred lookups and states are not bulk).
//!
//! It prints the figures and whether each bar is met; it does not fail.
//!
//! The request limit is derived from the baseline so that it, not the
//! emulator's speed, is the bottleneck: `FERRY_BENCH_PUSH_REQUESTS`
//! (default 100) requests per window, the window (in seconds) long enough
//! that they are `FERRY_BENCH_PUSH_SHARE` (default 0.33) of the request
//! rate the unthrottled push reached. Execution time and concurrency keep
//! their realistic proportions (4 s per second of window; 52).
//!
//! `cargo bench --bench push`. Knobs: `FERRY_BENCH_PUSH_CUSTOMERS` (default
//! 2000, clean generated dataset), `FERRY_BENCH_PUSH_REQUESTS`,
//! `FERRY_BENCH_PUSH_SHARE`, `FERRY_BENCH_PUSH_LIMITS` (a full `--limits`
//! string, overriding the derived one), `FERRY_BENCH_PUSH_DOP` (the org's
//! `x-ms-dop-hint`, default 4), `FERRY_BENCH_PUSH_CONCURRENCY` and
//! `FERRY_BENCH_PUSH_BATCH` (`[push]` settings), `FERRY_BENCH_DIR`
//! (scratch space, default the temp folder), `FERRY_BENCH_BIN` (another
//! ferry build to measure), `FERRY_BENCH_PUSH_PREPARED`
//! (a folder to keep the generated and staged dataset in and reuse on the
//! next run; its customer count then wins), `FERRY_BENCH_PUSH_TRACE` (a
//! folder to write each push's request timeline to, as the org saw it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dataverse_emulator::limits::LimitsConfig;
use dataverse_emulator::{DataverseConfig, DataverseEmulator, RunningDataverse};
use serde_json::Value;
use support::{mib, run_ferry, scratch};

const SECRET_ENV: &str = "FERRY_BENCH_PUSH_SECRET";
const SEED: &str = "42";

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `ferry --workspace WS ARGS…`: exit code, stdout, stderr.
fn ferry(ws: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(support::ferry_bin())
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .env(SECRET_ENV, "bench")
        .env_remove("FERRY_LOG")
        .output()
        .expect("run ferry");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ferry_ok(ws: &Path, args: &[&str]) -> String {
    let (code, out, err) = ferry(ws, args);
    assert_eq!(code, 0, "ferry {args:?} exited {code}\n{out}\n{err}");
    out
}

fn sql_rows(ws: &Path, sql: &str) -> Vec<Value> {
    let out = ferry_ok(ws, &["sql", "--format", "json", sql]);
    if out.trim().is_empty() {
        return Vec::new();
    }
    match serde_json::from_str(&out) {
        Ok(Value::Array(rows)) => rows,
        _ => out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Array(rows)) => rows,
                Ok(row) => vec![row],
                Err(e) => panic!("not JSON: {e}: {l}"),
            })
            .collect(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// generate --clean → init → extract → stage → transform → validate →
/// map confirm: a workspace ready for `plan --apply` and `push`.
fn prepare(root: &Path, customers: u64) -> (PathBuf, PathBuf) {
    let export = root.join("export");
    let ws = root.join("prepared");
    let (export_s, ws_s) = (export.display().to_string(), ws.display().to_string());
    eprintln!("generating {customers} customers (clean) …");
    run_ferry(&[
        "generate",
        &export_s,
        "--customers",
        &customers.to_string(),
        "--seed",
        SEED,
        "--clean",
    ]);
    run_ferry(&["init", &ws_s, "--source", &format!("csv:{export_s}")]);
    eprintln!("extract, stage, transform, validate, map confirm …");
    ferry_ok(&ws, &["extract", "--allow-pending"]);
    ferry_ok(&ws, &["stage"]);
    ferry_ok(&ws, &["transform"]);
    let (code, out, err) = ferry(&ws, &["validate"]);
    assert!(code <= 1, "validate exited {code}\n{out}\n{err}");
    if code == 1 {
        // A clean export should pass; whatever a check still flags is
        // waived with a reason so the load itself is what is measured.
        let rules = sql_rows(
            &ws,
            "SELECT DISTINCT rule, object FROM \"check\".findings WHERE severity = 'error' ORDER BY ALL",
        );
        eprintln!(
            "validate found errors on the clean export; waiving {} rule(s) for the benchmark",
            rules.len()
        );
        let mut csv = String::from("rule,object,record_id,reason\n");
        for r in &rules {
            csv.push_str(&format!(
                "{},{},,push benchmark: loaded as is\n",
                r["rule"].as_str().unwrap(),
                r["object"].as_str().unwrap()
            ));
        }
        std::fs::write(ws.join("mapping/waivers.csv"), csv).unwrap();
        ferry_ok(&ws, &["validate"]);
    }
    ferry_ok(&ws, &["map", "confirm", "--by", "push benchmark"]);
    (export, ws)
}

fn point_at(ws: &Path, org: &RunningDataverse, tuning: &Tuning) {
    let path = ws.join("ferry.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut pointed = text
        .replace(
            "# url = \"https://contoso.crm.dynamics.com\"",
            &format!("url = \"{}\"", org.url()),
        )
        .replace(
            "client_secret_env = \"FERRY_CLIENT_SECRET\"",
            &format!("client_secret_env = \"{SECRET_ENV}\""),
        );
    assert_ne!(
        text, pointed,
        "ferry.toml template changed: cannot point it at the emulator"
    );
    for (key, value) in [
        ("batch_size", tuning.batch_size),
        ("concurrency", tuning.concurrency),
    ] {
        if let Some(v) = value {
            let line = pointed
                .lines()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("ferry.toml has no `{key} = ` line"))
                .to_string();
            pointed = pointed.replace(&line, &format!("{key} = {v}"));
        }
    }
    std::fs::write(path, pointed).unwrap();
}

/// `[push]` settings the benchmark may override (`None`: ferry's default).
struct Tuning {
    batch_size: Option<u64>,
    concurrency: Option<u64>,
}

fn start_org(export: &Path, limits: LimitsConfig) -> RunningDataverse {
    let mut config = DataverseConfig::new("st")
        .with_technician_users(&export.join("technicians.csv"))
        .unwrap();
    config.limits = limits;
    DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap()
}

struct StepLine {
    step: String,
    table: String,
    records: u64,
    reads: u64,
    writes: u64,
    throttled: u64,
    seconds: f64,
}

/// One push, as measured from outside and as its `--json` summary says.
struct PushRun {
    name: &'static str,
    /// Wall-clock time of the whole `ferry push` process.
    command_seconds: f64,
    /// The summary's `seconds`: the steps (after sign-in and preflight).
    load_seconds: f64,
    peak_rss_mib: f64,
    records: u64,
    created: u64,
    failed: u64,
    record_requests: u64,
    http_requests: u64,
    throttled: u64,
    steps: Vec<StepLine>,
    /// Emulator side, during the push only.
    admitted: u64,
    refused: u64,
    early_retries: u64,
    peak_concurrency: u32,
    /// Requests the org admitted before the first record request (sign-in,
    /// WhoAmI, preflight metadata, users, org records): they draw on the
    /// same user's request budget.
    preflight_admitted: u64,
    /// Requests admitted in each window-long stretch from the first record
    /// request on (only with limits on).
    per_window: Vec<u64>,
}

impl PushRun {
    fn records_per_second(&self) -> f64 {
        self.records as f64 / self.load_seconds
    }

    /// Bulk-capable: the `records` step of each table (label = table).
    fn bulk(&self) -> (u64, u64) {
        self.steps
            .iter()
            .filter(|s| s.step == s.table)
            .fold((0, 0), |(n, r), s| (n + s.records, r + s.reads + s.writes))
    }
}

fn push(
    name: &'static str,
    prepared: &Path,
    scratch: &Path,
    org: &RunningDataverse,
    window: Option<Duration>,
    tuning: &Tuning,
) -> PushRun {
    let ws = scratch.join(name);
    copy_dir(prepared, &ws);
    point_at(&ws, org, tuning);
    ferry_ok(&ws, &["plan", "--apply"]);
    // `plan --apply` drew on the same user's request window: let it slide
    // out, so the push starts from the allowance a fresh window gives.
    if let Some(w) = window {
        std::thread::sleep(w + Duration::from_millis(200));
    }
    let seq_before = org.operations().last().map_or(0, |o| o.seq + 1);
    let stats_before = org.limit_stats();
    let ws_s = ws.display().to_string();
    eprintln!("push ({name}) …");
    let measured = run_ferry(&["--workspace", &ws_s, "--json", "push"]);
    let stats_after = org.limit_stats();
    let summary: Value = serde_json::from_str(&measured.stdout)
        .unwrap_or_else(|e| panic!("push --json: {e}\n{}", measured.stdout));
    let steps: Vec<StepLine> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| StepLine {
            step: s["step"].as_str().unwrap().to_string(),
            table: s["table"].as_str().unwrap().to_string(),
            records: s["records"].as_u64().unwrap(),
            reads: s["read_requests"].as_u64().unwrap(),
            writes: s["write_requests"].as_u64().unwrap(),
            throttled: s["throttled"].as_u64().unwrap(),
            seconds: s["seconds"].as_f64().unwrap(),
        })
        .collect();
    let ops: Vec<_> = org
        .operations()
        .into_iter()
        .filter(|o| o.seq >= seq_before)
        .collect();
    if let Ok(dir) = std::env::var("FERRY_BENCH_PUSH_TRACE") {
        // Every request the org saw during the push, for a timeline.
        let mut tsv = String::from("at_ms\tstatus\tmethod\tpath\n");
        for o in &ops {
            let path: String = o.path.chars().take(100).collect();
            tsv.push_str(&format!(
                "{}\t{}\t{}\t{path}\n",
                o.at_ms, o.status, o.method
            ));
        }
        std::fs::write(Path::new(&dir).join(format!("{name}.ops.tsv")), tsv).unwrap();
    }
    let is_record_request = |path: &str| {
        path.contains("Microsoft.Dynamics.CRM.In(")
            || path.contains("Multiple")
            || path.ends_with("$batch")
    };
    let first_record = ops
        .iter()
        .position(|o| is_record_request(&o.path))
        .unwrap_or(ops.len());
    let admitted = |o: &&dataverse_emulator::api::Operation| !o.throttled;
    let preflight_admitted = ops[..first_record].iter().filter(admitted).count() as u64;
    let per_window = match (window, ops.get(first_record)) {
        (Some(w), Some(first)) => {
            let w = w.as_millis() as u64;
            let mut counts = Vec::new();
            for o in ops[first_record..].iter().filter(admitted) {
                let k = ((o.at_ms - first.at_ms) / w) as usize;
                counts.resize(counts.len().max(k + 1), 0);
                counts[k] += 1;
            }
            counts
        }
        _ => Vec::new(),
    };
    let u = |k: &str| summary[k].as_u64().unwrap();
    PushRun {
        name,
        command_seconds: measured.seconds,
        load_seconds: summary["seconds"].as_f64().unwrap(),
        peak_rss_mib: mib(measured.peak_rss_bytes),
        records: steps.iter().map(|s| s.records).sum(),
        created: u("created"),
        failed: u("failed"),
        record_requests: u("record_requests"),
        http_requests: u("http_requests"),
        throttled: u("throttled"),
        steps,
        admitted: stats_after.admitted - stats_before.admitted,
        refused: stats_after.throttled - stats_before.throttled,
        early_retries: stats_after.early_retries - stats_before.early_retries,
        peak_concurrency: stats_after.peak_concurrency,
        preflight_admitted,
        per_window,
    }
}

fn print_steps(run: &PushRun) {
    println!(
        "  {:<34}{:>9}{:>8}{:>8}{:>7}{:>9}{:>10}",
        "step", "records", "reads", "writes", "429s", "seconds", "req/rec"
    );
    for s in &run.steps {
        let requests = s.reads + s.writes;
        println!(
            "  {:<34}{:>9}{:>8}{:>8}{:>7}{:>9.2}{:>10.4}",
            s.step,
            s.records,
            s.reads,
            s.writes,
            s.throttled,
            s.seconds,
            if s.records > 0 {
                requests as f64 / s.records as f64
            } else {
                0.0
            }
        );
    }
}

fn main() {
    let customers = std::env::var("FERRY_BENCH_PUSH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000u64);
    let per_window = env_f64("FERRY_BENCH_PUSH_REQUESTS", 100.0).max(1.0) as u32;
    let share = env_f64("FERRY_BENCH_PUSH_SHARE", 0.33);
    let env_u64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let tuning = Tuning {
        batch_size: env_u64("FERRY_BENCH_PUSH_BATCH"),
        concurrency: env_u64("FERRY_BENCH_PUSH_CONCURRENCY"),
    };
    // The org's x-ms-dop-hint (4 unless told).
    let dop = env_u64("FERRY_BENCH_PUSH_DOP").unwrap_or(4);
    // The pushes find the client secret in the environment they inherit.
    std::env::set_var(SECRET_ENV, "bench");
    let scratch = scratch();
    let (export, prepared) = match std::env::var("FERRY_BENCH_PUSH_PREPARED") {
        // Reuse (or make once) a prepared dataset across runs.
        Ok(dir) => {
            let root = PathBuf::from(dir);
            if root.join("prepared/ferry.toml").exists() {
                eprintln!("reusing the prepared workspace in {}", root.display());
                (root.join("export"), root.join("prepared"))
            } else {
                std::fs::create_dir_all(&root).unwrap();
                prepare(&root, customers)
            }
        }
        Err(_) => prepare(scratch.path(), customers),
    };

    // Baseline: limits off; the emulator's and the loader's own speed.
    let baseline = {
        // Limits off, but for the dop hint when one is asked for.
        let off = if dop == 4 {
            LimitsConfig::off()
        } else {
            format!("requests=100000000,time=100000000,concurrent=100000,window=1,dop={dop}")
                .parse()
                .unwrap()
        };
        let org = start_org(&export, off);
        let run = push(
            "unthrottled",
            &prepared,
            scratch.path(),
            &org,
            None,
            &tuning,
        );
        org.stop().unwrap();
        run
    };
    let baseline_request_rate = baseline.record_requests as f64 / baseline.load_seconds;

    // The limits: a request budget per window well under what the
    // baseline reached, execution time and concurrency in the realistic
    // proportions (1,200 s per 300 s window; 52 concurrent).
    let limits: LimitsConfig = match std::env::var("FERRY_BENCH_PUSH_LIMITS") {
        Ok(text) => text.parse().expect("FERRY_BENCH_PUSH_LIMITS"),
        Err(_) => {
            // `requests` per window (default 100, so one 429 per window
            // is 1%), the window long enough that they are `share` of the
            // baseline's request rate.
            let window = (f64::from(per_window) / (baseline_request_rate * share) * 10.0)
                .round()
                .max(10.0)
                / 10.0;
            format!(
                "requests={per_window},time={},concurrent=52,window={window},dop={dop}",
                window * 4.0
            )
            .parse()
            .expect("derived limits")
        }
    };
    assert!(limits.enabled, "the throttled run needs limits on");
    let throttled = {
        let org = start_org(&export, limits.clone());
        let run = push(
            "throttled",
            &prepared,
            scratch.path(),
            &org,
            Some(limits.window),
            &tuning,
        );
        org.stop().unwrap();
        run
    };

    let window = limits.window.as_secs_f64();
    let allowed_per_second = limits.requests as f64 / window;
    let records_per_request = throttled.records as f64 / throttled.record_requests as f64;
    let ceiling = records_per_request * allowed_per_second;
    let achieved = throttled.records_per_second();
    let ratio = achieved / ceiling;
    let command_ratio = (throttled.records as f64 / throttled.command_seconds) / ceiling;
    let throttled_share = throttled.throttled as f64 / throttled.http_requests as f64;
    let (bulk_records, bulk_requests) = throttled.bulk();
    let bulk_per_record = bulk_requests as f64 / bulk_records as f64;

    println!();
    println!(
        "ferry push benchmark: {customers} customers (clean, seed {SEED}); [push] batch_size {}, concurrency {}; x-ms-dop-hint {dop}",
        tuning
            .batch_size
            .map_or("500 (default)".to_string(), |n| n.to_string()),
        tuning
            .concurrency
            .map_or("4 (default)".to_string(), |n| n.to_string()),
    );
    println!("limits of the throttled run: {limits}");
    println!();
    println!(
        "{:<14}{:>9}{:>9}{:>9}{:>8}{:>7}{:>10}{:>10}{:>11}{:>9}",
        "run",
        "records",
        "rec req",
        "HTTP req",
        "429s",
        "429 %",
        "load s",
        "command s",
        "records/s",
        "RSS MiB"
    );
    for r in [&baseline, &throttled] {
        println!(
            "{:<14}{:>9}{:>9}{:>9}{:>8}{:>7.2}{:>10.2}{:>10.2}{:>11.0}{:>9.0}",
            r.name,
            r.records,
            r.record_requests,
            r.http_requests,
            r.throttled,
            100.0 * r.throttled as f64 / r.http_requests as f64,
            r.load_seconds,
            r.command_seconds,
            r.records_per_second(),
            r.peak_rss_mib
        );
    }
    println!();
    println!("the ceiling under the limits:");
    println!(
        "  records per request   = {} records ÷ {} record requests (reads + writes the loader sent) = {:.2}",
        throttled.records, throttled.record_requests, records_per_request
    );
    println!(
        "  requests per second   = {} requests ÷ {} s window = {:.2}",
        limits.requests, window, allowed_per_second
    );
    println!(
        "  ceiling               = records per request × requests per second = {ceiling:.0} records/s"
    );
    println!(
        "  (sign-in, WhoAmI, users, metadata and 429'd retries are not in the denominator: they use the budget without moving records, so they count against the loader)"
    );
    println!();
    println!(
        "{:<58}{:>12}{:>10}{:>8}",
        "requirement", "measured", "bar", "met"
    );
    let line = |what: &str, value: String, bar: &str, ok: bool| {
        println!(
            "{what:<58}{value:>12}{bar:>10}{:>8}",
            if ok { "yes" } else { "NO" }
        )
    };
    line(
        "achieved ÷ ceiling (load phase, records/s)",
        format!("{ratio:.3}"),
        "≥ 0.85",
        ratio >= 0.85,
    );
    line(
        "429s ÷ HTTP requests",
        format!("{:.2}%", 100.0 * throttled_share),
        "≤ 2%",
        throttled_share <= 0.02,
    );
    line(
        "requests per record, bulk-capable tables (records steps)",
        format!("{bulk_per_record:.4}"),
        "≤ 0.01",
        bulk_per_record <= 0.01,
    );
    println!();
    println!(
        "also: achieved ÷ ceiling over the whole command (sign-in, preflight, DuckDB included): {command_ratio:.3}"
    );
    println!(
        "baseline (limits off): {:.0} records/s, {:.1} record requests/s; the throttled run reached {:.2} of it (the limits allow {:.2})",
        baseline.records_per_second(),
        baseline_request_rate,
        achieved / baseline.records_per_second(),
        ceiling / baseline.records_per_second()
    );
    println!(
        "bulk-capable tables: {bulk_records} records in {bulk_requests} requests; created {} / failed {} (throttled run), created {} / failed {} (baseline)",
        throttled.created, throttled.failed, baseline.created, baseline.failed
    );
    println!(
        "emulator during the throttled push: {} admitted, {} refused (429), {} of them early retries, peak {} in flight",
        throttled.admitted, throttled.refused, throttled.early_retries, throttled.peak_concurrency
    );
    let budget_used = throttled.admitted as f64 / (allowed_per_second * throttled.command_seconds);
    // A sliding window admits at most `requests` in any window-long
    // stretch, so a run from an empty window can get ⌈T/W⌉ windows' worth.
    let budget_best = (throttled.command_seconds / window).ceil() * f64::from(limits.requests)
        / (allowed_per_second * throttled.command_seconds);
    println!(
        "request budget: before its first record request the push command had {} requests admitted (sign-in, WhoAmI, preflight metadata, users, org records) = {:.0}% of one window's {}; admitted per {} s window from the first record request on: {:?} (the last one partial)",
        throttled.preflight_admitted,
        100.0 * throttled.preflight_admitted as f64 / f64::from(limits.requests),
        limits.requests,
        window,
        throttled.per_window
    );
    println!(
        "all requests the org admitted from the push command ÷ what the limits allow over its wall time: {} ÷ ({allowed_per_second:.2}/s × {:.1} s) = {budget_used:.3} (at most {budget_best:.3} for a run of this length from an empty window)",
        throttled.admitted, throttled.command_seconds
    );
    println!(
        "429s as the org counted them (the preflight's own client included): {} of {} = {:.2}%",
        throttled.refused,
        throttled.admitted + throttled.refused,
        100.0 * throttled.refused as f64 / (throttled.admitted + throttled.refused) as f64
    );
    println!();
    println!("steps of the throttled run:");
    print_steps(&throttled);
    println!("steps of the baseline run:");
    print_steps(&baseline);
}
