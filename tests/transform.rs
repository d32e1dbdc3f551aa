//! `ferry transform [status]` on a generated, staged dataset: translations
//! of SPEC §9, deterministic GUIDs equal to the loader's, identical re-runs,
//! the ledger's applied / modified / pending states, and a failing file that
//! leaves the previous `stg.*` intact.

#[path = "support/staged.rs"]
mod staged;

use std::collections::BTreeSet;

use predicates::str::contains;
use servicetracker_generator::{DirtFile, DirtKind};
use staged::Staged;

fn transformed_sales() -> Staged {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    ws
}

/// Distinct `(a, b)` text pairs of a query with columns `a` and `b`.
fn pairs(ws: &Staged, sql: &str) -> BTreeSet<(String, String)> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ws.query(sql)
        .into_iter()
        .map(|row| (text(&row["a"]), text(&row["b"])))
        .collect()
}

#[test]
fn work_order_status_and_priority_translate_as_spec_9_says() {
    let ws = transformed_sales();
    let status = pairs(
        &ws,
        "SELECT DISTINCT w.status AS a, i.statecode || '/' || i.statuscode AS b
         FROM raw.work_orders_current w JOIN stg.incident i ON i.st_record_id = w.id",
    );
    for (source, target) in [
        ("Closed Complete", "1/5"),
        ("Cancelled", "2/6"),
        ("On Hold", "0/2"),
        ("Open", "0/1"),
        ("In Progress", "0/1"),
    ] {
        let got: Vec<&String> = status
            .iter()
            .filter(|(s, _)| s == source)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(got, vec![target], "{source}: {status:?}");
    }
    let priority = pairs(
        &ws,
        "SELECT DISTINCT w.priority AS a, i.prioritycode::VARCHAR AS b
         FROM raw.work_orders_current w JOIN stg.incident i ON i.st_record_id = w.id
         WHERE w.priority IN ('High', 'Medium', 'Low', 'Critical')",
    );
    let expected: BTreeSet<(String, String)> = [
        ("Critical", "100000000"),
        ("High", "1"),
        ("Low", "3"),
        ("Medium", "2"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(priority, expected);
}

#[test]
fn an_undocumented_value_is_left_null_not_guessed() {
    let ws = transformed_sales();
    let dirt = DirtFile::read(ws.export().join("dirt.json")).unwrap();
    for id in dirt.ids(DirtKind::UndocumentedStatus) {
        let rows = ws.query(&format!(
            "SELECT statuscode FROM stg.incident WHERE st_record_id = '{id}'"
        ));
        assert_eq!(rows.len(), 1, "{id} stays in stg: {rows:?}");
        assert!(rows[0]["statuscode"].is_null(), "{id}: {rows:?}");
    }
}

#[test]
fn sites_become_numbered_customer_addresses() {
    let ws = transformed_sales();
    let types = pairs(
        &ws,
        "SELECT DISTINCT s.site_type AS a, c.addresstypecode::VARCHAR AS b
         FROM raw.sites_current s JOIN stg.customeraddress c ON c.st_record_id = s.id",
    );
    assert!(
        types.contains(&("Shipping".into(), "2".into())),
        "{types:?}"
    );
    assert!(types.contains(&("Billing".into(), "1".into())), "{types:?}");
    assert_eq!(
        ws.scalar("SELECT min(addressnumber) FROM stg.customeraddress"),
        "3",
        "1 and 2 are the account's own addresses"
    );
    assert_eq!(
        ws.scalar(
            "SELECT count(*) FROM (SELECT parentid, addressnumber FROM stg.customeraddress
             GROUP BY ALL HAVING count(*) > 1)"
        ),
        "0",
        "address numbers are unique per account"
    );
}

#[test]
fn guids_in_stg_are_the_ones_the_loader_computes() {
    let ws = transformed_sales();
    let config: ferry::workspace::Config =
        toml::from_str(&std::fs::read_to_string(ws.root().join("ferry.toml")).unwrap()).unwrap();
    let namespace = config.namespace.expect("init writes a namespace");
    let rows = ws.query(
        "SELECT st_record_id, accountid::VARCHAR AS guid FROM stg.account ORDER BY 1 LIMIT 20",
    );
    assert_eq!(rows.len(), 20);
    for row in rows {
        let id = row["st_record_id"].as_str().unwrap();
        let expected = ferry::identity::record_guid(&namespace, "account", id);
        assert_eq!(row["guid"].as_str().unwrap(), expected.to_string(), "{id}");
    }
    // A contact binds to its account's GUID.
    assert_eq!(
        ws.scalar(
            "SELECT count(*) FROM stg.contact c JOIN raw.contacts_current r ON r.id = c.st_record_id
             JOIN stg.account a ON a.st_record_id = r.customer_id
             WHERE c.parentcustomerid IS DISTINCT FROM a.accountid OR c.parentcustomerid_table <> 'account'"
        ),
        "0"
    );
}

#[test]
fn text_is_trimmed_never_cut_and_postal_codes_stay_text() {
    let ws = transformed_sales();
    let dirt = DirtFile::read(ws.export().join("dirt.json")).unwrap();
    let long = dirt.entries(DirtKind::NameTooLong).next().unwrap();
    for (id, value) in &long.expected {
        let name = ws.scalar(&format!(
            "SELECT name FROM stg.account WHERE st_record_id = '{id}'"
        ));
        assert_eq!(&name, value.trim(), "{id} keeps its whole name");
        assert!(name.chars().count() > 160);
    }
    let zeros = dirt
        .entries(DirtKind::PostalCodeLeadingZero)
        .find(|e| e.object == "customers");
    if let Some(entry) = zeros {
        for (id, value) in &entry.expected {
            let code = ws.scalar(&format!(
                "SELECT address1_postalcode FROM stg.account WHERE st_record_id = '{id}'"
            ));
            assert_eq!(&code, value, "{id}");
        }
    }
    assert_eq!(
        ws.scalar(
            "SELECT count(*) FROM stg.account WHERE name <> trim(name) OR emailaddress1 <> trim(emailaddress1)"
        ),
        "0"
    );
}

#[test]
fn stg_columns_have_the_target_types() {
    let sales = transformed_sales();
    assert_target_types(&sales);
    let field_service = Staged::field_service();
    field_service.ferry().arg("transform").assert().success();
    assert_target_types(&field_service);
}

fn assert_target_types(ws: &Staged) {
    let schema = ferry::dataverse::schema::Schema::builtin("st");
    let columns = ws.query(
        "SELECT table_name, column_name, data_type FROM duckdb_columns()
         WHERE schema_name = 'stg' AND column_name NOT LIKE '\\_%' ESCAPE '\\'
           AND column_name NOT LIKE '%\\_table' ESCAPE '\\'",
    );
    let mut checked = 0;
    let mut wrong = Vec::new();
    for c in &columns {
        let (table, column, actual) = (
            c["table_name"].as_str().unwrap(),
            c["column_name"].as_str().unwrap(),
            c["data_type"].as_str().unwrap(),
        );
        if table.contains("_equipment_customeraddress") {
            continue; // an N:N intersect, not a table of its own
        }
        let Some(target) = schema.column(table, column) else {
            wrong.push(format!("stg.{table}.{column} is not in the target schema"));
            continue;
        };
        checked += 1;
        if target.duckdb_type() != actual {
            wrong.push(format!(
                "stg.{table}.{column} is {actual}, the target type needs {}",
                target.duckdb_type()
            ));
        }
    }
    assert!(checked > 90, "{checked}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn stg_snapshot(ws: &Staged) -> Vec<(String, String)> {
    let tables =
        ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'stg' ORDER BY 1");
    tables
        .iter()
        .map(|t| {
            let name = t["table_name"].as_str().unwrap().to_string();
            let out = ws
                .ferry()
                .args(["sql", "--format", "csv"])
                .arg(format!("FROM stg.\"{name}\" ORDER BY ALL"))
                .assert()
                .success();
            (
                name,
                String::from_utf8(out.get_output().stdout.clone()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn running_again_gives_identical_stg() {
    let ws = transformed_sales();
    let first = stg_snapshot(&ws);
    assert!(first.len() >= 12, "{}", first.len());
    ws.ferry().arg("transform").assert().success();
    let second = stg_snapshot(&ws);
    assert_eq!(first.len(), second.len());
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "stg.{name} differs between runs");
    }
}

fn status(ws: &Staged) -> serde_json::Value {
    let out = ws
        .ferry()
        .args(["--json", "transform", "status"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn state_of(status: &serde_json::Value, file: &str) -> String {
    status["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in {status}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn status_shows_pending_applied_modified_and_stray_files() {
    let ws = Staged::sales();
    let before = status(&ws);
    assert_eq!(state_of(&before, "V010__account.sql"), "pending");

    ws.ferry().arg("transform").assert().success();
    let after = status(&ws);
    assert!(after["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["state"] == "applied"));

    let transforms = ws.root().join("sql/transforms");
    let account = transforms.join("V010__account.sql");
    let mut text = std::fs::read_to_string(&account).unwrap();
    text.push_str("\n-- reviewed by the analyst\n");
    std::fs::write(&account, text).unwrap();
    std::fs::write(transforms.join("V900__extra.sql"), "SELECT 1;").unwrap();
    std::fs::write(transforms.join("V7_typo.sql"), "SELECT 1;").unwrap();

    let edited = status(&ws);
    assert_eq!(state_of(&edited, "V010__account.sql"), "modified");
    assert_eq!(state_of(&edited, "V900__extra.sql"), "pending");
    assert_eq!(state_of(&edited, "V020__contact.sql"), "applied");
    assert_eq!(edited["stray"], serde_json::json!(["V7_typo.sql"]));
    let applied = &edited["files"].as_array().unwrap()[0];
    assert_eq!(applied["sha256"].as_str().unwrap().len(), 12);

    ws.ferry()
        .arg("transform")
        .assert()
        .success()
        .stderr(contains("V7_typo.sql"));
    assert_eq!(state_of(&status(&ws), "V010__account.sql"), "applied");
}

#[test]
fn a_failing_file_names_itself_and_keeps_the_previous_stg() {
    let ws = transformed_sales();
    let accounts = ws.scalar("SELECT count(*) FROM stg.account");
    std::fs::write(
        ws.root().join("sql/transforms/V015__broken.sql"),
        "CREATE OR REPLACE TABLE stg.account AS SELECT * FROM raw.no_such_object;",
    )
    .unwrap();
    ws.ferry()
        .arg("transform")
        .assert()
        .code(2)
        .stderr(contains("V015__broken.sql"))
        .stderr(contains("no_such_object"))
        .stderr(contains("previous stg.* is intact"));
    assert_eq!(ws.scalar("SELECT count(*) FROM stg.account"), accounts);
    let s = status(&ws);
    assert!(
        s["last_failure"]
            .as_str()
            .unwrap()
            .contains("V015__broken.sql"),
        "{s}"
    );
    assert_eq!(
        ws.scalar("SELECT count(*) FROM meta.transform_runs WHERE NOT success"),
        "1"
    );
}

#[test]
fn two_files_with_one_version_are_refused_before_anything_runs() {
    let ws = Staged::sales();
    std::fs::write(
        ws.root().join("sql/transforms/V010__again.sql"),
        "SELECT 1;",
    )
    .unwrap();
    ws.ferry()
        .arg("transform")
        .assert()
        .code(2)
        .stderr(contains("version 10 is also used by"));
}

#[test]
fn analysts_query_stg_with_sql_and_a_stock_duckdb_opens_the_file() {
    let ws = transformed_sales();
    ws.ferry()
        .args([
            "sql",
            "select statuscode, count(*) from stg.incident group by 1 order by 1",
        ])
        .assert()
        .success()
        .stdout(contains("statuscode"));
    // A plain DuckDB connection (no ferry settings) reads the tables and the
    // GUID macro the transforms defined.
    let conn = duckdb::Connection::open(ws.root().join("ferry.duckdb")).unwrap();
    let (n, guid): (i64, String) = conn
        .query_row(
            "SELECT count(*), any_value(map.record_guid('account', 'CUS-000001'))::VARCHAR FROM stg.account",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(n > 0);
    let config: ferry::workspace::Config =
        toml::from_str(&std::fs::read_to_string(ws.root().join("ferry.toml")).unwrap()).unwrap();
    assert_eq!(
        guid,
        ferry::identity::record_guid(&config.namespace.unwrap(), "account", "CUS-000001")
            .to_string()
    );
}

#[test]
fn the_field_service_profile_builds_work_orders_and_bookings() {
    let ws = Staged::field_service();
    ws.ferry().arg("transform").assert().success();
    let status = pairs(
        &ws,
        "SELECT DISTINCT w.status AS a, o.msdyn_systemstatus::VARCHAR AS b
         FROM raw.work_orders_current w JOIN stg.msdyn_workorder o ON o.st_record_id = w.id
         WHERE w.status IN ('Closed Complete', 'Cancelled', 'Open')",
    );
    let expected: BTreeSet<(String, String)> = [
        ("Cancelled", "690970005"),
        ("Closed Complete", "690970004"),
        ("Open", "690970000"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(status, expected);
    assert_eq!(
        ws.scalar("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'stg' AND table_name = 'incident'"),
        "0"
    );
    assert_eq!(
        ws.scalar("SELECT count(*) FROM stg.bookableresourcebooking"),
        ws.scalar("SELECT count(*) FROM raw.dispatches_current d JOIN raw.work_orders_current w ON w.id = d.work_order_id")
    );
}
