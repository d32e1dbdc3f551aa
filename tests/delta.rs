//! The delta window (SPEC §6) through the ferry binary: a generated export is
//! extracted and staged in full, then changed by hand the way a live
//! ServiceTracker changes — records edited (new value, newer `modified_at`),
//! records deleted (gone from their CSV, listed in `deleted.csv`) — and
//! `ferry extract --since` must land exactly those changes and deletions,
//! conserve every source row, and `ferry stage` must show the new values
//! and hide the deleted records while keeping their history.

mod support;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use predicates::str::contains;
use support::{duck, rows, TestWorkspace};

const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A workspace over its own generated export (60 customers, dirty).
struct Setup {
    ws: TestWorkspace,
    _export_dir: tempfile::TempDir,
    export: PathBuf,
}

fn setup() -> Setup {
    let export_dir = tempfile::tempdir().unwrap();
    let export = export_dir.path().join("export");
    assert_cmd::Command::cargo_bin("ferry")
        .unwrap()
        .arg("generate")
        .arg(&export)
        .args(["--customers", "60"])
        .assert()
        .success();
    let ws = TestWorkspace::with_csv_source(&export);
    Setup {
        ws,
        _export_dir: export_dir,
        export,
    }
}

impl Setup {
    /// `ferry --json extract --allow-pending ARGS`, which must succeed; the
    /// printed JSON.
    fn extract(&self, args: &[&str]) -> serde_json::Value {
        let out = self
            .ws
            .ferry()
            .args(["--json", "extract", "--allow-pending"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `ferry --json stage`, which must succeed; the printed summary.
    fn stage(&self) -> serde_json::Value {
        let out = self.ws.ferry().args(["--json", "stage"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Rows of a query on ferry.duckdb, every value as text (the connection
    /// is closed before the binary runs again).
    fn db_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let db = ferry::duck::open(&self.ws.root().join("ferry.duckdb")).unwrap();
        rows(
            &db,
            &format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({sql})"),
            &[],
        )
    }

    fn landed_ids(&self, folder: &Path, object: &str, filter: &str, n: usize) -> Vec<String> {
        let sql = format!("SELECT id FROM read_parquet(?) WHERE {filter} ORDER BY id LIMIT {n}");
        rows(&duck(), &sql, &[&parquet(folder, object)])
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect()
    }

    /// Changes `field` of record `id` and sets its `modified_at`.
    fn change(&self, object: &str, id: &str, field: &str, value: &str, modified_at: &str) {
        edit_record(&self.export, object, id, |header, fields| {
            fields[position(header, field)] = value.to_string();
            fields[position(header, "modified_at")] = modified_at.to_string();
            Some(())
        });
    }

    /// Deletes record `id` from its CSV and lists it in deleted.csv.
    fn delete(&self, object: &str, id: &str, deleted_at: &str) {
        edit_record(&self.export, object, id, |_, _| None);
        add_object_rows(&self.export, object, -1);
        self.report_deletion(&format!("{object},{id},{deleted_at}"));
    }

    /// Appends one row to deleted.csv (created with its header when absent)
    /// and keeps manifest.json's `deleted` entry in step.
    fn report_deletion(&self, line: &str) {
        let path = self.export.join("deleted.csv");
        let mut text =
            std::fs::read_to_string(&path).unwrap_or_else(|_| "object,id,deleted_at\n".to_string());
        text.push_str(line);
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        let mut manifest = read_json(&self.export.join("manifest.json"));
        let rows = manifest["deleted"]["rows"].as_u64().unwrap_or(0) + 1;
        manifest["deleted"] = serde_json::json!({ "file": "deleted.csv", "rows": rows });
        write_json(&self.export.join("manifest.json"), &manifest);
    }
}

fn parquet(folder: &Path, name: &str) -> String {
    folder.join(format!("{name}.parquet")).display().to_string()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn add_object_rows(export: &Path, object: &str, delta: i64) {
    let path = export.join("manifest.json");
    let mut manifest = read_json(&path);
    let rows = manifest["objects"][object]["rows"].as_i64().unwrap() + delta;
    manifest["objects"][object]["rows"] = rows.into();
    write_json(&path, &manifest);
}

fn position(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// Rewrites (or, when `edit` returns None, removes) the record with `id` in
/// `<object>.csv`, leaving every other byte of the file as it was — the
/// export's dirt included.
fn edit_record(
    export: &Path,
    object: &str,
    id: &str,
    edit: impl FnOnce(&[String], &mut Vec<String>) -> Option<()>,
) {
    let path = export.join(format!("{object}.csv"));
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    reader.read_byte_record(&mut record).unwrap();
    let header: Vec<String> = record
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let id_at = position(&header, "id");
    loop {
        let start = reader.position().byte() as usize;
        assert!(
            reader.read_byte_record(&mut record).unwrap(),
            "{id} not found in {object}.csv"
        );
        let end = reader.position().byte() as usize;
        if record.get(id_at) != Some(id.as_bytes()) {
            continue;
        }
        assert_eq!(record.len(), header.len(), "{id} is a malformed row");
        let mut fields: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect();
        let replacement = match edit(&header, &mut fields) {
            Some(()) => {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(&fields).unwrap();
                writer.into_inner().unwrap()
            }
            None => Vec::new(),
        };
        let mut out = bytes[..start].to_vec();
        out.extend_from_slice(&replacement);
        out.extend_from_slice(&bytes[end..]);
        std::fs::write(&path, out).unwrap();
        return;
    }
}

/// Local time in the export's timezone, as the CSV writes it.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&TZ).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The text DuckDB gives a TIMESTAMPTZ.
fn duck_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S+00").to_string()
}

fn watermark(report: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(report["manifest"]["watermark"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn folder(report: &serde_json::Value) -> PathBuf {
    PathBuf::from(report["folder"].as_str().unwrap())
}

/// Landed rows per object, and the conservation every object and the
/// deletions must satisfy.
fn landed_by_object(report: &serde_json::Value) -> Vec<(String, u64)> {
    let manifest = &report["manifest"];
    let mut landed = Vec::new();
    for (name, o) in manifest["objects"].as_object().unwrap() {
        let n = |k: &str| o[k].as_u64().unwrap();
        assert_eq!(
            n("source_rows"),
            n("landed_rows") + n("quarantined_rows") + n("unchanged_rows"),
            "{name} is not conserved: {o}"
        );
        if n("landed_rows") > 0 {
            landed.push((name.clone(), n("landed_rows")));
        }
    }
    let d = &manifest["deleted"];
    let n = |k: &str| d[k].as_u64().unwrap();
    assert_eq!(
        n("source_rows"),
        n("landed_rows") + n("quarantined_rows") + n("unchanged_rows"),
        "deletions are not conserved: {d}"
    );
    landed
}

fn object<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == name)
        .unwrap_or_else(|| panic!("no {name} in {summary}"))
}

fn count(setup: &Setup, sql: &str) -> u64 {
    setup.db_rows(sql)[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_delta_lands_exactly_the_changed_records_and_the_deletions() {
    let setup = setup();
    // The source already reported one deletion before the first extract: a
    // full extract lands every deletion it reports.
    setup.report_deletion("customers,CUS-0999999,2024-01-15 09:00:00");
    let full = setup.extract(&[]);
    assert_eq!(full["mode"], "full");
    assert_eq!(full["manifest"]["since"], serde_json::Value::Null);
    assert_eq!(full["deleted_rows"], 1);
    assert_eq!(full["unchanged_rows"], 0);
    let full_folder = folder(&full);
    let w = watermark(&full);
    setup.stage();
    let contacts_before = count(&setup, "SELECT count(*) FROM raw.contacts_current");
    let sites_before = count(&setup, "SELECT count(*) FROM raw.sites_current");

    // Three records change, three are deleted.
    let changed_at = w + Duration::days(1);
    let deleted_at = w + Duration::days(1) + Duration::hours(1);
    let customers = setup.landed_ids(&full_folder, "customers", "true", 2);
    let [work_order] = setup
        .landed_ids(&full_folder, "work_orders", "sync_status = 'Synced'", 1)
        .try_into()
        .unwrap();
    let contacts = setup.landed_ids(&full_folder, "contacts", "true", 2);
    let [site] = setup
        .landed_ids(&full_folder, "sites", "true", 1)
        .try_into()
        .unwrap();
    for (i, id) in customers.iter().enumerate() {
        let name = format!("Renamed Holdings {i}");
        setup.change("customers", id, "company_name", &name, &local(changed_at));
    }
    setup.change(
        "work_orders",
        &work_order,
        "summary",
        "Compressor replaced, unit retested",
        &local(changed_at),
    );
    for id in &contacts {
        setup.delete("contacts", id, &local(deleted_at));
    }
    setup.delete("sites", &site, &local(deleted_at));

    let delta = setup.extract(&["--since", "last"]);
    assert_eq!(delta["mode"], "delta");
    assert_eq!(
        delta["since"],
        w.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    assert_eq!(delta["since_from_extract"], full["extract_id"]);
    assert_eq!(
        landed_by_object(&delta),
        vec![("customers".to_string(), 2), ("work_orders".to_string(), 1)]
    );
    assert_eq!(delta["landed_rows"], 3);
    assert_eq!(delta["deleted_rows"], 3);
    let d = &delta["manifest"]["deleted"];
    assert_eq!(
        (d["source_rows"].as_u64(), d["unchanged_rows"].as_u64()),
        (Some(4), Some(1))
    );
    // Everything else in the export was counted as unchanged.
    let customers_manifest = &delta["manifest"]["objects"]["customers"];
    assert_eq!(customers_manifest["unchanged_rows"], 58);
    assert_eq!(
        delta["manifest"]["pending_sync"]["ids"], full["manifest"]["pending_sync"]["ids"],
        "the pending-sync gate sees the whole source, changed or not"
    );

    let delta_folder = folder(&delta);
    let db = duck();
    assert_eq!(
        rows(
            &db,
            "SELECT id, company_name, CAST(modified_at AS VARCHAR) FROM read_parquet(?) ORDER BY id",
            &[&parquet(&delta_folder, "customers")]
        ),
        vec![
            vec![s(&customers[0]), s("Renamed Holdings 0"), s(&duck_utc(changed_at))],
            vec![s(&customers[1]), s("Renamed Holdings 1"), s(&duck_utc(changed_at))],
        ]
    );
    assert_eq!(
        rows(
            &db,
            "SELECT id, summary FROM read_parquet(?)",
            &[&parquet(&delta_folder, "work_orders")]
        ),
        vec![vec![
            s(&work_order),
            s("Compressor replaced, unit retested")
        ]]
    );
    let mut expected_deletions: Vec<Vec<Option<String>>> = contacts
        .iter()
        .map(|id| vec![s("contacts"), s(id), s(&duck_utc(deleted_at))])
        .collect();
    expected_deletions.push(vec![s("sites"), s(&site), s(&duck_utc(deleted_at))]);
    assert_eq!(
        rows(
            &db,
            "SELECT object, id, CAST(deleted_at AS VARCHAR) FROM read_parquet(?) ORDER BY object, id",
            &[&parquet(&delta_folder, "_deleted")]
        ),
        expected_deletions
    );

    // Staging: new values current, deleted records hidden but kept.
    let staged = setup.stage();
    let [extract] = staged["staged"].as_array().unwrap().as_slice() else {
        panic!("one extract staged: {staged}");
    };
    assert_eq!(extract["mode"], "delta");
    assert_eq!(extract["new_deleted_rows"], 3);
    assert_eq!(object(&staged, "customers")["new_versions"], 2);
    assert_eq!(object(&staged, "customers")["deleted_records"], 0);
    assert_eq!(object(&staged, "contacts")["new_deletions"], 2);
    assert_eq!(object(&staged, "contacts")["deleted_records"], 2);
    assert_eq!(object(&staged, "sites")["deleted_records"], 1);

    let ids = |list: &[String]| {
        list.iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        setup.db_rows(&format!(
            "SELECT id, company_name FROM raw.customers_current WHERE id IN ({}) ORDER BY id",
            ids(&customers)
        )),
        vec![
            vec![s(&customers[0]), s("Renamed Holdings 0")],
            vec![s(&customers[1]), s("Renamed Holdings 1")],
        ]
    );
    assert_eq!(
        setup.db_rows(&format!(
            "SELECT summary FROM raw.work_orders_current WHERE id = '{work_order}'"
        )),
        vec![vec![s("Compressor replaced, unit retested")]]
    );
    // Both versions of a changed record are kept.
    assert_eq!(
        count(
            &setup,
            &format!(
                "SELECT count(*) FROM raw.customers WHERE id = '{}'",
                customers[0]
            )
        ),
        2
    );
    let gone = ids(&[contacts.clone(), vec![site.clone()]].concat());
    assert_eq!(
        count(
            &setup,
            &format!("SELECT count(*) FROM raw.contacts_current WHERE id IN ({gone})")
        ),
        0
    );
    assert_eq!(
        count(&setup, "SELECT count(*) FROM raw.contacts_current"),
        contacts_before - 2
    );
    assert_eq!(
        count(&setup, "SELECT count(*) FROM raw.sites_current"),
        sites_before - 1
    );
    assert_eq!(
        count(
            &setup,
            &format!("SELECT count(*) FROM raw.contacts WHERE id IN ({gone})")
        ),
        2,
        "the deleted records' last versions stay in raw.contacts"
    );
    assert_eq!(
        setup.db_rows(
            "SELECT object, id, CAST(deleted_at AS VARCHAR), _extract_id FROM raw._deleted ORDER BY _extract_id, object, id"
        ),
        [
            vec![vec![
                s("customers"),
                s("CUS-0999999"),
                s("2024-01-15 15:00:00+00"),
                full["extract_id"].as_str().map(String::from),
            ]],
            expected_deletions
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.push(delta["extract_id"].as_str().map(String::from));
                    d
                })
                .collect(),
        ]
        .concat()
    );
    assert_eq!(
        setup.db_rows("SELECT mode, CAST(since AS VARCHAR), deleted_rows, new_deleted_rows FROM meta.extracts ORDER BY extract_id"),
        vec![
            vec![s("full"), None, s("1"), s("1")],
            vec![s("delta"), s(&duck_utc(w)), s("3"), s("3")],
        ]
    );

    // Nothing changed since: the next delta lands nothing at all.
    let again = setup.extract(&["--since", "last"]);
    assert_eq!(landed_by_object(&again), vec![]);
    assert_eq!(again["landed_rows"], 0);
    assert_eq!(again["deleted_rows"], 0);
    assert_eq!(again["since"], delta["manifest"]["watermark"]);
    // A wider window finds the same records identical to what was landed.
    let wide = setup.extract(&[
        "--since",
        &(w - Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ]);
    assert_eq!(landed_by_object(&wide), vec![]);
    assert_eq!(wide["deleted_rows"], 0);
    assert!(
        wide["unchanged_rows"].as_u64().unwrap() > 4000,
        "{}",
        wide["unchanged_rows"]
    );

    let staged = setup.stage();
    assert_eq!(staged["staged"].as_array().unwrap().len(), 2);
    for extract in staged["staged"].as_array().unwrap() {
        assert_eq!(extract["new_deleted_rows"], 0);
        let new_versions: u64 = extract["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["new_versions"].as_u64().unwrap())
            .sum();
        assert_eq!(new_versions, 0);
    }
    assert_eq!(
        count(&setup, "SELECT count(*) FROM raw.contacts_current"),
        contacts_before - 2
    );
}

#[test]
fn a_record_changed_after_its_deletion_shows_again() {
    let setup = setup();
    // An unreadable deletion is quarantined, never dropped.
    setup.report_deletion("contacts,CON-0000009,yesterday");
    let full = setup.extract(&[]);
    let d = &full["manifest"]["deleted"];
    assert_eq!(
        (d["landed_rows"].as_u64(), d["quarantined_rows"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        rows(
            &duck(),
            "SELECT object, record_id, field, raw_text FROM read_parquet(?) WHERE object = 'deleted'",
            &[&parquet(&folder(&full), "_quarantine")]
        ),
        vec![vec![
            s("deleted"),
            s("CON-0000009"),
            s("deleted_at"),
            s("contacts,CON-0000009,yesterday")
        ]]
    );
    setup.stage();
    let w = watermark(&full);
    let [id] = setup
        .landed_ids(&folder(&full), "customers", "true", 1)
        .try_into()
        .unwrap();

    // Deleted at the source…
    let original = std::fs::read(setup.export.join("customers.csv")).unwrap();
    setup.delete("customers", &id, &local(w + Duration::days(1)));
    let delta = setup.extract(&["--since", "last"]);
    assert_eq!(delta["landed_rows"], 0);
    assert_eq!(delta["deleted_rows"], 1);
    let staged = setup.stage();
    assert_eq!(object(&staged, "customers")["deleted_records"], 1);
    assert_eq!(
        count(
            &setup,
            &format!("SELECT count(*) FROM raw.customers_current WHERE id = '{id}'")
        ),
        0
    );

    // …then re-created with the same id, after the deletion.
    std::fs::write(setup.export.join("customers.csv"), original).unwrap();
    add_object_rows(&setup.export, "customers", 1);
    setup.change(
        "customers",
        &id,
        "company_name",
        "Back In Business",
        &local(w + Duration::days(2)),
    );
    let back = setup.extract(&["--since", "last"]);
    assert_eq!(landed_by_object(&back), vec![("customers".to_string(), 1)]);
    assert_eq!(back["deleted_rows"], 0, "the deletion was landed before");
    let staged = setup.stage();
    assert_eq!(object(&staged, "customers")["deleted_records"], 0);
    assert_eq!(
        setup.db_rows(&format!(
            "SELECT company_name FROM raw.customers_current WHERE id = '{id}'"
        )),
        vec![vec![s("Back In Business")]]
    );
    assert_eq!(
        count(
            &setup,
            &format!("SELECT count(*) FROM raw._deleted WHERE id = '{id}'")
        ),
        1
    );
}

#[test]
fn since_must_be_last_or_a_timestamp() {
    let setup = setup();
    setup
        .ws
        .ferry()
        .args(["extract", "--since", "2026-13-45"])
        .assert()
        .code(2)
        .stderr(contains(
            "--since `2026-13-45` is neither `last` nor an RFC 3339 timestamp",
        ));
    setup
        .ws
        .ferry()
        .args(["extract", "--since", "2026-10-01 07:00:00"])
        .assert()
        .code(2)
        .stderr(contains("RFC 3339"));
    assert!(setup.ws.landing_entries().is_empty());
}

#[test]
fn since_last_needs_a_previous_extract() {
    let setup = setup();
    setup
        .ws
        .ferry()
        .args(["extract", "--since", "last"])
        .assert()
        .code(2)
        .stderr(contains("no complete extract to continue from"))
        .stderr(contains("run `ferry extract` without --since first"));
    assert!(
        setup.ws.landing_entries().is_empty(),
        "{:?}",
        setup.ws.landing_entries()
    );
}
