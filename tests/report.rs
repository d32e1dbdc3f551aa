//! `ferry report`: the inventory report is rendered from the workspace SQL,
//! escapes every value, stays self-contained, and fails clearly when there
//! is nothing to report or its SQL is gone.

#[path = "support/landing_fixture.rs"]
mod landing_fixture;

use ferry::source::schema::FieldType;
use landing_fixture::{custom_col, customer_columns, extract, text, FixtureWorkspace};
use predicates::str::contains;

const HOSTILE: &str = "<script>alert('x')</script>";

fn staged_workspace() -> FixtureWorkspace {
    let ws = FixtureWorkspace::new();
    let customers = format!(
        "SELECT * FROM (VALUES
            ('CUS-1', '{name}', 'info@acme.com', '02134', 'Active',    TIMESTAMPTZ '2024-01-01 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-2', 'Bolt',   'bob@gmail.com', '60601', 'Suspended', TIMESTAMPTZ '2024-01-01 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-3', 'Crane',  'nope',          NULL,    'Active',    TIMESTAMPTZ '1700-01-01 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00')
        ) AS t(id, company_name, email, billing_postal_code, status, created_at, modified_at)",
        name = HOSTILE.replace('\'', "''")
    );
    let mut contact_columns = vec![text("id"), text("customer_id")];
    contact_columns.push(custom_col("cf_tier", FieldType::Text));
    extract(1, "2026-11-25T19:18:00Z")
        .object("customers", customer_columns(), &customers)
        .object(
            "contacts",
            contact_columns,
            &format!(
                "SELECT * FROM (VALUES ('CON-1', 'CUS-1', '{t}'), ('CON-2', 'CUS-9', '{t}'), ('CON-3', 'CUS-2', '{t}'), ('CON-4', 'CUS-2', 'Gold')) AS t(id, customer_id, cf_tier)",
                t = HOSTILE.replace('\'', "''")
            ),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    ws
}

#[test]
fn inventory_report_is_escaped_and_self_contained() {
    let ws = staged_workspace();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .success()
        .stdout(contains("inventory.html"))
        .stdout(contains("inventory.json"));
    let html = std::fs::read_to_string(ws.root.join("reports/inventory.html")).unwrap();

    // The hostile value appears, escaped, and never as markup.
    assert!(
        !html.contains("<script"),
        "unescaped script tag in the report"
    );
    assert!(
        html.contains("&lt;script&gt;"),
        "the value is shown escaped"
    );
    // No external resources of any kind.
    for needle in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "@import",
    ] {
        assert!(!html.contains(needle), "external resource: {needle}");
    }
    assert!(html.contains("<style>"), "inline CSS");
    assert!(html.contains("<svg"), "inline SVG bars");

    // What an analyst looks for is there.
    for expected in [
        "Source inventory",
        "customers",
        "contacts",
        "cf_tier",
        "custom",
        "undocumented",
        "Suspended",
        "invalid e-mails",
        "free-mail",
        "before 1753",
        "orphans",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
}

#[test]
fn the_json_twin_holds_the_header_and_every_named_query() {
    let ws = staged_workspace();
    ws.ferry().args(["report", "inventory"]).assert().success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.root.join("reports/inventory.json")).unwrap())
            .unwrap();
    assert_eq!(json["header"]["report"], "inventory");
    assert_eq!(json["header"]["ferry_version"], env!("CARGO_PKG_VERSION"));
    for key in ["totals", "extracts", "highlights", "objects"] {
        assert!(json[key].is_array(), "{key}");
    }
    let customers = &json["objects"][0];
    assert_eq!(customers["object"], "customers");
    let status = customers["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "status")
        .unwrap();
    assert_eq!(status["undocumented_rows"], 1);
    assert_eq!(status["value_list"][0]["value"], "Active");
    assert_eq!(status["value_list"][0]["count"], 2);
    let problems: Vec<(String, String)> = json["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                format!(
                    "{}.{}",
                    h["object"].as_str().unwrap(),
                    h["field"].as_str().unwrap()
                ),
                h["issue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("contacts.customer_id", "orphans"),
        ("customers.status", "undocumented_rows"),
        ("customers.email", "email_invalid"),
        ("customers.created_at", "before_1753"),
        ("customers.email", "email_free_mail"),
    ] {
        assert!(
            problems.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {problems:?}"
        );
    }
}

#[test]
fn report_all_renders_every_report_and_prints_the_paths() {
    let ws = staged_workspace();
    ws.ferry()
        .args(["report", "all"])
        .assert()
        .success()
        .stdout(contains(
            ws.root.join("reports/inventory.html").display().to_string(),
        ));
}

#[test]
fn nothing_staged_is_a_clear_exit_2() {
    let ws = FixtureWorkspace::new();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .code(2)
        .stderr(contains("nothing has been staged yet"))
        .stderr(contains("ferry stage"));
    assert!(!ws.root.join("reports/inventory.html").exists());
}

#[test]
fn missing_workspace_sql_says_how_to_restore_it() {
    let ws = staged_workspace();
    std::fs::remove_file(ws.root.join("sql/reports/inventory.sql")).unwrap();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .code(2)
        .stderr(contains("inventory.sql"))
        .stderr(contains("ferry init"));
}

#[test]
fn the_workspace_copy_of_the_sql_is_what_runs() {
    let ws = staged_workspace();
    let path = ws.root.join("sql/reports/inventory.sql");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("ORDER BY extract_id;", "ORDER BY extract_id LIMIT 0;");
    std::fs::write(&path, edited).unwrap();
    ws.ferry().args(["report", "inventory"]).assert().success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.root.join("reports/inventory.json")).unwrap())
            .unwrap();
    assert_eq!(json["extracts"], serde_json::json!([]));

    // A broken query names the file, the query and DuckDB's complaint.
    std::fs::write(&path, "-- name: objects\nSELECT * FROM meta.nope\n").unwrap();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .code(2)
        .stderr(contains("query `objects` (line 1) failed"))
        .stderr(contains("nope"));
}

#[test]
fn a_column_the_template_needs_but_the_sql_lacks_is_a_clear_error() {
    let ws = staged_workspace();
    let path = ws.root.join("sql/reports/inventory.sql");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("o.fields AS field_count", "o.fields AS renamed_count");
    std::fs::write(&path, edited).unwrap();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .code(2)
        .stderr(contains("template inventory.html.j2 line"))
        .stderr(contains("does not return a column the template needs"));
}

#[test]
fn an_unknown_report_lists_the_available_ones() {
    let ws = staged_workspace();
    ws.ferry()
        .args(["report", "nosuch"])
        .assert()
        .code(2)
        .stderr(contains("available: inventory"));
}
