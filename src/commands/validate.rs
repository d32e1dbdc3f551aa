//! `ferry validate`: run the checks, print a summary per rule (stdout) and
//! exit 1 while unwaived errors remain.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

use super::output;
use crate::validate::{run_validate, ValidateSummary};
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let summary = run_validate(ws)?;
    for waiver in &summary.unused_waivers {
        eprintln!("warning: mapping/waivers.csv {waiver} matches no finding");
    }
    let outcome = if summary.errors > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    };
    output::emit(json, &summary, print_summary);
    Ok(outcome)
}

/// The findings per rule, for a person.
fn print_summary(summary: &ValidateSummary) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["rule", "severity", "findings", "waived", "open"]);
    for f in &summary.findings {
        table.add_row([
            f.rule.clone(),
            f.severity.clone(),
            f.count.to_string(),
            f.waived.to_string(),
            (f.count - f.waived).to_string(),
        ]);
    }
    for i in 2..5 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    if summary.findings.is_empty() {
        println!("no findings");
    } else {
        println!("{table}");
    }
    println!(
        "{} open error(s), {} waived, {} warning(s), {} for review — details: ferry sql 'select * from \"check\".findings'",
        summary.errors, summary.waived, summary.warnings, summary.reviews
    );
    if summary.errors > 0 {
        println!("push stays blocked until each error is fixed or waived in mapping/waivers.csv (rule,object,record_id,reason)");
    }
}
