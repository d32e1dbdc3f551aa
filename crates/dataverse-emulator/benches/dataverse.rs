//! The Dataverse emulator under a migration's load: 1,000,000 records
//! created through `CreateMultiple` (with resident memory sampled as the
//! store grows), `$batch` and single creates with p50/p99 latency — each
//! against the same records written straight into a `Store` in this process
//! (no HTTP, no JSON parsing), the baseline the ratios are taken against.
//!
//! `cargo bench -p dataverse-emulator --bench dataverse` (scale: `FERRY_BENCH_DV_RECORDS`,
//! default 1000000).

use std::time::{Duration, Instant};

use dataverse_emulator::schema::Schema;
use dataverse_emulator::store::{OrgSettings, Store};
use dataverse_emulator::{DataverseConfig, DataverseEmulator};
use serde_json::{json, Map, Value};

const CHUNK: usize = 1000;
const IN_FLIGHT: usize = 4;

fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The i-th record of a table, bound to account `parent` where it has one.
fn record(table: &str, i: usize, parent: Option<&str>) -> Map<String, Value> {
    let mut r = Map::new();
    match table {
        "account" => {
            r.insert("name".into(), json!(format!("Account {i:07}")));
            r.insert("telephone1".into(), json!(format!("555-{:04}", i % 10_000)));
            r.insert("address1_city".into(), json!("Springfield"));
            r.insert(
                "address1_postalcode".into(),
                json!(format!("{:05}", i % 99_999)),
            );
            r.insert("st_record_id".into(), json!(format!("CUS-{i:07}")));
        }
        "contact" => {
            r.insert("firstname".into(), json!("Ada"));
            r.insert("lastname".into(), json!(format!("Contact {i:07}")));
            r.insert("emailaddress1".into(), json!(format!("c{i}@example.com")));
            r.insert("st_record_id".into(), json!(format!("CON-{i:07}")));
            if let Some(p) = parent {
                r.insert(
                    "parentcustomerid_account@odata.bind".into(),
                    json!(format!("/accounts({p})")),
                );
            }
        }
        _ => {
            r.insert("title".into(), json!(format!("Case {i:07}")));
            r.insert("prioritycode".into(), json!(1 + (i % 3) as i64));
            r.insert("st_record_id".into(), json!(format!("WO-{i:07}")));
            if let Some(p) = parent {
                r.insert(
                    "customerid_account@odata.bind".into(),
                    json!(format!("/accounts({p})")),
                );
            }
        }
    }
    r
}

fn set_of(table: &str) -> &'static str {
    match table {
        "account" => "accounts",
        "contact" => "contacts",
        _ => "incidents",
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    async fn connect(url: &str) -> Client {
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{url}/bench/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "bench"),
                ("client_secret", "bench"),
                ("scope", &format!("{url}/.default")),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client {
            http,
            api: format!("{url}/api/data/v9.2/"),
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    async fn post(&self, path: &str, body: String, content_type: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }
}

fn main() {
    let total: usize = std::env::var("FERRY_BENCH_DV_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let plan = [
        ("account", total * 3 / 10),
        ("contact", total * 4 / 10),
        ("incident", total - total * 3 / 10 - total * 4 / 10),
    ];

    // Baseline: the same records straight into a Store.
    eprintln!("baseline: {total} records straight into the store …");
    let rss_before_baseline = resident_mib();
    let started = Instant::now();
    {
        let mut store = Store::new(Schema::builtin("st"), OrgSettings::default());
        let caller = OrgSettings::default().application_user();
        let mut accounts: Vec<String> = Vec::new();
        for (table, n) in plan {
            for i in 0..n {
                let parent = (table != "account").then(|| accounts[i % accounts.len()].as_str());
                let id = store
                    .create(table, &record(table, i, parent), caller)
                    .unwrap();
                if table == "account" {
                    accounts.push(id.to_string());
                }
            }
        }
    }
    let baseline_seconds = started.elapsed().as_secs_f64();
    let baseline_rss_growth = resident_mib() - rss_before_baseline;

    let mut config = DataverseConfig::new("st");
    config.limits = "off".parse().unwrap();
    let emulator = DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let url = emulator.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rss_start = resident_mib();
    let mut samples: Vec<(usize, f64)> = Vec::new();

    eprintln!("CreateMultiple: {total} records, {CHUNK} per request, {IN_FLIGHT} in flight …");
    let (bulk_seconds, bulk_latencies) = runtime.block_on(async {
        let client = std::sync::Arc::new(Client::connect(&url).await);
        let mut latencies = Vec::new();
        let mut accounts: Vec<String> = Vec::new();
        let mut written = 0usize;
        let started = Instant::now();
        for (table, n) in plan {
            let mut offset = 0;
            while offset < n {
                let mut wave = Vec::new();
                for _ in 0..IN_FLIGHT {
                    if offset >= n {
                        break;
                    }
                    let end = (offset + CHUNK).min(n);
                    let targets: Vec<Value> = (offset..end)
                        .map(|i| {
                            let parent =
                                (table != "account").then(|| accounts[i % accounts.len()].as_str());
                            let mut r = record(table, i, parent);
                            r.insert(
                                "@odata.type".into(),
                                json!(format!("Microsoft.Dynamics.CRM.{table}")),
                            );
                            Value::Object(r)
                        })
                        .collect();
                    let body = json!({ "Targets": targets }).to_string();
                    let client = client.clone();
                    let path = format!("{}/Microsoft.Dynamics.CRM.CreateMultiple", set_of(table));
                    wave.push(tokio::spawn(async move {
                        let sent = Instant::now();
                        let (status, text) = client.post(&path, body, "application/json").await;
                        (status, text, sent.elapsed())
                    }));
                    offset = end;
                }
                for task in wave {
                    let (status, text, latency) = task.await.unwrap();
                    assert_eq!(status, 200, "{text}");
                    latencies.push(latency);
                    let reply: Value = serde_json::from_str(&text).unwrap();
                    let ids = reply["Ids"].as_array().unwrap();
                    written += ids.len();
                    if table == "account" {
                        accounts.extend(ids.iter().map(|v| v.as_str().unwrap().to_string()));
                    }
                    if written % 100_000 < CHUNK {
                        samples.push((written, resident_mib()));
                    }
                }
            }
        }
        (started.elapsed().as_secs_f64(), latencies)
    });

    eprintln!("$batch: 10,000 creates in batches of 100 …");
    let (batch_seconds, batch_latencies) = runtime.block_on(async {
        let client = Client::connect(&url).await;
        let mut latencies = Vec::new();
        let started = Instant::now();
        for b in 0..100 {
            let mut body = String::new();
            for i in 0..100 {
                let r = record("account", 2_000_000 + b * 100 + i, None);
                body.push_str(&format!(
                    "--batch_b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}\r\n",
                    Value::Object(r)
                ));
            }
            body.push_str("--batch_b--\r\n");
            let sent = Instant::now();
            let (status, text) = client
                .post("$batch", body, "multipart/mixed; boundary=batch_b")
                .await;
            assert_eq!(status, 200, "{}", &text[..text.len().min(500)]);
            latencies.push(sent.elapsed());
        }
        (started.elapsed().as_secs_f64(), latencies)
    });

    eprintln!("single creates: 5,000 POSTs …");
    let (single_seconds, mut single_latencies) = runtime.block_on(async {
        let client = Client::connect(&url).await;
        let mut latencies = Vec::new();
        let started = Instant::now();
        for i in 0..5000 {
            let body = Value::Object(record("account", 3_000_000 + i, None)).to_string();
            let sent = Instant::now();
            let (status, text) = client.post("accounts", body, "application/json").await;
            assert_eq!(status, 204, "{text}");
            latencies.push(sent.elapsed());
        }
        (started.elapsed().as_secs_f64(), latencies)
    });
    let rss_end = resident_mib();
    let stored =
        emulator.with_store(|s| s.count("account") + s.count("contact") + s.count("incident"));
    emulator.stop().unwrap();

    let mut bulk_latencies = bulk_latencies;
    bulk_latencies.sort();
    let mut batch_latencies = batch_latencies;
    batch_latencies.sort();
    single_latencies.sort();
    println!();
    println!("ferry Dataverse emulator benchmark: {total} records (accounts, contacts bound to accounts, cases bound to accounts); {stored} stored at the end");
    println!(
        "{:<34} {:>10} {:>12} {:>10} {:>10}",
        "operation", "seconds", "records/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<34} {:>10.2} {:>12.0} {:>10} {:>10}",
        "baseline: Store::create, no HTTP",
        baseline_seconds,
        total as f64 / baseline_seconds,
        "-",
        "-"
    );
    for (name, seconds, records, latencies) in [
        (
            "CreateMultiple (1,000/request)",
            bulk_seconds,
            total,
            &bulk_latencies,
        ),
        (
            "$batch (100 creates/request)",
            batch_seconds,
            10_000,
            &batch_latencies,
        ),
        ("single POST", single_seconds, 5_000, &single_latencies),
    ] {
        println!(
            "{:<34} {:>10.2} {:>12.0} {:>10.1} {:>10.1}",
            name,
            seconds,
            records as f64 / seconds,
            percentile(latencies, 0.5),
            percentile(latencies, 0.99)
        );
    }
    println!();
    println!(
        "ratio emulator CreateMultiple / direct store writes: {:.2} (time per record)",
        bulk_seconds / baseline_seconds
    );
    println!(
        "resident memory: {:.0} MiB at start of the HTTP run, {:.0} MiB at the end; direct store of the same records grew by {:.0} MiB",
        rss_start, rss_end, baseline_rss_growth
    );
    let per_100k: Vec<String> = samples
        .iter()
        .map(|(n, mib)| format!("{}k:{:.0}", n / 1000, mib))
        .collect();
    println!("RSS MiB by records stored: {}", per_100k.join(" "));
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        if last.0 > first.0 {
            println!(
                "growth: {:.0} bytes per record stored (linear in the records held; nothing else accumulates)",
                (last.1 - first.1) * 1024.0 * 1024.0 / (last.0 - first.0) as f64
            );
        }
    }
}
