//! `ferry generate DIR [--customers N] [--seed S] [--clean]`: write a
//! synthetic ServiceTracker CSV export (SPEC §8) and say what it holds.
//! `ferry generate DIR --mutate --change N --delete M [--seed S]` changes
//! and deletes records of an existing export instead (see
//! [`servicetracker_generator::mutate`]).
//!
//! The objects and their row counts go to stdout as a table (or JSON with
//! `--json`), followed by the dirt that was injected; progress goes to
//! stderr only.

use std::path::Path;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use servicetracker_generator::mutate::{self, MutateOptions, MutateSummary};
use servicetracker_generator::{self as generate, GenerateOptions, GenerateSummary};

use crate::source::schema;
use crate::{Outcome, Result};

pub fn run(dir: &Path, customers: u64, seed: u64, clean: bool, json: bool) -> Result<Outcome> {
    let bar = crate::progress::steps("generate", customers);
    let summary = generate::generate_export_with_progress(
        dir,
        &GenerateOptions {
            customers,
            seed,
            clean,
        },
        |_| bar.inc(1),
    );
    bar.finish_and_clear();
    let summary = summary?;
    super::output::emit_line(json, &summary_json(dir, seed, clean, &summary), |_| {
        println!("{}", rows_table(&summary));
        println!(
            "attachments: {} under {}",
            human_bytes(summary.attachment_bytes),
            dir.join("files").display()
        );
        if summary.dirt.is_empty() {
            println!("no dirt injected (--clean)");
        } else {
            println!("{}", dirt_table(&summary));
            println!(
                "ground truth: {}",
                dir.join(generate::DirtFile::FILE_NAME).display()
            );
        }
        println!(
            "wrote {} (seed {seed})",
            dir.join(generate::MANIFEST_FILE).display()
        );
    });
    Ok(Outcome::Ok)
}

/// `--mutate`: change and delete records of the export in `dir`.
pub fn run_mutate(dir: &Path, change: u64, delete: u64, seed: u64, json: bool) -> Result<Outcome> {
    let summary = mutate::mutate_export(
        dir,
        &MutateOptions {
            change,
            delete,
            seed,
        },
    )?;
    super::output::emit_line(json, &mutate_json(dir, &summary), |_| {
        println!("{}", mutate_table(&summary));
        println!(
            "exported_at moved from {} to {}",
            summary
                .round
                .previous_exported_at
                .as_deref()
                .unwrap_or("(none)"),
            summary.round.exported_at
        );
        println!(
            "ground truth: {} (round {}, seed {seed})",
            dir.join(mutate::MUTATIONS_FILE).display(),
            summary.round.round
        );
    });
    Ok(Outcome::Ok)
}

fn mutate_json(dir: &Path, summary: &MutateSummary) -> serde_json::Value {
    serde_json::json!({
        "dir": dir.display().to_string(),
        "round": summary.round,
        "changed": summary.changed,
        "deleted": summary.deleted,
        "rows": summary.rows,
    })
}

/// Changes per object.field and deletions per object.
fn mutate_table(summary: &MutateSummary) -> Table {
    let mut counts: std::collections::BTreeMap<(&str, String), u64> = Default::default();
    for c in &summary.changed {
        *counts
            .entry(("changed", format!("{}.{}", c.object, c.field)))
            .or_default() += 1;
    }
    for d in &summary.deleted {
        *counts.entry(("deleted", d.object.clone())).or_default() += 1;
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["what", "records"]);
    for ((how, what), n) in counts {
        table.add_row(vec![format!("{how}: {what}"), n.to_string()]);
    }
    if let Some(column) = table.column_mut(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    table
}

fn summary_json(
    dir: &Path,
    seed: u64,
    clean: bool,
    summary: &GenerateSummary,
) -> serde_json::Value {
    serde_json::json!({
        "dir": dir.display().to_string(),
        "seed": seed,
        "clean": clean,
        "rows": summary.rows,
        "attachment_bytes": summary.attachment_bytes,
        "dirt": summary.dirt.iter().map(|e| serde_json::json!({
            "kind": e.kind,
            "object": e.object,
            "field": e.field,
            "count": e.count,
        })).collect::<Vec<_>>(),
    })
}

/// Objects in schema order (parents before children) with their rows.
fn rows_table(summary: &GenerateSummary) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["object", "file", "rows"]);
    let mut total = 0;
    for object in schema::OBJECTS {
        let rows = summary.rows.get(object.name).copied().unwrap_or(0);
        total += rows;
        table.add_row(vec![
            object.name.to_string(),
            format!("{}.csv", object.name),
            rows.to_string(),
        ]);
    }
    table.add_row(vec!["total".to_string(), String::new(), total.to_string()]);
    if let Some(column) = table.column_mut(2) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    table
}

fn dirt_table(summary: &GenerateSummary) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "dirt",
        "object.field",
        "records",
        "caught by",
    ]);
    for entry in &summary.dirt {
        let field = entry.field.as_deref().unwrap_or("(row)");
        table.add_row(vec![
            entry.kind.to_string(),
            format!("{}.{field}", entry.object),
            entry.count.to_string(),
            entry.caught_by.join(", "),
        ]);
    }
    if let Some(column) = table.column_mut(2) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    table
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_person_would_say_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_500), "1.5 KB");
        assert_eq!(human_bytes(2_345_678_901), "2.3 GB");
    }
}
