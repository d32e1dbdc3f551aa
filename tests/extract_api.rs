//! `ferry extract` from the ServiceTracker API (issue 3): the same landed
//! rows as the CSV path, resumable after a real kill, patient under 429s,
//! deltas with deletions, and clear failures — with the API key never
//! written anywhere.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use servicetracker_emulator::{Emulator, EmulatorConfig, MalformedPage, RunningEmulator};
use support::{duck, rows, TestWorkspace};

const KEY: &str = "st-test-key-5f2c9a";
const KEY_ENV: &str = "SERVICETRACKER_API_KEY";

fn ferry() -> Command {
    Command::cargo_bin("ferry").expect("ferry binary")
}

/// A dirty generated export of `customers` customers.
fn generate(dir: &Path, customers: u64) -> PathBuf {
    let export = dir.join("export");
    ferry()
        .args([
            "generate",
            "--customers",
            &customers.to_string(),
            "--seed",
            "11",
        ])
        .arg(&export)
        .assert()
        .success();
    export
}

fn emulator(config: EmulatorConfig) -> RunningEmulator {
    Emulator::load(config)
        .expect("emulator loads the export")
        .spawn("127.0.0.1:0".parse().unwrap())
        .expect("emulator listens")
}

/// A workspace reading the API at `url`, with a small page size so paging,
/// checkpoints and resumption are exercised on a small export.
fn api_workspace(url: &str, page_size: usize) -> TestWorkspace {
    let dir = tempfile::tempdir().expect("temp dir");
    ferry::commands::init::create_workspace(
        &dir.path().join("ws"),
        ferry::workspace::Profile::Sales,
        &ferry::workspace::SourceSetting::Api(url.to_string()),
        None,
    )
    .expect("init workspace");
    let toml = dir.path().join("ws/ferry.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace("page_size = 1000\n", &format!("page_size = {page_size}\n"));
    assert!(text.contains(&format!("page_size = {page_size}")), "{text}");
    std::fs::write(&toml, text).unwrap();
    TestWorkspace { dir }
}

/// Points the workspace at a restarted emulator (a new port).
fn point_at(ws: &TestWorkspace, url: &str) {
    let toml = ws.root().join("ferry.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("url = \"http://127.0.0.1:") {
                format!("url = \"{url}\"")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains(url), "{text}");
    std::fs::write(&toml, text).unwrap();
}

fn extract(ws: &TestWorkspace, extra: &[&str]) -> assert_cmd::assert::Assert {
    ws.ferry()
        .env(KEY_ENV, KEY)
        .args(["extract", "--allow-pending"])
        .args(extra)
        .assert()
}

/// Per object, every landed (id, _row_hash) in id order, and the column
/// list with types.
type Landed = BTreeMap<String, (Vec<(String, String)>, Vec<String>)>;

fn landed(folder: &Path) -> Landed {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("_manifest.json")).unwrap()).unwrap();
    let conn = duck();
    let mut out = BTreeMap::new();
    for (object, entry) in manifest["objects"].as_object().unwrap() {
        let file = folder.join(entry["file"]["file"].as_str().unwrap());
        let ids = rows(
            &conn,
            "SELECT id, _row_hash FROM read_parquet(?) ORDER BY id",
            &[&file.display().to_string()],
        )
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
        let columns = entry["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c["name"], c["type"]))
            .collect();
        out.insert(object.clone(), (ids, columns));
    }
    out
}

fn attachment_hashes(folder: &Path) -> Vec<Vec<Option<String>>> {
    rows(
        &duck(),
        "SELECT attachment_id, sha256, CAST(size_bytes AS VARCHAR) FROM read_parquet(?) ORDER BY attachment_id",
        &[&folder.join("_attachments.parquet").display().to_string()],
    )
}

fn only_extract(ws: &TestWorkspace) -> PathBuf {
    let complete = ws.complete_extracts();
    assert_eq!(complete.len(), 1, "{:?}", ws.landing_entries());
    complete.into_iter().next().unwrap()
}

fn assert_same_landing(a: &Path, b: &Path) {
    let (left, right) = (landed(a), landed(b));
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>()
    );
    for (object, (ids, columns)) in &left {
        let (other_ids, other_columns) = &right[object];
        assert_eq!(columns, other_columns, "{object}: columns differ");
        assert_eq!(ids.len(), other_ids.len(), "{object}: row counts differ");
        assert!(ids == other_ids, "{object}: landed rows differ");
    }
    assert_eq!(attachment_hashes(a), attachment_hashes(b));
}

/// The key must not be in any file of the workspace or in what was printed.
fn assert_key_nowhere(ws: &TestWorkspace, printed: &[&[u8]]) {
    for out in printed {
        assert!(
            !String::from_utf8_lossy(out).contains(KEY),
            "the API key was printed"
        );
    }
    let mut stack = vec![ws.root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                    "the API key is written in {}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn csv_and_api_extraction_land_identical_rows() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 60);
    let server = emulator(EmulatorConfig::new(&export, KEY));

    let csv = TestWorkspace::with_csv_source(&export);
    csv.ferry()
        .args(["extract", "--allow-pending"])
        .assert()
        .success();
    let api = api_workspace(&server.url(), 100);
    let out = extract(&api, &["--json"]).success();
    let folder = only_extract(&api);
    assert_same_landing(&only_extract(&csv), &folder);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["source"]["kind"], "api");
    assert_eq!(manifest["mode"], "full");
    assert!(!folder.join("_spool").exists(), "the spool is removed");
    for (object, entry) in manifest["objects"].as_object().unwrap() {
        assert_eq!(
            entry["source_rows"].as_u64().unwrap(),
            entry["landed_rows"].as_u64().unwrap() + entry["quarantined_rows"].as_u64().unwrap(),
            "{object}"
        );
    }

    // The API extract stages like any other.
    api.ferry().arg("stage").assert().success();
    assert_key_nowhere(&api, &[&out.get_output().stdout, &out.get_output().stderr]);
    server.stop();
}

#[test]
fn a_killed_extraction_resumes_to_the_same_landed_data() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 60);
    let mut config = EmulatorConfig::new(&export, KEY);
    // Slow enough that the kill lands mid-way.
    config.rate_limit = Some(25);
    let server = emulator(config);

    let reference = api_workspace(&server.url(), 40);
    extract(&reference, &[]).success();
    let full_requests = server.stats().requests;

    let ws = api_workspace(&server.url(), 40);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ferry"))
        .arg("--workspace")
        .arg(ws.root())
        .args(["extract", "--allow-pending"])
        .env(KEY_ENV, KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some pages are checkpointed, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no page was ever checkpointed");
        let pages = checkpointed_pages(&ws);
        if pages >= 5 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "extract finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial: Vec<String> = ws
        .landing_entries()
        .into_iter()
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert_eq!(partial.len(), 1, "{:?}", ws.landing_entries());
    assert!(ws.complete_extracts().is_empty());

    let before = server.stats().requests;
    let out = extract(&ws, &[]).success();
    let resumed_requests = server.stats().requests - before;
    let folder = only_extract(&ws);
    assert_eq!(
        format!("{}.partial", folder.file_name().unwrap().to_string_lossy()),
        partial[0],
        "the interrupted extract was continued, not restarted"
    );
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr).contains("resum"),
        "the resumption is announced"
    );
    assert_same_landing(&only_extract(&reference), &folder);
    assert!(
        resumed_requests < full_requests,
        "resuming re-fetched everything ({resumed_requests} requests vs {full_requests})"
    );
    server.stop();
}

fn checkpointed_pages(ws: &TestWorkspace) -> u64 {
    let landing = ws.root().join("landing");
    let Ok(entries) = std::fs::read_dir(&landing) else {
        return 0;
    };
    let mut pages = 0;
    for entry in entries.flatten() {
        let spool = entry.path().join("_spool");
        let Ok(objects) = std::fs::read_dir(&spool) else {
            continue;
        };
        for object in objects.flatten() {
            let checkpoint = object.path().join("checkpoint.json");
            if let Ok(bytes) = std::fs::read(&checkpoint) {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    pages += value["pages"].as_u64().unwrap_or(0);
                }
            }
        }
    }
    pages
}

#[test]
fn with_a_fifth_of_requests_throttled_nothing_is_retried_early() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 60);
    let clean = emulator(EmulatorConfig::new(&export, KEY));
    let reference = api_workspace(&clean.url(), 200);
    extract(&reference, &[]).success();
    clean.stop();

    let mut config = EmulatorConfig::new(&export, KEY);
    config.throttle_fraction = 0.2;
    config.retry_after_secs = 1;
    let server = emulator(config);
    let ws = api_workspace(&server.url(), 200);
    extract(&ws, &[]).success();
    let stats = server.stats();
    assert!(
        stats.throttled * 10 >= stats.requests,
        "about a fifth should be throttled: {stats:?}"
    );
    assert_eq!(stats.early_retries, 0, "{stats:?}");
    assert_same_landing(&only_extract(&reference), &only_extract(&ws));
    server.stop();
}

#[test]
fn a_delta_lands_exactly_the_changes_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 60);
    let server = emulator(EmulatorConfig::new(&export, KEY));
    let ws = api_workspace(&server.url(), 100);
    extract(&ws, &[]).success();
    ws.ferry().arg("stage").assert().success();
    server.stop();

    ferry()
        .args([
            "generate", "--mutate", "--change", "7", "--delete", "3", "--seed", "5",
        ])
        .arg(&export)
        .assert()
        .success();
    let mutations: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("mutations.json")).unwrap()).unwrap();
    let server = emulator(EmulatorConfig::new(&export, KEY));
    point_at(&ws, &server.url());
    extract(&ws, &["--since", "last"]).success();
    let extracts = ws.complete_extracts();
    assert_eq!(extracts.len(), 2);
    let delta = &extracts[1];
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(delta.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["mode"], "delta");

    let mut landed_ids: Vec<(String, String)> = Vec::new();
    for (object, (ids, _)) in landed(delta) {
        landed_ids.extend(ids.into_iter().map(|(id, _)| (object.clone(), id)));
    }
    landed_ids.sort();
    let mut changed: Vec<(String, String)> = mutations["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["object"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    changed.sort();
    changed.dedup();
    assert_eq!(landed_ids, changed);

    let deleted = rows(
        &duck(),
        "SELECT object, id FROM read_parquet(?) ORDER BY object, id",
        &[&delta.join("_deleted.parquet").display().to_string()],
    );
    let mut expected_deleted: Vec<Vec<Option<String>>> = mutations["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            vec![
                Some(d["object"].as_str().unwrap().to_string()),
                Some(d["id"].as_str().unwrap().to_string()),
            ]
        })
        .collect();
    expected_deleted.sort();
    assert_eq!(deleted, expected_deleted);

    // Staged: the current view shows the new values and not the deleted.
    ws.ferry().arg("stage").assert().success();
    let db = ferry::duck::open(&ws.root().join("ferry.duckdb")).unwrap();
    for change in mutations["changed"].as_array().unwrap() {
        let (object, id, field) = (
            change["object"].as_str().unwrap(),
            change["id"].as_str().unwrap(),
            change["field"].as_str().unwrap(),
        );
        let now = rows(
            &db,
            &format!("SELECT CAST(\"{field}\" AS VARCHAR) FROM raw.{object}_current WHERE id = ?"),
            &[&id],
        );
        assert_eq!(
            now,
            vec![vec![change["new"].as_str().map(str::to_string)]],
            "{object} {id}.{field}"
        );
    }
    for d in mutations["deleted"].as_array().unwrap() {
        let (object, id) = (d["object"].as_str().unwrap(), d["id"].as_str().unwrap());
        let current = rows(
            &db,
            &format!("SELECT CAST(count(*) AS VARCHAR) FROM raw.{object}_current WHERE id = ?"),
            &[&id],
        );
        assert_eq!(current, vec![vec![Some("0".to_string())]], "{object} {id}");
    }
    server.stop();
}

#[test]
fn a_wrong_key_is_exit_3_without_showing_any_key() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 56);
    let server = emulator(EmulatorConfig::new(&export, KEY));
    let ws = api_workspace(&server.url(), 100);
    let out = ws
        .ferry()
        .env(KEY_ENV, "not-the-key-123")
        .arg("extract")
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("refused the API key"), "{stderr}");
    assert!(stderr.contains(KEY_ENV), "{stderr}");
    assert!(!stderr.contains("not-the-key-123"), "{stderr}");
    assert!(ws.complete_extracts().is_empty());

    // No key at all is a configuration error.
    let out = ws
        .ferry()
        .env_remove(KEY_ENV)
        .arg("extract")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains(KEY_ENV), "{stderr}");
    server.stop();
}

#[test]
fn an_unreachable_server_is_exit_3_after_bounded_retries() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = api_workspace(&format!("http://127.0.0.1:{port}"), 100);
    let started = Instant::now();
    let out = ws.ferry().env(KEY_ENV, KEY).arg("extract").assert().code(3);
    assert!(started.elapsed() < Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("cannot reach ServiceTracker"), "{stderr}");
    assert!(stderr.contains("attempts"), "{stderr}");
    assert!(ws.complete_extracts().is_empty());
}

#[test]
fn a_malformed_page_names_object_and_cursor_and_lands_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let export = generate(dir.path(), 56);
    let mut config = EmulatorConfig::new(&export, KEY);
    config.malformed_pages = vec![MalformedPage {
        object: "contacts".into(),
        page: 2,
    }];
    let server = emulator(config);
    let ws = api_workspace(&server.url(), 50);
    let out = ws
        .ferry()
        .env(KEY_ENV, KEY)
        .args(["extract", "--allow-pending"])
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("contacts page at cursor"), "{stderr}");
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    assert!(
        ws.complete_extracts().is_empty(),
        "{:?}",
        ws.landing_entries()
    );
    server.stop();
}
