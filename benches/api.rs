//! API extraction throughput, side by side with its two baselines on the
//! same generated export in the same run:
//! - the emulator's own serving rate: every page of every object fetched
//!   by a bare HTTP loop that parses nothing (the most any client could get);
//! - CSV extraction of the same export by `ferry extract`.
//!
//! `cargo bench --bench api` (scale: `FERRY_BENCH_API_CUSTOMERS`, default
//! 2000; page size: `FERRY_BENCH_PAGE_SIZE`, default 1000).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use servicetracker_emulator::{Emulator, EmulatorConfig};

const KEY: &str = "bench-key";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ferry(args: &[&str], workspace: Option<&Path>) -> (f64, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    if let Some(ws) = workspace {
        cmd.arg("--workspace").arg(ws);
    }
    let start = Instant::now();
    let out = cmd
        .args(args)
        .env("SERVICETRACKER_API_KEY", KEY)
        .output()
        .expect("run ferry");
    let seconds = start.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "ferry {args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (seconds, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every page of every object, two objects at a time like `ferry extract`,
/// bodies read and dropped.
async fn serve_rate(url: &str, page_size: u64) -> (f64, u64) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
    let mut tasks = tokio::task::JoinSet::new();
    for object in ferry::source::schema::OBJECTS.iter().map(|o| o.name) {
        let (client, url, semaphore) = (client.clone(), url.to_string(), semaphore.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.unwrap();
            let mut records = 0u64;
            let mut cursor: Option<String> = None;
            loop {
                let mut request = client
                    .get(format!("{url}/api/v2/{object}"))
                    .bearer_auth(KEY)
                    .query(&[("limit", page_size.to_string())]);
                if let Some(c) = &cursor {
                    request = request.query(&[("cursor", c)]);
                }
                let body = request.send().await.unwrap().bytes().await.unwrap();
                let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
                records += page["data"].as_array().map_or(0, |d| d.len() as u64);
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => return records,
                }
            }
        });
    }
    let mut records = 0;
    while let Some(done) = tasks.join_next().await {
        records += done.unwrap();
    }
    (start.elapsed().as_secs_f64(), records)
}

fn landed_rows(json: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(json).expect("extract --json");
    value["manifest"]["objects"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| o["landed_rows"].as_u64().unwrap() + o["quarantined_rows"].as_u64().unwrap())
        .sum()
}

fn main() {
    let customers = env_or("FERRY_BENCH_API_CUSTOMERS", 2000);
    let page_size = env_or("FERRY_BENCH_PAGE_SIZE", 1000);
    let scratch = tempfile::Builder::new()
        .prefix("ferry-bench-api-")
        .tempdir()
        .unwrap();
    let export = scratch.path().join("export");
    eprintln!("generating {customers} customers …");
    ferry(
        &[
            "generate",
            &export.display().to_string(),
            "--customers",
            &customers.to_string(),
        ],
        None,
    );

    eprintln!("loading the emulator …");
    let server = Emulator::load(EmulatorConfig::new(&export, KEY))
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let url = server.url();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (serve_seconds, served) = runtime.block_on(serve_rate(&url, page_size));

    let csv_ws = scratch.path().join("csv");
    let api_ws = scratch.path().join("api");
    ferry(
        &[
            "init",
            &csv_ws.display().to_string(),
            "--source",
            &format!("csv:{}", export.display()),
        ],
        None,
    );
    ferry(
        &[
            "init",
            &api_ws.display().to_string(),
            "--source",
            &format!("api:{url}"),
        ],
        None,
    );
    let toml = api_ws.join("ferry.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("page_size = 1000\n", &format!("page_size = {page_size}\n")),
    )
    .unwrap();

    eprintln!("extracting through the API …");
    let (api_seconds, api_json) = ferry(&["extract", "--allow-pending", "--json"], Some(&api_ws));
    eprintln!("extracting the CSV export …");
    let (csv_seconds, csv_json) = ferry(&["extract", "--allow-pending", "--json"], Some(&csv_ws));
    let stats = server.stats();
    server.stop();

    let api_rows = landed_rows(&api_json);
    let csv_rows = landed_rows(&csv_json);
    println!();
    println!("ferry API extraction benchmark: {customers} customers, page size {page_size}");
    println!(
        "{:<44}{:>10}{:>12}{:>14}",
        "phase", "seconds", "records", "records/s"
    );
    let line = |name: &str, seconds: f64, records: u64| {
        println!(
            "{name:<44}{seconds:>10.2}{records:>12}{:>14.0}",
            records as f64 / seconds
        )
    };
    line(
        "emulator serving rate (bare page loop)",
        serve_seconds,
        served,
    );
    line(
        "ferry extract, source = api (whole command)",
        api_seconds,
        api_rows,
    );
    line(
        "ferry extract, source = csv (whole command)",
        csv_seconds,
        csv_rows,
    );
    println!();
    println!(
        "API extraction reaches {:.0}% of the emulator's serving rate, and takes {:.2}x the time of CSV extraction",
        100.0 * (api_rows as f64 / api_seconds) / (served as f64 / serve_seconds),
        api_seconds / csv_seconds
    );
    println!(
        "the API extraction also downloaded attachments: {} requests in all, {} throttled",
        stats.requests, stats.throttled
    );
}
