//! End-to-end benchmark of the landing pipeline: `generate`, `extract` and
//! `stage` on a generated export, each in its own process so its peak RSS
//! can be read, with DuckDB's own CSV→Parquet conversion of the same files
//! run side by side as the baseline.
//!
//! `cargo bench --bench pipeline` (scale: `FERRY_BENCH_CUSTOMERS`, default
//! 20000; scratch space: `FERRY_BENCH_DIR`, default a temporary folder).

mod support;

use std::path::Path;
use std::time::Instant;

use support::{customers, mib, run_ferry, scratch};

/// DuckDB's own conversion of each CSV to Parquet, in this process.
fn duckdb_baseline(export: &Path, out: &Path) -> f64 {
    std::fs::create_dir_all(out).unwrap();
    let conn = ferry::duck::open_in_memory().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap();
    let start = Instant::now();
    for (name, entry) in manifest["objects"].as_object().unwrap() {
        let csv = export.join(entry["file"].as_str().unwrap());
        let parquet = out.join(format!("{name}.parquet"));
        // COPY takes its target as a literal; these are the benchmark's own paths.
        let sql = format!(
            "COPY (FROM read_csv('{}', ignore_errors = true)) TO '{}' (FORMAT parquet)",
            csv.display().to_string().replace('\'', "''"),
            parquet.display().to_string().replace('\'', "''")
        );
        conn.execute_batch(&sql)
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
    eprintln!("baseline: DuckDB COPY (FROM read_csv(...)) TO parquet …");
    let duckdb_seconds = duckdb_baseline(&export, &scratch.path().join("duckdb-baseline"));

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
        "DuckDB COPY read_csv→parquet",
        duckdb_seconds,
        source_rows as f64 / duckdb_seconds
    );
    println!();
    println!(
        "ratio ferry/DuckDB, CSV→Parquet: {:.2} (target ≤ 1.5); whole extract command incl. attachments and checksums: {:.2}",
        ferry_csv_seconds / duckdb_seconds,
        extract.seconds / duckdb_seconds
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
