//! End-to-end benchmark of the landing pipeline: `generate`, `extract` and
//! `stage` on a generated export, each in its own process so its peak RSS
//! can be read, with DuckDB's own CSV→Parquet conversion of the same files
//! as the baseline: run by the stock DuckDB (the PyPI package of the version
//! ferry links, the independent anchor) and by ferry's linked DuckDB in this
//! process.
//!
//! `cargo bench --bench pipeline` (scale: `FERRY_BENCH_CUSTOMERS`, default
//! 20000; scratch space: `FERRY_BENCH_DIR`, default a temporary folder).

mod support;

use std::path::Path;
use std::time::Instant;

use support::{customers, mib, run_ferry, scratch, StockDuckdb};

/// DuckDB's own conversion of each CSV to Parquet: one `COPY` per object.
fn copy_statements(export: &Path, out: &Path) -> Vec<(String, String)> {
    std::fs::create_dir_all(out).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap();
    manifest["objects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, entry)| {
            let csv = export.join(entry["file"].as_str().unwrap());
            let parquet = out.join(format!("{name}.parquet"));
            // COPY takes its target as a literal; these are the benchmark's own paths.
            let sql = format!(
                "COPY (FROM read_csv('{}', ignore_errors = true)) TO '{}' (FORMAT parquet)",
                csv.display().to_string().replace('\'', "''"),
                parquet.display().to_string().replace('\'', "''")
            );
            (name.clone(), sql)
        })
        .collect()
}

/// The same statements through ferry's linked DuckDB, in this process.
fn in_process_baseline(statements: &[(String, String)]) -> f64 {
    let conn = ferry::duck::open_in_memory().unwrap();
    let start = Instant::now();
    for (_, sql) in statements {
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let customers = customers(20_000);
    let scratch = scratch();
    let export = scratch.path().join("export");
    let ws = scratch.path().join("ws");
    let export_s = export.display().to_string();
    let ws_s = ws.display().to_string();

    eprintln!("generating {customers} customers into {export_s} …");
    let generate = run_ferry(&[
        "generate",
        &export_s,
        "--customers",
        &customers.to_string(),
        "--seed",
        "7",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap();
    let source_rows: u64 = manifest["objects"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| o["rows"].as_u64().unwrap())
        .sum();
    let csv_bytes: u64 = manifest["objects"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| {
            std::fs::metadata(export.join(o["file"].as_str().unwrap()))
                .unwrap()
                .len()
        })
        .sum();

    run_ferry(&["init", &ws_s, "--source", &format!("csv:{export_s}")]);
    eprintln!("extracting …");
    let extract = run_ferry(&["--workspace", &ws_s, "--json", "extract", "--allow-pending"]);
    let report: serde_json::Value = serde_json::from_str(&extract.stdout).expect("extract --json");
    let ferry_csv_seconds = report["timings"]["objects_seconds"].as_f64().unwrap();
    eprintln!("staging …");
    let stage = run_ferry(&["--workspace", &ws_s, "stage"]);
    let stock = StockDuckdb::install();
    eprintln!(
        "baseline: {}: COPY (FROM read_csv(...)) TO parquet …",
        stock.describe()
    );
    let statements = copy_statements(&export, &scratch.path().join("stock-baseline"));
    let stock_seconds = stock.run(None, false, &statements).seconds;
    eprintln!("baseline: the same COPY through ferry's own DuckDB, in this process …");
    let duckdb_seconds = in_process_baseline(&copy_statements(
        &export,
        &scratch.path().join("duckdb-baseline"),
    ));

    println!();
    println!("ferry landing benchmark: {customers} customers, {source_rows} source rows, {:.1} MiB of CSV", mib(csv_bytes));
    println!(
        "{:<28} {:>10} {:>14} {:>14}",
        "phase", "seconds", "rows/s", "peak RSS MiB"
    );
    for (name, m) in [
        ("generate", &generate),
        ("extract (whole command)", &extract),
        ("stage", &stage),
    ] {
        println!(
            "{:<28} {:>10.2} {:>14.0} {:>14.1}",
            name,
            m.seconds,
            source_rows as f64 / m.seconds,
            mib(m.peak_rss_bytes)
        );
    }
    println!(
        "{:<28} {:>10.2} {:>14.0}",
        "extract: CSV→Parquet only",
        ferry_csv_seconds,
        source_rows as f64 / ferry_csv_seconds
    );
    println!(
        "{:<28} {:>10.2} {:>14.0}",
        "stock DuckDB COPY →parquet",
        stock_seconds,
        source_rows as f64 / stock_seconds
    );
    println!(
        "{:<28} {:>10.2} {:>14.0}",
        "ferry's DuckDB, same COPY",
        duckdb_seconds,
        source_rows as f64 / duckdb_seconds
    );
    println!("anchor: {}", stock.describe());
    println!();
    println!(
        "ratio ferry/stock DuckDB, CSV→Parquet: {:.2} (target ≤ 1.5); whole extract command incl. attachments and checksums: {:.2}",
        ferry_csv_seconds / stock_seconds,
        extract.seconds / stock_seconds
    );
    println!(
        "ratio ferry's DuckDB/stock DuckDB on the same COPY: {:.2} (≈ 1 when ferry links a release build of DuckDB)",
        duckdb_seconds / stock_seconds
    );
    let worst = [&generate, &extract, &stage]
        .iter()
        .map(|m| m.peak_rss_bytes)
        .max()
        .unwrap();
    println!(
        "peak RSS of any phase: {:.1} MiB (target ≤ 1024)",
        mib(worst)
    );
}
