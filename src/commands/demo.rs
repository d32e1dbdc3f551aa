//! `ferry demo [DIR]`: the README's run command. Generates a dirty
//! ServiceTracker export, makes a workspace for it and runs every pipeline
//! stage that exists (generate, extract, stage, transform, validate,
//! report), then says plainly what it did, where the results are,
//! and which stages are not built yet.

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::generate::{generate_export, GenerateOptions};
use crate::landing::extract::{extract_csv, ExtractOptions};
use crate::workspace::{Profile, SourceSetting, Workspace};
use crate::Outcome;

/// Marks a folder as made by `ferry demo`, so a later demo may replace it
/// and nothing else is ever deleted.
const DEMO_MARKER: &str = ".ferry-demo";

pub fn run(dir: &Path, customers: u64, seed: u64, json: bool) -> Result<Outcome> {
    prepare_folder(dir)?;
    let export = dir.join("export");
    let root = dir.join("workspace");

    eprintln!("1/7 generating a ServiceTracker export of {customers} customers (seed {seed}) …");
    let generated = generate_export(
        &export,
        &GenerateOptions {
            customers,
            seed,
            clean: false,
        },
    )?;

    eprintln!("2/7 creating the workspace {} …", root.display());
    let export_abs = std::path::absolute(&export).at(&export)?;
    super::init::create_workspace(&root, Profile::Sales, &SourceSetting::Csv(export_abs), None)?;
    let ws = Workspace::open(&root)?;

    eprintln!("3/7 extracting to Parquet (the demo accepts work orders pending offline sync; a real run would stop here with exit 1) …");
    let extract = extract_csv(
        &ws.landing_dir(),
        &ws.csv_source_dir()?,
        &ExtractOptions {
            batch_rows: ws.config.extract.batch_rows,
            parallel_objects: ws.config.extract.parallel_objects,
            allow_pending: true,
        },
    )?;

    eprintln!("4/7 staging in DuckDB and building the inventory …");
    let staged = crate::stage::stage_workspace(&ws)?;

    eprintln!("5/7 transforming raw.* into stg.* with the versioned SQL of sql/transforms …");
    let transformed = crate::transform::run_transforms(&ws)?;

    eprintln!(
        "6/7 validating with the checks of sql/checks (the demo's dirt is meant to be found) …"
    );
    let validated = crate::validate::run_validate(&ws)?;

    eprintln!("7/7 rendering reports …");
    let reports = crate::report::render_reports(&ws, "all")?;

    let m = &extract.manifest;
    let source_rows: u64 = m.objects.values().map(|o| o.source_rows).sum();
    let landed: u64 = m.objects.values().map(|o| o.landed_rows).sum();
    let current: u64 = staged.objects.iter().map(|o| o.current_records).sum();
    let dirt_kinds = generated
        .dirt
        .iter()
        .map(|e| e.kind)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if json {
        let out = serde_json::json!({
            "demo": dir.display().to_string(),
            "export": export.display().to_string(),
            "workspace": root.display().to_string(),
            "source_rows": source_rows,
            "landed_rows": landed,
            "quarantined_rows": m.quarantine.rows,
            "pending_sync": m.pending_sync.ids.len(),
            "staged_current_records": current,
            "stg_rows": transformed.stg_tables.values().sum::<u64>(),
            "stg_tables": transformed.stg_tables.len(),
            "open_errors": validated.errors,
            "warnings": validated.warnings,
            "reviews": validated.reviews,
            "reports": reports.iter().map(|r| r.html.display().to_string()).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("summary serializes")
        );
    } else {
        println!("ferry demo — {}", dir.display());
        println!("  export     {} ({source_rows} rows in 16 objects, {dirt_kinds} kinds of dirt listed in dirt.json)", export.display());
        println!("  workspace  {}", root.display());
        println!("  extract    {} landed, {} quarantined (see raw._quarantine), {} work orders pending offline sync", landed, m.quarantine.rows, m.pending_sync.ids.len());
        println!(
            "  staged     {current} current records in raw.* of {}",
            ws.database_path().display()
        );
        println!(
            "  stg        {} rows in {} Dataverse-shaped tables (stg.*), from {} transform files",
            transformed.stg_tables.values().sum::<u64>(),
            transformed.stg_tables.len(),
            transformed.files.len()
        );
        println!(
            "  validate   {} open errors, {} warnings, {} for review in \"check\".findings",
            validated.errors, validated.warnings, validated.reviews
        );
        for report in &reports {
            println!("  report     {}", report.html.display());
        }
        println!();
        println!("  try: cargo run --release -- --workspace {} sql \"SELECT object, reason, count(*) FROM raw._quarantine GROUP BY ALL\"", root.display());
        println!("  try: cargo run --release -- --workspace {} sql \"SELECT rule, severity, count(*) FROM \\\"check\\\".findings GROUP BY ALL ORDER BY 3 DESC\"", root.display());
        println!("  not built yet: mapping sign-off, the Dataverse emulator, push, verify and reconcile.");
    }
    Ok(Outcome::Ok)
}

/// Empties a previous demo's folder; refuses any other non-empty folder.
fn prepare_folder(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_previous_demo = dir.join(DEMO_MARKER).is_file();
        let is_empty = dir.read_dir().at(dir)?.next().is_none();
        if is_previous_demo {
            std::fs::remove_dir_all(dir).at(dir)?;
        } else if !is_empty {
            return Err(Error::input(
                dir,
                "the folder exists and was not made by `ferry demo`",
                "pass another folder: `ferry demo DIR`",
            ));
        }
    }
    std::fs::create_dir_all(dir).at(dir)?;
    std::fs::write(
        dir.join(DEMO_MARKER),
        "made by `ferry demo`; the next demo in this folder replaces it\n",
    )
    .at(dir.join(DEMO_MARKER))
}
