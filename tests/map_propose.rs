//! The mapping proposer (`ferry map propose`, SPEC §5) on a generated
//! dataset whose custom fields were renamed to unfamiliar (German) names
//! before extraction, so nothing can be recognised by a known name: the
//! standard fields land where the built-in transforms put them, the custom
//! ones get custom columns whose types and lengths follow the data, every
//! documented picklist value gets the option `mapping/optionsets.csv`
//! ships (and the proposer finds the same options on its own), undocumented
//! values need a decision, a re-run keeps what was confirmed, the proposed
//! SQL runs, and the report escapes what it shows. Fields with unfamiliar
//! names for standard columns are tested on a hand-built inventory. With a
//! target configured, the proposal is made against the target's metadata
//! (read through the Web API from the Dataverse emulator): a custom column
//! the org already has takes the source field that matches it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use ferry::dataverse::Schema;
use ferry::mapping::propose::{
    self, Inventory, InventoryField, InventoryValue, OptionProposal, Proposal, Status,
};
use ferry::transform::mapping_files::{read_optionsets_at, OptionTranslation};
use ferry::workspace::Profile;

const CUSTOMERS: u64 = 300;
const SEED: u64 = 11;
const PREFIX: &str = "st";

/// (file, generated name, unfamiliar name).
const RENAMES: &[(&str, &str, &str)] = &[
    ("customers.csv", "cf_account_tier", "cf_kundenstufe"),
    ("customers.csv", "cf_credit_limit", "cf_kreditrahmen"),
    ("customers.csv", "cf_industry", "cf_branche"),
    ("customers.csv", "cf_tax_exempt", "cf_steuerfrei"),
    ("sites.csv", "cf_gate_code", "cf_torcode"),
    ("work_orders.csv", "cf_odometer_miles", "cf_km_stand"),
    ("work_orders.csv", "cf_follow_up_date", "cf_nachfass_datum"),
    ("work_orders.csv", "cf_warranty_claim", "cf_garantiefall"),
    ("equipment.csv", "cf_refrigerant_type", "cf_kaeltemittel"),
    ("equipment.csv", "cf_last_service_at", "cf_letzte_wartung"),
];

fn ferry() -> Command {
    Command::cargo_bin("ferry").expect("ferry binary")
}

struct Template {
    _dir: tempfile::TempDir,
    workspace: PathBuf,
}

/// Generated, renamed, extracted and staged once per test binary.
fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let export = dir.path().join("export");
        ferry()
            .args(["generate", export.to_str().unwrap()])
            .args([
                "--customers",
                &CUSTOMERS.to_string(),
                "--seed",
                &SEED.to_string(),
            ])
            .assert()
            .success();
        for (file, from, to) in RENAMES {
            rename_header(&export.join(file), from, to);
        }
        let workspace = dir.path().join("ws");
        ferry()
            .args(["init", workspace.to_str().unwrap(), "--profile", "sales"])
            .arg("--source")
            .arg(format!("csv:{}", export.display()))
            .assert()
            .success();
        for step in [&["extract", "--allow-pending"][..], &["stage"][..]] {
            ferry()
                .arg("--workspace")
                .arg(&workspace)
                .args(step)
                .assert()
                .success();
        }
        Template {
            _dir: dir,
            workspace,
        }
    })
}

/// Renames one column in the header line of an export CSV, leaving every
/// data line as it is.
fn rename_header(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let columns: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    assert!(
        columns.contains(&from),
        "{} has no column {from}: {header}",
        path.display()
    );
    let renamed: Vec<&str> = columns
        .iter()
        .map(|c| if *c == from { to } else { c })
        .collect();
    std::fs::write(path, format!("{}\n{rest}", renamed.join(","))).unwrap();
}

/// A private copy of the staged workspace.
struct Ws {
    dir: tempfile::TempDir,
}

impl Ws {
    fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&template().workspace, &dir.path().join("ws"));
        Ws { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    fn optionsets_path(&self) -> PathBuf {
        self.root().join("mapping/optionsets.csv")
    }

    fn existing(&self) -> Vec<OptionTranslation> {
        read_optionsets_at(&self.optionsets_path()).expect("optionsets.csv parses")
    }

    fn propose(&self, profile: Profile, existing: &[OptionTranslation]) -> Proposal {
        let conn = ferry::duck::open(&self.root().join("ferry.duckdb")).unwrap();
        propose::propose(&conn, &Schema::builtin(PREFIX), profile, PREFIX, existing).unwrap()
    }

    fn ferry(&self) -> Command {
        let mut cmd = ferry();
        cmd.arg("--workspace").arg(self.root());
        cmd
    }

    /// One column of a query's rows, as text.
    fn column(&self, sql: &str) -> Vec<String> {
        let conn = ferry::duck::open(&self.root().join("ferry.duckdb")).unwrap();
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_else(|| "NULL".to_string()))
            .collect();
        rows
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn field<'a>(p: &'a Proposal, object: &str, name: &str) -> &'a propose::FieldProposal {
    p.field(object, name)
        .unwrap_or_else(|| panic!("no proposal for {object}.{name}"))
}

fn option<'a>(
    p: &'a Proposal,
    object: &str,
    field: &str,
    value: &str,
    table: &str,
    column: &str,
) -> &'a OptionProposal {
    p.options
        .iter()
        .find(|o| {
            o.object == object
                && o.field == field
                && o.value == value
                && o.target_table == table
                && o.target_column == column
        })
        .unwrap_or_else(|| {
            panic!("no option proposal for {object}.{field} {value:?} → {table}.{column}")
        })
}

#[test]
fn standard_fields_land_where_the_built_in_transforms_put_them() {
    let ws = Ws::new();
    let p = ws.propose(Profile::Sales, &ws.existing());
    for (object, name, table, column) in [
        (
            "customers",
            "billing_postal_code",
            "account",
            "address1_postalcode",
        ),
        ("customers", "billing_city", "account", "address1_city"),
        (
            "customers",
            "billing_state",
            "account",
            "address1_stateorprovince",
        ),
        ("customers", "billing_street", "account", "address1_line1"),
        (
            "customers",
            "billing_country",
            "account",
            "address1_country",
        ),
        ("customers", "email", "account", "emailaddress1"),
        ("customers", "company_name", "account", "name"),
        ("customers", "phone", "account", "telephone1"),
        ("customers", "website", "account", "websiteurl"),
        ("customers", "id", "account", "st_record_id"),
        ("customers", "po_number", "account", "st_ponumber"),
        ("contacts", "mobile_phone", "contact", "mobilephone"),
        ("contacts", "direct_phone", "contact", "telephone1"),
        ("contacts", "job_title", "contact", "jobtitle"),
        ("contacts", "email", "contact", "emailaddress1"),
        ("sites", "postal_code", "customeraddress", "postalcode"),
        ("work_orders", "summary", "incident", "title"),
        ("work_orders", "priority", "incident", "prioritycode"),
        ("parts", "part_number", "product", "productnumber"),
        ("contracts", "start_date", "contract", "activeon"),
        (
            "equipment",
            "serial_number",
            "st_equipment",
            "st_serialnumber",
        ),
    ] {
        let f = field(&p, object, name);
        assert_eq!(
            (f.target_table.as_str(), f.target_column.as_deref()),
            (table, Some(column)),
            "{object}.{name}: {f:?}"
        );
        assert_eq!(f.status, Status::Confirmed, "{object}.{name}: {f:?}");
        assert_eq!(f.confidence, 1.0);
        assert!(
            f.reason.starts_with("mapped by V0") || f.reason.starts_with("mapped by V1"),
            "{}",
            f.reason
        );
    }
    assert!(field(&p, "customers", "billing_postal_code")
        .reason
        .starts_with("mapped by V010__account.sql"));
    // Statuses give statecode and statuscode.
    let status = field(&p, "work_orders", "status");
    assert_eq!(status.target_column.as_deref(), Some("statecode"));
    assert_eq!(status.also, vec!["incident.statuscode".to_string()]);
    // Every field of every staged object has an answer; no standard field
    // of a loaded object is left to guess work.
    for f in p.fields() {
        if f.origin == "standard" {
            assert_eq!(f.status, Status::Confirmed, "{f:?}");
        }
    }
    // The field-service profile maps work orders elsewhere.
    let fs = ws.propose(Profile::FieldService, &ws.existing());
    let summary = field(&fs, "work_orders", "summary");
    assert_eq!(
        (
            summary.target_table.as_str(),
            summary.target_column.as_deref()
        ),
        ("msdyn_workorder", Some("msdyn_workordersummary"))
    );
    assert!(
        summary.reason.contains("V060__msdyn_workorder.sql"),
        "{}",
        summary.reason
    );
}

#[test]
fn renamed_custom_fields_get_custom_columns_typed_by_their_data() {
    let ws = Ws::new();
    let p = ws.propose(Profile::Sales, &ws.existing());
    let custom = |object: &str, name: &str| {
        let f = field(&p, object, name);
        assert_eq!(f.status, Status::Custom, "{object}.{name}: {f:?}");
        assert_eq!(f.origin, "custom");
        assert!(f.target_column.is_none());
        assert!((0.5..1.0).contains(&f.confidence), "{f:?}");
        f.custom_column.clone().unwrap()
    };

    let tier = custom("customers", "cf_kundenstufe");
    assert_eq!(
        (tier.name.as_str(), tier.type_name.as_str()),
        ("st_kundenstufe", "Picklist")
    );
    assert_eq!(
        field(&p, "customers", "cf_kundenstufe").target_table,
        "account"
    );

    let credit = custom("customers", "cf_kreditrahmen");
    assert_eq!(credit.name, "st_kreditrahmen");
    assert!(
        ["Decimal", "Money"].contains(&credit.type_name.as_str()),
        "{credit:?}"
    );
    assert_eq!(credit.precision, Some(2), "decimal(8,2) keeps its cents");

    let industry = custom("customers", "cf_branche");
    assert_eq!(industry.type_name, "Picklist");
    assert_eq!(custom("customers", "cf_steuerfrei").type_name, "Boolean");

    let gate = custom("sites", "cf_torcode");
    assert_eq!(
        (gate.type_name.as_str(), gate.max_length),
        ("String", Some(20))
    );
    assert!(field(&p, "sites", "cf_torcode")
        .reason
        .contains("leading zeros"));
    assert_eq!(
        field(&p, "sites", "cf_torcode").target_table,
        "customeraddress"
    );

    assert_eq!(custom("work_orders", "cf_km_stand").type_name, "Integer");
    let follow_up = custom("work_orders", "cf_nachfass_datum");
    assert_eq!(follow_up.name, "st_nachfassdatum");
    assert_eq!(
        (follow_up.type_name.as_str(), follow_up.behavior.as_deref()),
        ("DateTime", Some("DateOnly"))
    );
    assert_eq!(
        custom("work_orders", "cf_garantiefall").type_name,
        "Boolean"
    );
    assert_eq!(
        field(&p, "work_orders", "cf_garantiefall").target_table,
        "incident"
    );

    assert_eq!(custom("equipment", "cf_kaeltemittel").type_name, "Picklist");
    let service = custom("equipment", "cf_letzte_wartung");
    assert_eq!(
        (service.type_name.as_str(), service.behavior.as_deref()),
        ("DateTime", Some("UserLocal"))
    );
    assert_eq!(
        field(&p, "equipment", "cf_letzte_wartung").target_table,
        "st_equipment"
    );

    // The values of a new choice column become new options, numbered from
    // the publisher base in alphabetical order.
    let tiers: Vec<(String, Option<i32>, bool)> = p
        .options_of("customers", "cf_kundenstufe")
        .map(|o| (o.value.clone(), o.target_value, o.new_option))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        tiers,
        vec![
            ("Bronze".to_string(), Some(100_000_000), true),
            ("Gold".to_string(), Some(100_000_001), true),
            ("Silver".to_string(), Some(100_000_002), true),
        ]
    );
    // What plan must create, with the choice options attached.
    let planned = p.schema_columns();
    let (_, tier_column) = planned
        .iter()
        .find(|(t, c)| t == "account" && c.name == "st_kundenstufe")
        .expect("planned column");
    assert_eq!(tier_column.options.len(), 3);
}

#[test]
fn documented_picklist_values_get_the_shipped_options_and_undocumented_ones_need_a_decision() {
    let ws = Ws::new();
    let shipped = ws.existing();
    for profile in [Profile::Sales, Profile::FieldService] {
        let p = ws.propose(profile, &shipped);
        // Every documented value translated by the shipped file keeps it.
        let mut checked = 0;
        for o in p.options.iter().filter(|o| o.documented == Some(true)) {
            let line = shipped.iter().find(|t| {
                t.source_object == o.object
                    && t.source_field == o.field
                    && t.source_value == o.value
                    && t.target_table == o.target_table
                    && t.target_column == o.target_column
            });
            let Some(line) = line else {
                panic!("a documented value without a shipped translation: {o:?}");
            };
            assert_eq!(o.status, Status::Confirmed, "{o:?}");
            assert_eq!(o.target_value, Some(line.target_value));
            assert_eq!(o.confidence, 1.0);
            assert_eq!(
                o.reason,
                format!("confirmed in mapping/optionsets.csv line {}", line.line)
            );
            checked += 1;
        }
        assert!(
            checked > 30,
            "{profile}: only {checked} documented values checked"
        );
    }

    let p = ws.propose(Profile::Sales, &shipped);
    let urgent = option(
        &p,
        "work_orders",
        "priority",
        "Urgent",
        "incident",
        "prioritycode",
    );
    assert_eq!(urgent.status, Status::NeedsDecision, "{urgent:?}");
    assert_eq!(urgent.documented, Some(false));
    assert_eq!(urgent.target_value, Some(1), "nearest option: High");
    assert!(urgent.confidence < 0.9);
    for column in ["statecode", "statuscode"] {
        let waiting = option(
            &p,
            "work_orders",
            "status",
            "Waiting Parts",
            "incident",
            column,
        );
        assert_eq!(waiting.status, Status::NeedsDecision, "{waiting:?}");
        assert!(
            waiting.reason.contains("needs a decision"),
            "{}",
            waiting.reason
        );
    }
    let critical = option(
        &p,
        "work_orders",
        "priority",
        "Critical",
        "incident",
        "prioritycode",
    );
    assert_eq!(critical.status, Status::Confirmed);
    assert_eq!(critical.target_value, Some(100_000_000));
    assert!(p.needs_decisions());
}

#[test]
fn without_the_shipped_file_the_proposer_finds_the_same_options() {
    let ws = Ws::new();
    let shipped = ws.existing();
    for (profile, tables) in [
        (
            Profile::Sales,
            &[
                "account",
                "customeraddress",
                "contract",
                "product",
                "incident",
                "phonecall",
                "email",
                "appointment",
            ][..],
        ),
        (
            Profile::FieldService,
            &[
                "account",
                "customeraddress",
                "contract",
                "product",
                "msdyn_workorder",
                "phonecall",
                "email",
                "appointment",
            ][..],
        ),
    ] {
        let p = ws.propose(profile, &[]);
        let mut compared = 0;
        for line in shipped.iter().filter(|t| {
            tables.contains(&t.target_table.as_str())
                // An integer column without options has nothing to match a
                // label against: the shipped file is the only source.
                && t.target_column != "quantitydecimal"
        }) {
            let o = option(
                &p,
                &line.source_object,
                &line.source_field,
                &line.source_value,
                &line.target_table,
                &line.target_column,
            );
            assert_eq!(
                o.target_value,
                Some(line.target_value),
                "{profile}: {}.{} {:?} → {}.{}: {o:?}",
                line.source_object,
                line.source_field,
                line.source_value,
                line.target_table,
                line.target_column
            );
            assert_ne!(o.status, Status::NeedsDecision, "{o:?}");
            compared += 1;
        }
        assert!(compared >= 10, "{profile}: {compared}");
        if profile == Profile::Sales {
            // A documented tier the case has no option for becomes a new
            // publisher option, not a guess.
            let critical = option(
                &p,
                "work_orders",
                "priority",
                "Critical",
                "incident",
                "prioritycode",
            );
            assert_eq!(critical.target_value, Some(100_000_000));
            assert!(critical.new_option);
            assert_eq!(critical.status, Status::Proposed);
            // Without a translation the unit's decimals are a decision.
            let each = option(
                &p,
                "parts",
                "unit_of_measure",
                "Each",
                "product",
                "quantitydecimal",
            );
            assert_eq!(each.status, Status::NeedsDecision);
        }
    }
}

#[test]
fn rerunning_keeps_confirmed_choices_and_the_proposed_sql_runs() {
    let ws = Ws::new();
    let path = ws.optionsets_path();
    let before = std::fs::read_to_string(&path).unwrap();
    let first = ws.propose(Profile::Sales, &ws.existing());
    let written = propose::write_optionsets(&path, &first, &ws.existing()).unwrap();
    assert!(written > 0);
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with(&before),
        "confirmed lines are never rewritten"
    );
    assert!(after.contains("# proposed (confidence"), "{after}");
    assert!(
        after.contains("#work_orders,priority,Urgent,incident,prioritycode,1,High"),
        "{after}"
    );

    // The file still parses, and everything proposed is now confirmed with
    // the same value; the decisions are still open.
    let existing = ws.existing();
    let second = ws.propose(Profile::Sales, &existing);
    for o in &first.options {
        let again = option(
            &second,
            &o.object,
            &o.field,
            &o.value,
            &o.target_table,
            &o.target_column,
        );
        match o.status {
            Status::Proposed | Status::Confirmed => {
                assert_eq!(again.status, Status::Confirmed, "{again:?}");
                assert_eq!(again.target_value, o.target_value, "{again:?}");
            }
            _ => assert_eq!(again.status, Status::NeedsDecision, "{again:?}"),
        }
    }
    assert_eq!(
        propose::write_optionsets(&path, &second, &existing).unwrap(),
        0
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        after,
        "nothing is added twice"
    );

    // Custom-column transforms: one new file per object, never overwritten.
    let dir = ws.root().join("sql/transforms");
    let files = propose::write_custom_transforms(&dir, &second, 200).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "V200__custom_customers.sql",
            "V201__custom_sites.sql",
            "V202__custom_work_orders.sql",
            "V203__custom_equipment.sql",
        ]
    );
    let customers = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        customers.contains("CREATE OR REPLACE TABLE stg.\"account\""),
        "{customers}"
    );
    assert!(customers.contains("r.\"cf_kundenstufe\""), "{customers}");
    std::fs::write(
        &files[0],
        format!("{customers}\n-- reviewed by the analyst\n"),
    )
    .unwrap();
    assert!(propose::write_custom_transforms(&dir, &second, 200)
        .unwrap()
        .is_empty());
    assert!(std::fs::read_to_string(&files[0])
        .unwrap()
        .ends_with("-- reviewed by the analyst\n"));

    // The proposed SQL runs with the proposed translations, keeps every row,
    // and types the columns as proposed.
    ws.ferry().arg("transform").assert().success();
    let tiers = ws.column(
        "SELECT DISTINCT r.cf_kundenstufe || '=' || coalesce(a.st_kundenstufe::VARCHAR, 'NULL')
         FROM stg.account a JOIN raw.customers_current r ON r.id = a.st_record_id
         WHERE r.cf_kundenstufe IS NOT NULL ORDER BY 1",
    );
    assert_eq!(
        tiers,
        vec!["Bronze=100000000", "Gold=100000001", "Silver=100000002"]
    );
    let counts = ws.column(
        "SELECT (SELECT count(*) FROM stg.account)::VARCHAR || '/' || (SELECT count(*) FROM raw.customers_current)::VARCHAR",
    );
    assert_eq!(counts.len(), 1);
    let (staged, raw) = counts[0].split_once('/').unwrap();
    assert_eq!(staged, raw, "every customer is still an account");
    let types = ws.column(
        "SELECT table_name || '.' || column_name || ' ' || data_type FROM duckdb_columns()
         WHERE schema_name = 'stg' AND column_name IN
           ('st_kreditrahmen', 'st_torcode', 'st_nachfassdatum', 'st_kmstand', 'st_letztewartung', 'st_garantiefall')
         ORDER BY 1",
    );
    assert_eq!(
        types,
        vec![
            "customeraddress.st_torcode VARCHAR",
            "incident.st_garantiefall BOOLEAN",
            "incident.st_kmstand INTEGER",
            "incident.st_nachfassdatum DATE",
            "st_equipment.st_letztewartung TIMESTAMP WITH TIME ZONE",
            "account.st_kreditrahmen DECIMAL(14,2)",
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let zeros =
        ws.column("SELECT count(*)::VARCHAR FROM stg.customeraddress WHERE st_torcode LIKE '0%'");
    assert_ne!(zeros, vec!["0"], "gate codes keep their leading zeros");

    // After the transforms ran, the built-in mappings are checked against
    // stg.* and still hold.
    let third = ws.propose(Profile::Sales, &ws.existing());
    for f in third.fields().filter(|f| f.origin == "standard") {
        assert_eq!(f.status, Status::Confirmed, "{f:?}");
    }
}

#[test]
fn the_report_renders_and_escapes_what_it_shows() {
    let ws = Ws::new();
    let mut p = ws.propose(Profile::Sales, &ws.existing());
    let mut evil = p.options[0].clone();
    evil.value = "<script>alert('x')</script>".to_string();
    evil.status = Status::NeedsDecision;
    p.options.push(evil);
    let html = propose::render_html(&p, &ws.root());
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..200.min(html.len())]
    );
    assert!(html.contains("Mapping proposal"));
    assert!(html.contains("address1_postalcode"));
    assert!(html.contains("st_kundenstufe"));
    assert!(html.contains("needs a decision"));
    assert!(html.contains("&lt;script&gt;"), "the value is escaped");
    assert!(
        !html.to_lowercase().contains("<script"),
        "no script reaches the page"
    );
    assert!(!html.contains("could not be rendered"));
}

// ---------------------------------------------------------------------------
// Against a live target's metadata.
// ---------------------------------------------------------------------------

const SECRET_ENV: &str = "FERRY_MAP_PROPOSE_TEST_SECRET";

#[test]
fn with_a_target_the_proposal_uses_the_custom_columns_the_org_already_has() {
    // The org is the emulator's: its tables are its own model, not ferry's.
    use dataverse_emulator::schema::{Column, ColumnType, RequiredLevel, Schema as OrgSchema};
    use dataverse_emulator::{DataverseConfig, DataverseEmulator};

    // An org as Microsoft ships it, plus a custom column someone made for
    // the gate code before ferry came along.
    let mut config = DataverseConfig::new(PREFIX);
    config.schema = OrgSchema::builtin(PREFIX).standard_only();
    config
        .schema
        .add_column(
            "customeraddress",
            Column {
                name: "st_torcode".to_string(),
                column_type: ColumnType::String,
                max_length: Some(100),
                required_level: RequiredLevel::None,
                targets: Vec::new(),
                options: Vec::new(),
                format: Some("Text".to_string()),
                behavior: None,
                min: None,
                max: None,
                precision: None,
                valid_for_create: Some(true),
                valid_for_update: Some(true),
                custom: true,
            },
        )
        .unwrap();
    let org = DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap();

    let ws = Ws::new();
    // Without a target the gate code needs a custom column of its own.
    let builtin = ws.propose(Profile::Sales, &ws.existing());
    assert_eq!(
        field(&builtin, "sites", "cf_torcode").status,
        Status::Custom
    );

    let toml = ws.root().join("ferry.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let pointed = text
        .replace(
            "# url = \"https://contoso.crm.dynamics.com\"",
            &format!("url = \"{}\"", org.url()),
        )
        .replace(
            "client_secret_env = \"FERRY_CLIENT_SECRET\"",
            &format!("client_secret_env = \"{SECRET_ENV}\""),
        );
    assert_ne!(pointed, text, "ferry.toml has the target lines to fill in");
    std::fs::write(&toml, pointed).unwrap();

    let out = ws
        .ferry()
        .env(SECRET_ENV, "emulator-secret")
        .args(["--json", "map", "propose"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Some picklist values still need a person's decision.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("metadata read from {}", org.url())),
        "stderr names the metadata used: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        json["target"].as_str().unwrap().starts_with(&org.url()),
        "{}",
        json["target"]
    );
    let gate = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["object"] == "sites")
        .flat_map(|o| o["fields"].as_array().unwrap())
        .find(|f| f["field"] == "cf_torcode")
        .expect("sites.cf_torcode is proposed");
    assert_eq!(gate["status"], "proposed", "{gate:#}");
    assert_eq!(gate["target_table"], "customeraddress", "{gate:#}");
    assert_eq!(gate["target_column"], "st_torcode", "{gate:#}");
    assert!(gate["custom_column"].is_null(), "{gate:#}");
    assert!(
        gate["reason"].as_str().unwrap().contains("same name"),
        "{gate:#}"
    );
    // The custom fields the org has no column for still get custom columns.
    let tier = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["object"] == "customers")
        .flat_map(|o| o["fields"].as_array().unwrap())
        .find(|f| f["field"] == "cf_kundenstufe")
        .unwrap();
    assert_eq!(tier["status"], "custom", "{tier:#}");
    assert_eq!(tier["custom_column"]["name"], "st_kundenstufe", "{tier:#}");

    // The reports say what the proposal was built against.
    let reports = ws.root().join("reports");
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("mapping-proposal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["target"], json["target"]);
    let html = std::fs::read_to_string(reports.join("mapping-proposal.html")).unwrap();
    // (The template escapes `/` as `&#x2f;`.)
    assert!(
        html.replace("&#x2f;", "/").contains(&org.url()),
        "the report names the target"
    );
    // No custom-field transform creates a second gate-code column.
    for entry in std::fs::read_dir(ws.root().join("sql/transforms")).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!sql.contains("torcode2"), "{sql}");
    }
    org.stop().unwrap();
}

// ---------------------------------------------------------------------------
// Hand-built inventories: names the built-in transforms do not know.
// ---------------------------------------------------------------------------

fn text_field(object: &str, name: &str, samples: &[&str]) -> InventoryField {
    InventoryField {
        object: object.into(),
        field: name.into(),
        inferred_type: "text".into(),
        duckdb_type: "VARCHAR".into(),
        origin: "unknown".into(),
        rows: 100,
        non_null: 100,
        distinct_count: 100,
        min_value: samples.iter().min().map(|s| s.to_string()),
        max_value: samples.iter().max().map(|s| s.to_string()),
        max_length: samples.iter().map(|s| s.chars().count() as i64).max(),
        sample_values: samples.iter().map(|s| s.to_string()).collect(),
        multiline: Some(0),
        leading_zero: Some(0),
        ..InventoryField::default()
    }
}

#[test]
fn unfamiliar_names_are_matched_by_synonyms_types_and_value_profiles() {
    let fields = vec![
        text_field("sites", "zip", &["60523", "02108"]),
        text_field("customers", "zip_code", &["60523", "60611"]),
        text_field("customers", "BillingZip", &["60523", "60611"]),
        text_field(
            "customers",
            "company",
            &["Abbott Realty Corp.", "Ainsley Grill"],
        ),
        text_field(
            "customers",
            "homepage",
            &["https://www.abbott.com", "https://ainsley.com"],
        ),
        text_field(
            "customers",
            "kontakt",
            &["a@abbott.com", "info@ainsley.com"],
        ),
        text_field(
            "contacts",
            "cell_phone",
            &["(847) 555-7374", "(205) 555-1346"],
        ),
        text_field(
            "contacts",
            "office_phone",
            &["(847) 555-1111", "(205) 555-2222"],
        ),
        text_field("contacts", "E-Mail", &["ann@abbott.com", "bo@ainsley.com"]),
        text_field("contacts", "position", &["Store Manager", "Owner"]),
        text_field("contacts", "given_name", &["Ann", "Bo"]),
        text_field("contacts", "surname", &["Adams", "Young"]),
        text_field("work_orders", "headline", &["Leaking valve", "No heat"]),
        InventoryField {
            multiline: Some(3),
            ..text_field(
                "work_orders",
                "cf_internal_notes",
                &["line one\nline two", "x"],
            )
        },
    ];
    let inventory = Inventory {
        fields,
        ..Inventory::default()
    };
    let p = propose::propose_from(
        &inventory,
        &Schema::builtin(PREFIX),
        Profile::Sales,
        PREFIX,
        &[],
    );
    for (object, name, column) in [
        ("sites", "zip", "postalcode"),
        ("customers", "BillingZip", "address1_postalcode"),
        ("customers", "company", "name"),
        ("customers", "homepage", "websiteurl"),
        ("customers", "kontakt", "emailaddress1"),
        ("contacts", "cell_phone", "mobilephone"),
        ("contacts", "office_phone", "telephone1"),
        ("contacts", "E-Mail", "emailaddress1"),
        ("contacts", "position", "jobtitle"),
        ("contacts", "given_name", "firstname"),
        ("contacts", "surname", "lastname"),
        ("work_orders", "headline", "title"),
    ] {
        let f = field(&p, object, name);
        assert_eq!(
            f.target_column.as_deref(),
            Some(column),
            "{object}.{name}: {f:?}"
        );
        assert_eq!(f.status, Status::Proposed, "{f:?}");
        assert!(
            (propose::STANDARD_THRESHOLD..1.0).contains(&f.confidence),
            "{object}.{name}: {f:?}"
        );
    }
    // One field per column: the billing address's postal code wins address 1,
    // and an unqualified second postal code is not forced into address 2.
    let zip_code = field(&p, "customers", "zip_code");
    assert_eq!(zip_code.status, Status::Custom, "{zip_code:?}");
    // A name that says nothing is matched by what its values look like, at
    // a confidence that asks for a look.
    assert!(field(&p, "customers", "kontakt").confidence < 0.75);
    assert!(field(&p, "customers", "kontakt").reason.contains("e-mail"));
    let notes = field(&p, "work_orders", "cf_internal_notes");
    assert_eq!(notes.status, Status::Custom);
    let column = notes.custom_column.as_ref().unwrap();
    assert_eq!(
        (column.name.as_str(), column.type_name.as_str()),
        ("st_internalnotes", "Memo")
    );
}

#[test]
fn a_new_tier_gets_the_next_free_publisher_value() {
    let field = InventoryField {
        object: "work_orders".into(),
        field: "priority".into(),
        inferred_type: "text".into(),
        duckdb_type: "VARCHAR".into(),
        origin: "standard".into(),
        picklist_like: true,
        documented_values: vec![
            "Low".into(),
            "High".into(),
            "Critical".into(),
            "Emergency".into(),
        ],
        ..InventoryField::default()
    };
    let values = ["Low", "High", "Critical", "Emergency"]
        .iter()
        .map(|v| InventoryValue {
            object: "work_orders".into(),
            field: "priority".into(),
            value: v.to_string(),
            count: 5,
            documented: Some(true),
        })
        .collect();
    let inventory = Inventory {
        fields: vec![field],
        values,
        ..Inventory::default()
    };
    // 100000000 is already used on the column by a confirmed translation.
    let existing = vec![OptionTranslation {
        source_object: "work_orders".into(),
        source_field: "priority".into(),
        source_value: "Critical".into(),
        target_table: "incident".into(),
        target_column: "prioritycode".into(),
        target_value: 100_000_000,
        target_label: "Critical".into(),
        line: 7,
    }];
    let p = propose::propose_from(
        &inventory,
        &Schema::builtin(PREFIX),
        Profile::Sales,
        PREFIX,
        &existing,
    );
    let emergency = option(
        &p,
        "work_orders",
        "priority",
        "Emergency",
        "incident",
        "prioritycode",
    );
    assert_eq!(emergency.target_value, Some(100_000_001), "{emergency:?}");
    assert!(emergency.new_option);
    let critical = option(
        &p,
        "work_orders",
        "priority",
        "Critical",
        "incident",
        "prioritycode",
    );
    assert_eq!(
        (critical.status, critical.line, critical.target_value),
        (Status::Confirmed, Some(7), Some(100_000_000))
    );
    assert_eq!(
        option(
            &p,
            "work_orders",
            "priority",
            "High",
            "incident",
            "prioritycode"
        )
        .target_value,
        Some(1)
    );
}

#[test]
fn an_unknown_object_becomes_a_custom_table() {
    let mut date = text_field("service_visits", "visit_date", &["2024-05-01"]);
    date.duckdb_type = "DATE".into();
    date.inferred_type = "date".into();
    let inventory = Inventory {
        fields: vec![
            text_field("service_visits", "id", &["SV-1", "SV-2"]),
            date,
            text_field("service_visits", "outcome", &["Fixed", "Follow-up"]),
        ],
        ..Inventory::default()
    };
    let p = propose::propose_from(
        &inventory,
        &Schema::builtin(PREFIX),
        Profile::Sales,
        PREFIX,
        &[],
    );
    let object = p.object("service_visits").unwrap();
    assert!(object.custom_table);
    assert_eq!(object.target_tables, vec!["st_servicevisit".to_string()]);
    assert_eq!(
        field(&p, "service_visits", "id").target_column.as_deref(),
        Some("st_record_id")
    );
    let visit = field(&p, "service_visits", "visit_date")
        .custom_column
        .clone()
        .unwrap();
    assert_eq!(
        (visit.name.as_str(), visit.behavior.as_deref()),
        ("st_visitdate", Some("DateOnly"))
    );
    let dir = tempfile::tempdir().unwrap();
    let files = propose::write_custom_transforms(dir.path(), &p, 250).unwrap();
    assert_eq!(files.len(), 1);
    let sql = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        sql.contains("CREATE OR REPLACE TABLE stg.\"{{prefix}}_servicevisit\""),
        "{sql}"
    );
    assert!(
        sql.contains("map.record_guid('{{prefix}}_servicevisit', r.id)"),
        "{sql}"
    );
    assert!(
        sql.contains("FROM \"raw\".\"service_visits_current\" AS r"),
        "{sql}"
    );
}

/// Every column the built-in table claims is written by the SQL file it
/// names, so the table cannot drift from the transforms.
#[test]
fn the_built_in_table_matches_the_shipped_sql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let read = |file: &str| -> String {
        for dir in [
            "transforms",
            "profiles/sales/transforms",
            "profiles/field-service/transforms",
        ] {
            let path = root.join(dir).join(file);
            if path.exists() {
                return std::fs::read_to_string(path).unwrap();
            }
        }
        panic!("no built-in SQL file {file}");
    };
    for m in ferry::mapping::synonyms::BUILTIN {
        let text = read(m.file);
        if !m.column.is_empty() {
            let column = m.column.replace("{prefix}", "{{prefix}}");
            assert!(
                text.contains(&column),
                "{} does not write {}",
                m.file,
                m.column
            );
        }
    }
    for o in ferry::mapping::synonyms::OBJECTS {
        read(o.sales.file);
        read(o.field_service.file);
    }
}
