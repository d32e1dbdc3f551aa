//! `ferry serve servicetracker`: the emulator serves exactly what ferry's CSV
//! path lands (every id once, in order, values typed and written to the
//! contract), refuses and throttles like the real API, and follows an export
//! through `ferry generate --mutate` with deltas and deletions.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use chrono::{DateTime, NaiveDate, TimeZone};
use ferry::landing::extract::{extract_csv, ExtractOptions, ExtractReport};
use ferry::landing::manifest::ColumnOrigin;
use ferry::source::schema::FieldType;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use servicetracker_emulator::{Emulator, EmulatorConfig, MalformedPage, RunningEmulator, Stats};
use servicetracker_generator::{generate_export, DirtFile, DirtKind, GenerateOptions};
use sha2::{Digest, Sha256};
use support::{duck, rows};

const KEY: &str = "st-emulator-key-7d41";
const CUSTOMERS: u64 = 60;

// ------------------------------------------------------------------ setup

struct Export {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// A dirty generated export of 60 customers.
fn export(seed: u64) -> Export {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("export");
    generate_export(
        &path,
        &GenerateOptions {
            customers: CUSTOMERS,
            seed,
            clean: false,
        },
    )
    .expect("generate");
    Export { _dir: dir, path }
}

/// What ferry's CSV path lands from the export.
struct Landed {
    _dir: tempfile::TempDir,
    report: ExtractReport,
}

fn land(export: &Path) -> Landed {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = extract_csv(
        dir.path(),
        export,
        &ExtractOptions {
            batch_rows: 1000,
            parallel_objects: 2,
            allow_pending: true,
        },
    )
    .expect("extract");
    Landed { _dir: dir, report }
}

impl Landed {
    fn parquet(&self, object: &str) -> String {
        let file = &self.report.manifest.objects[object].file.file;
        self.report.folder.join(file).display().to_string()
    }

    fn ids(&self, object: &str) -> Vec<String> {
        let mut ids: Vec<String> = rows(
            &duck(),
            "SELECT id FROM read_parquet(?)",
            &[&self.parquet(object)],
        )
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
        ids.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        ids
    }
}

fn start(config: EmulatorConfig) -> RunningEmulator {
    Emulator::load(config)
        .expect("emulator loads")
        .spawn("127.0.0.1:0".parse().unwrap())
        .expect("emulator listens")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

async fn get_as(client: &reqwest::Client, url: &str, key: Option<&str>) -> Reply {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Reply {
    get_as(client, url, Some(KEY)).await
}

/// A JSON object's members in the order they were written, values raw.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl Ordered {
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
    fn raw(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.get())
            .unwrap_or_else(|| panic!("no key {key}"))
    }
    fn text(&self, key: &str) -> Option<String> {
        serde_json::from_str(self.raw(key)).unwrap()
    }
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Box<RawValue>>,
    next_cursor: Option<String>,
}

/// Every record of `object` (pages of 1000), raw JSON text.
async fn all_records(client: &reqwest::Client, base: &str, object: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v2/{object}?limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let reply = get(client, &url).await;
        assert_eq!(reply.status, 200, "{url}: {}", reply.text());
        let page: Page = serde_json::from_slice(&reply.body).unwrap();
        out.extend(page.data.iter().map(|r| r.get().to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

fn parse(record: &str) -> Ordered {
    serde_json::from_str(record).unwrap()
}

fn timestamp_text(micros: i64) -> String {
    let t = DateTime::from_timestamp_micros(micros).unwrap();
    if micros % 1_000_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn requests_without_the_key_are_refused_with_a_json_error() {
    let export = export(5);
    let server = start(EmulatorConfig::new(&export.path, KEY));
    let url = format!("{}/api/v2/customers?limit=1", server.url());
    runtime().block_on(async {
        let c = client();
        for key in [None, Some("wrong-key"), Some("")] {
            let reply = get_as(&c, &url, key).await;
            assert_eq!(reply.status, 401, "{key:?}");
            assert_eq!(reply.error_code(), "unauthorized");
            assert!(reply.header("x-ratelimit-remaining").is_none());
        }
        let basic = c
            .get(&url)
            .header("Authorization", format!("Basic {KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status().as_u16(), 401);

        let ok = get(&c, &url).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("x-ratelimit-remaining"), Some("999999"));
        assert_eq!(ok.header("content-type"), Some("application/json"));
        let next = get(&c, &url).await;
        assert_eq!(next.header("x-ratelimit-remaining"), Some("999998"));
        assert_eq!(next.json()["data"][0]["id"], "CUS-000001");

        // The statistics need no key and count what happened.
        let stats = get_as(&c, &format!("{}/_emulator/stats", server.url()), None).await;
        let stats: Stats = serde_json::from_slice(&stats.body).unwrap();
        assert_eq!((stats.requests, stats.unauthorized), (6, 4));
        assert_eq!(stats.served_records, 2);
    });
    assert_eq!(server.stats().by_object["customers"], 2);
    server.stop();
}

#[test]
fn paging_serves_every_landed_id_once_in_id_order_with_stable_cursors() {
    let export = export(5);
    let landed = land(&export.path);
    let expected = landed.ids("customers");
    assert!(expected.len() >= 55, "{}", expected.len());

    let server = start(EmulatorConfig::new(&export.path, KEY));
    let base = server.url();
    let (served, cursors) = runtime().block_on(async {
        let c = client();
        let mut served = Vec::new();
        let mut cursors = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{base}/api/v2/customers?limit=7");
            if let Some(cur) = &cursor {
                url.push_str(&format!("&cursor={cur}"));
            }
            let reply = get(&c, &url).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let page: Page = serde_json::from_slice(&reply.body).unwrap();
            assert!(page.data.len() <= 7);
            served.extend(page.data.iter().map(|r| parse(r.get()).text("id").unwrap()));
            match page.next_cursor {
                Some(next) => {
                    assert_eq!(page.data.len(), 7, "only the last page is short");
                    cursors.push(next.clone());
                    cursor = Some(next);
                }
                None => break,
            }
        }
        (served, cursors)
    });
    assert_eq!(served, expected, "every landed id once, in byte order");
    assert_eq!(cursors.len(), expected.len().div_ceil(7) - 1);
    let stats = server.stats();
    assert_eq!(stats.served_records, expected.len() as u64);
    assert_eq!(stats.by_object["customers"], expected.len() as u64);
    server.stop();

    // A cursor from one run continues in the next.
    let again = start(EmulatorConfig::new(&export.path, KEY));
    runtime().block_on(async {
        let c = client();
        let reply = get(
            &c,
            &format!(
                "{}/api/v2/customers?limit=7&cursor={}",
                again.url(),
                cursors[1]
            ),
        )
        .await;
        assert_eq!(reply.json()["data"][0]["id"], expected[14].as_str());

        // Bad requests are refused with a reason.
        for (query, code) in [
            ("limit=0", "invalid_limit"),
            ("limit=1001", "invalid_limit"),
            ("limit=ten", "invalid_limit"),
            ("cursor=%%%", "invalid_parameter"),
            ("cursor=not*base64", "invalid_cursor"),
            ("modified_since=yesterday", "invalid_modified_since"),
            ("since=2026-01-01T00:00:00Z", "invalid_parameter"),
        ] {
            let reply = get(&c, &format!("{}/api/v2/customers?{query}", again.url())).await;
            assert_eq!(
                (reply.status, reply.error_code()),
                (400, code.into()),
                "{query}"
            );
        }
        let reply = get(&c, &format!("{}/api/v2/invoices", again.url())).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (404, "unknown_object".into())
        );
        let reply = get(&c, &format!("{}/api/v2/customers?limit=1000", again.url())).await;
        assert_eq!(reply.json()["next_cursor"], serde_json::Value::Null);
    });
}

/// The DuckDB expression whose text is the expected JSON for a column.
fn duck_expression(name: &str, ty: FieldType) -> String {
    let col = format!("\"{name}\"");
    match ty {
        FieldType::Text => col,
        FieldType::Timestamp => format!("CAST(epoch_us({col}) AS VARCHAR)"),
        FieldType::Date => format!("CAST(({col} - DATE '1970-01-01') AS VARCHAR)"),
        _ => format!("CAST({col} AS VARCHAR)"),
    }
}

/// Whether `raw` (the API's JSON) is what the landed value says.
fn assert_value(
    object: &str,
    id: &str,
    name: &str,
    ty: FieldType,
    landed: Option<&str>,
    raw: &str,
) {
    let context = format!("{object} {id} {name}: API {raw}, landed {landed:?}");
    let Some(landed) = landed else {
        assert_eq!(raw, "null", "{context}");
        return;
    };
    match ty {
        FieldType::Text => {
            assert_eq!(
                serde_json::from_str::<String>(raw).unwrap(),
                landed,
                "{context}"
            )
        }
        FieldType::Integer | FieldType::Boolean => assert_eq!(raw, landed, "{context}"),
        FieldType::Decimal { scale, .. } => {
            // Exactly the landed digits, with exactly `scale` decimals.
            assert_eq!(raw, landed, "{context}");
            let decimals = raw.split_once('.').map_or(0, |(_, d)| d.len());
            assert_eq!(decimals, scale as usize, "{context}");
        }
        FieldType::Double => assert_eq!(
            raw.parse::<f64>().unwrap(),
            landed.parse::<f64>().unwrap(),
            "{context}"
        ),
        FieldType::Date => {
            let days: i64 = landed.parse().unwrap();
            let date = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days);
            assert_eq!(raw, format!("\"{}\"", date.format("%Y-%m-%d")), "{context}");
        }
        FieldType::Timestamp => {
            assert_eq!(
                raw,
                format!("\"{}\"", timestamp_text(landed.parse().unwrap())),
                "{context}"
            )
        }
    }
}

#[test]
fn every_value_is_the_landed_value_written_to_the_contract() {
    let export = export(6);
    let landed = land(&export.path);
    let server = start(EmulatorConfig::new(&export.path, KEY));
    let base = server.url();
    let conn = duck();
    let mut checked = BTreeMap::new();
    let mut quarantined_only = 0;
    let c = client();
    let rt = runtime();
    for (object, manifest) in &landed.report.manifest.objects {
        let records = rt.block_on(all_records(&c, &base, object));
        let columns = &manifest.columns;
        let top: Vec<&str> = columns
            .iter()
            .filter(|c| c.origin != ColumnOrigin::Custom)
            .map(|c| c.name.as_str())
            .chain(["custom_fields"])
            .collect();
        let mut custom: Vec<(String, &str)> = columns
            .iter()
            .filter(|c| c.origin == ColumnOrigin::Custom)
            .map(|c| {
                (
                    c.name.trim_start_matches("cf_").to_string(),
                    c.name.as_str(),
                )
            })
            .collect();
        custom.sort();
        let select: Vec<String> = columns
            .iter()
            .map(|c| duck_expression(&c.name, c.ty))
            .collect();
        let sql = format!(
            "SELECT {} FROM read_parquet(?) ORDER BY id",
            select.join(", ")
        );
        let mut expected: BTreeMap<String, Vec<Option<String>>> =
            rows(&conn, &sql, &[&landed.parquet(object)])
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r))
                .collect();
        let expected_ids: BTreeSet<String> = expected.keys().cloned().collect();
        assert_eq!(records.len(), expected.len(), "{object}");
        for record in &records {
            let record = parse(record);
            assert_eq!(record.keys(), top, "{object}: key order");
            let id = record.text("id").unwrap();
            let values = expected
                .remove(&id)
                .unwrap_or_else(|| panic!("{object} {id} not landed"));
            let custom_fields: Ordered = serde_json::from_str(record.raw("custom_fields")).unwrap();
            assert_eq!(
                custom_fields.keys(),
                custom.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                "{object}: custom_fields"
            );
            for (column, value) in columns.iter().zip(&values) {
                let raw = if column.origin == ColumnOrigin::Custom {
                    custom_fields.raw(column.name.trim_start_matches("cf_"))
                } else {
                    record.raw(&column.name)
                };
                assert_value(object, &id, &column.name, column.ty, value.as_deref(), raw);
            }
        }
        // Rows the CSV reader quarantined (and did not land) are not served.
        let quarantine = landed.report.folder.join("_quarantine.parquet");
        for row in rows(
            &conn,
            "SELECT DISTINCT record_id FROM read_parquet(?) WHERE object = ? AND record_id IS NOT NULL",
            &[&quarantine.display().to_string(), object],
        ) {
            let id = row[0].clone().unwrap();
            if !expected_ids.contains(&id) {
                quarantined_only += 1;
                let served = records
                    .iter()
                    .any(|r| parse(r).text("id").as_deref() == Some(id.as_str()));
                assert!(!served, "{object} {id} was quarantined and must not be served");
            }
        }
        checked.insert(object.clone(), records.len());
    }
    assert!(
        quarantined_only >= 3,
        "{quarantined_only} quarantined records checked"
    );
    assert_eq!(checked.len(), 16, "{checked:?}");
    assert!(checked.values().sum::<usize>() > 3000, "{checked:?}");

    // Spot checks a person would make, against the CSV text itself.
    let customers = rt.block_on(all_records(&c, &base, "customers"));
    let first = parse(&customers[0]);
    let csv_text = std::fs::read_to_string(export.path.join("customers.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader
        .records()
        .map(|r| r.unwrap())
        .find(|r| r.get(0) == Some("CUS-000001"))
        .unwrap();
    let at = |name: &str| {
        row.get(header.iter().position(|h| h == name).unwrap())
            .unwrap()
            .to_string()
    };
    let local =
        chrono::NaiveDateTime::parse_from_str(&at("created_at"), "%Y-%m-%d %H:%M:%S").unwrap();
    let utc = chrono_tz::America::Chicago
        .from_local_datetime(&local)
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        first.text("created_at").unwrap(),
        utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(first.text("company_name").unwrap(), at("company_name"));
    // Money keeps its cents: 26000.00, never 26000 or 26000.0.
    let credit: Vec<String> = customers
        .iter()
        .map(|r| parse(r))
        .map(|r| {
            serde_json::from_str::<Ordered>(r.raw("custom_fields"))
                .unwrap()
                .raw("credit_limit")
                .to_string()
        })
        .filter(|v| v != "null")
        .collect();
    assert!(!credit.is_empty());
    for value in &credit {
        let (whole, cents) = value.split_once('.').unwrap_or_else(|| panic!("{value}"));
        assert!(whole.parse::<i64>().is_ok() && cents.len() == 2, "{value}");
    }
    server.stop();
}

#[test]
fn modified_since_keeps_records_modified_at_or_after_it() {
    let export = export(7);
    let server = start(EmulatorConfig::new(&export.path, KEY));
    let base = server.url();
    runtime().block_on(async {
        let c = client();
        let all = all_records(&c, &base, "work_orders").await;
        let mut stamps: Vec<(String, String)> = all
            .iter()
            .map(|r| parse(r))
            .map(|r| (r.text("modified_at").unwrap(), r.text("id").unwrap()))
            .collect();
        stamps.sort();
        let (threshold, _) = stamps[stamps.len() * 2 / 3].clone();
        let expected: BTreeSet<String> = stamps
            .iter()
            .filter(|(at, _)| *at >= threshold)
            .map(|(_, id)| id.clone())
            .collect();
        assert!(expected.len() < all.len() && !expected.is_empty());

        // The same instant written with an offset selects the same records.
        let instant = DateTime::parse_from_rfc3339(&threshold).unwrap();
        let offset = instant
            .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
            .to_rfc3339();
        for since in [threshold.clone(), offset.replace('+', "%2B")] {
            let mut got = BTreeSet::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut url = format!("{base}/api/v2/work_orders?limit=5&modified_since={since}");
                if let Some(cur) = &cursor {
                    url.push_str(&format!("&cursor={cur}"));
                }
                let page: Page = serde_json::from_slice(&get(&c, &url).await.body).unwrap();
                got.extend(page.data.iter().map(|r| parse(r.get()).text("id").unwrap()));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!(got, expected, "modified_since={since}");
        }
        // After everything: an empty page with no cursor.
        let reply = get(
            &c,
            &format!("{base}/api/v2/work_orders?modified_since=2100-01-01T00:00:00Z"),
        )
        .await;
        assert_eq!(
            reply.json(),
            serde_json::json!({"data": [], "next_cursor": null})
        );
    });
}

#[test]
fn picklists_are_the_documented_values_only() {
    let export = export(5);
    let server = start(EmulatorConfig::new(&export.path, KEY));
    let reply = runtime().block_on(get(
        &client(),
        &format!("{}/api/v2/picklists", server.url()),
    ));
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        body["data"]["work_orders"]["priority"],
        serde_json::json!(["Low", "Medium", "High", "Critical"])
    );
    assert_eq!(
        body["data"]["work_orders"]["status"],
        serde_json::json!([
            "Open",
            "In Progress",
            "On Hold",
            "Closed Complete",
            "Cancelled"
        ])
    );
    let customer_fields: Vec<&String> = body["data"]["customers"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        customer_fields,
        ["invoice_method", "payment_terms", "status"]
    );
    assert!(
        !reply.text().contains("Waiting Parts"),
        "undocumented values are not picklist values"
    );
}

#[test]
fn attachment_contents_match_their_checksums() {
    let export = export(5);
    let server = start(EmulatorConfig::new(&export.path, KEY));
    let base = server.url();
    runtime().block_on(async {
        let c = client();
        let attachments = all_records(&c, &base, "attachments").await;
        assert!(attachments.len() > 20);
        for record in &attachments {
            let record = parse(record);
            let id = record.text("id").unwrap();
            let reply = get(&c, &format!("{base}/api/v2/attachments/{id}/content")).await;
            assert_eq!(reply.status, 200, "{id}: {}", reply.text());
            assert_eq!(
                hex::encode(Sha256::digest(&reply.body)),
                record.text("sha256").unwrap(),
                "{id}"
            );
            assert_eq!(
                reply.header("content-type").map(str::to_string),
                record.text("content_type")
            );
            assert!(reply.header("x-ratelimit-remaining").is_some());
        }
        for missing in ["ATT-9999999", "..", "..%2Fmanifest.json"] {
            let reply = get(&c, &format!("{base}/api/v2/attachments/{missing}/content")).await;
            assert_eq!(reply.status, 404, "{missing}");
            // (The client resolves a bare `..` itself, reaching another route.)
            let expected = if missing == ".." {
                "unknown_object"
            } else {
                "not_found"
            };
            assert_eq!(reply.error_code(), expected, "{missing}");
        }
    });
}

/// Status of each of `n` requests for distinct URLs.
async fn statuses(c: &reqwest::Client, base: &str, n: usize) -> Vec<Reply> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(get(c, &format!("{base}/api/v2/customers?limit={i}")).await);
    }
    out
}

#[test]
fn simulated_throttling_is_counted_and_early_retries_are_caught() {
    let export = export(5);
    let emulator = Emulator::load({
        let mut config = EmulatorConfig::new(&export.path, KEY);
        config.throttle_fraction = 0.5;
        config.retry_after_secs = 1;
        config.seed = 3;
        config
    })
    .unwrap();
    let server = emulator.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = server.url();
    let c = client();
    let rt = runtime();
    let replies = rt.block_on(statuses(&c, &base, 40));
    let refused: Vec<usize> = (0..40).filter(|i| replies[*i].status == 429).collect();
    assert!(
        (8..=32).contains(&refused.len()),
        "{} of 40 throttled",
        refused.len()
    );
    for i in &refused {
        let reply = &replies[*i];
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.error_code(), "rate_limited");
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
    for reply in replies.iter().filter(|r| r.status != 429) {
        assert_eq!(reply.status, 200);
    }
    let stats = server.stats();
    assert_eq!(stats.throttled, refused.len() as u64);
    assert_eq!(stats.early_retries, 0);

    // Retrying at once is too early and counted; after Retry-After it is not.
    let url = format!(
        "{base}/api/v2/customers?limit={}",
        refused.last().unwrap() + 1
    );
    let early = rt.block_on(get(&c, &url));
    assert_eq!(early.status, 429);
    assert_eq!(server.stats().early_retries, 1);
    std::thread::sleep(Duration::from_millis(1100));
    rt.block_on(get(&c, &url));
    assert_eq!(server.stats().early_retries, 1);

    // The same seed throttles the same requests.
    let second = emulator.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let again = rt.block_on(statuses(&c, &second.url(), 40));
    let refused_again: Vec<usize> = (0..40).filter(|i| again[*i].status == 429).collect();
    assert_eq!(refused, refused_again);
    second.stop();
    server.stop();
}

#[test]
fn the_rate_limit_and_daily_budget_answer_429_with_retry_after() {
    let export = export(5);
    let mut config = EmulatorConfig::new(&export.path, KEY);
    config.rate_limit = Some(2);
    let server = start(config);
    let rt = runtime();
    let c = client();
    let replies = rt.block_on(statuses(&c, &server.url(), 10));
    assert_eq!((replies[0].status, replies[1].status), (200, 200));
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(limited.len() >= 5, "{} of 10 limited", limited.len());
    for reply in &limited {
        assert_eq!(reply.error_code(), "rate_limited");
        let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!(wait >= 1);
    }
    server.stop();

    let mut config = EmulatorConfig::new(&export.path, KEY);
    config.daily_budget = 3;
    let server = start(config);
    let replies = rt.block_on(statuses(&c, &server.url(), 4));
    let remaining: Vec<Option<&str>> = replies
        .iter()
        .map(|r| r.header("x-ratelimit-remaining"))
        .collect();
    assert_eq!(remaining, [Some("2"), Some("1"), Some("0"), Some("0")]);
    assert_eq!(replies[3].status, 429);
    assert_eq!(replies[3].error_code(), "daily_budget_exhausted");
    let wait: u64 = replies[3].header("retry-after").unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let until_midnight = 86_400 - now % 86_400;
    assert!(
        wait.abs_diff(until_midnight) <= 2,
        "{wait} vs {until_midnight}"
    );
    server.stop();
}

#[test]
fn a_malformed_page_is_truncated_json_once() {
    let export = export(5);
    let mut config = EmulatorConfig::new(&export.path, KEY);
    config.malformed_pages = vec![MalformedPage {
        object: "contacts".into(),
        page: 2,
    }];
    let server = start(config);
    let base = server.url();
    runtime().block_on(async {
        let c = client();
        let first = get(&c, &format!("{base}/api/v2/contacts?limit=10")).await;
        let cursor = first.json()["next_cursor"].as_str().unwrap().to_string();
        let url = format!("{base}/api/v2/contacts?limit=10&cursor={cursor}");
        let broken = get(&c, &url).await;
        assert_eq!(broken.status, 200);
        assert!(
            broken.text().starts_with("{\"data\":["),
            "{}",
            broken.text()
        );
        assert!(serde_json::from_slice::<serde_json::Value>(&broken.body).is_err());
        let retried = get(&c, &url).await;
        assert_eq!(retried.json()["data"].as_array().unwrap().len(), 10);
    });
    let stats = server.stats();
    assert_eq!(stats.malformed_pages, 1);
    assert_eq!(
        stats.by_object["contacts"], 20,
        "the broken page served nothing"
    );
}

fn ferry() -> Command {
    Command::cargo_bin("ferry").unwrap()
}

#[derive(Deserialize)]
struct Mutations {
    seed: u64,
    rounds: Vec<serde_json::Value>,
    changed: Vec<Changed>,
    deleted: Vec<Deleted>,
}

#[derive(Deserialize, Debug)]
struct Changed {
    round: u64,
    object: String,
    id: String,
    field: String,
    old: String,
    new: String,
    modified_at: String,
}

#[derive(Deserialize, Debug)]
struct Deleted {
    round: u64,
    object: String,
    id: String,
    deleted_at: String,
}

/// Every object's records by id, raw JSON.
fn snapshot(
    server: &RunningEmulator,
    objects: &[String],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let c = client();
    runtime().block_on(async {
        let mut out = BTreeMap::new();
        for object in objects {
            let records = all_records(&c, &server.url(), object).await;
            out.insert(
                object.clone(),
                records
                    .into_iter()
                    .map(|r| (parse(&r).text("id").unwrap(), r))
                    .collect(),
            );
        }
        out
    })
}

#[test]
fn after_a_mutation_the_api_serves_changes_by_modified_since_and_deletions() {
    let export = export(8);
    let before_emulator = Emulator::load(EmulatorConfig::new(&export.path, KEY)).unwrap();
    let objects: Vec<String> = before_emulator.summary().records.keys().cloned().collect();
    let before_server = before_emulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let before = snapshot(&before_server, &objects);
    before_server.stop();
    let old_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.path.join("manifest.json")).unwrap()).unwrap();
    let old_exported_at = old_manifest["exported_at"].as_str().unwrap().to_string();

    let out = ferry()
        .arg("generate")
        .arg(&export.path)
        .args(["--mutate", "--change", "5", "--delete", "3", "--seed", "4"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("mutations.json"), "{stdout}");

    let mutations: Mutations =
        serde_json::from_slice(&std::fs::read(export.path.join("mutations.json")).unwrap())
            .unwrap();
    assert_eq!((mutations.seed, mutations.rounds.len()), (4, 1));
    assert_eq!((mutations.changed.len(), mutations.deleted.len()), (5, 3));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.path.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["deleted"],
        serde_json::json!({"file": "deleted.csv", "rows": 3})
    );
    let new_exported_at =
        DateTime::parse_from_rfc3339(manifest["exported_at"].as_str().unwrap()).unwrap();
    let old_instant = DateTime::parse_from_rfc3339(&old_exported_at).unwrap();
    for d in &mutations.deleted {
        let n = old_manifest["objects"][&d.object]["rows"].as_u64().unwrap();
        let gone = mutations
            .deleted
            .iter()
            .filter(|x| x.object == d.object)
            .count() as u64;
        assert_eq!(
            manifest["objects"][&d.object]["rows"].as_u64().unwrap(),
            n - gone
        );
    }
    for c in &mutations.changed {
        let at = DateTime::parse_from_rfc3339(&c.modified_at).unwrap();
        assert!(at > old_instant && at < new_exported_at, "{c:?}");
        assert_ne!(c.old, c.new);
        assert_eq!(c.round, 1);
    }
    let changed_objects: BTreeSet<&str> = mutations
        .changed
        .iter()
        .map(|c| c.object.as_str())
        .collect();
    assert!(
        changed_objects.len() >= 3,
        "changes spread over objects: {changed_objects:?}"
    );

    let after_emulator = Emulator::load(EmulatorConfig::new(&export.path, KEY)).unwrap();
    assert_eq!(
        after_emulator.summary().quarantined,
        before_emulator.summary().quarantined,
        "the malformed rows are still there, still malformed"
    );
    let server = after_emulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let base = server.url();
    let since = old_exported_at.replace('+', "%2B");
    runtime().block_on(async {
        let c = client();
        // modified_since = the old export time finds exactly the changes.
        let mut found = BTreeSet::new();
        for object in &objects {
            let reply = get(
                &c,
                &format!("{base}/api/v2/{object}?limit=1000&modified_since={since}"),
            )
            .await;
            let page: Page = serde_json::from_slice(&reply.body).unwrap();
            for raw in &page.data {
                let record = parse(raw.get());
                let id = record.text("id").unwrap();
                let change = mutations
                    .changed
                    .iter()
                    .find(|ch| ch.id == id)
                    .unwrap_or_else(|| panic!("{object} {id} was not changed"));
                assert_eq!(
                    record.text(&change.field).as_deref(),
                    Some(change.new.as_str())
                );
                assert_eq!(record.text("modified_at").unwrap(), change.modified_at);
                found.insert(id);
            }
        }
        let changed: BTreeSet<String> = mutations.changed.iter().map(|c| c.id.clone()).collect();
        assert_eq!(found, changed);

        // The deletions, all since the old export, and per object.
        let reply = get(&c, &format!("{base}/api/v2/deleted?since={since}")).await;
        let listed = reply.json();
        assert_eq!(listed["next_cursor"], serde_json::Value::Null);
        let listed: Vec<(String, String, String)> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["object"].as_str().unwrap().to_string(),
                    d["id"].as_str().unwrap().to_string(),
                    d["deleted_at"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let truth: Vec<(String, String, String)> = mutations
            .deleted
            .iter()
            .map(|d| (d.object.clone(), d.id.clone(), d.deleted_at.clone()))
            .collect();
        assert_eq!(listed, truth);
        let one = &mutations.deleted[0];
        let reply = get(&c, &format!("{base}/api/v2/deleted?object={}", one.object)).await;
        let body = reply.json();
        let of_object: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = mutations
            .deleted
            .iter()
            .filter(|d| d.object == one.object)
            .map(|d| d.id.as_str())
            .collect();
        assert_eq!(of_object, expected);
        let later = get(
            &c,
            &format!("{base}/api/v2/deleted?since=2100-01-01T00:00:00Z"),
        )
        .await;
        assert_eq!(later.json()["data"], serde_json::json!([]));
        let bad = get(&c, &format!("{base}/api/v2/deleted?since=soon")).await;
        assert_eq!(bad.status, 400);
    });

    // Everything else is served exactly as before.
    let after = snapshot(&server, &objects);
    for object in &objects {
        for (id, json) in &before[object] {
            let deleted = mutations.deleted.iter().any(|d| &d.id == id);
            let change = mutations.changed.iter().find(|c| &c.id == id);
            match (deleted, change) {
                (true, _) => assert!(!after[object].contains_key(id), "{id} still served"),
                (false, Some(change)) => {
                    let (old, new) = (parse(json), parse(&after[object][id]));
                    for (key, value) in &old.0 {
                        if key != &change.field && key != "modified_at" {
                            assert_eq!(value.get(), new.raw(key), "{id}.{key}");
                        }
                    }
                    assert_eq!(
                        old.text(&change.field).as_deref(),
                        Some(change.old.as_str())
                    );
                }
                (false, None) => assert_eq!(json, &after[object][id], "{object} {id} changed"),
            }
        }
        assert_eq!(
            after[object].len(),
            before[object].len()
                - mutations
                    .deleted
                    .iter()
                    .filter(|d| &d.object == object)
                    .count()
        );
    }
    server.stop();
}

/// The physical lines of a file (LF-separated, CR kept off).
fn lines(path: &Path) -> Vec<String> {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    text.split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

#[test]
fn mutations_keep_every_other_byte_and_the_dirt_ground_truth() {
    let export = export(9);
    let originals: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&export.path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let dirt_before = DirtFile::read(export.path.join("dirt.json")).unwrap();
    let summary = servicetracker_generator::mutate::mutate_export(
        &export.path,
        &servicetracker_generator::mutate::MutateOptions {
            change: 12,
            delete: 30,
            seed: 1,
        },
    )
    .unwrap();
    assert_eq!((summary.changed.len(), summary.deleted.len()), (12, 30));
    let dirt = DirtFile::read(export.path.join("dirt.json")).unwrap();
    let dirty: BTreeSet<&str> = dirt
        .dirt
        .iter()
        .flat_map(|e| e.ids.iter().map(String::as_str))
        .collect();
    for id in summary
        .changed
        .iter()
        .map(|c| &c.id)
        .chain(summary.deleted.iter().map(|d| &d.id))
    {
        assert!(
            !dirty.contains(id.as_str()),
            "{id} carries dirt and must not be picked"
        );
    }
    for (name, bytes) in &originals {
        let object = name.trim_end_matches(".csv");
        let now = std::fs::read(export.path.join(name)).unwrap();
        let touched = summary.changed.iter().any(|c| c.object == object)
            || summary.deleted.iter().any(|d| d.object == object);
        if !touched {
            assert_eq!(&now, bytes, "{name} untouched");
            continue;
        }
        // Removing the deleted records' lines and the changed records' lines
        // from both sides leaves identical files.
        let old_text = String::from_utf8_lossy(bytes).into_owned();
        let new_text = String::from_utf8_lossy(&now).into_owned();
        let picked: BTreeSet<String> = summary
            .changed
            .iter()
            .filter(|c| c.object == object)
            .map(|c| format!("{},", c.id))
            .chain(
                summary
                    .deleted
                    .iter()
                    .filter(|d| d.object == object)
                    .map(|d| format!("{},", d.id)),
            )
            .collect();
        let keep = |text: &str| -> Vec<String> {
            text.split('\n')
                .filter(|l| !picked.iter().any(|p| l.starts_with(p.as_str())))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(keep(&old_text), keep(&new_text), "{name}");
        assert_eq!(
            old_text.starts_with('\u{feff}'),
            new_text.starts_with('\u{feff}'),
            "{name} BOM"
        );
    }
    // Malformed rows still sit, byte for byte, on the line dirt.json names.
    for entry in dirt.entries(DirtKind::MalformedRow) {
        let file = lines(&export.path.join(format!("{}.csv", entry.object)));
        for (id, line) in &entry.lines {
            assert_eq!(
                file[*line as usize - 1],
                entry.expected[id],
                "{} line {line}",
                entry.object
            );
        }
    }
    for entry in dirt.entries(DirtKind::UntypeableValue) {
        let file = lines(&export.path.join(format!("{}.csv", entry.object)));
        for (id, line) in &entry.lines {
            assert!(
                file[*line as usize - 1].starts_with(&format!("{id},")),
                "{id} line {line}"
            );
        }
    }
    // ... on lines that moved up past the deletions before them.
    let moved = dirt
        .dirt
        .iter()
        .zip(&dirt_before.dirt)
        .flat_map(|(now, then)| {
            now.lines
                .iter()
                .filter(move |(id, line)| then.lines[*id] != **line)
        })
        .count();
    assert!(moved > 0, "the deletions should have moved some dirt rows");
    // deleted.csv lists them in local time, like every CSV timestamp.
    let deleted_csv = std::fs::read_to_string(export.path.join("deleted.csv")).unwrap();
    let mut csv_lines = deleted_csv.lines();
    assert_eq!(csv_lines.next(), Some("object,id,deleted_at"));
    let first = csv_lines.next().unwrap();
    let d = &summary.deleted[0];
    let local = DateTime::parse_from_rfc3339(&d.deleted_at)
        .unwrap()
        .with_timezone(&chrono_tz::America::Chicago)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(first, format!("{},{},{local}", d.object, d.id));

    // A second round extends the ground truth and moves time on again.
    let second = servicetracker_generator::mutate::mutate_export(
        &export.path,
        &servicetracker_generator::mutate::MutateOptions {
            change: 3,
            delete: 2,
            seed: 1,
        },
    )
    .unwrap();
    assert_eq!(second.round.round, 2);
    assert_eq!(
        second.round.previous_exported_at.as_deref(),
        Some(summary.round.exported_at.as_str())
    );
    let mutations: Mutations =
        serde_json::from_slice(&std::fs::read(export.path.join("mutations.json")).unwrap())
            .unwrap();
    assert_eq!((mutations.changed.len(), mutations.deleted.len()), (15, 32));
    assert!(mutations
        .deleted
        .iter()
        .filter(|d| d.round == 2)
        .all(|d| d.deleted_at > summary.deleted[29].deleted_at));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.path.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["deleted"]["rows"], 32);
    assert_eq!(deleted_csv.lines().count(), 31);
    assert_eq!(
        std::fs::read_to_string(export.path.join("deleted.csv"))
            .unwrap()
            .lines()
            .count(),
        33
    );
    // The export still lands, with every row accounted for.
    land(&export.path);
}

#[test]
fn mutate_refuses_a_folder_without_an_export_and_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = ferry()
        .arg("generate")
        .arg(dir.path())
        .args(["--mutate", "--change", "1"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("no ServiceTracker export"), "{stderr}");
    ferry()
        .arg("generate")
        .arg(dir.path())
        .args(["--change", "1"])
        .assert()
        .code(2);
    ferry()
        .arg("generate")
        .arg(dir.path())
        .args(["--mutate", "--customers", "5"])
        .assert()
        .code(2);
    let export = export(5);
    let out = ferry()
        .arg("generate")
        .arg(&export.path)
        .args(["--mutate", "--delete", "100000"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("can be changed"), "{stderr}");
    assert!(
        !export.path.join("mutations.json").exists(),
        "a refusal writes nothing"
    );
}

#[test]
fn the_cli_prints_where_it_listens_first_and_stops_on_sigterm() {
    let export = export(5);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ferry"))
        .args(["serve", "servicetracker", "--addr", "127.0.0.1:0", "--data"])
        .arg(&export.path)
        .env("SERVICETRACKER_API_KEY", KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let url = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let reply = runtime().block_on(get(&client(), &format!("{url}/api/v2/customers?limit=3")));
    assert_eq!(reply.json()["data"].as_array().unwrap().len(), 3);

    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("stopped: 1 requests, 3 records served"),
        "{stderr}"
    );
    assert!(!rest.contains(KEY) && !stderr.contains(KEY) && !first.contains(KEY));

    // Without a key it refuses to start.
    let out = ferry()
        .args(["serve", "servicetracker", "--addr", "127.0.0.1:0", "--data"])
        .arg(&export.path)
        .env_remove("SERVICETRACKER_API_KEY")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("no API key"), "{stderr}");
}
