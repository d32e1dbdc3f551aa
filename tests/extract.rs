//! `ferry extract` over hand-checked CSV exports: encodings and quoting,
//! strict typing into quarantine, and every kind of bad input.

mod support;

use predicates::str::contains;
use support::{duck, fixture, parquet, rows, TestWorkspace};

fn text(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn bom_crlf_embedded_newlines_and_a_non_utf8_byte() {
    let ws = TestWorkspace::with_csv_source(&fixture("encodings"));
    ws.ferry().arg("extract").assert().success();
    let [folder] = ws.complete_extracts().try_into().expect("one extract");
    let db = duck();
    let customers = parquet(&folder, "customers");

    // The BOM is not part of the first column's name, CRLF is not part of values,
    // and quoted newlines (LF and CRLF) are kept exactly.
    let got = rows(
        &db,
        "SELECT id, company_name, primary_contact_name, billing_postal_code, cf_region, _source_line::VARCHAR
         FROM read_parquet(?) ORDER BY id",
        &[&customers],
    );
    assert_eq!(
        got,
        vec![
            vec![
                text("CUS-000001"),
                text("Acme Heating"),
                text("Jane Roe"),
                text("60601"),
                text("North"),
                text("2")
            ],
            vec![
                text("CUS-000002"),
                text("Bolt, \"Nuts\" & Co"),
                text("Line one\nline two\r\nline three"),
                text("02108"),
                None,
                text("3")
            ],
            vec![
                text("CUS-000004"),
                text("Café Müller 東京 🔧"),
                text("<b>Ana</b>"),
                text("60602"),
                text("South"),
                text("7")
            ],
        ]
    );

    // Local times become UTC; the fold's earlier instant is taken and counted.
    let times = rows(
        &db,
        "SELECT strftime(make_timestamp(epoch_us(created_at)), '%Y-%m-%d %H:%M:%S'), strftime(make_timestamp(epoch_us(modified_at)), '%Y-%m-%d %H:%M:%S')
         FROM read_parquet(?) WHERE id IN ('CUS-000001', 'CUS-000002') ORDER BY id",
        &[&customers],
    );
    assert_eq!(
        times,
        vec![
            vec![text("2024-01-15 14:30:00"), text("2024-02-01 15:00:00")],
            vec![text("2024-03-10 07:59:59"), text("2024-11-03 06:30:00")],
        ]
    );

    // The row with a Latin-1 byte is quarantined with its exact bytes.
    let quarantine = folder.join("_quarantine.parquet").display().to_string();
    let q = rows(
        &db,
        "SELECT object, line::VARCHAR, record_id, field, reason, hex(raw_bytes) FROM read_parquet(?)",
        &[&quarantine],
    );
    assert_eq!(q.len(), 1);
    assert_eq!(
        q[0][..4],
        [
            text("customers"),
            text("6"),
            text("CUS-000003"),
            text("company_name")
        ]
    );
    assert!(
        q[0][4]
            .as_deref()
            .unwrap()
            .contains("invalid UTF-8 (byte 0xE9"),
        "{:?}",
        q[0][4]
    );
    let expected_raw = b"CUS-000003,Caf\xe9 Latin-1,Ann,ann@latin.example,(312) 555-0103,,4 St,Chicago,IL,60603,US,,Email,,Net 30,Active,2024-01-01 00:00:00,2024-01-01 00:00:00,East";
    assert_eq!(q[0][5].as_deref().unwrap(), hex_upper(expected_raw));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("_manifest.json")).unwrap()).unwrap();
    let c = &manifest["objects"]["customers"];
    assert_eq!(
        (
            c["source_rows"].as_u64(),
            c["landed_rows"].as_u64(),
            c["quarantined_rows"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(c["ambiguous_local_times"], 1);
    let region = c["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|col| col["name"] == "cf_region")
        .unwrap();
    assert_eq!(
        (region["type"].as_str(), region["origin"].as_str()),
        (Some("text"), Some("custom"))
    );
    assert_eq!(manifest["watermark"], "2024-11-03T06:30:00Z");
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn values_that_cannot_be_typed_are_quarantined_with_reasons() {
    let ws = TestWorkspace::with_csv_source(&fixture("typing"));
    ws.ferry().arg("extract").assert().success();
    let [folder] = ws.complete_extracts().try_into().expect("one extract");
    let db = duck();
    let landed = rows(
        &db,
        "SELECT id FROM read_parquet(?) ORDER BY id",
        &[&parquet(&folder, "dispatches")],
    );
    assert_eq!(
        landed,
        vec![vec![text("DSP-0000001")], vec![text("DSP-0000003")]]
    );
    let parts = rows(
        &db,
        "SELECT id, quantity::VARCHAR, unit_price::VARCHAR FROM read_parquet(?) ORDER BY id",
        &[&parquet(&folder, "work_order_parts")],
    );
    assert_eq!(
        parts,
        vec![
            vec![text("WOP-0000001"), text("2.5000"), text("19.9900")],
            vec![text("WOP-0000005"), text("1.0000"), text("1200.0000")],
        ]
    );

    let quarantine = folder.join("_quarantine.parquet").display().to_string();
    let q = rows(
        &db,
        "SELECT object, line::VARCHAR, record_id, field, reason FROM read_parquet(?) ORDER BY object, line",
        &[&quarantine],
    );
    let summary: Vec<(String, String, Option<String>, Option<String>)> = q
        .iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].clone().unwrap(),
                r[2].clone(),
                r[3].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "dispatches".into(),
                "3".into(),
                text("DSP-0000002"),
                text("scheduled_start")
            ),
            (
                "dispatches".into(),
                "5".into(),
                text("DSP-0000004"),
                text("scheduled_start")
            ),
            (
                "dispatches".into(),
                "6".into(),
                text("DSP-0000005"),
                text("route_sequence")
            ),
            (
                "dispatches".into(),
                "7".into(),
                text("DSP-0000001"),
                text("id")
            ),
            ("dispatches".into(), "8".into(), None, text("id")),
            ("dispatches".into(), "9".into(), text("DSP-0000008"), None),
            ("dispatches".into(), "10".into(), text("DSP-0000009"), None),
            (
                "work_order_parts".into(),
                "3".into(),
                text("WOP-0000002"),
                text("quantity")
            ),
            (
                "work_order_parts".into(),
                "4".into(),
                text("WOP-0000003"),
                text("unit_price")
            ),
            (
                "work_order_parts".into(),
                "5".into(),
                text("WOP-0000004"),
                text("unit_price")
            ),
        ]
    );
    let reasons: Vec<String> = q.iter().map(|r| r[4].clone().unwrap()).collect();
    for (i, needle) in [
        "daylight-saving gap",
        "not a valid date and time",
        "not a whole number",
        "already landed from line 2",
        "no id",
        "expected 9 fields",
        "found 10",
        "not a plain decimal",
        "not a plain decimal",
        "does not round",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            reasons[i].contains(needle),
            "reason {i} `{}` lacks `{needle}`",
            reasons[i]
        );
    }
}

/// Runs extract on a broken export: exit 2, a message naming the problem, and
/// no folder in landing/ that looks like a complete extract.
fn assert_refused(fixture_name: &str, needle: &str) {
    let ws = TestWorkspace::with_csv_source(&fixture(fixture_name));
    ws.ferry()
        .arg("extract")
        .assert()
        .code(2)
        .stderr(contains(needle));
    assert!(
        ws.complete_extracts().is_empty(),
        "{fixture_name}: {:?}",
        ws.landing_entries()
    );
}

#[test]
fn a_missing_export_folder_is_refused() {
    assert_refused("does_not_exist", "export folder does not exist");
}

#[test]
fn a_missing_manifest_is_refused() {
    assert_refused("missing_manifest", "has no manifest.json");
}

#[test]
fn a_malformed_manifest_is_refused() {
    assert_refused("malformed_manifest", "malformed manifest");
}

#[test]
fn an_unknown_timezone_is_refused() {
    assert_refused("bad_timezone", "not an IANA timezone");
}

#[test]
fn a_file_the_manifest_lists_but_that_is_missing_is_refused() {
    assert_refused("missing_file", "but missing");
}

#[test]
fn an_unreadable_file_is_refused() {
    assert_refused("unreadable_file", "not a readable file");
}

#[test]
fn a_header_without_documented_fields_is_refused() {
    assert_refused(
        "missing_column",
        "lacks documented field(s): primary_contact_name",
    );
}

#[test]
fn a_row_count_that_disagrees_with_the_manifest_fails_loudly() {
    let ws = TestWorkspace::with_csv_source(&fixture("row_count_mismatch"));
    ws.ferry().arg("extract").assert().code(2).stderr(contains(
        "manifest.json says 3 rows but the file holds 2 records (2 landed + 0 quarantined)",
    ));
    let entries = ws.landing_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].ends_with(".failed"), "{entries:?}");
    assert!(!ws
        .root()
        .join("landing")
        .join(&entries[0])
        .join("_manifest.json")
        .exists());
}

#[test]
fn extract_outside_a_workspace_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::cargo_bin("ferry")
        .unwrap()
        .args(["--workspace"])
        .arg(dir.path())
        .arg("extract")
        .assert()
        .code(2)
        .stderr(contains("not a ferry workspace"));
}
