//! `ferry plan [--apply]` against the Dataverse emulator: an org without
//! ferry's custom columns, tables, option values and N:N relationship lists
//! them and exits 1; `--apply` creates them; a second plan finds nothing
//! missing; the Professional tier's 15-table limit is enforced. The unit
//! group and units products need are shown (records the loader creates,
//! never a reason to exit 1), with whether the target already has the group.

#[path = "support/staged.rs"]
mod staged;

use std::collections::BTreeMap;

use dataverse_emulator::schema::Schema;
use dataverse_emulator::{DataverseConfig, DataverseEmulator, RunningDataverse};
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

fn count(value: &serde_json::Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

/// The `units` section of a plan: the one unit group V040 stages, its base
/// unit, the other units (quantity 1 each: the source has no conversion
/// factors) and how many products use each, counted here from stg.* and
/// the raw parts independently of ferry's own reading.
fn check_units(ws: &Staged, plan: &serde_json::Value, in_target: Option<bool>) {
    let groups = plan["units"].as_array().expect("a units section");
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let group = &groups[0];
    assert_eq!(group["name"], "ServiceTracker Units", "{group:#}");
    assert_eq!(group["base_unit"], "Each", "{group:#}");
    assert_eq!(
        group["in_target"],
        serde_json::json!(in_target),
        "{group:#}"
    );
    let parts = count(&serde_json::Value::String(
        ws.scalar("SELECT count(*) FROM raw.parts_current"),
    ));
    assert!(parts > 0);
    assert_eq!(count(&group["products"]), parts, "every part is a product");

    let expected: BTreeMap<String, u64> = ws
        .query(
            "SELECT u.name AS unit, count(p.productid) AS products
             FROM stg.uom AS u LEFT JOIN stg.product AS p ON p.defaultuomid = u.uomid
             GROUP BY ALL",
        )
        .iter()
        .map(|r| {
            (
                r["unit"].as_str().unwrap().to_string(),
                count(&r["products"]),
            )
        })
        .collect();
    let mut shown = BTreeMap::new();
    shown.insert("Each".to_string(), count(&group["base_unit_products"]));
    for unit in group["units"].as_array().unwrap() {
        let name = unit["name"].as_str().unwrap().to_string();
        assert_ne!(name, "Each", "the base unit is not among the other units");
        assert_eq!(unit["quantity"].as_f64(), Some(1.0), "{unit}");
        assert!(
            shown.insert(name, count(&unit["products"])).is_none(),
            "{unit} twice"
        );
    }
    assert_eq!(shown, expected);
    assert!(shown.len() > 2, "the parts use several units: {shown:?}");
    let with_unit: u64 = shown.values().sum();
    assert_eq!(
        with_unit + count(&group["products_without_unit"]),
        parts,
        "{group:#}"
    );
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
    // A fresh org has only its "Default Unit" group: the loader creates
    // ServiceTracker's before the products.
    check_units(&ws, &before, Some(false));
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.root().join("reports/plan.json")).unwrap(),
    )
    .unwrap();
    check_units(&ws, &file["plan"], Some(false));
    let html = std::fs::read_to_string(ws.root().join("reports/plan.html")).unwrap();
    assert!(html.contains("Units for products"), "no units section");
    assert!(html.contains("ServiceTracker Units"));

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

    // Once the target has a unit group of that name (an earlier load, or
    // made by hand), the plan says so; either way it is not a plan item.
    org.with_store(|store| {
        let caller = store.org().application_user();
        let group = serde_json::json!({"name": "ServiceTracker Units", "baseuomname": "Each"});
        store
            .create("uomschedule", group.as_object().unwrap(), caller)
            .unwrap();
    });
    let (_, existing) = plan(&ws, &[]);
    check_units(&ws, &existing, Some(true));
    assert_eq!(open_items(&existing), left);
    org.stop().unwrap();
}

#[test]
fn without_a_target_the_unit_group_is_shown_for_the_loader_to_create() {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    let (_, result) = plan(&ws, &[]);
    check_units(&ws, &result, None);
    let out = ws.ferry().arg("plan").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unit group \"ServiceTracker Units\"") && text.contains("Each (base unit)"),
        "{text}"
    );
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
