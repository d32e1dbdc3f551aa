//! `ferry push` and `ferry rollback` end to end against the in-tree
//! Dataverse emulator, on the generated 300-customer dataset: every staged
//! record arrives or fails with a reason; a second push writes nothing; a
//! changed staged row is updated with its pre-image kept; an edited
//! transform after sign-off makes push refuse; rolling the runs back leaves
//! the org exactly as it was before the first push.

#[path = "support/push_target.rs"]
mod push_target;
#[path = "support/staged.rs"]
mod staged;

use std::collections::BTreeMap;

use dataverse_emulator::faults::FaultConfig;
use dataverse_emulator::limits::LimitsConfig;
use dataverse_emulator::RunningDataverse;
use push_target::{org_with, point_at, run, run_json, waive_errors, SECRET_ENV};
use staged::Staged;

fn org_for(ws: &Staged) -> RunningDataverse {
    org_with(ws, LimitsConfig::off(), FaultConfig::default())
}

fn push(ws: &Staged) -> (i32, serde_json::Value) {
    let (code, json, _) = run_json(ws, &["push"]);
    (code, json)
}

fn counts_in(org: &RunningDataverse, tables: &[String]) -> BTreeMap<String, usize> {
    tables
        .iter()
        .map(|t| (t.clone(), org.with_store(|s| s.count(t))))
        .collect()
}

#[test]
fn push_loads_every_record_once_and_rollback_restores_the_org() {
    let ws = Staged::sales();
    let org = org_for(&ws);
    point_at(&ws, &org);
    waive_errors(&ws);

    // Gate: not signed off yet.
    let (code, _, err) = run(&ws, &["push"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("signed off"), "{err}");

    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "push test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");

    let tables: Vec<String> = ws
        .query("SELECT DISTINCT table_name FROM duckdb_tables() WHERE schema_name = 'stg' AND table_name NOT IN ('activityparty', 'st_equipment_customeraddress') ORDER BY 1")
        .into_iter()
        .map(|r| r["table_name"].as_str().unwrap().to_string())
        .collect();
    let before = counts_in(&org, &tables);

    let (_, plan_out, _) = run(&ws, &["--json", "plan"]);
    let plan: serde_json::Value = serde_json::from_str(&plan_out).unwrap();
    let estimated = plan["estimate"]["requests"].as_u64().unwrap();

    // First push.
    let (code, summary) = push(&ws);
    // plan's estimate is the loader's own count (within 5%).
    let sent = summary["record_requests"].as_u64().unwrap();
    assert!(
        estimated.abs_diff(sent) * 20 <= sent,
        "plan estimated {estimated} requests, push sent {sent}"
    );
    let failed = summary["failed"].as_u64().unwrap();
    assert_eq!(code, if failed > 0 { 1 } else { 0 });
    assert!(summary["created"].as_u64().unwrap() > 10_000, "{summary}");
    // Every failure names its cause.
    let unexplained = ws.scalar(
        "SELECT count(*) FROM audit.records WHERE operation = 'failed' AND (error_code IS NULL OR message IS NULL OR message = '')",
    );
    assert_eq!(unexplained, "0");
    // Every parent exists or failed first: a child never misses one for
    // any other reason.
    let missing_parents = ws.query(
        "SELECT step, table_name, record_id, message FROM audit.records
         WHERE operation = 'failed' AND error_code = '0x80040217'
           AND NOT contains(message, 'failed to load earlier in this run')",
    );
    assert!(missing_parents.is_empty(), "{missing_parents:#?}");
    // Target = before + staged − failed, table by table.
    let after = counts_in(&org, &tables);
    for t in &tables {
        let staged: usize = ws
            .scalar(&format!("SELECT count(*) FROM stg.{t}"))
            .parse()
            .unwrap();
        let failed: usize = ws
            .scalar(&format!(
                "SELECT count(*) FROM audit.records WHERE run_id = 1 AND table_name = '{t}' AND step = 'records' AND operation = 'failed'"
            ))
            .parse()
            .unwrap();
        // A unit group's base unit is made by Dataverse with the group and
        // matched by ferry: it still counts once.
        assert_eq!(
            after[t] - before[t],
            staged - failed,
            "{t}: staged {staged}, failed {failed}"
        );
    }
    // Lookups, owners, closed cases, activity timestamps, attachment bytes.
    // A resolved case whose technician has an enabled user (read into
    // dv.systemuser by the push), and one whose user is disabled.
    let (customer, owner_id, state) = ws
        .query("SELECT CAST(i.customerid AS VARCHAR) c, CAST(u.systemuserid AS VARCHAR) o, CAST(i.incidentid AS VARCHAR) id
                FROM stg.incident i JOIN dv.systemuser u ON lower(u.internalemailaddress) = lower(i._owner_email)
                WHERE i.statecode = 1 AND NOT u.isdisabled LIMIT 1")
        .first()
        .map(|r| {
            (
                r["c"].as_str().unwrap().to_string(),
                r["o"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .unwrap();
    let incident = org
        .with_store(|s| {
            s.retrieve(
                "incident",
                &dataverse_emulator::store::RecordKey::Id(uuid::Uuid::parse_str(&state).unwrap()),
            )
        })
        .unwrap();
    assert_eq!(incident["_customerid_value"], customer.as_str());
    assert_eq!(incident["statecode"], 1, "resolved through CloseIncident");
    assert_eq!(incident["_ownerid_value"], owner_id.as_str());
    let replaced = ws.scalar(
        "SELECT count(*) FROM audit.substitutions s JOIN dv.systemuser u ON lower(u.internalemailaddress) = lower(s.wanted)
         WHERE s.column_name = 'ownerid' AND u.isdisabled",
    );
    assert_ne!(
        replaced, "0",
        "disabled users' records go to the fallback owner, reported"
    );

    // An activity keeps its original timestamp (sent as overriddencreatedon).
    let call = ws
        .query("SELECT CAST(activityid AS VARCHAR) id, strftime(CAST(overriddencreatedon AS TIMESTAMP), '%Y-%m-%dT%H:%M:%SZ') ts FROM stg.phonecall WHERE overriddencreatedon IS NOT NULL LIMIT 1")
        .remove(0);
    let stored = org
        .with_store(|s| {
            s.retrieve(
                "phonecall",
                &dataverse_emulator::store::RecordKey::Id(
                    uuid::Uuid::parse_str(call["id"].as_str().unwrap()).unwrap(),
                ),
            )
        })
        .unwrap();
    // Dataverse moves the value sent as overriddencreatedon into createdon
    // and keeps the migration time in overriddencreatedon.
    assert_eq!(stored["createdon"], call["ts"]);
    // A note's file arrives byte for byte.
    let note = ws
        .query("SELECT CAST(a.annotationid AS VARCHAR) id, to_base64(c.content) body FROM stg.annotation a JOIN raw.attachment_content c ON c.attachment_id = a._attachment_id AND c.sha256 = a._sha256 WHERE a.isdocument LIMIT 1")
        .remove(0);
    let stored = org
        .with_store(|s| {
            s.retrieve(
                "annotation",
                &dataverse_emulator::store::RecordKey::Id(
                    uuid::Uuid::parse_str(note["id"].as_str().unwrap()).unwrap(),
                ),
            )
        })
        .unwrap();
    assert_eq!(stored["documentbody"], note["body"]);

    // Second push: nothing to write.
    let (_, again) = push(&ws);
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert_eq!(counts_in(&org, &tables), after);

    // One staged change → one update with its pre-image.
    ws.query("UPDATE stg.account SET telephone1 = '+1 555 0100' WHERE st_record_id = (SELECT min(st_record_id) FROM stg.account)");
    let (_, third) = push(&ws);
    assert_eq!(third["updated"], 1, "{third}");
    let pre = ws
        .scalar("SELECT count(*) FROM audit.preimages WHERE run_id = 3 AND table_name = 'account'");
    assert_eq!(pre, "1");

    // Editing a transform after sign-off: push refuses, naming the file.
    let file = ws.root().join("sql/transforms/V010__account.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\n-- edited\n")).unwrap();
    let (code, _, err) = run(&ws, &["push"]);
    assert_eq!(code, 1);
    assert!(err.contains("V010__account.sql"), "{err}");
    std::fs::write(&file, text).unwrap();

    // One rollback undoes every run, newest first — the second run wrote
    // nothing, and the migration must not stay behind it: the org is as it
    // was.
    let (code, out, err) = run(&ws, &["rollback"]);
    assert_eq!(code, 0, "{out}{err}");
    let undone: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(" of push run ").nth(1))
        .map(|rest| rest.split(':').next().unwrap())
        .collect();
    assert_eq!(undone, ["3", "2", "1"], "{out}");
    assert_eq!(counts_in(&org, &tables), before);
    let (code, out, err) = run(&ws, &["rollback"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing to do"), "{out}");
    // A rolled-back run stays rolled back.
    let (code, out, _) = run(&ws, &["rollback", "--run", "1"]);
    assert_eq!(code, 0);
    assert!(out.contains("already rolled back"), "{out}");
}

#[test]
fn rollback_restores_what_the_target_held_before_the_push() {
    let ws = Staged::sales();
    let org = org_for(&ws);
    point_at(&ws, &org);
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "push test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");

    // The org already holds two of the accounts (same ids, other values)
    // and one account of its own.
    let staged = ws.query(
        "SELECT CAST(accountid AS VARCHAR) id, name FROM stg.account ORDER BY accountid LIMIT 2",
    );
    let caller = org.with_store(|s| s.org().application_user());
    let body = |name: &str, id: Option<&str>| {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), serde_json::json!(name));
        m.insert("telephone1".into(), serde_json::json!("+1 555 0199"));
        if let Some(id) = id {
            m.insert("accountid".into(), serde_json::json!(id));
        }
        m
    };
    let mut existing = Vec::new();
    for row in &staged {
        let id = row["id"].as_str().unwrap();
        org.with_store(|s| s.create("account", &body("Held before the push", Some(id)), caller))
            .unwrap();
        existing.push(id.to_string());
    }
    let own = org
        .with_store(|s| s.create("account", &body("The org's own account", None), caller))
        .unwrap();
    let snapshot = |id: &str| {
        org.with_store(|s| {
            s.retrieve(
                "account",
                &dataverse_emulator::store::RecordKey::Id(uuid::Uuid::parse_str(id).unwrap()),
            )
        })
        .unwrap()
    };
    let keep = [
        "name",
        "telephone1",
        "_primarycontactid_value",
        "statecode",
        "statuscode",
    ];
    let pick = |row: serde_json::Map<String, serde_json::Value>| -> Vec<serde_json::Value> {
        keep.iter()
            .map(|k| row.get(*k).cloned().unwrap_or_default())
            .collect()
    };
    let before: Vec<_> = existing.iter().map(|id| pick(snapshot(id))).collect();
    let accounts_before = org.with_store(|s| s.count("account"));

    // --dry-run writes nothing and counts what a push would send.
    let (code, out, err) = run(&ws, &["--json", "push", "--dry-run"]);
    assert!(code <= 1, "{out}{err}");
    let dry: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(dry["requests"].as_u64().unwrap() > 0);
    assert_eq!(org.with_store(|s| s.count("account")), accounts_before);

    let (_, summary) = push(&ws);
    assert!(summary["updated"].as_u64().unwrap() >= 2, "{summary}");
    for (id, was) in existing.iter().zip(&before) {
        assert_ne!(&pick(snapshot(id)), was, "the push updated {id}");
    }
    let (code, out, err) = run(&ws, &["rollback"]);
    assert_eq!(code, 0, "{out}{err}");
    for (id, was) in existing.iter().zip(&before) {
        assert_eq!(
            &pick(snapshot(id)),
            was,
            "{id} is as it was before the push"
        );
    }
    assert_eq!(snapshot(&own.to_string())["name"], "The org's own account");
    assert_eq!(org.with_store(|s| s.count("account")), accounts_before);
    assert_eq!(org.with_store(|s| s.count("incident")), 0);
}

#[test]
fn a_sample_is_referentially_closed_and_loads_without_missing_parents() {
    let ws = Staged::sales();
    let org = org_for(&ws);
    point_at(&ws, &org);
    waive_errors(&ws);
    run(&ws, &["map", "confirm", "--by", "push test"]);
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, err) = run(&ws, &["--json", "push", "--sample", "500"]);
    let summary: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}\n{err}"));
    // About N records (within 10%), whatever GUID namespace this workspace
    // drew: each run of this test samples a different set.
    let sampled: u64 = ws
        .scalar(
            "SELECT count(DISTINCT guid) FROM audit.records WHERE run_id = 1 AND step = 'records'",
        )
        .parse()
        .unwrap();
    assert!(
        (450..=550).contains(&sampled),
        "{sampled} records for --sample 500: {summary}"
    );
    assert!(
        summary["created"].as_u64().unwrap() + summary["failed"].as_u64().unwrap() >= sampled,
        "{summary}"
    );
    // Every object is represented, and nothing failed for a missing parent.
    for step in summary["steps"].as_array().unwrap() {
        if !step["step"].as_str().unwrap().contains('(') {
            assert!(step["records"].as_u64().unwrap() > 0, "{step}");
        }
    }
    // A sampled parent that Dataverse (or ferry) refused for its own reason
    // leaves its children without it: that is the parent's failure, named
    // in the child's audit message, not a hole in the sample.
    let missing_parents = ws.query(
        "SELECT step, table_name, record_id, guid, message FROM audit.records
         WHERE operation = 'failed' AND error_code = '0x80040217'
           AND NOT contains(message, 'failed to load earlier in this run')",
    );
    assert!(missing_parents.is_empty(), "{missing_parents:#?}");

    // An interrupted sampled run is resumed only with the same options: a
    // full push now would skip the steps the sample already finished.
    let (code, out, err) = run(
        &ws,
        &[
            "sql",
            "UPDATE audit.runs SET status = 'running', finished_at = NULL",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&ws, &["push"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was interrupted")
            && err.contains("sample=500")
            && err.contains("rollback --run 1"),
        "{err}"
    );
    let (code, out, err) = run(&ws, &["--json", "push", "--sample", "500"]);
    assert!(code <= 1, "{out}{err}");
    assert!(err.contains("resuming push run 1"), "{err}");
}

#[test]
fn a_wrong_translation_is_rolled_back_corrected_and_pushed_again_under_the_same_guids() {
    let ws = Staged::sales();
    let org = org_for(&ws);
    point_at(&ws, &org);
    let incidents_before = org.with_store(|s| s.count("incident"));
    // The analyst's slip: Low priority cases translated to High (1), not Low (3).
    let map = ws.root().join("mapping/optionsets.csv");
    let right = std::fs::read_to_string(&map).unwrap();
    let wrong = right.replace(
        "work_orders,priority,Low,incident,prioritycode,3,Low",
        "work_orders,priority,Low,incident,prioritycode,1,High",
    );
    assert_ne!(wrong, right, "the fixture map has the Low translation");
    std::fs::write(&map, &wrong).unwrap();
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "push test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&ws, &["plan", "--apply"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _) = push(&ws);
    assert!(code <= 1);
    let priority_in_org = |id: &str| {
        org.with_store(|s| {
            s.retrieve(
                "incident",
                &dataverse_emulator::store::RecordKey::Id(uuid::Uuid::parse_str(id).unwrap()),
            )
        })
        .ok()
        .map(|row| row["prioritycode"].clone())
    };
    let high_now = ws
        .query("SELECT CAST(incidentid AS VARCHAR) AS id FROM stg.incident WHERE prioritycode = 1");
    assert!(!high_now.is_empty());

    // Reconciliation finds it; the whole run goes back.
    let (code, out, err) = run(&ws, &["rollback"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(org.with_store(|s| s.count("incident")), incidents_before);

    // The corrected map, re-confirmed, pushes cleanly.
    std::fs::write(&map, &right).unwrap();
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["push"]);
    assert_eq!(code, 1, "a changed map needs a new sign-off\n{out}{err}");
    assert!(err.contains("optionsets.csv"), "{err}");
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "push test"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, second) = push(&ws);
    assert!(code <= 1, "{second}");
    let low = ws
        .query("SELECT CAST(incidentid AS VARCHAR) AS id FROM stg.incident WHERE prioritycode = 3");
    assert!(!low.is_empty());
    // The cases come back under the GUIDs the first run used, corrected.
    let first_ids: std::collections::BTreeSet<String> = high_now
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    for row in &low {
        let id = row["id"].as_str().unwrap();
        assert!(
            first_ids.contains(id),
            "{id} was pushed by the first run too"
        );
        assert_eq!(priority_in_org(id), Some(serde_json::json!(3)), "{id}");
    }
    // Nothing of the rolled-back run is left but what the second run made:
    // every record in the org is one the second run created.
    let created_by_second = ws.scalar(
        "SELECT count(DISTINCT guid) FROM audit.records WHERE run_id = 3 AND step = 'records' AND operation = 'created' AND table_name = 'incident'",
    );
    assert_eq!(
        org.with_store(|s| s.count("incident")).to_string(),
        created_by_second
    );
    let (code, summary, err) = run_json(&ws, &["verify"]);
    assert_eq!(summary["differences"], 0, "{summary:#}\n{err}");
    assert_eq!(code, 0, "{summary:#}\n{err}");
}

#[test]
fn a_sample_in_the_test_org_and_the_full_run_in_production_stay_apart() {
    let ws = Staged::sales();
    let (test, prod) = (org_for(&ws), org_for(&ws));
    let path = ws.root().join("ferry.toml");
    let mut config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("default_target = \"default\"", "default_target = \"test\"");
    for (name, org) in [("test", &test), ("prod", &prod)] {
        config.push_str(&format!(
            "\n[targets.{name}]\nurl = \"{}\"\nclient_secret_env = \"{SECRET_ENV}\"\n",
            org.url()
        ));
    }
    std::fs::write(&path, config).unwrap();
    waive_errors(&ws);
    let (code, out, err) = run(&ws, &["map", "confirm", "--by", "push test"]);
    assert_eq!(code, 0, "{out}{err}");

    // An unknown target names the configured ones.
    let (code, _, err) = run(&ws, &["push", "--target", "staging"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the targets default, prod, test"), "{err}");

    for name in ["test", "prod"] {
        let (code, out, err) = run(&ws, &["plan", "--apply", "--target", name]);
        assert_eq!(code, 0, "{name}: {out}{err}");
    }
    let accounts =
        |org: &dataverse_emulator::RunningDataverse| org.with_store(|s| s.count("account"));
    let prod_before = accounts(&prod);
    // The default target is the test org: the sample goes there only.
    let test_before = accounts(&test);
    let (code, sample, _) = run_json(&ws, &["push", "--sample", "200"]);
    assert!(code <= 1, "{sample}");
    assert_eq!(sample["target_name"], "test", "{sample}");
    assert!(accounts(&test) > test_before);
    assert_eq!(accounts(&prod), prod_before);

    let (code, full, _) = run_json(&ws, &["push", "--target", "prod"]);
    assert!(code <= 1, "{full}");
    assert_eq!(full["target_name"], "prod", "{full}");
    let staged: usize = ws
        .scalar("SELECT count(*) FROM stg.account")
        .parse()
        .unwrap();
    assert!(accounts(&prod) >= prod_before + staged - 5, "{full}");
    assert_eq!(
        ws.scalar("SELECT string_agg(target_name, ',' ORDER BY run_id) FROM audit.runs"),
        "test,prod"
    );

    // Verify and reconcile describe one target; prod matches field by field.
    let (code, verified, err) = run_json(&ws, &["verify", "--target", "prod"]);
    assert_eq!(verified["target_name"], "prod", "{verified}");
    assert_eq!(verified["differences"], 0, "{verified:#}\n{err}");
    assert_eq!(code, 0, "{err}");
    let (code, reconciled, err) = run_json(&ws, &["reconcile", "--target", "prod"]);
    assert_eq!(code, 0, "{reconciled:#}\n{err}");
    assert_eq!(
        ws.scalar("SELECT target_name || ' ' || latest_push_run FROM reconcile.target"),
        "prod 2"
    );
    // Reconciling the test org reads it back first: dv.* holds prod's records.
    let (_, _, err) = run_json(&ws, &["reconcile", "--target", "test"]);
    assert!(err.contains("is of the target prod, not test"), "{err}");

    // Rolling back the test org leaves production alone, and a run is
    // undone only through the org it went to.
    let prod_now = accounts(&prod);
    let (code, _, err) = run(&ws, &["rollback", "--run", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("went to the target prod"), "{err}");
    let (code, out, err) = run(&ws, &["rollback", "--target", "test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("of push run 1:"), "{out}");
    assert!(!out.contains("of push run 2"), "{out}");
    assert_eq!(accounts(&test), test_before);
    assert_eq!(accounts(&prod), prod_now);
}
