//! `ferry transform [status]`: run the workspace's versioned SQL, or show
//! each file as applied / pending / modified. Results on stdout; stray file
//! names and progress on stderr.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

use super::output;
use crate::transform::{
    run_transforms, transform_status, FileState, TransformStatus, TransformSummary,
};
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let summary = run_transforms(ws)?;
    for name in &summary.stray {
        eprintln!(
            "warning: sql/transforms/{name} was not run: transform files are named V<NNN>__<name>.sql"
        );
    }
    output::emit(json, &summary, print_run);
    Ok(Outcome::Ok)
}

/// The files a transform run applied, for a person.
fn print_run(summary: &TransformSummary) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["version", "file", "tables", "rows", "ms"]);
    for f in &summary.files {
        let tables: Vec<&str> = f.tables.keys().map(String::as_str).collect();
        table.add_row([
            f.version.to_string(),
            f.file.clone(),
            tables.join(", "),
            f.rows.to_string(),
            f.duration_ms.to_string(),
        ]);
    }
    for i in [0, 3, 4] {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    let staged: u64 = summary.stg_tables.values().sum();
    println!(
        "transform run {}: {} file(s) in {:.1} s; {} stg table(s), {staged} row(s) — next: `ferry validate`",
        summary.run_id,
        summary.files.len(),
        summary.duration_ms as f64 / 1000.0,
        summary.stg_tables.len()
    );
}

pub fn status(ws: &Workspace, json: bool) -> Result<Outcome> {
    let status = transform_status(ws)?;
    output::emit(json, &status, print_status);
    Ok(Outcome::Ok)
}

/// Each transform file's state, for a person.
fn print_status(status: &TransformStatus) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "version", "file", "state", "checksum", "applied", "last run", "rows",
    ]);
    for f in &status.files {
        table.add_row([
            f.version.to_string(),
            f.file.clone(),
            f.state.to_string(),
            f.sha256.clone().unwrap_or_default(),
            f.applied_sha256.clone().unwrap_or_default(),
            f.last_run.clone().unwrap_or_default(),
            f.rows.map(|r| r.to_string()).unwrap_or_default(),
        ]);
    }
    println!("{table}");
    for name in &status.stray {
        println!("not run: sql/transforms/{name} (transform files are named V<NNN>__<name>.sql)");
    }
    if let Some(failure) = &status.last_failure {
        println!("the last run failed: {failure}");
    }
    let changed = status
        .files
        .iter()
        .filter(|f| f.state != FileState::Applied)
        .count();
    if changed > 0 {
        println!("{changed} file(s) not applied as they are: run `ferry transform`");
    }
}
