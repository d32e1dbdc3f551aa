//! `ferry init`: a documented workspace, and never over an existing one.

use assert_cmd::Command;
use predicates::str::contains;

fn ferry() -> Command {
    Command::cargo_bin("ferry").unwrap()
}

#[test]
fn init_writes_a_documented_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    ferry()
        .args([
            "init",
            "--profile",
            "field-service",
            "--source",
            "csv:/data/export",
            "--target",
            "http://127.0.0.1:9000",
        ])
        .arg(&ws)
        .assert()
        .success()
        .stdout(contains("created workspace"));
    for sub in ["landing", "reports", "mapping", "sql"] {
        assert!(ws.join(sub).is_dir(), "{sub} missing");
    }
    // Report definitions sit beside the rendered reports; the schema DDL
    // stays built in.
    assert!(ws.join("reports/inventory.sql").is_file());
    assert!(!ws.join("sql/reports").exists());
    assert!(!ws.join("sql/schema").exists());
    assert!(ws.join("sql/transforms/V010__account.sql").is_file());
    let text = std::fs::read_to_string(ws.join("ferry.toml")).unwrap();
    assert!(text.contains("profile = \"field-service\""));
    assert!(text.contains("path = \"/data/export\""));
    assert!(text.contains("url = \"http://127.0.0.1:9000\""));
    assert!(text.contains("api_key_env = \"SERVICETRACKER_API_KEY\""));
    // every setting is explained by a comment
    assert!(text.lines().filter(|l| l.starts_with('#')).count() >= 10);
    let ws = ferry::workspace::Workspace::open(&ws).unwrap();
    assert_eq!(ws.config.prefix, "st");
}

#[test]
fn init_refuses_an_existing_workspace_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    ferry().arg("init").arg(&ws).assert().success();
    std::fs::write(ws.join("ferry.toml"), "prefix = \"abc\"\n").unwrap();
    ferry()
        .arg("init")
        .arg(&ws)
        .assert()
        .code(2)
        .stderr(contains("a workspace already exists here"));
    assert_eq!(
        std::fs::read_to_string(ws.join("ferry.toml")).unwrap(),
        "prefix = \"abc\"\n"
    );
}

#[test]
fn a_source_that_is_neither_csv_nor_api_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    ferry()
        .args(["init", "--source", "ftp://x"])
        .arg(dir.path().join("ws"))
        .assert()
        .code(2)
        .stderr(contains("use csv:EXPORT_DIR or api:"));
    assert!(!dir.path().join("ws/ferry.toml").exists());
}

#[test]
fn a_typo_in_ferry_toml_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    ferry().arg("init").arg(&ws).assert().success();
    std::fs::write(ws.join("ferry.toml"), "prefx = \"st\"\n").unwrap();
    ferry()
        .arg("--workspace")
        .arg(&ws)
        .arg("extract")
        .assert()
        .code(2)
        .stderr(contains("prefx"));
}
