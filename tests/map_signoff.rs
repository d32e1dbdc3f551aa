//! `ferry map confirm|status`: editing a transform after sign-off makes
//! `map status` exit 1 naming the file; confirming again clears it.

use assert_cmd::Command;
use ferry::commands::init::create_workspace;
use ferry::mapping::signoff::{confirm, read_record, status, ChangeKind};
use ferry::workspace::{Profile, SourceSetting, Workspace};
use predicates::str::contains;

fn ferry(ws: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("ferry").unwrap();
    cmd.arg("--workspace").arg(ws);
    cmd
}

#[test]
fn an_edit_after_sign_off_is_named_until_confirmed_again() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    Command::cargo_bin("ferry")
        .unwrap()
        .arg("init")
        .arg(&ws)
        .assert()
        .success();
    ferry(&ws)
        .args(["map", "status"])
        .assert()
        .code(1)
        .stdout(contains("not been signed off"));
    ferry(&ws)
        .args(["map", "confirm", "--by", "Ana Analyst"])
        .assert()
        .success()
        .stdout(contains("signed off by Ana Analyst"));
    ferry(&ws)
        .args(["map", "status"])
        .assert()
        .success()
        .stdout(contains("nothing changed"));

    let file = ws.join("sql/transforms/V060__incident.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("AS title", "AS title -- reviewed")).unwrap();
    ferry(&ws)
        .args(["map", "status"])
        .assert()
        .code(1)
        .stdout(contains("modified  sql/transforms/V060__incident.sql"));
    let out = ferry(&ws)
        .args(["--json", "map", "status"])
        .assert()
        .code(1);
    let status: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        status["changes"][0]["file"],
        "sql/transforms/V060__incident.sql"
    );

    ferry(&ws)
        .args(["map", "confirm", "--by", "Ana Analyst"])
        .assert()
        .success();
    ferry(&ws).args(["map", "status"]).assert().success();
}

// The sign-off record itself, through the library: which change is named
// how, and that a sign-off needs a name.

fn workspace() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    create_workspace(&root, Profile::Sales, &SourceSetting::Unset, None).unwrap();
    let ws = Workspace::open(&root).unwrap();
    (dir, ws)
}

#[test]
fn confirm_then_edit_add_and_remove_are_each_named() {
    let (_dir, ws) = workspace();
    let unsigned = status(&ws).unwrap();
    assert!(unsigned.signed.is_none());
    assert!(unsigned.refusal().unwrap().contains("map confirm"));

    confirm(&ws, "Ana Analyst").unwrap();
    let clean = status(&ws).unwrap();
    assert!(clean.is_clean(), "{:?}", clean.changes);
    assert!(clean.files > 10);

    let account = ws.root.join("sql/transforms/V010__account.sql");
    let mut text = std::fs::read_to_string(&account).unwrap();
    text.push_str("\n-- edited\n");
    std::fs::write(&account, text).unwrap();
    std::fs::write(ws.root.join("sql/transforms/V900__extra.sql"), "select 1").unwrap();
    std::fs::remove_file(ws.root.join("mapping/users.csv")).unwrap();
    let changed = status(&ws).unwrap();
    let named: Vec<(String, ChangeKind)> = changed
        .changes
        .iter()
        .map(|c| (c.file.clone(), c.kind))
        .collect();
    assert_eq!(
        named,
        vec![
            ("mapping/users.csv".to_string(), ChangeKind::Removed),
            (
                "sql/transforms/V010__account.sql".to_string(),
                ChangeKind::Modified
            ),
            (
                "sql/transforms/V900__extra.sql".to_string(),
                ChangeKind::Added
            ),
        ]
    );
    assert!(changed.refusal().unwrap().contains("V010__account.sql"));

    confirm(&ws, "Ana Analyst").unwrap();
    assert!(status(&ws).unwrap().is_clean());
    assert_eq!(read_record(&ws).unwrap().history.len(), 1);
}

#[test]
fn a_sign_off_needs_a_name() {
    let (_dir, ws) = workspace();
    assert!(confirm(&ws, "  ").is_err());
}
