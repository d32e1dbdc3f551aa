//! `ferry verify` end to end against the in-tree Dataverse emulator, on
//! the generated 300-customer dataset: after a clean push every column of
//! every pushed record round-trips (zero differences, exit 0); after one
//! field is changed inside the org, one record deleted and one text cut
//! short, verify reports exactly those three — and nothing else — and
//! `reports/diff.html` shows them.

#[path = "support/push_target.rs"]
mod push_target;
#[path = "support/staged.rs"]
mod staged;

use dataverse_emulator::faults::FaultConfig;
use dataverse_emulator::limits::LimitsConfig;
use dataverse_emulator::store::{RecordKey, WriteMode};
use dataverse_emulator::RunningDataverse;
use push_target::{org_with, point_at, run, run_json, waive_errors};
use serde_json::{json, Map, Value};
use staged::Staged;
use uuid::Uuid;

fn verify(ws: &Staged) -> (i32, Value, String) {
    run_json(ws, &["verify"])
}

/// A workspace whose staged rows were pushed into a fresh org.
fn pushed() -> (Staged, RunningDataverse) {
    let ws = Staged::sales();
    let org = org_with(&ws, LimitsConfig::off(), FaultConfig::default());
    point_at(&ws, &org);
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "verify test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["push"]);
    assert!(code <= 1, "{out}{err}");
    (ws, org)
}

fn update(org: &RunningDataverse, table: &str, id: &str, column: &str, value: Value) {
    let mut body = Map::new();
    body.insert(column.into(), value);
    org.with_store(|s| {
        let caller = s.org().application_user();
        s.write(
            table,
            &RecordKey::Id(Uuid::parse_str(id).unwrap()),
            &body,
            WriteMode::UpdateOnly,
            caller,
        )
    })
    .unwrap();
}

#[test]
fn verify_finds_exactly_the_changed_the_deleted_and_the_cut_record() {
    let (ws, org) = pushed();

    // Right after the push nothing differs: every column of every pushed
    // record round-trips through the target.
    let (code, summary, err) = verify(&ws);
    let unexplained = ws.query(
        "SELECT table_name, record_id, column_name, kind, staged_value, target_value FROM verify.differences
         UNION ALL BY NAME SELECT table_name, record_id, status AS kind, note FROM verify.records WHERE status <> 'not_pushed' LIMIT 20",
    );
    assert_eq!(unexplained, Vec::<Value>::new(), "{err}");
    assert_eq!(summary["differences"], 0, "{summary:#}\n{err}");
    assert_eq!(summary["problems"], 0, "{summary:#}\n{err}");
    assert_eq!(code, 0, "{summary:#}\n{err}");
    let compared: u64 = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["compared"].as_u64().unwrap())
        .sum();
    assert!(compared > 10_000, "{summary:#}");
    for t in summary["tables"].as_array().unwrap() {
        assert_eq!(t["compared"], t["matched"], "{t}");
    }
    // The read-back holds the pushed records under the stg column names.
    let joined = ws.scalar(
        "SELECT count(*) FROM stg.account s JOIN dv.account d USING (accountid) WHERE s.name = d.name",
    );
    assert_ne!(joined, "0");
    assert_eq!(
        ws.scalar("SELECT count(*) FROM dv.read_backs WHERE table_name = 'account'"),
        "1"
    );

    // Three edits inside the org: one field of one account, one note
    // deleted, one contact's job title cut to a prefix.
    let account = ws
        .query("SELECT CAST(accountid AS VARCHAR) id, st_record_id FROM dv.account WHERE telephone1 IS NOT NULL ORDER BY st_record_id LIMIT 1")
        .remove(0);
    update(
        &org,
        "account",
        account["id"].as_str().unwrap(),
        "telephone1",
        json!("+1 555 0000"),
    );
    let note = ws
        .query("SELECT CAST(annotationid AS VARCHAR) id, st_record_id FROM dv.annotation ORDER BY st_record_id LIMIT 1")
        .remove(0);
    org.with_store(|s| {
        s.delete(
            "annotation",
            &RecordKey::Id(Uuid::parse_str(note["id"].as_str().unwrap()).unwrap()),
        )
    })
    .unwrap();
    let contact = ws
        .query("SELECT CAST(contactid AS VARCHAR) id, st_record_id, jobtitle FROM dv.contact WHERE length(jobtitle) > 6 ORDER BY st_record_id LIMIT 1")
        .remove(0);
    let title = contact["jobtitle"].as_str().unwrap();
    let cut: String = title.chars().take(4).collect();
    update(
        &org,
        "contact",
        contact["id"].as_str().unwrap(),
        "jobtitle",
        json!(cut),
    );

    let (code, summary, err) = verify(&ws);
    assert_eq!(code, 1, "{summary:#}\n{err}");
    assert_eq!(summary["problems"], 3, "{summary:#}");
    let differences = ws.query(
        "SELECT table_name, record_id, column_name, kind, staged_value, target_value FROM verify.differences ORDER BY table_name",
    );
    assert_eq!(
        differences,
        vec![
            json!({
                "table_name": "account",
                "record_id": account["st_record_id"],
                "column_name": "telephone1",
                "kind": "differing",
                "staged_value": ws.scalar(&format!(
                    "SELECT telephone1 FROM stg.account WHERE accountid = '{}'",
                    account["id"].as_str().unwrap()
                )),
                "target_value": "+1 555 0000",
            }),
            json!({
                "table_name": "contact",
                "record_id": contact["st_record_id"],
                "column_name": "jobtitle",
                "kind": "truncated",
                "staged_value": title,
                "target_value": cut,
            }),
        ]
    );
    let records = ws.query(
        "SELECT table_name, record_id, status FROM verify.records WHERE status <> 'not_pushed' ORDER BY table_name",
    );
    assert_eq!(
        records,
        vec![
            json!({"table_name": "account", "record_id": account["st_record_id"], "status": "differing"}),
            json!({"table_name": "annotation", "record_id": note["st_record_id"], "status": "missing"}),
            json!({"table_name": "contact", "record_id": contact["st_record_id"], "status": "truncated"}),
        ]
    );
    // Per-column counts say the same.
    assert_eq!(
        ws.scalar("SELECT sum(differing) FROM verify.columns WHERE table_name = 'account' AND column_name = 'telephone1'"),
        "1"
    );
    assert_eq!(
        ws.scalar("SELECT sum(differing + truncated) FROM verify.columns"),
        "2"
    );

    // The report shows all three, values escaped.
    let html = std::fs::read_to_string(ws.root().join("reports/diff.html")).unwrap();
    for needle in [
        account["st_record_id"].as_str().unwrap(),
        note["st_record_id"].as_str().unwrap(),
        contact["st_record_id"].as_str().unwrap(),
        "+1 555 0000",
        "truncated",
        "missing",
    ] {
        assert!(html.contains(needle), "diff.html lacks {needle}");
    }
    assert!(!html.contains("<script"), "reports carry no scripts");
    assert!(ws.root().join("reports/diff.json").is_file());
}

#[test]
fn verify_before_any_push_says_to_push_first() {
    let ws = Staged::sales();
    let (code, out, err) = run(&ws, &["transform"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["verify"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("ferry push"), "{err}");
}
