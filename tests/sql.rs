//! `ferry sql`: table, CSV and JSON output, statements from stdin, and
//! DuckDB errors as exit 2.

#[path = "support/landing_fixture.rs"]
mod landing_fixture;

use landing_fixture::{customer_columns, customers_select, extract, FixtureWorkspace};
use predicates::prelude::*;
use predicates::str::contains;

fn staged_workspace() -> FixtureWorkspace {
    let ws = FixtureWorkspace::new();
    extract(1, "2026-11-25T19:18:00Z")
        .object(
            "customers",
            customer_columns(),
            &customers_select(&[
                (
                    "CUS-1",
                    "Acme, \"Heating\"",
                    Some("info@acme.com"),
                    Some("02134"),
                    Some("Active"),
                ),
                ("CUS-2", "Bolt", None, Some("60601"), Some("Inactive")),
            ]),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    ws
}

const QUERY: &str = "SELECT id, company_name, email, CAST(length(id) AS INTEGER) AS n, id = 'CUS-1' AS first, \
                     CAST(1.50 AS DECIMAL(5,2)) AS price, created_at FROM raw.customers_current ORDER BY id";

#[test]
fn table_output_has_headers_values_and_nulls() {
    let ws = staged_workspace();
    let out = ws.ferry().args(["sql", QUERY]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for expected in [
        "id",
        "company_name",
        "email",
        "CUS-1",
        "Acme, \"Heating\"",
        "info@acme.com",
        "NULL",
        "1.50",
        "true",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(
        out.get_output().stderr.is_empty(),
        "results go to stdout only"
    );
}

#[test]
fn csv_output_is_rfc_4180_with_a_header() {
    let ws = staged_workspace();
    ws.ferry()
        .args(["sql", QUERY, "--format", "csv"])
        .assert()
        .success()
        .stdout(
            "id,company_name,email,n,first,price,created_at\r\n\
             CUS-1,\"Acme, \"\"Heating\"\"\",info@acme.com,5,true,1.50,2024-01-01T10:00:00Z\r\n\
             CUS-2,Bolt,,5,false,1.50,2024-01-01T10:00:00Z\r\n",
        );
    // An empty result still has its header.
    ws.ferry()
        .args([
            "sql",
            "SELECT id FROM raw.customers WHERE false",
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout("id\r\n");
}

#[test]
fn json_output_is_an_array_of_typed_objects() {
    let ws = staged_workspace();
    let out = ws
        .ferry()
        .args(["sql", QUERY, "--format", "json"])
        .assert()
        .success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"id": "CUS-1", "company_name": "Acme, \"Heating\"", "email": "info@acme.com", "n": 5, "first": true, "price": 1.5, "created_at": "2024-01-01T10:00:00Z"},
            {"id": "CUS-2", "company_name": "Bolt", "email": null, "n": 5, "first": false, "price": 1.5, "created_at": "2024-01-01T10:00:00Z"}
        ])
    );
    ws.ferry()
        .args(["sql", "SELECT 1 AS a WHERE false", "--format", "json"])
        .assert()
        .success()
        .stdout("[]\n");
}

#[test]
fn statements_from_stdin_print_each_result() {
    let ws = staged_workspace();
    let out = ws
        .ferry()
        .args(["sql", "--format", "csv"])
        .write_stdin(
            "-- a scratch table; semicolons in 'strings;' are fine\n\
             CREATE TABLE main.scratch AS SELECT 'a;b' AS v;\n\
             SELECT v FROM main.scratch;\n\
             SELECT count(*) AS customers FROM raw.customers_current;\n",
        )
        .assert()
        .success()
        .stderr(contains("1 row(s) affected"));
    assert_eq!(
        String::from_utf8(out.get_output().stdout.clone()).unwrap(),
        "v\r\na;b\r\n\ncustomers\r\n2\r\n"
    );
}

#[test]
fn a_duckdb_error_is_shown_plainly_and_exits_2() {
    let ws = staged_workspace();
    ws.ferry()
        .args(["sql", "SELECT * FROM raw.no_such_table"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("error:").and(contains("no_such_table")));
    ws.ferry()
        .args(["sql", "SELEC 1"])
        .assert()
        .code(2)
        .stderr(contains("syntax error"));
    // In a script, the failing statement is named.
    ws.ferry()
        .arg("sql")
        .write_stdin("SELECT 1 AS ok; SELECT * FROM nowhere;")
        .assert()
        .code(2)
        .stderr(contains("statement 2 of 2 failed").and(contains("nowhere")));
}

#[test]
fn no_sql_at_all_is_a_usage_error() {
    let ws = staged_workspace();
    ws.ferry()
        .arg("sql")
        .write_stdin("  -- nothing\n")
        .assert()
        .code(2)
        .stderr(contains("no SQL given"));
}
