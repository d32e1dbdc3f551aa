//! `ferry stage`: load every complete extract not staged yet into `raw.*`
//! and rebuild the inventory; print what changed per object.
//!
//! Results (the per-object table, or JSON with `--json`) go to stdout;
//! warnings go to stderr so they never pollute a pipe.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

use crate::stage::{stage_workspace, StageSummary};
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let summary = stage_workspace(ws)?;
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("stage summary serializes")
        );
        return Ok(Outcome::Ok);
    }
    if summary.nothing_new() {
        println!("{}", nothing_to_stage_message(&summary));
        return Ok(Outcome::Ok);
    }
    for extract in &summary.staged {
        let new_versions: u64 = extract.objects.iter().map(|o| o.new_versions).sum();
        println!(
            "staged {}: {} object(s), {} new version(s), {} new quarantined row(s), {} new attachment(s)",
            extract.extract_id,
            extract.objects.len(),
            new_versions,
            extract.new_quarantine_rows,
            extract.new_attachment_rows
        );
    }
    println!("{}", summary_table(&summary));
    if let Some(inventory) = &summary.inventory {
        println!(
            "inventory: {} object(s), {} field(s), {} picklist-like — see meta.inventory_fields or `ferry report inventory`",
            inventory.objects, inventory.fields, inventory.picklist_fields
        );
    }
    Ok(Outcome::Ok)
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
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "object",
        "landed",
        "new versions",
        "current records",
        "quarantined",
    ]);
    for object in &summary.objects {
        table.add_row(vec![
            object.object.clone(),
            object.landed_rows.to_string(),
            object.new_versions.to_string(),
            object.current_records.to_string(),
            object.quarantined_rows.to_string(),
        ]);
    }
    for index in 1..=4 {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
