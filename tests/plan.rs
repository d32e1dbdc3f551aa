//! `ferry plan [--apply]` against the Dataverse emulator: an org without
//! ferry's custom columns, tables, option values and N:N relationship lists
//! them and exits 1; `--apply` creates them; a second plan finds nothing
//! missing; the Professional tier's 15-table limit is enforced.

#[path = "support/staged.rs"]
mod staged;

use ferry::dataverse::schema::Schema;
use ferry::serve::dataverse::{DataverseConfig, DataverseEmulator, RunningDataverse};
use predicates::str::contains;
use staged::Staged;

const SECRET_ENV: &str = "FERRY_PLAN_TEST_SECRET";

/// An org as Microsoft ships it: standard tables only.
fn fresh_org() -> RunningDataverse {
    let mut config = DataverseConfig::new("st");
    config.schema = Schema::builtin("st").standard_only();
    DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap()
}

fn point_at(ws: &Staged, org: &RunningDataverse, extra: &str) {
    let path = ws.root().join("ferry.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "# url = \"https://contoso.crm.dynamics.com\"",
            &format!("url = \"{}\"", org.url()),
        )
        .replace(
            "client_secret_env = \"FERRY_CLIENT_SECRET\"",
            &format!("client_secret_env = \"{SECRET_ENV}\""),
        )
        .replace("licence = \"enterprise\"", extra);
    std::fs::write(path, text).unwrap();
}

fn plan(ws: &Staged, args: &[&str]) -> (i32, serde_json::Value) {
    let out = ws
        .ferry()
        .env(SECRET_ENV, "emulator-secret")
        .arg("--json")
        .arg("plan")
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

fn open_items(plan: &serde_json::Value) -> Vec<String> {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["standing"] != "present")
        .map(|i| {
            format!(
                "{} {}.{} {}",
                i["kind"].as_str().unwrap(),
                i["table"].as_str().unwrap(),
                i["name"].as_str().unwrap(),
                i["standing"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn plan_lists_what_a_fresh_org_lacks_and_apply_creates_it() {
    let ws = Staged::sales();
    // The proposal adds custom columns for the source's custom fields
    // (exit 1: some picklist values need a person's decision).
    ws.ferry().args(["map", "propose"]).assert().code(1);
    ws.ferry().arg("transform").assert().success();
    let org = fresh_org();
    point_at(&ws, &org, "licence = \"enterprise\"");

    let (code, before) = plan(&ws, &[]);
    assert_eq!(code, 1, "{before}");
    let missing = open_items(&before);
    for expected in [
        "table st_equipment.st_equipment missing",
        "table st_workorderpart.st_workorderpart missing",
        "column account.st_record_id missing",
        "column account.st_invoicemethod missing",
        "option incident.prioritycode = 100000000 missing",
        "column account.st_accounttier missing",
        "column incident.st_odometermiles missing",
        "relationship st_equipment_customeraddress.st_equipment_customeraddress missing",
    ] {
        assert!(
            missing.iter().any(|m| m == expected),
            "{expected} not in {missing:#?}"
        );
    }
    // The title longer than incident.title's 200 is incompatible: no
    // --apply can fix it (validate reports the record).
    assert!(
        missing
            .iter()
            .any(|m| m == "column incident.title incompatible"),
        "{missing:#?}"
    );
    assert!(before["estimate"]["requests"].as_u64().unwrap() > 0);
    assert!(ws.root().join("reports/plan.html").is_file());

    let (_, applied) = plan(&ws, &["--apply"]);
    let left = open_items(&applied);
    // What is left is the dirt no schema change fixes: the names and titles
    // longer than their columns (validate reports those records).
    assert_eq!(
        left,
        vec![
            "column account.name incompatible".to_string(),
            "column incident.title incompatible".to_string()
        ],
        "{left:#?}"
    );
    let (_, again) = plan(&ws, &[]);
    assert_eq!(open_items(&again), left);
    org.stop().unwrap();
}

#[test]
fn the_professional_tier_refuses_more_than_15_custom_tables() {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    // Sixteen more custom tables, as a map proposal for custom objects might add.
    let extra: String = (0..16)
        .map(|i| format!("CREATE OR REPLACE TABLE stg.st_extra{i} AS SELECT 'X-{i}' AS st_record_id, 'x' AS _source_object, 'n' AS st_name;\n"))
        .collect();
    std::fs::write(
        ws.root().join("sql/transforms/V900__extra_tables.sql"),
        extra,
    )
    .unwrap();
    ws.ferry().arg("transform").assert().success();
    let org = fresh_org();
    point_at(&ws, &org, "licence = \"professional\"");
    let (code, result) = plan(&ws, &[]);
    assert_eq!(code, 1);
    assert!(
        result["licence_problem"]
            .as_str()
            .unwrap()
            .contains("Professional allows 15"),
        "{result}"
    );
    ws.ferry()
        .env(SECRET_ENV, "emulator-secret")
        .args(["plan", "--apply"])
        .assert()
        .code(2)
        .stderr(contains("Professional allows 15"));
    org.stop().unwrap();
}
