//! `ferry map confirm|status`: editing a transform after sign-off makes
//! `map status` exit 1 naming the file; confirming again clears it.

use assert_cmd::Command;
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
