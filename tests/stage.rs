//! `ferry stage` over hand-made landing zones: loading, idempotence, new
//! versions, schema evolution, damaged extracts, and the inventory's numbers
//! on a dataset small enough to check by hand.

#[path = "support/landing_fixture.rs"]
mod landing_fixture;

use ferry::source::schema::FieldType;
use landing_fixture::{
    custom_col, customer_columns, customers_select, extract, s, std_col, text, FixtureWorkspace,
};
use predicates::str::contains;

const FIRST: &str = "2026-11-25T19:18:00Z";
const SECOND: &str = "2026-11-26T08:00:00Z";

fn three_customers() -> String {
    customers_select(&[
        (
            "CUS-1",
            "Acme",
            Some("info@acme.com"),
            Some("02134"),
            Some("Active"),
        ),
        (
            "CUS-2",
            "Bolt",
            Some("bob@bolt.com"),
            Some("60601"),
            Some("Active"),
        ),
        ("CUS-3", "Crane", None, None, Some("Inactive")),
    ])
}

fn contact_columns() -> Vec<landing_fixture::Col> {
    vec![
        text("id"),
        text("customer_id"),
        text("first_name"),
        std_col("is_primary", FieldType::Boolean),
    ]
}

const CONTACTS: &str =
    "SELECT * FROM (VALUES ('CON-1', 'CUS-1', 'Ann', true), ('CON-2', 'CUS-2', 'Ben', false)) \
                        AS t(id, customer_id, first_name, is_primary)";

const ONE_QUARANTINED: &str =
    "SELECT 'customers' AS object, CAST(5 AS BIGINT) AS line, 'CUS-9' AS record_id, \
     'created_at' AS field, 'not a timestamp: 2024-13-45' AS reason, 'CUS-9,...' AS raw_text, \
     CAST('CUS-9,...' AS BLOB) AS raw_bytes";

const ONE_ATTACHMENT: &str = "SELECT 'ATT-1' AS attachment_id, 'report.pdf' AS file_name, CAST(5 AS BIGINT) AS size_bytes, \
     '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' AS sha256, CAST('hello' AS BLOB) AS content";

fn first_extract() -> landing_fixture::ExtractBuilder {
    extract(1, FIRST)
        .object("customers", customer_columns(), &three_customers())
        .quarantined(1)
        .object("contacts", contact_columns(), CONTACTS)
        .quarantine(ONE_QUARANTINED)
        .attachments(ONE_ATTACHMENT)
}

fn count(ws: &FixtureWorkspace, sql: &str) -> i64 {
    ws.db().query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn stage_loads_every_table_and_the_ledger() {
    let ws = FixtureWorkspace::new();
    let extract_dir = first_extract().write(&ws.landing());
    let id = extract_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();

    ws.ferry()
        .arg("stage")
        .assert()
        .success()
        .stdout(contains(format!("staged {id}")))
        .stdout(contains("customers"))
        .stdout(contains("current records"));

    assert_eq!(count(&ws, "SELECT count(*) FROM raw.customers"), 3);
    assert_eq!(count(&ws, "SELECT count(*) FROM raw.customers_current"), 3);
    assert_eq!(count(&ws, "SELECT count(*) FROM raw.contacts_current"), 2);
    assert_eq!(
        ws.rows("SELECT DISTINCT _extract_id FROM raw.customers"),
        vec![vec![s(&id)]]
    );
    // The landed columns keep their types, plus the extract id.
    assert_eq!(
        ws.rows(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = 'customers' ORDER BY column_index"
        ),
        vec![
            vec![s("id"), s("VARCHAR")],
            vec![s("company_name"), s("VARCHAR")],
            vec![s("email"), s("VARCHAR")],
            vec![s("billing_postal_code"), s("VARCHAR")],
            vec![s("status"), s("VARCHAR")],
            vec![s("created_at"), s("TIMESTAMP WITH TIME ZONE")],
            vec![s("modified_at"), s("TIMESTAMP WITH TIME ZONE")],
            vec![s("_row_hash"), s("VARCHAR")],
            vec![s("_source_line"), s("BIGINT")],
            vec![s("_extract_id"), s("VARCHAR")],
        ]
    );
    assert_eq!(
        ws.rows("SELECT object, record_id, reason, _extract_id FROM raw._quarantine"),
        vec![vec![
            s("customers"),
            s("CUS-9"),
            s("not a timestamp: 2024-13-45"),
            s(&id)
        ]]
    );
    assert_eq!(
        ws.rows("SELECT attachment_id, CAST(content AS VARCHAR), _extract_id FROM raw.attachment_content"),
        vec![vec![s("ATT-1"), s("hello"), s(&id)]]
    );
    assert_eq!(
        ws.rows(
            "SELECT extract_id, source_kind, CAST(started_at AS VARCHAR), pending_sync_count, quarantine_rows, new_quarantine_rows, attachment_rows, new_attachment_rows, json_extract_string(manifest, '$.extract_id') FROM meta.extracts"
        ),
        vec![vec![
            s(&id),
            s("csv"),
            s("2026-11-25 19:18:00+00"),
            s("0"),
            s("1"),
            s("1"),
            s("1"),
            s("1"),
            s(&id)
        ]]
    );
    assert_eq!(
        ws.rows(
            "SELECT object, source_rows, landed_rows, quarantined_rows, new_versions, length(parquet_sha256) FROM meta.extract_objects ORDER BY object"
        ),
        vec![
            vec![s("contacts"), s("2"), s("2"), s("0"), s("2"), s("64")],
            vec![s("customers"), s("4"), s("3"), s("1"), s("3"), s("64")],
        ]
    );
}

#[test]
fn staging_the_same_data_again_adds_nothing() {
    let ws = FixtureWorkspace::new();
    first_extract().write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    let tables = [
        "raw.customers",
        "raw.contacts",
        "raw._quarantine",
        "raw.attachment_content",
    ];
    let before: Vec<String> = tables.iter().map(|t| ws.table_fingerprint(t)).collect();

    // Same extract again: skipped, exit 0, with a clear message.
    ws.ferry()
        .arg("stage")
        .assert()
        .success()
        .stdout(contains("nothing to stage"));

    // A second extract holding identical data (what `extract` twice gives):
    // staged, but no row is new.
    let second = extract(2, SECOND)
        .object("customers", customer_columns(), &three_customers())
        .quarantined(1)
        .object("contacts", contact_columns(), CONTACTS)
        .quarantine(ONE_QUARANTINED)
        .attachments(ONE_ATTACHMENT)
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    let after: Vec<String> = tables.iter().map(|t| ws.table_fingerprint(t)).collect();
    assert_eq!(before, after);

    let second_id = second.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        ws.rows(&format!(
            "SELECT object, new_versions FROM meta.extract_objects WHERE extract_id = '{second_id}' ORDER BY object"
        )),
        vec![vec![s("contacts"), s("0")], vec![s("customers"), s("0")]]
    );
    assert_eq!(
        ws.rows(&format!(
            "SELECT new_quarantine_rows, new_attachment_rows FROM meta.extracts WHERE extract_id = '{second_id}'"
        )),
        vec![vec![s("0"), s("0")]]
    );
}

#[test]
fn a_changed_record_adds_exactly_one_version_and_becomes_current() {
    let ws = FixtureWorkspace::new();
    first_extract().write(&ws.landing());
    ws.ferry().arg("stage").assert().success();

    let changed = customers_select(&[
        (
            "CUS-1",
            "Acme",
            Some("info@acme.com"),
            Some("02134"),
            Some("Active"),
        ),
        (
            "CUS-2",
            "Bolt",
            Some("orders@bolt.com"),
            Some("60601"),
            Some("Active"),
        ),
        ("CUS-3", "Crane", None, None, Some("Inactive")),
    ]);
    extract(2, SECOND)
        .object("customers", customer_columns(), &changed)
        .write(&ws.landing());
    let out = ws.ferry().args(["--json", "stage"]).assert().success();
    let summary: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let customers = summary["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "customers")
        .unwrap();
    assert_eq!(customers["new_versions"], 1);
    assert_eq!(customers["landed_rows"], 3);
    assert_eq!(customers["current_records"], 3);

    assert_eq!(count(&ws, "SELECT count(*) FROM raw.customers"), 4);
    assert_eq!(
        ws.rows("SELECT id, email FROM raw.customers_current ORDER BY id"),
        vec![
            vec![s("CUS-1"), s("info@acme.com")],
            vec![s("CUS-2"), s("orders@bolt.com")],
            vec![s("CUS-3"), None],
        ]
    );
    // Both versions of CUS-2 are kept.
    assert_eq!(
        ws.rows("SELECT email FROM raw.customers WHERE id = 'CUS-2' ORDER BY _extract_id"),
        vec![vec![s("bob@bolt.com")], vec![s("orders@bolt.com")]]
    );
    // Contacts were not in the second extract and stay as they were.
    assert_eq!(count(&ws, "SELECT count(*) FROM raw.contacts_current"), 2);
    // The inventory describes the current versions only.
    assert_eq!(
        ws.rows("SELECT current_records, versions, extracts FROM meta.inventory_objects WHERE object = 'customers'"),
        vec![vec![s("3"), s("4"), s("2")]]
    );
    assert_eq!(
        ws.rows("SELECT non_null, distinct_count, CAST(sample_values AS VARCHAR) FROM meta.inventory_fields WHERE object = 'customers' AND field = 'email'"),
        vec![vec![s("2"), s("2"), s("[info@acme.com, orders@bolt.com]")]]
    );
}

#[test]
fn an_older_extract_staged_late_never_overrides_newer_versions() {
    let ws = FixtureWorkspace::new();
    extract(2, SECOND)
        .object("customers", customer_columns(), &three_customers())
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();

    let older = customers_select(&[
        (
            "CUS-1",
            "Acme",
            Some("old@acme.com"),
            Some("02134"),
            Some("Active"),
        ),
        ("CUS-9", "Only Old", None, None, None),
    ]);
    extract(1, FIRST)
        .object("customers", customer_columns(), &older)
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success().stderr(contains(
        "0001-20261125T191800Z is older than 0002-20261126T080000Z",
    ));
    assert_eq!(
        ws.rows("SELECT id, email FROM raw.customers_current WHERE id IN ('CUS-1', 'CUS-9') ORDER BY id"),
        vec![vec![s("CUS-1"), s("info@acme.com")], vec![s("CUS-9"), None]]
    );
    assert_eq!(count(&ws, "SELECT count(*) FROM raw.customers"), 5);
}

#[test]
fn a_custom_column_new_in_a_later_extract_is_added() {
    let ws = FixtureWorkspace::new();
    first_extract().write(&ws.landing());
    ws.ferry().arg("stage").assert().success();

    let mut columns = customer_columns();
    columns.push(custom_col("cf_region", FieldType::Text));
    extract(2, SECOND)
        .object(
            "customers",
            columns,
            &format!(
                "SELECT *, CASE id WHEN 'CUS-1' THEN 'North' ELSE NULL END AS cf_region FROM ({})",
                three_customers()
            ),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();

    // The old versions are kept without a region; the current ones carry it.
    assert_eq!(
        count(&ws, "SELECT count(*) FROM raw.customers WHERE _extract_id LIKE '0001-%' AND cf_region IS NULL"),
        3
    );
    assert_eq!(
        ws.rows("SELECT id, cf_region FROM raw.customers_current ORDER BY id"),
        vec![
            vec![s("CUS-1"), s("North")],
            vec![s("CUS-2"), None],
            vec![s("CUS-3"), None],
        ]
    );
    assert_eq!(
        ws.rows("SELECT origin, inferred_type, non_null FROM meta.inventory_fields WHERE object = 'customers' AND field = 'cf_region'"),
        vec![vec![s("custom"), s("text"), s("1")]]
    );
}

#[test]
fn a_column_whose_type_changes_is_widened_to_text_with_a_warning() {
    let ws = FixtureWorkspace::new();
    let mut columns = customer_columns();
    columns.push(custom_col("cf_size", FieldType::Integer));
    extract(1, FIRST)
        .object(
            "customers",
            columns.clone(),
            &format!(
                "SELECT *, CAST(10 AS BIGINT) AS cf_size FROM ({})",
                three_customers()
            ),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();

    columns.last_mut().unwrap().ty = FieldType::Text;
    extract(2, SECOND)
        .object(
            "customers",
            columns,
            &format!("SELECT *, 'large' AS cf_size FROM ({})", three_customers()),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success().stderr(contains(
        "cf_size was BIGINT and arrives as VARCHAR: widened to VARCHAR",
    ));
    assert_eq!(
        ws.rows("SELECT DISTINCT data_type FROM duckdb_columns() WHERE table_name = 'customers' AND column_name = 'cf_size'"),
        vec![vec![s("VARCHAR")]]
    );
    assert_eq!(
        ws.rows("SELECT cf_size, count(*) FROM raw.customers GROUP BY cf_size ORDER BY cf_size"),
        vec![vec![s("10"), s("3")], vec![s("large"), s("3")]]
    );
}

#[test]
fn a_checksum_mismatch_stages_nothing_and_exits_2() {
    let ws = FixtureWorkspace::new();
    let dir = first_extract().write(&ws.landing());
    // Damage the file after the manifest was written.
    let path = dir.join("contacts.parquet");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(0);
    std::fs::write(&path, bytes).unwrap();

    ws.ferry()
        .arg("stage")
        .assert()
        .code(2)
        .stderr(contains("contacts.parquet"))
        .stderr(contains("checksum mismatch"))
        .stderr(contains("ferry extract"));
    assert_eq!(count(&ws, "SELECT count(*) FROM meta.extracts"), 0);
    assert_eq!(
        count(
            &ws,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
        ),
        0
    );
}

#[test]
fn partial_failed_and_stray_entries_are_skipped_with_a_warning() {
    let ws = FixtureWorkspace::new();
    first_extract().write(&ws.landing());
    extract(2, SECOND)
        .object(
            "customers",
            customer_columns(),
            &customers_select(&[("CUS-7", "Partial", None, None, None)]),
        )
        .suffix(".partial")
        .write(&ws.landing());
    extract(3, "2026-11-27T08:00:00Z")
        .object(
            "customers",
            customer_columns(),
            &customers_select(&[("CUS-8", "Failed", None, None, None)]),
        )
        .suffix(".failed")
        .write(&ws.landing());
    std::fs::write(ws.landing().join("readme.txt"), "not an extract").unwrap();

    ws.ferry()
        .arg("stage")
        .assert()
        .success()
        .stderr(contains(
            "0002-20261126T080000Z.partial: interrupted extract",
        ))
        .stderr(contains("0003-20261127T080000Z.failed: failed extract"))
        .stderr(contains("readme.txt: not an extract folder"));
    assert_eq!(count(&ws, "SELECT count(*) FROM raw.customers"), 3);
    assert_eq!(count(&ws, "SELECT count(*) FROM meta.extracts"), 1);
}

#[test]
fn nothing_ever_extracted_is_exit_2_but_nothing_new_is_exit_0() {
    let ws = FixtureWorkspace::new();
    ws.ferry()
        .arg("stage")
        .assert()
        .code(2)
        .stderr(contains("run `ferry extract`"));
    assert!(
        !ws.root.join("ferry.duckdb").exists(),
        "no empty database is left behind"
    );

    std::fs::remove_dir(ws.landing()).unwrap();
    ws.ferry()
        .arg("stage")
        .assert()
        .code(2)
        .stderr(contains("no landing folder"));

    first_extract().write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    ws.ferry().arg("stage").assert().success().stdout(contains(
        "nothing to stage: all 1 complete extract(s) are already staged",
    ));
}

#[test]
fn pending_sync_ids_in_the_manifest_are_warned_about() {
    let ws = FixtureWorkspace::new();
    first_extract()
        .pending(&["WO-1", "WO-2"], false)
        .write(&ws.landing());
    ws.ferry()
        .arg("stage")
        .assert()
        .success()
        .stderr(contains("2 work order(s) were pending offline sync"));
    assert_eq!(
        ws.rows("SELECT pending_sync_count, pending_sync_allowed FROM meta.extracts"),
        vec![vec![s("2"), s("false")]]
    );
}

#[test]
fn column_names_from_the_data_are_quoted() {
    let ws = FixtureWorkspace::new();
    let mut columns = customer_columns();
    columns.push(custom_col("cf_odd \"name\"; DROP TABLE x", FieldType::Text));
    extract(1, FIRST)
        .object(
            "customers",
            columns,
            &format!(
                "SELECT *, 'v' AS \"cf_odd \"\"name\"\"; DROP TABLE x\" FROM ({})",
                three_customers()
            ),
        )
        .write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    assert_eq!(
        ws.rows("SELECT \"cf_odd \"\"name\"\"; DROP TABLE x\" FROM raw.customers_current LIMIT 1"),
        vec![vec![s("v")]]
    );
    assert_eq!(
        ws.rows("SELECT non_null FROM meta.inventory_fields WHERE field = 'cf_odd \"name\"; DROP TABLE x'"),
        vec![vec![s("3")]]
    );
}

#[test]
fn the_database_lock_of_another_process_is_a_plain_exit_2() {
    let ws = FixtureWorkspace::new();
    first_extract().write(&ws.landing());
    ws.ferry().arg("stage").assert().success();
    // `ferry sql` without a query opens the database, then waits for
    // statements on stdin: a process holding the lock until we let go.
    let mut holder = std::process::Command::new(assert_cmd::cargo::cargo_bin("ferry"))
        .arg("--workspace")
        .arg(&ws.root)
        .arg("sql")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let result = ws.ferry().arg("stage").assert();
    drop(holder.stdin.take());
    let _ = holder.wait();
    result
        .code(2)
        .stderr(contains("in use by another process"))
        .stderr(contains("close the other ferry command"));
}

/// The inventory on a dataset small enough to count by hand.
mod inventory {
    use super::*;

    fn inventory_workspace() -> FixtureWorkspace {
        let ws = FixtureWorkspace::new();
        // status is a documented picklist (Active, Inactive); "Suspended" is not in it.
        let customers = "SELECT * FROM (VALUES
            ('CUS-1', 'Acme',                           'info@acme.com', '02134', 'Active',    TIMESTAMPTZ '2024-01-01 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-2', 'Bolt',                           'bob@gmail.com', '60601', 'Active',    TIMESTAMPTZ '2024-01-02 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-3', 'Café <b>x</b>',                  'not-an-email',  NULL,    'Inactive',  TIMESTAMPTZ '2024-01-03 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-4', 'Delta' || chr(10) || 'Dept 2',   NULL,            '00501', 'Suspended', TIMESTAMPTZ '2024-01-04 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00'),
            ('CUS-5', 'Echo',                           'ann@yahoo.com', '12345', 'Active',    TIMESTAMPTZ '2024-01-05 10:00:00+00', TIMESTAMPTZ '2030-01-01 00:00:00+00'),
            ('CUS-6', 'Fox',                            'x@nodomain',    NULL,    NULL,        TIMESTAMPTZ '1700-01-01 00:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00')
        ) AS t(id, company_name, email, billing_postal_code, status, created_at, modified_at)";
        let mut contact_columns = vec![text("id"), text("customer_id"), text("first_name")];
        contact_columns.push(custom_col("cf_tier", FieldType::Text));
        let contacts = "SELECT * FROM (VALUES
            ('CON-1', 'CUS-1',   'Ann', 'Gold'),
            ('CON-2', 'CUS-404', 'Ben', 'Gold'),
            ('CON-3', NULL,      'Cy',  'Silver'),
            ('CON-4', 'CUS-2',   'Di',  'Gold')
        ) AS t(id, customer_id, first_name, cf_tier)";
        // notes.parent_id points at customers or work orders (never staged here).
        let notes = "SELECT * FROM (VALUES
            ('NOT-1', 'customer',   'CUS-1',   'ok'),
            ('NOT-2', 'work_order', 'WO-1',    'target object never landed'),
            ('NOT-3', 'customer',   'CUS-404', 'missing customer'),
            ('NOT-4', 'contract',   NULL,      'no parent')
        ) AS t(id, parent_type, parent_id, body)";
        extract(1, FIRST)
            .object("customers", customer_columns(), customers)
            .object("contacts", contact_columns, contacts)
            .object(
                "notes",
                vec![
                    text("id"),
                    text("parent_type"),
                    text("parent_id"),
                    text("body"),
                ],
                notes,
            )
            .write(&ws.landing());
        ws.ferry().arg("stage").assert().success();
        ws
    }

    fn field(
        ws: &FixtureWorkspace,
        object: &str,
        field: &str,
        columns: &str,
    ) -> Vec<Option<String>> {
        let rows = ws.rows(&format!(
            "SELECT {columns} FROM meta.inventory_fields WHERE object = '{object}' AND field = '{field}'"
        ));
        assert_eq!(rows.len(), 1, "{object}.{field}");
        rows.into_iter().next().unwrap()
    }

    #[test]
    fn counts_null_rates_and_distincts_are_exact() {
        let ws = inventory_workspace();
        assert_eq!(
            field(&ws, "customers", "email", "\"rows\", non_null, nulls, CAST(round(null_rate, 4) AS VARCHAR), distinct_count, origin, inferred_type"),
            vec![s("6"), s("5"), s("1"), s("0.1667"), s("5"), s("standard"), s("text")]
        );
        assert_eq!(
            field(&ws, "customers", "billing_postal_code", "non_null, nulls, CAST(round(null_rate, 4) AS VARCHAR), leading_zero, max_length, min_value, max_value"),
            vec![s("4"), s("2"), s("0.3333"), s("2"), s("5"), s("00501"), s("60601")]
        );
        assert_eq!(
            field(&ws, "customers", "email", "CAST(sample_values AS VARCHAR)"),
            vec![s(
                "[ann@yahoo.com, bob@gmail.com, info@acme.com, not-an-email, x@nodomain]"
            )]
        );
        // Field order follows the manifest; ferry's own columns are not fields.
        assert_eq!(
            ws.rows("SELECT field FROM meta.inventory_fields WHERE object = 'customers' ORDER BY position"),
            ["id", "company_name", "email", "billing_postal_code", "status", "created_at", "modified_at"]
                .iter()
                .map(|f| vec![s(f)])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn email_profiles_count_invalid_and_free_mail_addresses() {
        let ws = inventory_workspace();
        assert_eq!(
            field(&ws, "customers", "email", "email_invalid, email_free_mail"),
            vec![s("2"), s("2")]
        );
        // Not an e-mail field: not applicable.
        assert_eq!(
            field(
                &ws,
                "customers",
                "company_name",
                "email_invalid, email_free_mail"
            ),
            vec![None, None]
        );
    }

    #[test]
    fn text_profiles_find_html_unicode_and_line_breaks() {
        let ws = inventory_workspace();
        assert_eq!(
            field(
                &ws,
                "customers",
                "company_name",
                "html_like, non_ascii, multiline, leading_zero"
            ),
            vec![s("1"), s("1"), s("1"), s("0")]
        );
        // Timestamps get date profiles, not text ones.
        assert_eq!(
            field(
                &ws,
                "customers",
                "created_at",
                "html_like, before_1753, in_future, max_length"
            ),
            vec![None, s("1"), s("0"), None]
        );
        assert_eq!(
            field(&ws, "customers", "modified_at", "before_1753, in_future"),
            vec![s("0"), s("1")]
        );
    }

    #[test]
    fn documented_picklists_report_undocumented_values() {
        let ws = inventory_workspace();
        assert_eq!(
            field(&ws, "customers", "status", "picklist_like, CAST(documented_values AS VARCHAR), undocumented_rows, distinct_count, CAST(sample_values AS VARCHAR)"),
            vec![s("true"), s("[Active, Inactive]"), s("1"), s("3"), s("[Active, Inactive, Suspended]")]
        );
        assert_eq!(
            ws.rows("SELECT value, count, CAST(documented AS VARCHAR) FROM meta.inventory_values WHERE object = 'customers' AND field = 'status' ORDER BY count DESC, value"),
            vec![
                vec![s("Active"), s("3"), s("true")],
                vec![s("Inactive"), s("1"), s("true")],
                vec![s("Suspended"), s("1"), s("false")],
            ]
        );
        // A documented value nobody uses is still listed, with count 0.
        assert_eq!(
            ws.rows("SELECT value, count, CAST(documented AS VARCHAR) FROM meta.inventory_values WHERE object = 'notes' AND field = 'parent_type' ORDER BY value"),
            vec![
                vec![s("contract"), s("1"), s("true")],
                vec![s("customer"), s("2"), s("true")],
                vec![s("work_order"), s("1"), s("true")],
            ]
        );
    }

    #[test]
    fn low_cardinality_custom_text_is_listed_like_a_picklist() {
        let ws = inventory_workspace();
        assert_eq!(
            field(
                &ws,
                "contacts",
                "cf_tier",
                "origin, picklist_like, undocumented_rows"
            ),
            vec![s("custom"), s("true"), None]
        );
        assert_eq!(
            ws.rows("SELECT value, count, documented FROM meta.inventory_values WHERE object = 'contacts' AND field = 'cf_tier' ORDER BY value"),
            vec![vec![s("Gold"), s("3"), None], vec![s("Silver"), s("1"), None]]
        );
        // Unique names and ids are not picklists.
        assert_eq!(
            field(&ws, "contacts", "first_name", "picklist_like"),
            vec![s("false")]
        );
        assert_eq!(
            field(&ws, "contacts", "id", "picklist_like"),
            vec![s("false")]
        );
    }

    #[test]
    fn references_count_orphans_including_polymorphic_parents() {
        let ws = inventory_workspace();
        assert_eq!(
            field(
                &ws,
                "contacts",
                "customer_id",
                "CAST(\"references\" AS VARCHAR), orphans, picklist_like"
            ),
            vec![s("[customers]"), s("1"), s("false")]
        );
        // WO-1 (work orders never landed) and CUS-404 are orphans; a null parent is not.
        assert_eq!(
            field(
                &ws,
                "notes",
                "parent_id",
                "CAST(\"references\" AS VARCHAR), orphans"
            ),
            vec![s("[customers, work_orders, contracts]"), s("2")]
        );
        assert_eq!(field(&ws, "customers", "email", "orphans"), vec![None]);
    }

    #[test]
    fn object_summaries_count_records_fields_and_quarantine() {
        let ws = inventory_workspace();
        assert_eq!(
            ws.rows("SELECT object, position, current_records, versions, fields, standard_fields, custom_fields, quarantined FROM meta.inventory_objects ORDER BY position"),
            vec![
                vec![s("customers"), s("1"), s("6"), s("6"), s("7"), s("7"), s("0"), s("0")],
                vec![s("contacts"), s("2"), s("4"), s("4"), s("4"), s("3"), s("1"), s("0")],
                vec![s("notes"), s("3"), s("4"), s("4"), s("4"), s("4"), s("0"), s("0")],
            ]
        );
    }
}
