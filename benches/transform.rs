//! `transform` + `validate` against the same SQL executed directly through
//! DuckDB, without ferry's bookkeeping (transaction, per-file table
//! snapshots and row counts, ledger, severity checks, waivers), on two
//! copies of one staged database, in the same process.
//!
//! Both sides load the mapping files and build the `meta.stg_*` views the
//! checks read, because the SQL needs them; everything else ferry adds is
//! what the ratio measures.
//!
//! `cargo bench --bench transform` (scale: `FERRY_BENCH_CUSTOMERS`, default
//! 100000; scratch space: `FERRY_BENCH_DIR`).

mod support;

use std::path::Path;
use std::time::Instant;

use support::{customers, run_ferry, scratch};

/// The baseline: every transform file and every check query, rendered the
/// way ferry renders them, executed one after another on a plain connection.
fn duckdb_baseline(ws: &ferry::workspace::Workspace, database: &Path) -> (f64, f64) {
    let conn = ferry::duck::open(database).unwrap();
    let transforms = ferry::transform::read_folder(&ferry::transform::transforms_dir(ws)).unwrap();
    let checks = ferry::validate::read_checks(&ferry::validate::checks_dir(ws)).unwrap();
    let optionsets = ferry::mapping::read_optionsets(ws).unwrap();
    let users = ferry::mapping::read_users(ws).unwrap();
    let prefix = &ws.config.prefix;

    let start = Instant::now();
    ferry::transform::prepare_schemas(&conn, ws, &optionsets, &users).unwrap();
    for file in &transforms.files {
        conn.execute_batch(&ferry::transform::render(&file.text, prefix))
            .unwrap_or_else(|e| panic!("{}: {e}", file.file_name()));
    }
    ferry::transform::build_stg_views(&conn, prefix).unwrap();
    let transform_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    for (i, check) in checks.iter().enumerate() {
        let body = ferry::transform::render(ferry::validate::query_body(&check.text), prefix);
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE finding_{i} AS SELECT * FROM (\n{body}\n)"
        ))
        .unwrap_or_else(|e| panic!("{}: {e}", check.name));
    }
    (transform_seconds, start.elapsed().as_secs_f64())
}

fn main() {
    let customers = customers(100_000);
    let scratch = scratch();
    let export = scratch.path().join("export");
    let ws_dir = scratch.path().join("ws");
    let export_s = export.display().to_string();
    let ws_s = ws_dir.display().to_string();

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
    let baseline_db = scratch.path().join("baseline.duckdb");
    std::fs::copy(ws.database_path(), &baseline_db).unwrap();
    let raw_rows: u64 = {
        let conn = ferry::duck::open(&baseline_db).unwrap();
        let mut stmt = conn
            .prepare("SELECT view_name FROM duckdb_views() WHERE schema_name = 'raw' AND view_name LIKE '%\\_current' ESCAPE '\\'")
            .unwrap();
        let views: Vec<String> = stmt
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
                .unwrap() as u64
            })
            .sum()
    };

    eprintln!("baseline: the same SQL straight through DuckDB …");
    let (base_transform, base_validate) = duckdb_baseline(&ws, &baseline_db);

    eprintln!("ferry transform …");
    let start = Instant::now();
    let transformed = ferry::transform::run_transforms(&ws).unwrap();
    let ferry_transform = start.elapsed().as_secs_f64();
    eprintln!("ferry validate …");
    let start = Instant::now();
    let validated = ferry::validate::run_validate(&ws).unwrap();
    let ferry_validate = start.elapsed().as_secs_f64();

    let stg_rows: u64 = transformed.stg_tables.values().sum();
    let findings: u64 = validated.findings.iter().map(|f| f.count).sum();
    println!();
    println!(
        "ferry transform + validate benchmark: {customers} customers, {raw_rows} current raw records → {stg_rows} stg rows in {} tables, {findings} findings from {} checks",
        transformed.stg_tables.len(),
        validated.checks.len()
    );
    println!(
        "{:<12} {:>12} {:>16} {:>8}",
        "phase", "ferry s", "plain DuckDB s", "ratio"
    );
    for (name, ours, theirs) in [
        ("transform", ferry_transform, base_transform),
        ("validate", ferry_validate, base_validate),
        (
            "both",
            ferry_transform + ferry_validate,
            base_transform + base_validate,
        ),
    ] {
        println!(
            "{name:<12} {ours:>12.2} {theirs:>16.2} {:>8.2}",
            ours / theirs
        );
    }
    println!();
    println!(
        "ratio ferry/plain DuckDB, transform + validate: {:.2} (target ≤ 1.2)",
        (ferry_transform + ferry_validate) / (base_transform + base_validate)
    );
    let mut slowest: Vec<_> = validated.checks.iter().collect();
    slowest.sort_by_key(|c| std::cmp::Reverse(c.1 .1));
    let listed: Vec<String> = slowest
        .iter()
        .take(5)
        .map(|(name, (_, ms))| format!("{name} {ms} ms"))
        .collect();
    println!("slowest checks: {}", listed.join(", "));
    let mut files: Vec<_> = transformed.files.iter().collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.duration_ms));
    let listed: Vec<String> = files
        .iter()
        .take(5)
        .map(|f| format!("{} {} ms", f.file, f.duration_ms))
        .collect();
    println!("slowest transforms: {}", listed.join(", "));
}
