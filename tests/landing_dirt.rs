//! The landing pipeline on a generated dirty export: every kind of dirt in
//! `dirt.json` that extract and stage are responsible for is found where it
//! belongs — quarantine, the pending-sync list, the inventory, or landed byte
//! for byte — with its exact count and ids; rows are conserved per object;
//! and extracting and staging the same export twice leaves `raw.*` unchanged.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use servicetracker_generator::{generate_export, GenerateOptions};
use servicetracker_generator::{DirtEntry, DirtFile, DirtKind};
use support::TestWorkspace;

const CUSTOMERS: u64 = 600;

struct Pipeline {
    ws: TestWorkspace,
    dirt: DirtFile,
    first_extract_stderr: String,
}

fn pipeline() -> Pipeline {
    let export_dir = tempfile::tempdir().unwrap();
    let export = export_dir.path().join("export");
    generate_export(
        &export,
        &GenerateOptions {
            customers: CUSTOMERS,
            seed: 11,
            clean: false,
        },
    )
    .unwrap();
    let dirt = DirtFile::read(export.join(DirtFile::FILE_NAME)).unwrap();
    let ws = TestWorkspace::with_csv_source(&export);
    // The export stays alive as long as the workspace's temp dir: move it in.
    let moved = ws.dir.path().join("export");
    std::fs::rename(&export, &moved).unwrap();
    let config = ws.root().join("ferry.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(&export.display().to_string(), &moved.display().to_string()),
    )
    .unwrap();

    // Pending offline sync: the data lands, the command exits 1.
    let out = ws.ferry().arg("extract").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws.ferry().arg("stage").assert().success();
    Pipeline {
        ws,
        dirt,
        first_extract_stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn entries(dirt: &DirtFile, kind: DirtKind) -> Vec<&DirtEntry> {
    let found: Vec<&DirtEntry> = dirt.dirt.iter().filter(|e| e.kind == kind).collect();
    assert!(!found.is_empty(), "dirt.json has no {kind}");
    found
}

fn only(dirt: &DirtFile, kind: DirtKind) -> &DirtEntry {
    let [entry] = entries(dirt, kind)
        .try_into()
        .unwrap_or_else(|_| panic!("one {kind} entry"));
    entry
}

fn db(p: &Pipeline) -> duckdb::Connection {
    ferry::duck::open(&p.ws.root().join("ferry.duckdb")).unwrap()
}

fn strings(conn: &duckdb::Connection, sql: &str) -> BTreeSet<String> {
    support::rows(conn, sql, &[])
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

fn number(conn: &duckdb::Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}")) as u64
}

/// One number from `meta.inventory_fields`.
fn inventory(conn: &duckdb::Connection, object: &str, field: &str, column: &str) -> u64 {
    let sql = format!(
        "SELECT coalesce({column}, -1) FROM meta.inventory_fields WHERE object = ? AND field = ?"
    );
    conn.query_row(&sql, [object, field], |r| r.get::<_, i64>(0))
        .unwrap_or_else(|e| panic!("{object}.{field} {column}: {e}")) as u64
}

fn ids(entry: &DirtEntry) -> BTreeSet<String> {
    entry.ids.iter().cloned().collect()
}

#[test]
fn every_dirt_kind_is_found_where_it_belongs_and_rows_are_conserved() {
    let p = pipeline();
    let conn = db(&p);

    // Quarantine: exactly the malformed and untypeable rows, at their lines.
    let mut expected = BTreeSet::new();
    for kind in [DirtKind::MalformedRow, DirtKind::UntypeableValue] {
        for entry in entries(&p.dirt, kind) {
            for id in &entry.ids {
                expected.insert(format!("{}|{}|{}", entry.object, id, entry.lines[id]));
            }
        }
    }
    let quarantined = strings(
        &conn,
        "SELECT object || '|' || record_id || '|' || line FROM raw._quarantine",
    );
    assert_eq!(quarantined, expected);

    // Pending sync: every id warned about and recorded in the manifest.
    let pending = only(&p.dirt, DirtKind::PendingSync);
    for id in &pending.ids {
        assert!(
            p.first_extract_stderr.contains(id.as_str()),
            "{id} not listed"
        );
    }
    let [folder] = p.ws.complete_extracts().try_into().unwrap();
    let manifest =
        ferry::landing::manifest::Manifest::read(&folder.join("_manifest.json")).unwrap();
    assert_eq!(
        manifest
            .pending_sync
            .ids
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        ids(pending)
    );

    // Conservation per object, against the export's own manifest.
    let export: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.ws.dir.path().join("export/manifest.json")).unwrap(),
    )
    .unwrap();
    for (name, object) in &manifest.objects {
        assert_eq!(
            object.source_rows,
            export["objects"][name]["rows"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            object.source_rows,
            object.landed_rows + object.quarantined_rows,
            "{name}"
        );
        let staged = number(&conn, &format!("SELECT count(*) FROM raw.{name}"));
        assert_eq!(staged, object.landed_rows, "{name}");
    }
    assert_eq!(manifest.objects.len(), 16);

    // Inventory: counts that only the dirt produces.
    let invalid = only(&p.dirt, DirtKind::InvalidEmail);
    assert_eq!(
        inventory(&conn, "customers", "email", "email_invalid"),
        invalid.count
    );
    let free = only(&p.dirt, DirtKind::FreeMailDomain);
    assert_eq!(
        inventory(&conn, "customers", "email", "email_free_mail"),
        free.count
    );
    let no_domain = only(&p.dirt, DirtKind::NoEmailDomain);
    assert_eq!(
        inventory(&conn, "customers", "email", "nulls"),
        no_domain.count
    );
    assert_eq!(
        strings(
            &conn,
            "SELECT id FROM raw.customers_current WHERE email IS NULL AND website IS NULL"
        ),
        ids(no_domain)
    );
    assert_eq!(
        inventory(&conn, "contacts", "customer_id", "orphans"),
        only(&p.dirt, DirtKind::OrphanContact).count
    );
    assert_eq!(
        inventory(&conn, "work_orders", "site_id", "orphans"),
        only(&p.dirt, DirtKind::OrphanWorkOrderSite).count
    );
    let undocumented_status = only(&p.dirt, DirtKind::UndocumentedStatus);
    assert_eq!(
        inventory(&conn, "work_orders", "status", "undocumented_rows"),
        undocumented_status.count
    );
    let critical = only(&p.dirt, DirtKind::CriticalPriority);
    let undocumented_priority = only(&p.dirt, DirtKind::UndocumentedPriority);
    assert_eq!(
        inventory(&conn, "work_orders", "priority", "undocumented_rows"),
        undocumented_priority.count
    );
    let critical_rows = number(
        &conn,
        "SELECT coalesce(sum(count), 0) FROM meta.inventory_values WHERE object = 'work_orders' AND field = 'priority' AND value = 'Critical'",
    );
    assert_eq!(critical_rows, critical.count);
    assert_eq!(
        strings(
            &conn,
            "SELECT id FROM raw.work_orders_current WHERE priority = 'Critical'"
        ),
        ids(critical)
    );
    let before_1753 = only(&p.dirt, DirtKind::DateBefore1753);
    assert_eq!(
        inventory(
            &conn,
            &before_1753.object,
            before_1753.field.as_deref().unwrap(),
            "before_1753"
        ),
        before_1753.count
    );
    let future = only(&p.dirt, DirtKind::DateInFuture);
    assert_eq!(
        inventory(
            &conn,
            &future.object,
            future.field.as_deref().unwrap(),
            "in_future"
        ),
        future.count
    );
    let html = only(&p.dirt, DirtKind::HtmlText);
    assert_eq!(
        inventory(&conn, "work_orders", "description", "html_like"),
        html.count
    );

    // Landed intact: every value dirt.json wrote down arrived byte for byte
    // (text columns; quarantined kinds excluded).
    let text_columns: BTreeMap<(String, String), bool> = manifest
        .objects
        .iter()
        .flat_map(|(o, m)| {
            m.columns.iter().map(move |c| {
                (
                    (o.clone(), c.name.clone()),
                    c.ty == ferry::source::schema::FieldType::Text,
                )
            })
        })
        .collect();
    let mut compared = 0;
    for entry in &p.dirt.dirt {
        let Some(field) = &entry.field else { continue };
        if entry.caught_by.iter().any(|c| c == "quarantine")
            || !text_columns[&(entry.object.clone(), field.clone())]
        {
            continue;
        }
        let sql = format!(
            "SELECT \"{field}\" FROM raw.{}_current WHERE id = ?",
            entry.object
        );
        for (id, value) in &entry.expected {
            let landed: Option<String> = conn
                .query_row(&sql, [id], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql} {id}: {e}"));
            // An empty CSV field is null (SPEC §8.2).
            let expected = (!value.is_empty()).then_some(value.as_str());
            assert_eq!(landed.as_deref(), expected, "{} {id}.{field}", entry.kind);
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} values compared");

    // Attachment contents landed and checked, the oversized ones included.
    let over = only(&p.dirt, DirtKind::AttachmentOverLimit);
    let big = strings(
        &conn,
        "SELECT attachment_id FROM raw.attachment_content WHERE size_bytes > 3932160",
    );
    assert_eq!(big, ids(over));
    assert_eq!(manifest.attachments.problems, 0);
    assert_eq!(
        manifest.attachments.file.rows,
        manifest.objects["attachments"].landed_rows
    );
}

/// Hash of every raw table's full content, sorted.
fn raw_fingerprint(conn: &duckdb::Connection) -> BTreeMap<String, String> {
    let tables = strings(
        conn,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_type = 'BASE TABLE'",
    );
    tables
        .into_iter()
        .map(|t| {
            let sql = format!("SELECT count(*) || ':' || coalesce(md5(string_agg(r::VARCHAR, '|' ORDER BY r::VARCHAR)), '') FROM raw.\"{t}\" r");
            let fp: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
            (t, fp)
        })
        .collect()
}

#[test]
fn extract_and_stage_twice_leave_raw_identical() {
    let p = pipeline();
    let before = raw_fingerprint(&db(&p));
    assert!(before.len() >= 18, "{before:?}");
    p.ws.ferry()
        .args(["extract", "--allow-pending"])
        .assert()
        .success();
    p.ws.ferry().arg("stage").assert().success();
    assert_eq!(p.ws.complete_extracts().len(), 2);
    let after = raw_fingerprint(&db(&p));
    assert_eq!(before, after);
}
