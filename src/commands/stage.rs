//! `ferry stage`: load every complete extract not staged yet into `raw.*`
//! and rebuild the inventory; print what changed per object.
//!
//! Results (the per-object table, or JSON with `--json`) go to stdout;
//! warnings go to stderr so they never pollute a pipe.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

use super::output;
use crate::stage::{stage_workspace, StageSummary};
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let summary = stage_workspace(ws)?;
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    output::emit(json, &summary, print_summary);
    Ok(Outcome::Ok)
}

/// What was staged, for a person.
fn print_summary(summary: &StageSummary) {
    if summary.nothing_new() {
        println!("{}", nothing_to_stage_message(summary));
        return;
    }
    for extract in &summary.staged {
        let new_versions: u64 = extract.objects.iter().map(|o| o.new_versions).sum();
        let kind = match &extract.since {
            Some(since) => format!(" (delta since {since})"),
            None => String::new(),
        };
        println!(
            "staged {}{kind}: {} object(s), {} new version(s), {} new quarantined row(s), {} new attachment(s), {} new deletion(s)",
            extract.extract_id,
            extract.objects.len(),
            new_versions,
            extract.new_quarantine_rows,
            extract.new_attachment_rows,
            extract.new_deleted_rows
        );
    }
    println!("{}", summary_table(summary));
    if let Some(inventory) = &summary.inventory {
        println!(
            "inventory: {} object(s), {} field(s), {} picklist-like — see meta.inventory_fields or `ferry report inventory`",
            inventory.objects, inventory.fields, inventory.picklist_fields
        );
    }
}

fn nothing_to_stage_message(summary: &StageSummary) -> String {
    match summary.already_staged.last() {
        Some(latest) => format!(
            "nothing to stage: all {} complete extract(s) are already staged (latest {latest}); run `ferry extract` for new data",
            summary.already_staged.len()
        ),
        None => "nothing to stage: no new complete extract in landing/; run `ferry extract` for new data".to_string(),
    }
}

fn summary_table(summary: &StageSummary) -> Table {
    // Columns that would only ever say 0 stay out of the way: `unchanged`
    // appears once a delta is staged, the deletion columns once the source
    // reported deletions.
    let any_delta = summary
        .staged
        .iter()
        .any(|e| e.mode == crate::landing::manifest::ExtractMode::Delta);
    let any_deletion = summary
        .objects
        .iter()
        .any(|o| o.new_deletions > 0 || o.deleted_records > 0);
    let mut header = vec![
        "object",
        "landed",
        "new versions",
        "current records",
        "quarantined",
    ];
    if any_delta {
        header.push("unchanged");
    }
    if any_deletion {
        header.extend(["new deletions", "deleted records"]);
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.clone());
    for object in &summary.objects {
        let mut row = vec![
            object.object.clone(),
            object.landed_rows.to_string(),
            object.new_versions.to_string(),
            object.current_records.to_string(),
            object.quarantined_rows.to_string(),
        ];
        if any_delta {
            row.push(object.unchanged_rows.to_string());
        }
        if any_deletion {
            row.push(object.new_deletions.to_string());
            row.push(object.deleted_records.to_string());
        }
        table.add_row(row);
    }
    for index in 1..header.len() {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
