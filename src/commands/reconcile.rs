//! `ferry reconcile`: counts through every stage, the conservation checks
//! of SPEC §11, picklist distributions and a spot check, into
//! `reconcile.*`, `reports/reconcile.html` and `.json`. Reads the target
//! back first when `dv.*` is missing or older than the latest push, so it
//! works on its own. Exits 1 on any break.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

use super::output;
use crate::error::{Error, Result};
use crate::reconcile::{self, Reconciliation};
use crate::report::render_reports;
use crate::stage::open_existing_database;
use crate::workspace::Workspace;
use crate::Outcome;

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let conn = open_existing_database(ws)?.ok_or_else(|| nothing_pushed(ws))?;
    crate::push::audit::ensure_pushed(ws, &conn, "reconcile")?;
    if let Some(why) = reconcile::stale_read_back(&conn, &ws.config.target_name)? {
        crate::progress::note(format!("{why}: reading the target back first"));
        let read = crate::verify::read_back(ws, &conn)?;
        crate::progress::note(format!(
            "read back {} table(s) from {} in {:.1} s",
            read.tables.len(),
            read.target,
            read.seconds
        ));
    }
    crate::progress::note("reconciling counts, distributions and the spot check");
    let result = reconcile::reconcile(ws, &conn)?;
    drop(conn);
    let rendered = render_reports(ws, "reconcile")?;
    let outcome = if result.breaks > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    };
    // The JSON names the report too; the text prints it after the summary.
    let mut value = serde_json::to_value(&result).expect("reconciliation serializes");
    if let (serde_json::Value::Object(map), Some(report)) = (&mut value, rendered.first()) {
        map.insert("report".into(), report.html.display().to_string().into());
    }
    output::emit(json, &value, |_| {
        print_summary(&result);
        for report in &rendered {
            println!("report: {}", report.html.display());
        }
    });
    Ok(outcome)
}

fn nothing_pushed(ws: &Workspace) -> Error {
    Error::input(
        ws.database_path(),
        "nothing has been pushed yet, so there is nothing to reconcile",
        "run `ferry push` first",
    )
}

fn text(value: &serde_json::Value, key: &str) -> String {
    match value.get(key) {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn print_summary(result: &Reconciliation) {
    let mut stages = Table::new();
    stages.load_preset(UTF8_FULL_CONDENSED);
    stages.set_header(["stage", "per", "records"]);
    for s in &result.stages {
        stages.add_row([text(s, "stage"), text(s, "scope"), text(s, "records")]);
    }
    if let Some(c) = stages.column_mut(2) {
        c.set_cell_alignment(CellAlignment::Right);
    }
    println!("{stages}");

    let shown: Vec<&serde_json::Value> = result
        .checks
        .iter()
        .filter(|c| text(c, "status") != "ok")
        .collect();
    let ok = result.checks.len() - shown.len();
    if !shown.is_empty() {
        let mut checks = Table::new();
        checks.load_preset(UTF8_FULL_CONDENSED);
        checks.set_header(["check", "of", "expected", "actual", "status", "why"]);
        for c in shown {
            checks.add_row([
                text(c, "check_name"),
                text(c, "name"),
                text(c, "expected"),
                text(c, "actual"),
                text(c, "status"),
                text(c, "explanation"),
            ]);
        }
        for i in [2, 3] {
            if let Some(c) = checks.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        println!("{checks}");
    }
    println!(
        "{} check(s): {ok} add up, {} explained, {} not read back, {} break(s){}",
        result.checks.len(),
        result.explained,
        result.not_read_back,
        result.breaks,
        if result.breaks > 0 {
            " — details: ferry sql \"SELECT * FROM reconcile.checks WHERE status = 'break'\""
        } else {
            ""
        }
    );
}
