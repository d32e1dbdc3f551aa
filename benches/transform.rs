//! `ferry transform` + `ferry validate` at scale, against the same SQL run
//! by the stock DuckDB (the PyPI package of the version ferry links) on a
//! copy of the same staged database file, and by ferry's own DuckDB without
//! ferry's bookkeeping.
//!
//! - **ferry**: the release binary's `ferry transform` and `ferry validate`,
//!   each a whole process (start-up, transaction, per-file table snapshots
//!   and row counts, ledger, severity checks, waivers), with its peak RSS.
//! - **stock DuckDB** (the independent anchor): every transform file and
//!   every check's `INSERT INTO "check".findings …`, rendered exactly as
//!   ferry renders them, one transaction per phase as ferry runs them, same
//!   memory limit and threads. The small set-up ferry does in Rust between
//!   the SQL (loading `map.*` from the mapping CSVs, building the
//!   `meta.stg_*` views from the catalogue) is done on the stock copy with
//!   ferry's library and not timed: the stock side is timed on the SQL only.
//! - **in-process**: the same SQL through ferry's linked DuckDB on a third
//!   copy, which isolates ferry's bookkeeping from its DuckDB build.
//!
//! `cargo bench --bench transform` (scale: `FERRY_BENCH_CUSTOMERS`, default
//! 100000; scratch space: `FERRY_BENCH_DIR`). Prints; never fails on time.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use support::{copy_database, customers, mib, run_ferry, scratch, StockDuckdb};

/// The SQL of a transform run, file by file, as ferry renders it.
fn transform_statements(ws: &ferry::workspace::Workspace) -> Vec<(String, String)> {
    let folder = ferry::transform::read_folder(&ferry::transform::transforms_dir(ws)).unwrap();
    folder
        .files
        .iter()
        .map(|f| {
            (
                f.file_name(),
                ferry::transform::render(&f.text, &ws.config.prefix),
            )
        })
        .collect()
}

/// The SQL of a validate run, check by check, as ferry renders it; the
/// check's name (a parameter in ferry) inlined as a literal.
fn check_statements(ws: &ferry::workspace::Workspace) -> Vec<(String, String)> {
    let checks = ferry::validate::read_checks(&ferry::validate::checks_dir(ws)).unwrap();
    checks
        .iter()
        .map(|c| {
            let sql = ferry::validate::findings_insert_sql(c, &ws.config.prefix);
            let literal = format!("SELECT '{}',", c.name.replace('\'', "''"));
            (c.name.clone(), sql.replacen("SELECT ?,", &literal, 1))
        })
        .collect()
}

/// What ferry loads in Rust before the transform SQL may run.
fn prepare(ws: &ferry::workspace::Workspace, database: &Path) {
    let conn = ferry::duck::open(database).unwrap();
    let optionsets = ferry::transform::mapping_files::read_optionsets(ws).unwrap();
    let users = ferry::transform::mapping_files::read_users(ws).unwrap();
    ferry::transform::prepare_schemas(&conn, ws, &optionsets, &users).unwrap();
}

/// What ferry builds in Rust between transform and validate.
fn between(ws: &ferry::workspace::Workspace, database: &Path) {
    let conn = ferry::duck::open(database).unwrap();
    ferry::transform::build_stg_views(&conn, &ws.config.prefix).unwrap();
    conn.execute_batch(ferry::validate::findings_ddl()).unwrap();
}

/// The same SQL through ferry's own DuckDB, in this process, one
/// transaction per phase: (transform seconds, validate seconds).
fn in_process(ws: &ferry::workspace::Workspace, database: &Path) -> (f64, f64) {
    prepare(ws, database);
    let conn = ferry::duck::open(database).unwrap();
    let run = |statements: Vec<(String, String)>| {
        let start = Instant::now();
        conn.execute_batch("BEGIN TRANSACTION").unwrap();
        for (name, sql) in statements {
            conn.execute_batch(&sql)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        conn.execute_batch("COMMIT").unwrap();
        start.elapsed().as_secs_f64()
    };
    let transform = run(transform_statements(ws));
    drop(conn);
    between(ws, database);
    let conn = ferry::duck::open(database).unwrap();
    let start = Instant::now();
    conn.execute_batch("BEGIN TRANSACTION").unwrap();
    for (name, sql) in check_statements(ws) {
        conn.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    conn.execute_batch("COMMIT").unwrap();
    (transform, start.elapsed().as_secs_f64())
}

fn main() {
    let customers = customers(100_000);
    let scratch = scratch();
    let export = scratch.path().join("export");
    let ws_dir = scratch.path().join("ws");
    let export_s = export.display().to_string();
    let ws_s = ws_dir.display().to_string();
    let stock = StockDuckdb::install();

    eprintln!("setting up: generate {customers} customers, extract, stage …");
    run_ferry(&[
        "generate",
        &export_s,
        "--customers",
        &customers.to_string(),
        "--seed",
        "7",
    ]);
    run_ferry(&["init", &ws_s, "--source", &format!("csv:{export_s}")]);
    run_ferry(&["--workspace", &ws_s, "extract", "--allow-pending"]);
    run_ferry(&["--workspace", &ws_s, "stage"]);
    let ws = ferry::workspace::Workspace::open(&ws_dir).unwrap();
    let stock_db = scratch.path().join("stock.duckdb");
    let in_process_db = scratch.path().join("in-process.duckdb");
    copy_database(&ws.database_path(), &stock_db);
    copy_database(&ws.database_path(), &in_process_db);
    let raw_rows: i64 = {
        let conn = ferry::duck::open(&stock_db).unwrap();
        let views: Vec<String> = conn
            .prepare("SELECT view_name FROM duckdb_views() WHERE schema_name = 'raw' AND view_name LIKE '%\\_current' ESCAPE '\\'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        views
            .iter()
            .map(|v| {
                conn.query_row(&format!("SELECT count(*) FROM raw.\"{v}\""), [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
            })
            .sum()
    };

    eprintln!("{} …", stock.describe());
    prepare(&ws, &stock_db);
    let stock_transform = stock.run(Some(&stock_db), true, &transform_statements(&ws));
    between(&ws, &stock_db);
    let stock_validate = stock.run(Some(&stock_db), true, &check_statements(&ws));

    eprintln!("the same SQL through ferry's own DuckDB, in this process …");
    let (plain_transform, plain_validate) = in_process(&ws, &in_process_db);

    eprintln!("ferry transform …");
    let transform = run_ferry(&["--workspace", &ws_s, "--json", "transform"]);
    eprintln!("ferry validate …");
    let validate = run_ferry(&["--workspace", &ws_s, "--json", "validate"]);
    let transformed: serde_json::Value =
        serde_json::from_str(&transform.stdout).expect("transform --json");
    let validated: serde_json::Value =
        serde_json::from_str(&validate.stdout).expect("validate --json");

    let stg_rows: u64 = transformed["stg_tables"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let ferry_findings: i64 = validated["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_i64().unwrap())
        .sum();
    let stock_findings: i64 = stock_validate.timings.iter().filter_map(|t| t.rows).sum();
    println!();
    println!(
        "ferry transform + validate benchmark: {customers} customers, {raw_rows} current raw records → {stg_rows} stg rows in {} tables, {ferry_findings} findings from {} checks",
        transformed["stg_tables"].as_object().unwrap().len(),
        stock_validate.timings.len()
    );
    println!("anchor: {}", stock.describe());
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>12} {:>10}",
        "phase", "ferry s", "stock s", "in-proc s", "ferry/stock", "peak MiB"
    );
    for (name, ours, theirs, plain, rss) in [
        (
            "transform",
            transform.seconds,
            stock_transform.seconds,
            plain_transform,
            transform.peak_rss_bytes,
        ),
        (
            "validate",
            validate.seconds,
            stock_validate.seconds,
            plain_validate,
            validate.peak_rss_bytes,
        ),
        (
            "both",
            transform.seconds + validate.seconds,
            stock_transform.seconds + stock_validate.seconds,
            plain_transform + plain_validate,
            transform.peak_rss_bytes.max(validate.peak_rss_bytes),
        ),
    ] {
        println!(
            "{name:<10} {ours:>10.2} {theirs:>12.2} {plain:>12.2} {:>12.2} {:>10.0}",
            ours / theirs,
            mib(rss)
        );
    }
    println!(
        "(ferry: the whole command as a process; stock and in-process: the same SQL, timed on the SQL alone)"
    );
    println!(
        "findings: ferry {ferry_findings}, stock DuckDB {stock_findings}{}",
        if ferry_findings == stock_findings {
            " — the same"
        } else {
            " — DIFFERENT"
        }
    );
    println!();
    println!(
        "ratio ferry/stock DuckDB: transform {:.2}, validate {:.2} (target ≤ 1.3 each)",
        transform.seconds / stock_transform.seconds,
        validate.seconds / stock_validate.seconds
    );

    // Where the time goes, file by file, beside the stock DuckDB's time for
    // the same file: an analyst's slow SQL shows here, and so would a
    // DuckDB build that is slow at one kind of query.
    let ferry_files: BTreeMap<String, f64> = transformed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["duration_ms"].as_f64().unwrap() / 1000.0,
            )
        })
        .collect();
    let ferry_checks: BTreeMap<String, f64> = validated["checks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| (name.clone(), v[1].as_f64().unwrap() / 1000.0))
        .collect();
    for (what, ours, theirs) in [
        ("transform files", &ferry_files, &stock_transform),
        ("checks", &ferry_checks, &stock_validate),
    ] {
        let mut rows: Vec<(&String, f64, f64)> = ours
            .iter()
            .map(|(name, s)| (name, *s, theirs.seconds_of(name)))
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        println!("slowest {what} (ferry s / stock s):");
        for (name, ours, theirs) in rows.iter().take(6) {
            println!("  {name:<44} {ours:>8.2} {theirs:>8.2}");
        }
    }
}
