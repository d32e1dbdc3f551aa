//! What the CSV extract and the API extract do once their objects and
//! deletions are landed and their counts conserved: land the attachment
//! contents, close the quarantine, write the manifest (watermark, pending
//! sync, mode and since), and then either rename the folder to its final
//! name or keep it as failed. Both sources end an extract this one way, so
//! `ferry stage` and the delta history read the same thing from either.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::Result;
use crate::landing::extract::{
    empty_attachments, land_attachment_contents, micros_to_rfc3339, now_rfc3339, Delta,
    ExtractFolder, ExtractOptions, ExtractReport, ExtractTimings, LandedObject,
};
use crate::landing::lander::SharedQuarantine;
use crate::landing::manifest::{
    AttachmentsManifest, DeletedManifest, ExtractMode, Manifest, ObjectManifest, PendingSync,
    SourceInfo, FORMAT_VERSION,
};
use crate::landing::{ATTACHMENTS_FILE, MANIFEST_FILE};
use crate::source::csv_export::AttachmentContent;

/// Where the data came from, as the manifest records it.
pub(crate) struct Provenance {
    pub(crate) source: SourceInfo,
    /// When the source says it was exported (a CSV export does, the API not).
    pub(crate) exported_at: Option<String>,
    /// The time zone the source's local times are in, when it says.
    pub(crate) timezone: Option<String>,
}

/// What an extract has landed when it is ready to be finished.
pub(crate) struct Landed<'a> {
    pub(crate) started_at: String,
    pub(crate) objects: &'a BTreeMap<String, LandedObject>,
    /// The per-object manifest entries, counts already conserved.
    pub(crate) conserved: BTreeMap<String, ObjectManifest>,
    pub(crate) deleted: DeletedManifest,
    pub(crate) quarantine: SharedQuarantine,
}

/// Lands the attachments' contents (`content_of` reads one from the export
/// folder or the API spool), closes the quarantine and writes the manifest.
pub(crate) fn write_manifest(
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    provenance: Provenance,
    landed: Landed<'_>,
    content_of: &dyn Fn(&str) -> AttachmentContent,
    timings: &mut ExtractTimings,
) -> Result<Manifest> {
    let clock = Instant::now();
    let mut quarantine = landed
        .quarantine
        .into_inner()
        .expect("landing threads finished");
    let (attachments, attachment_problems) = match landed.objects.get("attachments") {
        Some(landed_attachments) => land_attachment_contents(
            &folder.path.join(&landed_attachments.file.file),
            content_of,
            &folder.path.join(ATTACHMENTS_FILE),
            &mut quarantine,
        )?,
        None => (empty_attachments(&folder.path.join(ATTACHMENTS_FILE))?, 0),
    };
    let quarantine_entry = quarantine.finish()?;
    timings.attachments_seconds = clock.elapsed().as_secs_f64();

    let watermark = landed
        .objects
        .values()
        .filter_map(|o| o.stats.watermark_micros)
        .max()
        .map(micros_to_rfc3339);
    let pending_ids = landed
        .objects
        .get("work_orders")
        .map(|o| o.stats.pending_sync_ids.clone())
        .unwrap_or_default();
    let manifest = Manifest {
        format: FORMAT_VERSION,
        extract_id: folder.id.clone(),
        ferry_version: env!("CARGO_PKG_VERSION").to_string(),
        source: provenance.source,
        exported_at: provenance.exported_at,
        timezone: provenance.timezone,
        mode: if delta.is_some() {
            ExtractMode::Delta
        } else {
            ExtractMode::Full
        },
        since: delta.map(|d| d.since.rfc3339()),
        started_at: landed.started_at,
        finished_at: now_rfc3339(),
        watermark,
        objects: landed.conserved,
        quarantine: quarantine_entry,
        attachments: AttachmentsManifest {
            content_bytes: attachments.1,
            file: attachments.0,
            problems: attachment_problems,
        },
        pending_sync: PendingSync {
            ids: pending_ids,
            allowed: opts.allow_pending,
        },
        deleted: Some(landed.deleted),
    };
    manifest.write(&folder.path.join(MANIFEST_FILE))?;
    Ok(manifest)
}

/// Ends the extract: a written manifest renames the folder to its final
/// name and makes the report; a failure keeps what was written under the
/// failed name and is returned.
pub(crate) fn conclude(
    folder: ExtractFolder,
    written: Result<Manifest>,
    clock: Instant,
    missing_objects: Vec<&'static str>,
    delta: Option<Delta>,
    mut timings: ExtractTimings,
) -> Result<ExtractReport> {
    match written {
        Ok(manifest) => {
            let path = folder.complete()?;
            timings.total_seconds = clock.elapsed().as_secs_f64();
            Ok(ExtractReport {
                folder: path,
                manifest,
                missing_objects,
                since: delta.map(|d| d.since),
                timings,
            })
        }
        Err(e) => {
            let kept = folder.fail();
            tracing::warn!(
                "extract failed; what was written is kept in {}",
                kept.display()
            );
            Err(e)
        }
    }
}
