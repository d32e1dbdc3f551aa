//! `ferry report`: reports are rendered from the workspace SQL, escape
//! every value (a `<script>` typed into ServiceTracker stays text in every
//! report of a full pipeline run), stay self-contained, wait politely for
//! the command that makes their data, let a workspace restyle them with its
//! own templates, and fail clearly when there is nothing to report or their
//! SQL is gone.

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
    std::fs::remove_file(ws.root.join("reports/inventory.sql")).unwrap();
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
    let path = ws.root.join("reports/inventory.sql");
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

/// A workspace made before report definitions moved to the top level keeps
/// them in `sql/reports/`; that copy is still the one that runs.
#[test]
fn a_workspace_with_the_old_sql_reports_folder_still_runs_its_copy() {
    let ws = staged_workspace();
    let old = ws.root.join("sql/reports");
    std::fs::create_dir_all(&old).unwrap();
    for entry in std::fs::read_dir(ws.root.join("reports")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("sql") {
            std::fs::rename(&path, old.join(path.file_name().unwrap())).unwrap();
        }
    }
    let path = old.join("inventory.sql");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("ORDER BY extract_id;", "ORDER BY extract_id LIMIT 0;");
    std::fs::write(&path, edited).unwrap();
    ws.ferry().args(["report", "inventory"]).assert().success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.root.join("reports/inventory.json")).unwrap())
            .unwrap();
    assert_eq!(json["extracts"], serde_json::json!([]));
    assert_eq!(json["header"]["sql_file"], path.display().to_string());
}

#[test]
fn a_column_the_template_needs_but_the_sql_lacks_is_a_clear_error() {
    let ws = staged_workspace();
    let path = ws.root.join("reports/inventory.sql");
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
        .stderr(contains("available: "))
        .stderr(contains("findings, inventory"))
        .stderr(contains("workflows, index"));
}

// ---------------------------------------------------------------------------
// Reports whose data does not exist yet.

#[test]
fn reports_without_their_data_wait_for_the_command_that_makes_it() {
    let ws = staged_workspace();
    // Staged only: nothing validated, transformed or pushed.
    let out = ws.ferry().args(["report", "all"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let reports = ws.root.join("reports");
    assert!(
        stdout.contains(&format!(
            "{}  (not available yet: run `ferry push`)",
            reports.join("push.html").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{}  (not available yet: run `ferry validate`)",
            reports.join("findings.html").display()
        )),
        "{stdout}"
    );
    // The index comes last and the data reports that could be made were.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with("index.json"), "{stdout}");
    assert!(stdout.contains(&reports.join("inventory.html").display().to_string()));

    let push = std::fs::read_to_string(reports.join("push.html")).unwrap();
    assert!(push.contains("Not available yet"), "{push}");
    assert!(push.contains("<code>ferry push</code>"), "{push}");
    assert!(push.contains("audit.runs"), "{push}");
    assert!(push.contains("<title>Push audit · ferry</title>"), "{push}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("push.json")).unwrap()).unwrap();
    assert_eq!(
        json["waiting"]["commands"],
        serde_json::json!(["ferry push"])
    );
    assert_eq!(json["waiting"]["missing"][0]["relation"], "audit.runs");
    assert_eq!(json["waiting"]["missing"][0]["problem"], "does not exist");

    // The index says which report waits for what.
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(
        index.contains("not available yet — run `ferry push`"),
        "{index}"
    );
    assert!(index.contains("run `ferry plan`"), "{index}");
    assert!(index.contains("href=\"inventory.html\""), "{index}");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("index.json")).unwrap()).unwrap();
    let status = |name: &str| {
        index["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("inventory").as_deref(), Some("rendered"));
    assert_eq!(status("push").as_deref(), Some("waiting"));
    assert_eq!(status("plan").as_deref(), Some("missing"));
    // The staged count is known, what comes later is not.
    let staged = &index["headline"][0];
    assert_eq!(staged["key"], "staged");

    // Asking for one waiting report is not an error either.
    ws.ferry()
        .args(["report", "push"])
        .assert()
        .success()
        .stdout(contains("not available yet: run `ferry push`"));
}

#[test]
fn an_empty_required_table_is_not_available_yet_and_a_bad_requires_line_is_named() {
    let ws = staged_workspace();
    let path = ws.root.join("reports/push.sql");
    let text = std::fs::read_to_string(&path).unwrap();
    // A requirement that exists but is empty waits too.
    std::fs::write(
        &path,
        text.replace(
            "-- requires: audit.runs by ferry push",
            "-- requires: meta.extracts by ferry stage\n-- requires: raw._quarantine by ferry extract",
        ),
    )
    .unwrap();
    ws.ferry().args(["report", "push"]).assert().success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.root.join("reports/push.json")).unwrap()).unwrap();
    assert_eq!(json["waiting"]["missing"][0]["relation"], "raw._quarantine");
    assert_eq!(json["waiting"]["missing"][0]["problem"], "is empty");

    std::fs::write(&path, text.replace("audit.runs by", "runs by")).unwrap();
    ws.ferry()
        .args(["report", "push"])
        .assert()
        .code(2)
        .stderr(contains("push.sql"))
        .stderr(contains("`runs` is not a schema.table name"));
}

// ---------------------------------------------------------------------------
// A workspace's own templates.

#[test]
fn workspace_templates_override_the_built_in_ones() {
    let ws = staged_workspace();
    ws.ferry().args(["report", "inventory"]).assert().success();
    let html = std::fs::read_to_string(ws.root.join("reports/inventory.html")).unwrap();
    assert!(
        html.contains("Layout: the built-in"),
        "the footer says where to override"
    );
    // Paths are escaped like any value (`/` becomes `&#x2f;`).
    assert!(html.contains("templates&#x2f;inventory.html.j2"), "{html}");

    // The report's own template.
    let templates = ws.root.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("inventory.html.j2"),
        "{% extends \"base.html.j2\" %}{% block content %}<p id=\"mine\">Our layout: {{ totals[0].objects }} objects, {{ objects[0].fields[1].sample_values[0] }}</p>{% endblock %}",
    )
    .unwrap();
    ws.ferry().args(["report", "inventory"]).assert().success();
    let html = std::fs::read_to_string(ws.root.join("reports/inventory.html")).unwrap();
    assert!(
        html.contains("<p id=\"mine\">Our layout: 2 objects"),
        "{html}"
    );
    assert!(html.contains("Layout from the workspace's own"), "{html}");
    // An override is escaped like the built-in templates.
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");

    // The layout every report extends, replaced once for all of them.
    std::fs::write(
        templates.join("base.html.j2"),
        "<!DOCTYPE html><html><head><title>Contoso · {{ header.report }}</title></head><body><h1>Contoso migration</h1>{% block content %}{% endblock %}</body></html>",
    )
    .unwrap();
    ws.ferry().args(["report", "all"]).assert().success();
    let html = std::fs::read_to_string(ws.root.join("reports/inventory.html")).unwrap();
    assert!(html.contains("<h1>Contoso migration</h1>"), "{html}");
    assert!(html.contains("Our layout: 2 objects"), "{html}");
    let index = std::fs::read_to_string(ws.root.join("reports/index.html")).unwrap();
    assert!(index.contains("<title>Contoso · index</title>"), "{index}");

    // A broken override names the workspace file and how to go back.
    std::fs::write(templates.join("inventory.html.j2"), "{% extends \"base.html.j2\" %}{% block content %}{{ totals[0].no_such_column | num }}{% endblock %}").unwrap();
    ws.ferry()
        .args(["report", "inventory"])
        .assert()
        .code(2)
        .stderr(contains("template inventory.html.j2 line 1"))
        .stderr(contains(
            templates.join("inventory.html.j2").display().to_string(),
        ))
        .stderr(contains("delete it to go back to the built-in one"));
}

// ---------------------------------------------------------------------------
// Hostile text through the whole pipeline.

/// What a ServiceTracker user might type: markup, quotes of both kinds and
/// an ampersand.
const TYPED: &str = "<script>alert(\"x\")</script> O'Brien & \"Sons\"";
/// The same text as every report must show it.
const SHOWN: &str = "&lt;script&gt;alert(&quot;x&quot;)";

/// Replaces `column` of the first data row of `<export>/<object>.csv`.
fn poison(export: &std::path::Path, object: &str, column: &str, value: &str) {
    let path = export.join(format!("{object}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let index = headers
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{object}.csv has no column {column}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for (n, record) in reader.records().enumerate() {
        let record = record.unwrap();
        let row: Vec<&str> = record
            .iter()
            .enumerate()
            .map(|(i, field)| if n == 0 && i == index { value } else { field })
            .collect();
        writer.write_record(&row).unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

#[test]
fn text_typed_into_servicetracker_is_escaped_in_every_report() {
    use dataverse_emulator::{DataverseConfig, DataverseEmulator};

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let ferry = || assert_cmd::Command::cargo_bin("ferry").unwrap();
    ferry()
        .args([
            "generate",
            export.to_str().unwrap(),
            "--customers",
            "15",
            "--clean",
        ])
        .assert()
        .success();
    poison(&export, "customers", "company_name", TYPED);
    poison(&export, "customers", "email", TYPED);
    poison(&export, "notes", "body", TYPED);
    poison(&export, "workflows", "name", TYPED);
    poison(
        &export,
        "workflows",
        "conditions",
        &format!("status = '{TYPED}'"),
    );

    let org = DataverseEmulator::new(
        DataverseConfig::new("st")
            .with_technician_users(&export.join("technicians.csv"))
            .unwrap(),
    )
    .spawn("127.0.0.1:0".parse().unwrap())
    .unwrap();
    let root = dir.path().join("ws");
    ferry()
        .args(["init", root.to_str().unwrap(), "--target", &org.url()])
        .arg("--source")
        .arg(format!("csv:{}", export.display()))
        .assert()
        .success();
    let run = |args: &[&str]| {
        let out = ferry()
            .arg("--workspace")
            .arg(&root)
            .env("FERRY_CLIENT_SECRET", "s")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "ferry {}: exit {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    };
    let must = |args: &[&str], codes: &[i32]| {
        let (code, text) = run(args);
        assert!(codes.contains(&code), "{text}");
    };
    must(&["extract", "--allow-pending"], &[0]);
    must(&["stage"], &[0]);
    must(&["transform"], &[0]);
    must(&["validate"], &[0, 1]);
    // The invalid e-mail is an error finding; waive what blocks the push so
    // the text travels on to Dataverse and back.
    let db = ferry::duck::open(&root.join("ferry.duckdb")).unwrap();
    let mut waivers = String::from("rule,object,record_id,reason\n");
    {
        let mut stmt = db
            .prepare("SELECT DISTINCT rule, object FROM \"check\".findings WHERE severity = 'error' ORDER BY ALL")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap();
        for row in rows {
            let (rule, object) = row.unwrap();
            waivers.push_str(&format!(
                "{rule},{object},,escaping test: load it as typed\n"
            ));
        }
    }
    drop(db);
    std::fs::write(root.join("mapping/waivers.csv"), waivers).unwrap();
    must(&["validate"], &[0]);
    must(&["map", "propose"], &[0, 1]);
    must(&["map", "confirm", "--by", "escaping test"], &[0]);
    must(&["plan", "--apply"], &[0]);
    must(&["push"], &[0, 1]);
    // verify and reconcile find problems or not; either way they leave data
    // for their reports, and the reports are what this test reads.
    let (_, verify) = run(&["verify"]);
    let (_, reconcile) = run(&["reconcile"]);
    must(&["report", "all"], &[0]);

    let reports = root.join("reports");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&reports).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            !html.to_lowercase().contains("<script"),
            "raw <script in {}",
            path.display()
        );
        assert!(!html.contains("O'Brien"), "an unescaped quote in {name}");
        seen.push(name);
    }
    seen.sort();
    // Every report was made from data, so every one was checked with the
    // text in it (a "not available yet" page would prove nothing).
    for name in [
        "diff",
        "findings",
        "index",
        "inventory",
        "mapping-proposal",
        "plan",
        "push",
        "reconcile",
        "workflows",
    ] {
        assert!(
            seen.contains(&name.to_string()),
            "no {name}.html among {seen:?}\n{verify}\n{reconcile}"
        );
        let twin: serde_json::Value =
            serde_json::from_slice(&std::fs::read(reports.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert!(
            twin.get("waiting").is_none(),
            "{name} is not available yet\n{verify}\n{reconcile}"
        );
    }
    // Where the record is shown, its text is there, escaped.
    let shows = |name: &str| std::fs::read_to_string(reports.join(format!("{name}.html"))).unwrap();
    let inventory = shows("inventory");
    assert!(
        inventory.contains(SHOWN),
        "customer name / note body in the inventory samples"
    );
    assert!(
        inventory.contains("O&#x27;Brien &amp; &quot;Sons&quot;"),
        "quotes and & escaped"
    );
    assert!(
        shows("findings").contains(SHOWN),
        "the invalid e-mail finding quotes the value"
    );
    let workflows = shows("workflows");
    assert!(workflows.contains(SHOWN), "the workflow's name");
    assert!(
        workflows.contains("rebuild by hand"),
        "a condition on a value no option has"
    );

    // A workspace made before named targets keeps its own copies of the
    // report SQL, which return no target columns: its reports still render.
    let strip = |name: &str, cuts: &[&str]| {
        let path = root.join(format!("reports/{name}.sql"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        for cut in cuts {
            assert!(text.contains(cut), "{name}.sql: {cut}");
            text = text.replace(cut, "");
        }
        // What the earlier copy read the latest push from.
        text = text.replace(
            "(SELECT latest_push_run FROM reconcile.target)",
            "(SELECT max(run_id) FROM audit.runs WHERE kind = 'push')",
        );
        std::fs::write(path, text).unwrap();
    };
    strip(
        "push",
        &[
            ", coalesce(target_name, 'default') AS target_name",
            "coalesce(target_name, 'default')                              AS target_name,",
        ],
    );
    strip(
        "diff",
        &[
            ", dv.read_from by ferry verify",
            ",\n    (SELECT any_value(target_name) FROM dv.read_from)          AS target_name",
            ",\n    (SELECT any_value(url) FROM dv.read_from)                  AS target_url",
        ],
    );
    strip(
        "reconcile",
        &[
            ", reconcile.target by ferry reconcile",
            "    (SELECT target_name FROM reconcile.target)                         AS target_name,\n",
            "    (SELECT url FROM reconcile.target)                                 AS target_url,\n",
        ],
    );
    must(&["report", "all"], &[0]);
    assert!(!shows("push").contains("to the target <b>"));
    assert!(shows("reconcile").contains("Every source object"));
}
