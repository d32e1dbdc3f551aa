//! `ferry extract`: the source lands in `landing/<extract_id>/` as Parquet,
//! with a manifest and a quarantine (SPEC §3, issue 2), and the offline-sync
//! gate: work orders still pending sync are listed and make the command exit
//! 1 unless `--allow-pending` is given.
//!
//! `--since last|<RFC 3339>` makes it a delta (SPEC §6): only records changed
//! since then land, with the deletions the source reported; the summary says
//! how many were unchanged.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use super::output;
use crate::landing::api_extract::{extract_api, ApiSource};
use crate::landing::delta::{SinceArg, SinceOrigin};
use crate::landing::extract::{extract_csv_since, ExtractOptions, ExtractReport};
use crate::source::api::ApiKey;
use crate::workspace::{SourceKind, Workspace};
use crate::{Outcome, Result};

/// How many pending ids are printed before the rest is summarized.
const PENDING_IDS_SHOWN: usize = 50;

pub fn run(
    ws: &Workspace,
    allow_pending: bool,
    since: Option<&str>,
    json: bool,
) -> Result<Outcome> {
    let since = since.map(SinceArg::parse).transpose()?;
    let opts = ExtractOptions {
        batch_rows: ws.config.extract.batch_rows,
        parallel_objects: ws.config.extract.parallel_objects,
        allow_pending,
    };
    let report = match ws.config.source.kind {
        SourceKind::Csv => extract_csv_since(
            &ws.landing_dir(),
            &ws.csv_source_dir()?,
            &opts,
            since.as_ref(),
        )?,
        SourceKind::Api => {
            let source = ApiSource {
                url: ws.api_source_url()?,
                key: ApiKey::new(ws.api_key()?),
                key_env: ws.config.source.api_key_env.clone(),
                page_size: ws.config.extract.page_size,
                parallel_downloads: ws.config.extract.parallel_downloads,
            };
            extract_api(&ws.landing_dir(), &source, &opts, since.as_ref())?
        }
    };
    for object in &report.missing_objects {
        eprintln!("note: the source holds no `{object}`");
    }
    let pending = &report.manifest.pending_sync.ids;
    if !pending.is_empty() {
        warn_pending(pending, allow_pending);
    }
    let out = serde_json::json!({
        "extract_id": report.manifest.extract_id,
        "folder": report.folder.display().to_string(),
        "mode": report.manifest.mode,
        "since": report.manifest.since,
        "since_from_extract": since_extract(&report),
        "landed_rows": report.manifest.objects.values().map(|o| o.landed_rows).sum::<u64>(),
        "unchanged_rows": report.manifest.objects.values().map(|o| o.unchanged_rows).sum::<u64>(),
        "quarantined_rows": report.manifest.quarantine.rows,
        "deleted_rows": report.manifest.deleted.as_ref().map_or(0, |d| d.landed_rows),
        "manifest": report.manifest,
        "timings": report.timings,
    });
    output::emit(json, &out, |_| print_summary(&report));
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

/// The extract whose watermark `--since last` continued from.
fn since_extract(report: &ExtractReport) -> Option<&str> {
    match &report.since.as_ref()?.origin {
        SinceOrigin::Watermark { extract_id } => Some(extract_id),
        SinceOrigin::Given => None,
    }
}

fn print_summary(report: &ExtractReport) {
    let m = &report.manifest;
    let delta = m.mode == crate::landing::manifest::ExtractMode::Delta;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["object", "source rows", "landed", "quarantined"];
    if delta {
        header.push("unchanged");
    }
    header.extend(["custom fields", "parquet bytes"]);
    table.set_header(header);
    for (name, o) in &m.objects {
        let custom = o
            .columns
            .iter()
            .filter(|c| c.origin != crate::landing::manifest::ColumnOrigin::Standard)
            .count();
        let right = |n: u64| Cell::new(n).set_alignment(CellAlignment::Right);
        let mut row = vec![
            Cell::new(name),
            right(o.source_rows),
            right(o.landed_rows),
            right(o.quarantined_rows),
        ];
        if delta {
            row.push(right(o.unchanged_rows));
        }
        row.extend([right(custom as u64), right(o.file.bytes)]);
        table.add_row(row);
    }
    match (delta, m.since.as_deref(), since_extract(report)) {
        (true, Some(since), Some(from)) => println!(
            "delta extract {} → {} (since {since}, the watermark of {from})",
            m.extract_id,
            report.folder.display()
        ),
        (true, Some(since), None) => println!(
            "delta extract {} → {} (since {since})",
            m.extract_id,
            report.folder.display()
        ),
        _ => println!("extract {} → {}", m.extract_id, report.folder.display()),
    }
    println!("{table}");
    println!(
        "quarantined rows: {} · attachments landed: {} ({} bytes, {} problems) · watermark: {}",
        m.quarantine.rows,
        m.attachments.file.rows,
        m.attachments.content_bytes,
        m.attachments.problems,
        m.watermark.as_deref().unwrap_or("-")
    );
    if let Some(d) = &m.deleted {
        let unchanged = if delta {
            format!(", {} unchanged", d.unchanged_rows)
        } else {
            String::new()
        };
        println!(
            "deletions: {} landed ({} reported by the source, {} quarantined{unchanged})",
            d.landed_rows, d.source_rows, d.quarantined_rows
        );
    }
}
