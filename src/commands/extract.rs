//! `ferry extract`: the source lands in `landing/<extract_id>/` as Parquet,
//! with a manifest and a quarantine (SPEC §3, issue 2), and the offline-sync
//! gate: work orders still pending sync are listed and make the command exit
//! 1 unless `--allow-pending` is given.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use crate::landing::extract::{extract_csv, ExtractOptions, ExtractReport};
use crate::workspace::{SourceKind, Workspace};
use crate::{Error, Outcome, Result};

/// How many pending ids are printed before the rest is summarized.
const PENDING_IDS_SHOWN: usize = 50;

pub fn run(ws: &Workspace, allow_pending: bool, json: bool) -> Result<Outcome> {
    let opts = ExtractOptions {
        batch_rows: ws.config.extract.batch_rows,
        parallel_objects: ws.config.extract.parallel_objects,
        allow_pending,
    };
    let report = match ws.config.source.kind {
        SourceKind::Csv => extract_csv(&ws.landing_dir(), &ws.csv_source_dir()?, &opts)?,
        SourceKind::Api => {
            return Err(Error::Usage(
                "source.kind = \"api\" is not supported by this build yet; export CSV from ServiceTracker and set source.kind = \"csv\"".into(),
            ))
        }
    };
    for object in &report.missing_objects {
        eprintln!("note: the source holds no `{object}`");
    }
    let pending = &report.manifest.pending_sync.ids;
    if !pending.is_empty() {
        warn_pending(pending, allow_pending);
    }
    if json {
        let out = serde_json::json!({
            "extract_id": report.manifest.extract_id,
            "folder": report.folder.display().to_string(),
            "manifest": report.manifest,
            "timings": report.timings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("report serializes")
        );
    } else {
        print_summary(&report);
    }
    Ok(if pending.is_empty() || allow_pending {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

fn warn_pending(ids: &[String], allowed: bool) {
    eprintln!(
        "warning: {} work order(s) are still waiting for offline sync (sync_status = 'Pending'); \
         a migration must not start until the mobile app has synced them:",
        ids.len()
    );
    for id in ids.iter().take(PENDING_IDS_SHOWN) {
        eprintln!("  {id}");
    }
    if ids.len() > PENDING_IDS_SHOWN {
        eprintln!(
            "  … and {} more (all are listed in the extract's _manifest.json under pending_sync)",
            ids.len() - PENDING_IDS_SHOWN
        );
    }
    if !allowed {
        eprintln!("the data is landed; sync the devices and extract again, or pass --allow-pending to accept it (exit 1)");
    }
}

fn print_summary(report: &ExtractReport) {
    let m = &report.manifest;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "object",
        "source rows",
        "landed",
        "quarantined",
        "custom fields",
        "parquet bytes",
    ]);
    for (name, o) in &m.objects {
        let custom = o
            .columns
            .iter()
            .filter(|c| c.origin != crate::landing::manifest::ColumnOrigin::Standard)
            .count();
        table.add_row(vec![
            Cell::new(name),
            Cell::new(o.source_rows).set_alignment(CellAlignment::Right),
            Cell::new(o.landed_rows).set_alignment(CellAlignment::Right),
            Cell::new(o.quarantined_rows).set_alignment(CellAlignment::Right),
            Cell::new(custom).set_alignment(CellAlignment::Right),
            Cell::new(o.file.bytes).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("extract {} → {}", m.extract_id, report.folder.display());
    println!("{table}");
    println!(
        "quarantined rows: {} · attachments landed: {} ({} bytes, {} problems) · watermark: {}",
        m.quarantine.rows,
        m.attachments.file.rows,
        m.attachments.content_bytes,
        m.attachments.problems,
        m.watermark.as_deref().unwrap_or("-")
    );
}
