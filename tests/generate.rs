//! `ferry generate`: the synthetic export must be deterministic, match its
//! manifest, and carry exactly the dirt `dirt.json` describes — no more (a
//! clean record never looks dirty) and no less (every entry can be found in
//! the CSVs at the stated id, field, value and line).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use csv::StringRecord;
use ferry::source::schema::{self, FieldType};
use servicetracker_generator::{
    generate_export, minimum_customers, sanitize_file_name, DirtFile, DirtKind, GenerateOptions,
    GenerateSummary,
};
use sha2::{Digest, Sha256};

/// Enough customers for a few records of each dirt kind, small enough to
/// stay fast in a debug build.
const CUSTOMERS: u64 = 300;
const EXPORTED_AT_LOCAL: &str = "2026-10-01 07:00:00";
/// Dataverse's default upload limit is 5 MiB of base64: 3,932,160 raw bytes.
const UPLOAD_LIMIT_RAW_BYTES: u64 = 3_932_160;

fn generate(dir: &Path, customers: u64, seed: u64, clean: bool) -> GenerateSummary {
    generate_export(
        dir,
        &GenerateOptions {
            customers,
            seed,
            clean,
        },
    )
    .expect("generate")
}

// ------------------------------------------------------------------ loading

struct Table {
    header: Vec<String>,
    records: Vec<StringRecord>,
}

impl Table {
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// Records with the header's field count (malformed rows excluded).
    fn rows(&self) -> impl Iterator<Item = &StringRecord> {
        self.records.iter().filter(|r| r.len() == self.header.len())
    }

    fn value<'r>(&self, record: &'r StringRecord, name: &str) -> &'r str {
        record.get(self.col(name)).unwrap_or("")
    }

    /// Ids of well-formed records where `pred` holds.
    fn ids_where(&self, pred: impl Fn(&StringRecord) -> bool) -> BTreeSet<String> {
        self.rows()
            .filter(|r| pred(r))
            .map(|r| r[0].to_string())
            .collect()
    }

    fn by_id(&self) -> HashMap<&str, &StringRecord> {
        self.rows().map(|r| (r.get(0).unwrap_or(""), r)).collect()
    }
}

struct Export {
    dir: PathBuf,
    manifest: serde_json::Value,
    dirt: DirtFile,
    tables: BTreeMap<&'static str, Table>,
}

impl Export {
    fn load(dir: &Path) -> Export {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        let dirt = DirtFile::read(dir.join("dirt.json")).unwrap();
        let mut tables = BTreeMap::new();
        for object in schema::OBJECTS {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(dir.join(format!("{}.csv", object.name)))
                .unwrap();
            let header = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect();
            let records = reader.records().map(|r| r.unwrap()).collect();
            tables.insert(object.name, Table { header, records });
        }
        Export {
            dir: dir.to_path_buf(),
            manifest,
            dirt,
            tables,
        }
    }

    fn table(&self, name: &str) -> &Table {
        &self.tables[name]
    }

    /// All ids of a dirt kind in one object.
    fn dirt_ids(&self, kind: DirtKind, object: &str) -> BTreeSet<String> {
        self.dirt
            .entries(kind)
            .filter(|e| e.object == object)
            .flat_map(|e| e.ids.iter().cloned())
            .collect()
    }

    fn expected(&self, kind: DirtKind) -> BTreeMap<String, String> {
        self.dirt
            .entries(kind)
            .flat_map(|e| e.expected.clone())
            .collect()
    }
}

// ------------------------------------------------------------- value rules

fn looks_like_an_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let label_ok =
        |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+_-".contains(c))
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

fn parses_as(ty: FieldType, value: &str) -> bool {
    match ty {
        FieldType::Text => true,
        FieldType::Timestamp => NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
            .is_ok_and(|t| {
                // Never a daylight-saving fold or gap: UTC conversion is exact.
                matches!(
                    chrono_tz::America::Chicago.from_local_datetime(&t),
                    LocalResult::Single(_)
                )
            }),
        FieldType::Date => {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() && value.len() == 10
        }
        FieldType::Boolean => value == "true" || value == "false",
        FieldType::Integer => value.parse::<i64>().is_ok(),
        FieldType::Decimal { scale, .. } => {
            let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
            let whole = whole.strip_prefix('-').unwrap_or(whole);
            !whole.is_empty()
                && whole.chars().all(|c| c.is_ascii_digit())
                && fraction.chars().all(|c| c.is_ascii_digit())
                && fraction.len() <= scale as usize
        }
        FieldType::Double => value.parse::<f64>().is_ok(),
    }
}

/// The type of every column: schema fields, then this export's custom fields.
fn column_type(object: &str, column: &str) -> FieldType {
    if let Some(field) = schema::object(object).and_then(|o| o.field(column)) {
        return field.ty;
    }
    match column {
        "cf_credit_limit" => FieldType::Decimal {
            precision: 19,
            scale: 2,
        },
        "cf_tax_exempt" | "cf_warranty_claim" => FieldType::Boolean,
        "cf_odometer_miles" => FieldType::Integer,
        "cf_follow_up_date" => FieldType::Date,
        "cf_last_service_at" => FieldType::Timestamp,
        "cf_industry" | "cf_account_tier" | "cf_gate_code" | "cf_refrigerant_type" => {
            FieldType::Text
        }
        other => panic!("unexpected column {object}.{other}"),
    }
}

// ------------------------------------------------------------------- checks

fn check_manifest_and_headers(export: &Export) {
    let m = &export.manifest;
    assert_eq!(m["source_system"], "ServiceTracker");
    assert_eq!(m["exported_at"], "2026-10-01T07:00:00-05:00");
    assert_eq!(m["timezone"], "America/Chicago");
    let objects = m["objects"].as_object().unwrap();
    assert_eq!(objects.len(), schema::OBJECTS.len());
    for object in schema::OBJECTS {
        let entry = &objects[object.name];
        assert_eq!(entry["file"], format!("{}.csv", object.name));
        let table = export.table(object.name);
        assert_eq!(
            entry["rows"].as_u64().unwrap(),
            table.records.len() as u64,
            "{} rows",
            object.name
        );
        let mut expected: Vec<String> = object.field_names().map(str::to_string).collect();
        expected.extend(
            table
                .header
                .iter()
                .filter(|h| h.starts_with("cf_"))
                .cloned(),
        );
        assert_eq!(
            table.header, expected,
            "{} header: schema fields, then cf_*",
            object.name
        );
        let bytes = std::fs::read(export.dir.join(format!("{}.csv", object.name))).unwrap();
        assert_eq!(
            bytes.starts_with(b"\xEF\xBB\xBF"),
            object.name == "customers",
            "BOM on customers.csv only"
        );
        assert!(
            !bytes.contains(&b'\r') || object.name == "notes",
            "{}: LF line endings",
            object.name
        );
    }
    for (object, custom) in [
        (
            "customers",
            &[
                "cf_industry",
                "cf_account_tier",
                "cf_credit_limit",
                "cf_tax_exempt",
            ][..],
        ),
        (
            "work_orders",
            &[
                "cf_warranty_claim",
                "cf_odometer_miles",
                "cf_follow_up_date",
            ],
        ),
        ("sites", &["cf_gate_code"]),
        // cf_refrigerant_type is also empty for every non-HVAC unit.
        ("equipment", &["cf_last_service_at"]),
    ] {
        let table = export.table(object);
        for field in custom {
            let empty = table
                .rows()
                .filter(|r| table.value(r, field).is_empty())
                .count();
            let share = empty as f64 / table.rows().count() as f64;
            assert!(
                (0.15..0.7).contains(&share),
                "{object}.{field}: {share:.2} empty"
            );
        }
    }
    let equipment = export.table("equipment");
    assert!(equipment
        .rows()
        .any(|r| equipment.value(r, "cf_refrigerant_type").starts_with("R-")));
    // Gate codes with leading zeros exist: they must stay text.
    let sites = export.table("sites");
    assert!(sites
        .rows()
        .any(|r| sites.value(r, "cf_gate_code").starts_with('0')));
}

/// Every typed value parses, except the untypeable dirt, which must be
/// exactly where dirt.json says (value and line).
fn check_types(export: &Export) {
    let mut failing: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (object, table) in &export.tables {
        for record in table.rows() {
            for (i, column) in table.header.iter().enumerate() {
                let value = &record[i];
                if !value.is_empty() && !parses_as(column_type(object, column), value) {
                    failing.insert((object.to_string(), column.clone(), record[0].to_string()));
                }
            }
        }
    }
    let mut planned = BTreeSet::new();
    for entry in export.dirt.entries(DirtKind::UntypeableValue) {
        let table = export.table(&entry.object);
        let field = entry.field.as_deref().unwrap();
        let rows = table.by_id();
        for id in &entry.ids {
            planned.insert((entry.object.clone(), field.to_string(), id.clone()));
            let record = rows[id.as_str()];
            assert_eq!(table.value(record, field), entry.expected[id], "{id}");
            assert_eq!(
                record.position().unwrap().line(),
                entry.lines[id],
                "{id} line"
            );
        }
    }
    assert_eq!(
        failing, planned,
        "untypeable values are exactly the planned ones"
    );
}

fn check_malformed_rows(export: &Export) {
    let mut found = BTreeSet::new();
    for (object, table) in &export.tables {
        for record in table
            .records
            .iter()
            .filter(|r| r.len() != table.header.len())
        {
            found.insert((
                object.to_string(),
                record[0].to_string(),
                record.position().unwrap().line(),
            ));
            let raw: Vec<&str> = record.iter().collect();
            let entry = export
                .dirt
                .entries(DirtKind::MalformedRow)
                .find(|e| e.object == *object)
                .unwrap();
            assert_eq!(
                entry.expected[&record[0]],
                raw.join(","),
                "raw line of {}",
                &record[0]
            );
        }
    }
    let planned: BTreeSet<_> = export
        .dirt
        .entries(DirtKind::MalformedRow)
        .flat_map(|e| {
            e.ids
                .iter()
                .map(|id| (e.object.clone(), id.clone(), e.lines[id]))
        })
        .collect();
    assert_eq!(found, planned, "malformed rows at their stated lines");
    for (object, _, _) in &found {
        assert!(
            ["work_order_parts", "notes", "billing_history"].contains(&object.as_str()),
            "leaf objects only"
        );
    }
}

/// For each kind, the records showing its signature are exactly its ids.
fn check_dirt_signatures(export: &Export) {
    use DirtKind::*;
    let customers = export.table("customers");
    let email = |r: &StringRecord| customers.value(r, "email").to_string();
    assert_eq!(
        customers.ids_where(|r| !email(r).is_empty() && !looks_like_an_email(&email(r))),
        export.dirt_ids(InvalidEmail, "customers")
    );
    assert_eq!(
        customers.ids_where(|r| email(r).is_empty()),
        export.dirt_ids(NoEmailDomain, "customers")
    );
    assert_eq!(
        customers.ids_where(|r| email(r).is_empty() && customers.value(r, "website").is_empty()),
        export.dirt_ids(NoEmailDomain, "customers")
    );
    let free = [
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "aol.com",
    ];
    assert_eq!(
        customers.ids_where(|r| free.contains(&email_domain(&email(r)))),
        export.dirt_ids(FreeMailDomain, "customers")
    );
    // Websites match e-mail domains for clean customers.
    for r in customers.rows() {
        let website = customers.value(r, "website");
        if !website.is_empty()
            && looks_like_an_email(&email(r))
            && !free.contains(&email_domain(&email(r)))
        {
            assert_eq!(website, format!("https://www.{}", email_domain(&email(r))));
        }
    }

    // Duplicates: same company name and phone as an earlier customer.
    let mut first_seen: HashMap<(String, String), String> = HashMap::new();
    let mut pairs = Vec::new();
    for r in customers.rows() {
        let key = (
            customers.value(r, "company_name").to_string(),
            customers.value(r, "phone").to_string(),
        );
        match first_seen.get(&key) {
            Some(original) => pairs.push([r[0].to_string(), original.clone()]),
            None => {
                first_seen.insert(key, r[0].to_string());
            }
        }
    }
    pairs.sort();
    let planned: Vec<[String; 2]> = export
        .dirt
        .entries(DuplicateCustomer)
        .flat_map(|e| e.pairs.clone())
        .collect();
    assert_eq!(pairs, planned, "duplicate pairs");
    assert_eq!(
        pairs.iter().map(|p| p[0].clone()).collect::<BTreeSet<_>>(),
        export.dirt_ids(DuplicateCustomer, "customers")
    );

    let customer_ids: BTreeSet<&str> = customers.rows().map(|r| r.get(0).unwrap()).collect();
    let contacts = export.table("contacts");
    assert_eq!(
        contacts.ids_where(|r| !customer_ids.contains(contacts.value(r, "customer_id"))),
        export.dirt_ids(OrphanContact, "contacts")
    );
    let sites = export.table("sites");
    let site_ids: BTreeSet<&str> = sites.rows().map(|r| r.get(0).unwrap()).collect();
    let work_orders = export.table("work_orders");
    let wo = |r: &StringRecord, f: &str| work_orders.value(r, f).to_string();
    assert_eq!(
        work_orders.ids_where(|r| !site_ids.contains(wo(r, "site_id").as_str())),
        export.dirt_ids(OrphanWorkOrderSite, "work_orders")
    );
    let statuses = schema::object("work_orders")
        .unwrap()
        .field("status")
        .unwrap()
        .picklist;
    assert_eq!(
        work_orders.ids_where(|r| !statuses.contains(&wo(r, "status").as_str())),
        export.dirt_ids(UndocumentedStatus, "work_orders")
    );
    let priorities = schema::object("work_orders")
        .unwrap()
        .field("priority")
        .unwrap()
        .picklist;
    assert_eq!(
        work_orders.ids_where(|r| !priorities.contains(&wo(r, "priority").as_str())),
        export.dirt_ids(UndocumentedPriority, "work_orders")
    );
    assert_eq!(
        work_orders.ids_where(|r| wo(r, "priority") == "Critical"),
        export.dirt_ids(CriticalPriority, "work_orders")
    );
    assert_eq!(
        customers.ids_where(|r| customers.value(r, "company_name").chars().count() > 160),
        export.dirt_ids(NameTooLong, "customers")
    );
    assert_eq!(
        work_orders.ids_where(|r| wo(r, "summary").chars().count() > 200),
        export.dirt_ids(TitleTooLong, "work_orders")
    );
    let equipment = export.table("equipment");
    assert_eq!(
        equipment.ids_where(|r| equipment.value(r, "install_date")[..4] < *"1753"),
        export.dirt_ids(DateBefore1753, "equipment")
    );
    let activities = export.table("activities");
    assert_eq!(
        activities.ids_where(|r| activities.value(r, "occurred_at") > EXPORTED_AT_LOCAL),
        export.dirt_ids(DateInFuture, "activities")
    );
    for r in activities
        .rows()
        .filter(|r| activities.value(r, "occurred_at") > EXPORTED_AT_LOCAL)
    {
        let year: i32 = activities.value(r, "occurred_at")[..4].parse().unwrap();
        assert!((2031..=2099).contains(&year));
    }
    assert_eq!(
        customers.ids_where(|r| customers.value(r, "billing_postal_code").starts_with('0')),
        export.dirt_ids(PostalCodeLeadingZero, "customers")
    );
    assert!(sites
        .rows()
        .all(|r| !sites.value(r, "postal_code").starts_with('0')));
    assert_eq!(
        customers.ids_where(|r| customers.value(r, "billing_state").len() != 2),
        export.dirt_ids(StateNameNotCode, "customers")
    );
    assert_eq!(
        work_orders.ids_where(|r| wo(r, "sync_status") == "Pending"),
        export.dirt_ids(PendingSync, "work_orders")
    );

    // Unicode, HTML and line breaks appear nowhere but in their dirt cells.
    let mut non_ascii = BTreeSet::new();
    let mut html = BTreeSet::new();
    let mut line_breaks = BTreeSet::new();
    let mut quotes = BTreeSet::new();
    for (object, table) in &export.tables {
        for record in table.rows() {
            for (i, value) in record.iter().enumerate() {
                let cell = (
                    object.to_string(),
                    table.header[i].clone(),
                    record[0].to_string(),
                );
                if !value.is_ascii() {
                    non_ascii.insert(cell.clone());
                }
                if value.contains('<') || value.contains('>') {
                    html.insert(cell.clone());
                }
                if value.contains(['\n', '\r']) {
                    line_breaks.insert(cell.clone());
                }
                if value.contains('"') {
                    quotes.insert(cell);
                }
            }
        }
    }
    let cells = |kind: DirtKind| -> BTreeSet<(String, String, String)> {
        export
            .dirt
            .entries(kind)
            .flat_map(|e| {
                e.ids
                    .iter()
                    .map(|id| (e.object.clone(), e.field.clone().unwrap(), id.clone()))
            })
            .collect()
    };
    assert_eq!(
        non_ascii,
        cells(UnicodeText),
        "non-ASCII text only in unicode_text cells"
    );
    assert_eq!(html, cells(HtmlText), "HTML only in html_text cells");
    assert_eq!(
        line_breaks,
        cells(CsvSpecialChars),
        "line breaks only in csv_special_chars cells"
    );
    let quoted_dirt: BTreeSet<_> = cells(CsvSpecialChars)
        .union(&cells(HtmlText))
        .cloned()
        .collect();
    assert!(
        quotes.is_subset(&quoted_dirt),
        "double quotes only in dirty cells"
    );
    let notes = export.table("notes");
    for (id, body) in export.expected(CsvSpecialChars) {
        assert!(
            body.contains(',')
                && body.contains('"')
                && body.contains("\r\n")
                && body.replace("\r\n", "").contains('\n')
        );
        let line = export.dirt.entries(CsvSpecialChars).next().unwrap().lines[&id];
        let record = notes.by_id()[id.as_str()];
        assert_eq!(record.position().unwrap().line(), line, "{id} line");
    }

    let technicians = export.table("technicians");
    let inactive = technicians.ids_where(|r| technicians.value(r, "active") == "false");
    assert_eq!(
        inactive,
        export.dirt_ids(InactiveTechnicianOwnsActivities, "technicians")
    );
    let owned: BTreeSet<String> =
        activities.ids_where(|r| inactive.contains(activities.value(r, "technician_id")));
    let related: BTreeSet<String> = export
        .dirt
        .entries(InactiveTechnicianOwnsActivities)
        .flat_map(|e| e.related["activities"].iter().cloned())
        .collect();
    assert_eq!(
        owned, related,
        "related activities are exactly those the inactive technicians own"
    );
    for technician in &inactive {
        assert!(
            activities
                .rows()
                .any(|r| activities.value(r, "technician_id") == technician),
            "{technician} owns one"
        );
    }
    assert_eq!(
        technicians
            .ids_where(|r| email_domain(technicians.value(r, "email")) != "lakeshore-service.com"),
        export.dirt_ids(TechnicianWithoutUser, "technicians")
    );
    let attachments = export.table("attachments");
    assert_eq!(
        attachments.ids_where(
            |r| attachments.value(r, "size_bytes").parse::<u64>().unwrap() > UPLOAD_LIMIT_RAW_BYTES
        ),
        export.dirt_ids(AttachmentOverLimit, "attachments")
    );
    assert_eq!(
        attachments.ids_where(|r| {
            let name = attachments.value(r, "file_name");
            sanitize_file_name(name) != name
        }),
        export.dirt_ids(AttachmentPathChars, "attachments")
    );
}

/// Every expected value in dirt.json is what the CSV holds at that id and
/// field; entries are well formed.
fn check_expected_values(export: &Export) {
    for entry in &export.dirt.dirt {
        assert_eq!(entry.count, entry.ids.len() as u64, "{}", entry.kind);
        let mut sorted = entry.ids.clone();
        sorted.sort();
        assert_eq!(sorted, entry.ids, "{} ids sorted", entry.kind);
        assert_eq!(entry.caught_by, entry.kind.caught_by(), "{}", entry.kind);
        let Some(field) = entry.field.as_deref() else {
            continue;
        };
        let table = export.table(&entry.object);
        let rows = table.by_id();
        for (id, value) in &entry.expected {
            let record = rows
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{}: {id} not in {}", entry.kind, entry.object));
            assert_eq!(
                table.value(record, field),
                value,
                "{} {id}.{field}",
                entry.kind
            );
        }
    }
    for kind in [
        DirtKind::UnicodeText,
        DirtKind::HtmlText,
        DirtKind::CsvSpecialChars,
        DirtKind::NameTooLong,
        DirtKind::TitleTooLong,
        DirtKind::InvalidEmail,
        DirtKind::StateNameNotCode,
        DirtKind::PostalCodeLeadingZero,
        DirtKind::UntypeableValue,
    ] {
        for entry in export.dirt.entries(kind) {
            assert_eq!(
                entry.expected.len(),
                entry.ids.len(),
                "{kind} has expected values"
            );
        }
    }
    let long = export.expected(DirtKind::NameTooLong);
    assert!(long
        .values()
        .all(|v| (170..=250).contains(&v.chars().count())));
    let titles = export.expected(DirtKind::TitleTooLong);
    assert!(titles
        .values()
        .all(|v| (210..=300).contains(&v.chars().count())));
    let zips = export.expected(DirtKind::PostalCodeLeadingZero);
    assert!(zips.values().all(|z| z.len() == 5 && z.starts_with('0')));
}

/// Dirty records of different kinds never belong to the same customer.
fn check_dirt_is_disjoint(export: &Export) {
    let work_orders = export.table("work_orders");
    let wo_customer: HashMap<String, String> = work_orders
        .rows()
        .map(|r| {
            (
                r[0].to_string(),
                work_orders.value(r, "customer_id").to_string(),
            )
        })
        .collect();
    let mut owner_kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let raw_by_id = |object: &str| -> HashMap<String, StringRecord> {
        export
            .table(object)
            .records
            .iter()
            .map(|r| (r[0].to_string(), r.clone()))
            .collect()
    };
    for entry in &export.dirt.dirt {
        let records = raw_by_id(&entry.object);
        for id in &entry.ids {
            let record = &records[id];
            let owner = match entry.object.as_str() {
                "customers" => id.clone(),
                "technicians" | "contacts" => continue,
                "work_orders" | "equipment" | "activities" => {
                    record[export.table(&entry.object).col("customer_id")].to_string()
                }
                // customer_id is the second column, also in truncated rows.
                "billing_history" => record[1].to_string(),
                "work_order_parts" | "dispatches" => wo_customer[&record[1]].clone(),
                "notes" | "attachments" => match &record[1] {
                    "customer" => record[2].to_string(),
                    _ => wo_customer[&record[2]].clone(),
                },
                other => panic!("unexpected dirt object {other}"),
            };
            owner_kinds
                .entry(owner)
                .or_default()
                .insert(entry.kind.to_string());
        }
        for [_, original] in &entry.pairs {
            owner_kinds
                .entry(original.clone())
                .or_default()
                .insert("duplicate_original".into());
        }
    }
    for (owner, kinds) in owner_kinds {
        assert_eq!(kinds.len(), 1, "{owner} carries {kinds:?}");
    }
}

/// References, primaries, statuses and timestamps of well-formed records
/// hang together.
fn check_consistency(export: &Export) {
    let customers = export.table("customers");
    let contacts = export.table("contacts");
    let sites = export.table("sites");
    let work_orders = export.table("work_orders");
    let orphan_contacts = export.dirt_ids(DirtKind::OrphanContact, "contacts");
    let mut primaries: HashMap<&str, usize> = HashMap::new();
    for r in contacts.rows().filter(|r| !orphan_contacts.contains(&r[0])) {
        if contacts.value(r, "is_primary") == "true" {
            *primaries
                .entry(contacts.value(r, "customer_id"))
                .or_default() += 1;
        }
    }
    for r in customers.rows() {
        assert_eq!(
            primaries.get(&r[0]).copied().unwrap_or(0),
            1,
            "{} has one primary contact",
            &r[0]
        );
    }
    let contact_customer: HashMap<&str, &str> = contacts
        .rows()
        .map(|r| (r.get(0).unwrap(), contacts.value(r, "customer_id")))
        .collect();
    let site_customer: HashMap<&str, &str> = sites
        .rows()
        .map(|r| (r.get(0).unwrap(), sites.value(r, "customer_id")))
        .collect();
    let orphan_sites = export.dirt_ids(DirtKind::OrphanWorkOrderSite, "work_orders");
    for r in work_orders.rows() {
        let customer = work_orders.value(r, "customer_id");
        if !orphan_sites.contains(&r[0]) {
            assert_eq!(
                site_customer[work_orders.value(r, "site_id")],
                customer,
                "{} site",
                &r[0]
            );
        }
        let reporter = work_orders.value(r, "reported_by_contact_id");
        if !reporter.is_empty() {
            assert_eq!(contact_customer[reporter], customer);
        }
        let closed = work_orders.value(r, "status") == "Closed Complete";
        assert_eq!(
            !work_orders.value(r, "completed_at").is_empty(),
            closed,
            "{} completed_at",
            &r[0]
        );
    }
    let activities = export.table("activities");
    for r in activities.rows() {
        assert_eq!(
            contact_customer[activities.value(r, "contact_id")],
            activities.value(r, "customer_id")
        );
    }
    let equipment = export.table("equipment");
    let equipment_customer: HashMap<&str, &str> = equipment
        .rows()
        .map(|r| (r.get(0).unwrap(), equipment.value(r, "customer_id")))
        .collect();
    let links = export.table("equipment_sites");
    for r in links.rows() {
        assert_eq!(
            site_customer[links.value(r, "site_id")],
            equipment_customer[links.value(r, "equipment_id")]
        );
    }
    for (object, table) in &export.tables {
        for r in table.rows() {
            let (created, modified) = (table.value(r, "created_at"), table.value(r, "modified_at"));
            assert!(
                modified >= created,
                "{object} {}: modified before created",
                &r[0]
            );
            assert!(
                created >= "2015-01-01 00:00:00" && modified <= EXPORTED_AT_LOCAL,
                "{object} {}",
                &r[0]
            );
        }
    }
    let technicians = export.table("technicians");
    let emails: BTreeSet<&str> = technicians
        .rows()
        .map(|r| technicians.value(r, "email"))
        .collect();
    assert_eq!(
        emails.len(),
        technicians.rows().count(),
        "technician e-mails are unique"
    );
}

/// Every attachment row has exactly one file, under its sanitized name, with
/// the stated size and hash, of the stated type; nothing else is on disk.
fn check_attachments(export: &Export) {
    let attachments = export.table("attachments");
    let files = export.dir.join("files");
    let mut folders = 0;
    for r in attachments.rows() {
        let id = &r[0];
        let folder = files.join(id);
        let entries: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{id}: one file");
        let name = attachments.value(r, "file_name");
        assert_eq!(
            entries[0].file_name().unwrap().to_str().unwrap(),
            sanitize_file_name(name)
        );
        let bytes = std::fs::read(&entries[0]).unwrap();
        assert_eq!(
            bytes.len().to_string(),
            attachments.value(r, "size_bytes"),
            "{id} size"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            attachments.value(r, "sha256"),
            "{id} sha256"
        );
        match attachments.value(r, "content_type") {
            "application/pdf" => {
                assert!(bytes.starts_with(b"%PDF-1.4\n") && bytes.ends_with(b"%%EOF\n"))
            }
            "text/csv" => assert!(String::from_utf8(bytes)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .contains(',')),
            "text/plain" => assert!(String::from_utf8(bytes).is_ok()),
            other => panic!("{id}: content type {other}"),
        }
        folders += 1;
    }
    assert_eq!(
        std::fs::read_dir(&files).unwrap().count(),
        folders,
        "one folder per attachment"
    );
    for entry in std::fs::read_dir(&export.dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name == "files"
                || name == "manifest.json"
                || name == "dirt.json"
                || name.ends_with(".csv"),
            "unexpected {name}"
        );
    }
}

fn check_proportions(export: &Export, customers: u64) {
    let count = |o: &str| export.table(o).records.len() as f64;
    let n = customers as f64;
    assert_eq!(count("customers"), n);
    assert!((1.5..3.5).contains(&(count("contacts") / n)));
    assert!((1.5..2.5).contains(&(count("sites") / n)));
    assert!((8.0..12.0).contains(&(count("work_orders") / n)));
    assert_eq!(count("technicians"), (n / 25.0).max(5.0).floor());
    assert_eq!(count("parts"), (n / 5.0).clamp(50.0, 5000.0).floor());
    assert_eq!(count("workflows"), 12.0);
    let attachments_per_wo = count("attachments") / count("work_orders");
    assert!(
        (0.2..0.32).contains(&attachments_per_wo),
        "{attachments_per_wo}"
    );
}

fn file_hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    relative,
                    hex::encode(Sha256::digest(std::fs::read(&path).unwrap())),
                );
            }
        }
    }
    out
}

// -------------------------------------------------------------------- tests

#[test]
fn a_dirty_export_matches_its_manifest_and_its_ground_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = generate(tmp.path(), CUSTOMERS, 42, false);
    let export = Export::load(tmp.path());
    assert_eq!(export.dirt.seed, 42);
    assert_eq!(export.dirt.customers, CUSTOMERS);
    assert!(!export.dirt.clean);
    assert_eq!(export.dirt.timezone, "America/Chicago");
    assert_eq!(summary.dirt, export.dirt.dirt);
    for object in schema::OBJECTS {
        assert_eq!(
            summary.rows[object.name],
            export.manifest["objects"][object.name]["rows"]
                .as_u64()
                .unwrap()
        );
    }
    // Every kind is present, with the planned number of records.
    for kind in DirtKind::ALL {
        let total: u64 = export.dirt.entries(kind).map(|e| e.count).sum();
        assert_eq!(total, kind.planned_count(CUSTOMERS), "{kind}");
        assert!(total >= 1, "{kind}");
    }
    check_manifest_and_headers(&export);
    check_expected_values(&export);
    check_dirt_signatures(&export);
    check_types(&export);
    check_malformed_rows(&export);
    check_dirt_is_disjoint(&export);
    check_consistency(&export);
    check_attachments(&export);
    check_proportions(&export, CUSTOMERS);
    let total: u64 = std::fs::read_dir(tmp.path().join("files"))
        .unwrap()
        .map(|d| {
            std::fs::read_dir(d.unwrap().path())
                .unwrap()
                .map(|f| f.unwrap().metadata().unwrap().len())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(summary.attachment_bytes, total);
}

#[test]
fn a_clean_export_has_no_dirt_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = generate(tmp.path(), 150, 7, true);
    assert!(summary.dirt.is_empty());
    let export = Export::load(tmp.path());
    assert!(export.dirt.clean);
    assert!(export.dirt.dirt.is_empty());
    // With no dirt planned, every signature check demands zero records.
    check_manifest_and_headers(&export);
    check_dirt_signatures(&export);
    check_types(&export);
    check_malformed_rows(&export);
    check_consistency(&export);
    check_attachments(&export);
    check_proportions(&export, 150);
}

#[test]
fn the_same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let customers = minimum_customers();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(a.path(), customers, 11, false);
    generate(b.path(), customers, 11, false);
    generate(c.path(), customers, 12, false);
    let (ha, hb, hc) = (
        file_hashes(a.path()),
        file_hashes(b.path()),
        file_hashes(c.path()),
    );
    assert!(ha.contains_key("dirt.json") && ha.keys().any(|k| k.starts_with("files")));
    assert_eq!(ha, hb, "same seed, same bytes in every file");
    for name in ["customers.csv", "work_orders.csv", "dirt.json"] {
        assert_ne!(ha[name], hc[name], "{name} differs for another seed");
    }
}

#[test]
fn the_smallest_dirty_export_still_has_every_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let customers = minimum_customers();
    generate(tmp.path(), customers, 5, false);
    let export = Export::load(tmp.path());
    for kind in DirtKind::ALL {
        assert!(
            export.dirt.entries(kind).map(|e| e.count).sum::<u64>() >= 1,
            "{kind}"
        );
    }
    for object in ["work_order_parts", "notes", "billing_history"] {
        assert!(
            export
                .dirt
                .entries(DirtKind::MalformedRow)
                .any(|e| e.object == object),
            "malformed in {object}"
        );
    }
    check_dirt_signatures(&export);
    check_malformed_rows(&export);
    check_types(&export);
    check_dirt_is_disjoint(&export);
}

#[test]
fn generate_refuses_a_folder_that_already_holds_an_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let args = [
        "generate",
        dir.to_str().unwrap(),
        "--customers",
        "5",
        "--clean",
    ];
    Command::cargo_bin("ferry")
        .unwrap()
        .args(args)
        .assert()
        .success();
    let before = file_hashes(&dir);
    let output = Command::cargo_bin("ferry")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("manifest.json") && stderr.contains("already holds"),
        "{stderr}"
    );
    assert_eq!(
        file_hashes(&dir),
        before,
        "the existing export is untouched"
    );
}

#[test]
fn too_few_customers_for_dirt_is_a_usage_error_naming_the_minimum() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let output = Command::cargo_bin("ferry")
        .unwrap()
        .args(["generate", dir.to_str().unwrap(), "--customers", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&minimum_customers().to_string()) && stderr.contains("--clean"),
        "{stderr}"
    );
    assert!(!dir.exists(), "nothing written");
}

#[test]
fn json_output_reports_the_rows_of_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("export");
    let output = Command::cargo_bin("ferry")
        .unwrap()
        .args([
            "--json",
            "generate",
            dir.to_str().unwrap(),
            "--customers",
            "20",
            "--clean",
            "--seed",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is JSON only");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for object in schema::OBJECTS {
        assert_eq!(
            json["rows"][object.name], manifest["objects"][object.name]["rows"],
            "{}",
            object.name
        );
    }
    assert_eq!(json["dirt"].as_array().unwrap().len(), 0);
    assert_eq!(json["seed"], 3);
}
