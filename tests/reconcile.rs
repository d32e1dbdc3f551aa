//! `ferry reconcile` end to end against the in-tree Dataverse emulator on
//! the generated 300-customer dataset: after a push every count adds up
//! (checked against the export's manifest, `stg.*`, `audit.records` and
//! the emulator's own store), picklist distributions match source and
//! target, and the command exits 0; a record deleted inside the org, a
//! record the org holds that ferry never pushed, and a staged row whose
//! push outcome vanished from the audit each break conservation by name
//! and make it exit 1.

#[path = "support/push_target.rs"]
mod push_target;
#[path = "support/staged.rs"]
mod staged;

use std::collections::BTreeMap;

use dataverse_emulator::faults::FaultConfig;
use dataverse_emulator::limits::LimitsConfig;
use dataverse_emulator::store::RecordKey;
use dataverse_emulator::RunningDataverse;
use push_target::{org_with, point_at, run, run_json, waive_errors};
use serde_json::Value;
use staged::Staged;

fn reconcile(ws: &Staged) -> (i32, Value, String) {
    run_json(ws, &["reconcile"])
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap(),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
        other => panic!("not a number: {other}"),
    }
}

fn scalar(ws: &Staged, sql: &str) -> i64 {
    ws.scalar(sql).parse().unwrap()
}

/// Rows of a JSON list keyed by one of their columns.
fn by<'a>(rows: &'a Value, key: &str) -> BTreeMap<String, &'a Value> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r[key].as_str().unwrap().to_string(), r))
        .collect()
}

fn breaks(json: &Value) -> Vec<(String, String)> {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "break")
        .map(|c| {
            (
                c["check_name"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A pushed workspace and its org.
fn pushed() -> (Staged, RunningDataverse, Value) {
    let ws = Staged::sales();
    let org = org_with(&ws, LimitsConfig::off(), FaultConfig::default());
    point_at(&ws, &org);
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "reconcile test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["--json", "push"]);
    assert!(code <= 1, "{out}{err}");
    let summary: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}\n{err}"));
    (ws, org, summary)
}

#[test]
fn reconcile_refuses_before_anything_was_pushed() {
    let ws = Staged::sales();
    let (code, out, err) = run(&ws, &["reconcile"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("ferry push"), "{err}");
    assert!(out.is_empty(), "{out}");
}

#[test]
fn counts_add_up_after_a_push_and_each_break_is_named() {
    let (ws, org, push) = pushed();

    // Clean run: reads the target back itself (dv.* does not exist yet).
    let (code, json, stderr) = reconcile(&ws);
    assert!(stderr.contains("reading the target back"), "{stderr}");
    assert_eq!(breaks(&json), Vec::<(String, String)>::new(), "{json:#}");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["breaks"], 0);

    // Source side: the export's manifest, landed + quarantined, per object.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.export().join("manifest.json")).unwrap())
            .unwrap();
    let objects = by(&json["objects"], "object");
    for (object, entry) in manifest["objects"].as_object().unwrap() {
        let o = objects[object.as_str()];
        assert_eq!(int(&o["source_rows"]), int(&entry["rows"]), "{object}");
        assert_eq!(
            int(&o["landed_rows"]) + int(&o["quarantined_rows"]),
            int(&entry["rows"]),
            "{object}"
        );
        let current = scalar(&ws, &format!("SELECT count(*) FROM raw.{object}_current"));
        assert_eq!(int(&o["current_records"]), current, "{object}");
        assert_eq!(
            int(&o["in_stg"]) + int(&o["folded"]) + int(&o["excluded"]),
            current,
            "{object}"
        );
    }
    let quarantined: i64 = objects.values().map(|o| int(&o["quarantined_rows"])).sum();
    assert!(quarantined > 0, "the dirty dataset has malformed rows");

    // Target side, table by table, against stg, the audit and the org.
    let tables = by(&json["tables"], "target_table");
    let mut created_total = 0;
    let mut failed_total = 0;
    for (table, t) in &tables {
        let staged = scalar(&ws, &format!("SELECT count(*) FROM stg.{table}"));
        assert_eq!(int(&t["staged"]), staged, "{table}");
        assert_eq!(
            int(&t["pushed"]) + int(&t["failed"]) + int(&t["skipped"]),
            staged,
            "{table}: every staged row pushed, failed or skipped"
        );
        assert_eq!(int(&t["not_pushed"]), 0, "{table}");
        let audited_created = scalar(
            &ws,
            &format!("SELECT count(*) FROM audit.records WHERE table_name = '{table}' AND step IN ('records', 'associate') AND operation = 'created'"),
        );
        assert_eq!(int(&t["created"]), audited_created, "{table}");
        created_total += int(&t["created"]);
        failed_total += int(&t["failed"]);
        if t["sent_as"] == "record" && t["read_back"] == true {
            // The org's own records (seeded units, the default unit
            // group) carry no ferry record id and are not ferry's to count.
            let in_org = org
                .with_store(|s| s.rows(table))
                .unwrap()
                .iter()
                .filter(|r| r.get("st_record_id").is_some_and(Value::is_string))
                .count() as i64;
            assert_eq!(int(&t["target_records"]), in_org, "{table}");
            assert_eq!(int(&t["missing"]), 0, "{table}");
            assert_eq!(int(&t["unexpected"]), 0, "{table}");
        }
    }
    assert_eq!(created_total, int(&push["created"]), "{push}");
    assert_eq!(failed_total, int(&push["failed"]), "{push}");
    let incident = tables["incident"];
    assert_eq!(
        int(&incident["present"]),
        scalar(&ws, "SELECT count(*) FROM stg.incident"),
        "every case arrived"
    );
    assert_eq!(tables["activityparty"]["sent_as"], "inline");

    // The stage totals are the per-table sums.
    let stages = by(&json["stages"], "stage");
    let sum = |key: &str| -> i64 { tables.values().map(|t| int(&t[key])).sum() };
    assert_eq!(int(&stages["stg rows"]["records"]), sum("staged"));
    assert_eq!(int(&stages["pushed: created"]["records"]), sum("created"));
    assert_eq!(int(&stages["failed"]["records"]), sum("failed"));
    assert_eq!(int(&stages["in the target"]["records"]), sum("present"));

    // Picklists: the priority distribution is the org's, value by value,
    // and the source's translation of it.
    let priority: Vec<&Value> = json["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["target_table"] == "incident" && d["target_column"] == "prioritycode")
        .collect();
    assert!(priority.len() >= 4, "{priority:?}");
    let mut in_org: BTreeMap<Option<i64>, i64> = BTreeMap::new();
    for row in org.with_store(|s| s.rows("incident")).unwrap() {
        *in_org.entry(row["prioritycode"].as_i64()).or_default() += 1;
    }
    for d in &priority {
        let value = d["target_value"].as_i64();
        assert_eq!(d["status"], "match", "{d}");
        assert_eq!(int(&d["in_target"]), int(&d["expected_in_target"]), "{d}");
        assert_eq!(
            int(&d["in_target"]),
            in_org.get(&value).copied().unwrap_or(0),
            "{d}"
        );
        if let Some(value) = value {
            let from_source = scalar(
                &ws,
                &format!(
                    "SELECT count(*) FROM stg.incident i JOIN raw.work_orders_current w ON w.id = i.st_record_id
                     JOIN map.optionset m ON m.source_object = 'work_orders' AND m.source_field = 'priority'
                      AND m.target_column = 'prioritycode' AND m.source_value = w.priority
                     WHERE m.target_value = {value}"
                ),
            );
            assert_eq!(int(&d["source_records"]), from_source, "{d}");
        }
    }
    // Every other translated column: source and target counts equal, or a
    // difference carried by a finding on the records concerned.
    for d in json["distributions"].as_array().unwrap() {
        assert!(
            ["match", "explained"].contains(&d["status"].as_str().unwrap()),
            "{d}"
        );
    }
    // The spot check compared real fields and found them equal.
    let spot_fields = scalar(
        &ws,
        "SELECT count(*) FROM reconcile.spot_checks WHERE matches",
    );
    assert!(spot_fields > 100, "{spot_fields}");
    assert_eq!(
        scalar(
            &ws,
            "SELECT count(*) FROM reconcile.spot_checks WHERE NOT matches"
        ),
        0
    );

    // The report and its JSON.
    let html = std::fs::read_to_string(ws.root().join("reports/reconcile.html")).unwrap();
    assert!(html.contains("Conservation checks"));
    assert!(html.contains("<svg"), "inline charts");
    assert!(!html.contains("<script"));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.root().join("reports/reconcile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["totals"][0]["breaks"], 0);

    // Activity parties travel inside their activities: those found plus
    // those the loader left out (disabled users) are the staged ones.
    let parties = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_name"] == "pushed_rows_in_target" && c["name"] == "activityparty")
        .unwrap();
    assert_eq!(parties["status"], "ok", "{parties}");
    assert_eq!(
        int(&parties["expected"]),
        scalar(&ws, "SELECT count(*) FROM stg.activityparty"),
        "{parties}"
    );

    // A rollback is newer than the read-back: reconcile reads the target
    // again by itself, and every rolled-back row is skipped with its reason.
    let (code, out, err) = run(&ws, &["rollback"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, json, stderr) = reconcile(&ws);
    assert!(
        stderr.contains("older than the latest push or rollback"),
        "{stderr}"
    );
    assert_eq!(breaks(&json), Vec::<(String, String)>::new(), "{json:#}");
    assert_eq!(code, 0, "{stderr}");
    let account = by(&json["tables"], "target_table")["account"].clone();
    assert_eq!(int(&account["pushed"]), 0, "{account}");
    assert_eq!(
        int(&account["skipped"]),
        int(&account["staged"]),
        "{account}"
    );
    assert_eq!(int(&account["target_records"]), 0, "{account}");
    assert_eq!(
        scalar(&ws, "SELECT count(*) FROM reconcile.records WHERE target_table = 'account' AND reason LIKE 'rolled back by run 2%'"),
        int(&account["staged"])
    );
    let (code, out, err) = run(&ws, &["push"]);
    assert!(code <= 1, "{out}{err}");

    // Break it in the org: one work-order line deleted, one account that
    // ferry never pushed but that carries a ferry record id.
    let line = ws
        .query("SELECT CAST(st_workorderpartid AS VARCHAR) id, st_record_id FROM stg.st_workorderpart ORDER BY st_record_id LIMIT 1")
        .remove(0);
    let line_id = uuid::Uuid::parse_str(line["id"].as_str().unwrap()).unwrap();
    org.with_store(|s| s.delete("st_workorderpart", &RecordKey::Id(line_id)))
        .unwrap();
    let caller = org.with_store(|s| s.org().application_user());
    let mut stray = serde_json::Map::new();
    stray.insert("name".into(), "Made by hand in the org".into());
    stray.insert("st_record_id".into(), "CUS-HANDMADE".into());
    org.with_store(|s| s.create("account", &stray, caller))
        .unwrap();
    // verify reads the target again (dv.* is newer than the push, so
    // reconcile alone would keep the earlier read-back).
    let (code, out, err) = run(&ws, &["verify"]);
    assert!(code <= 1, "{out}{err}");
    let (code, json, stderr) = reconcile(&ws);
    assert_eq!(code, 1, "{stderr}");
    let broken = breaks(&json);
    assert!(
        broken.contains(&("pushed_rows_in_target".into(), "st_workorderpart".into())),
        "{broken:?}"
    );
    assert!(
        broken.contains(&("nothing_unexpected".into(), "account".into())),
        "{broken:?}"
    );
    assert_eq!(broken.len(), 2, "{broken:?}");
    let missing = ws.query(
        "SELECT record_id FROM reconcile.records WHERE expected_in_target AND NOT in_target",
    );
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["record_id"], line["st_record_id"]);
    assert_eq!(
        ws.scalar("SELECT record_id FROM reconcile.unexpected"),
        "CUS-HANDMADE"
    );

    // Break it in the audit: a contact's push outcome is gone, so the
    // staged row is no longer accounted for.
    ws.query(
        "DELETE FROM audit.records WHERE table_name = 'contact'
           AND record_id = (SELECT min(record_id) FROM audit.records WHERE table_name = 'contact')",
    );
    let (code, json, stderr) = reconcile(&ws);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        breaks(&json).contains(&("staged_rows_pushed".into(), "contact".into())),
        "{:?}",
        breaks(&json)
    );
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_name"] == "staged_rows_pushed" && c["name"] == "contact")
        .unwrap();
    assert_eq!(int(&check["difference"]), -1, "{check}");
    assert!(
        check["explanation"]
            .as_str()
            .unwrap()
            .contains("ferry push"),
        "{check}"
    );
}
