//! `ferry extract` with `source.kind = "api"`: pages every object of the
//! ServiceTracker REST API into the extract's spool (resumable, see
//! [`super::api_spool`]), downloads attachments, then lands the spool
//! through the same lander as the CSV path — so the same export lands the
//! same rows, with the same `_row_hash`, whichever way it was read.
//!
//! Failure while fetching keeps `<id>.partial` with its checkpoints: the
//! next `ferry extract` with the same source (and `--since`) continues it.
//! Failure while landing (rows not conserved) renames it `<id>.failed`, as
//! the CSV path does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use crate::error::{Error, IoContext, Result};
use crate::landing::api_spool::{spooled_pages, Checkpoint, Spool, SpoolState, SPOOL_DIR};
use crate::landing::delta::{DeltaFilter, History, SinceArg};
use crate::landing::extract::{
    land_in_parallel, micros_to_rfc3339, now_rfc3339, Delta, ExtractFolder, ExtractOptions,
    ExtractReport, ExtractTimings, LandedObject,
};
use crate::landing::finish::{self, Landed, Provenance};
use crate::landing::lander::{DeletionLander, ObjectLander, SharedQuarantine, TimeBasis};
use crate::landing::manifest::{DeletedManifest, Manifest, ObjectManifest, SourceInfo};
use crate::landing::writer::QuarantineWriter;
use crate::landing::{DELETED_FILE, PARTIAL_SUFFIX, QUARANTINE_FILE};
use crate::source::api::{ApiClient, ApiKey};
use crate::source::api_records::{flatten, record_for, ColumnDiscovery};
use crate::source::csv_export::AttachmentContent;
use crate::source::schema;

/// Where and how to read the API.
#[derive(Debug, Clone)]
pub struct ApiSource {
    pub url: String,
    pub key: ApiKey,
    /// The environment variable the key came from, for messages.
    pub key_env: String,
    pub page_size: usize,
    pub parallel_downloads: usize,
}

/// Lands the API's data into `landing/<extract_id>/`: everything without
/// `since`, a delta with it.
pub fn extract_api(
    landing: &Path,
    source: &ApiSource,
    opts: &ExtractOptions,
    since: Option<&SinceArg>,
) -> Result<ExtractReport> {
    let clock = std::time::Instant::now();
    let client = Arc::new(ApiClient::new(
        &source.url,
        source.key.clone(),
        &source.key_env,
    )?);
    let delta = match since {
        Some(arg) => {
            let history = History::scan(landing)?;
            let since = history.resolve(arg, landing)?;
            Some(Delta { history, since })
        }
        None => None,
    };
    let state = SpoolState {
        source: client.location(),
        since: delta.as_ref().map(|d| d.since.rfc3339()),
        page_size: source.page_size,
    };
    let (folder, spool) = match resumable(landing, &state)? {
        Some(folder) => {
            eprintln!(
                "resuming extract {} from its checkpoints ({}{PARTIAL_SUFFIX})",
                folder.id, folder.id
            );
            let spool = Spool::at(&folder.path);
            (folder, spool)
        }
        None => {
            let folder = ExtractFolder::reserve(landing)?;
            let spool = Spool::create(&folder.path, &state)?;
            (folder, spool)
        }
    };

    let mut timings = ExtractTimings::default();
    let spool = Arc::new(spool);
    let fetched = crate::runtime::block_on(fetch_everything(
        client.clone(),
        spool.clone(),
        &state,
        source.parallel_downloads,
        opts.parallel_objects,
    ))?;
    let checkpoints = match fetched {
        Ok(checkpoints) => checkpoints,
        Err(e) => {
            eprintln!(
                "the extract stopped while reading the API; what was fetched is kept in landing/{}{PARTIAL_SUFFIX}: \
                 run `ferry extract` again (same --since) to continue from there",
                folder.id
            );
            return Err(e);
        }
    };
    timings.objects_seconds = clock.elapsed().as_secs_f64();
    tracing::debug!(
        requests = client
            .counters
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        throttled = client
            .counters
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed),
        seconds = timings.objects_seconds,
        "fetched"
    );

    let written = land_spool(
        &spool,
        &checkpoints,
        &folder,
        opts,
        delta.as_ref(),
        &client,
        &mut timings,
    );
    if written.is_ok() {
        // The spool is only needed to resume; a landed extract is final.
        spool.remove()?;
    }
    let missing_objects = schema::OBJECTS
        .iter()
        .map(|o| o.name)
        .filter(|name| checkpoints.get(*name).is_some_and(|c| c.missing))
        .collect();
    finish::conclude(folder, written, clock, missing_objects, delta, timings)
}

/// The `.partial` extract a previous run left for the same source, since
/// and page size, if any (the newest one).
fn resumable(landing: &Path, state: &SpoolState) -> Result<Option<ExtractFolder>> {
    let Ok(entries) = std::fs::read_dir(landing) else {
        return Ok(None);
    };
    let mut candidates: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(PARTIAL_SUFFIX))
        .filter(|name| {
            Spool::at(&landing.join(name))
                .state()
                .is_some_and(|s| &s == state)
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some(name) => {
            let id = name.trim_end_matches(PARTIAL_SUFFIX).to_string();
            Ok(Some(ExtractFolder::resume(landing, &id)))
        }
        None => Ok(None),
    }
}

/// Every object (bounded concurrency), then every attachment's content.
async fn fetch_everything(
    client: Arc<ApiClient>,
    spool: Arc<Spool>,
    state: &SpoolState,
    parallel_downloads: usize,
    parallel_objects: usize,
) -> Result<BTreeMap<String, Checkpoint>> {
    let progress = Arc::new(crate::progress::rows("fetch"));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel_objects.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for object in schema::OBJECTS.iter().map(|o| o.name) {
        let (client, spool, state) = (client.clone(), spool.clone(), state.clone());
        let (semaphore, progress) = (semaphore.clone(), progress.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("never closed");
            let on_records = move |n: u64| progress.inc(n);
            let checkpoint = spool
                .fetch_object(&client, object, &state, &on_records)
                .await?;
            Ok::<_, Error>((object.to_string(), checkpoint))
        });
    }
    let mut checkpoints = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("fetch tasks do not panic") {
            Ok((object, checkpoint)) => {
                checkpoints.insert(object, checkpoint);
            }
            Err(e) => {
                tasks.abort_all();
                progress.finish_and_clear();
                return Err(e);
            }
        }
    }
    progress.finish_and_clear();

    let ids = match checkpoints.get("attachments") {
        Some(checkpoint) if !checkpoint.missing => attachment_ids(&spool, checkpoint)?,
        _ => Vec::new(),
    };
    let progress = Arc::new(crate::progress::rows("attachments"));
    let on_done = {
        let progress = progress.clone();
        Arc::new(move |n: u64| progress.inc(n))
    };
    let fetched = spool
        .fetch_attachments(&client, ids, parallel_downloads, on_done)
        .await;
    progress.finish_and_clear();
    fetched?;
    Ok(checkpoints)
}

/// The ids of every spooled attachment record.
fn attachment_ids(spool: &Spool, checkpoint: &Checkpoint) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for page in spooled_pages(spool, "attachments", checkpoint) {
        for record in read_page(&page)? {
            if let Ok(fields) = flatten(&record) {
                if let Some(Some(id)) = fields.get("id") {
                    ids.push(id.clone());
                }
            }
        }
    }
    Ok(ids)
}

fn read_page(path: &Path) -> Result<Vec<Box<RawValue>>> {
    let bytes = std::fs::read(path).at(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(
            path,
            format!("a spooled page is damaged ({e})"),
            format!(
                "delete the extract's {SPOOL_DIR} folder (or the whole .partial folder) and extract again"
            ),
        )
    })
}

fn land_spool(
    spool: &Spool,
    checkpoints: &BTreeMap<String, Checkpoint>,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    client: &ApiClient,
    timings: &mut ExtractTimings,
) -> Result<Manifest> {
    let started_at = now_rfc3339();
    let clock = std::time::Instant::now();
    let quarantine: SharedQuarantine = Mutex::new(QuarantineWriter::create(
        &folder.path.join(QUARANTINE_FILE),
    )?);
    // Objects land in parallel, largest first, as on the CSV path.
    let mut queue: Vec<(&String, &Checkpoint)> =
        checkpoints.iter().filter(|(_, c)| !c.missing).collect();
    queue.sort_by_key(|(_, c)| std::cmp::Reverse(c.bytes));
    let landed = land_in_parallel(
        &queue,
        opts.parallel_objects,
        "land",
        |(object, checkpoint), on_rows| {
            let filter = delta.map(|d| d.filter_for(object)).transpose()?;
            let landed = land_object(spool, object, checkpoint, folder, opts, filter, &quarantine)?;
            on_rows(checkpoint.records);
            Ok(landed)
        },
    )?;
    let (deleted_file, deleted_stats, deleted_rows) =
        land_deletions(spool, checkpoints, folder, opts, delta, &quarantine)?;
    let conserved = conserve(checkpoints, &landed)?;
    timings.objects_seconds += clock.elapsed().as_secs_f64();
    let accounted = deleted_stats.landed + deleted_stats.quarantined + deleted_stats.unchanged;
    if accounted != deleted_rows {
        return Err(Error::Remote(format!(
            "deletions are not conserved: ServiceTracker reported {deleted_rows} but {accounted} were accounted for"
        )));
    }
    let deleted = DeletedManifest {
        file: deleted_file,
        source_file: None,
        source_sha256: None,
        source_rows: deleted_rows,
        landed_rows: deleted_stats.landed,
        quarantined_rows: deleted_stats.quarantined,
        unchanged_rows: deleted_stats.unchanged,
        newest_deleted_at: deleted_stats.newest_micros.map(micros_to_rfc3339),
    };
    finish::write_manifest(
        folder,
        opts,
        delta,
        Provenance {
            source: SourceInfo {
                kind: "api".into(),
                location: client.location(),
            },
            exported_at: None,
            timezone: None,
        },
        Landed {
            started_at,
            objects: &landed,
            conserved,
            deleted,
            quarantine,
        },
        &|id: &str| match spool.attachment(id) {
            Some(bytes) => AttachmentContent::Found {
                stored_name: id.to_string(),
                bytes,
            },
            None => AttachmentContent::Missing(format!(
                "ServiceTracker has no content for attachment {id} (404)"
            )),
        },
        timings,
    )
}

/// Two passes over the spooled pages: discover and type the columns, then
/// land every record.
fn land_object(
    spool: &Spool,
    object: &str,
    checkpoint: &Checkpoint,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    filter: Option<DeltaFilter>,
    quarantine: &SharedQuarantine,
) -> Result<LandedObject> {
    let pages = spooled_pages(spool, object, checkpoint);
    let mut discovery = ColumnDiscovery::default();
    for page in &pages {
        for record in read_page(page)? {
            if let Ok(fields) = flatten(&record) {
                discovery.observe(object, &fields);
            }
        }
    }
    let plan = discovery.plan(object);
    let path = folder.path.join(format!("{object}.parquet"));
    let mut lander = ObjectLander::create(
        object,
        plan.clone(),
        &path,
        opts.batch_rows,
        TimeBasis::Offset,
        quarantine,
    )?;
    if let Some(filter) = filter {
        lander = lander.with_delta(filter);
    }
    for page in &pages {
        for record in read_page(page)? {
            let raw = || record.get().as_bytes().to_vec();
            match flatten(&record) {
                Ok(fields) => lander.land(&record_for(&plan, fields), None, raw)?,
                Err(reason) => lander.reject(None, None, None, reason, raw())?,
            }
        }
    }
    let columns = lander.column_infos();
    let (file, stats) = lander.finish()?;
    Ok(LandedObject {
        name: object.to_string(),
        file,
        stats,
        columns,
    })
}

/// The deletions every object reported, and how many there were.
fn land_deletions(
    spool: &Spool,
    checkpoints: &BTreeMap<String, Checkpoint>,
    folder: &ExtractFolder,
    opts: &ExtractOptions,
    delta: Option<&Delta>,
    quarantine: &SharedQuarantine,
) -> Result<(
    crate::landing::manifest::FileEntry,
    crate::landing::lander::DeletionStats,
    u64,
)> {
    let mut lander = DeletionLander::create(
        &folder.path.join(DELETED_FILE),
        opts.batch_rows,
        TimeBasis::Offset,
        quarantine,
    )?;
    if let Some(delta) = delta {
        lander = lander.with_delta(DeltaFilter {
            since_micros: delta.since.micros,
            already_landed: delta.history.landed_deletions(delta.since.micros)?,
        });
    }
    let mut rows = 0u64;
    for object in checkpoints.keys() {
        for deletion in spool.deleted(object)? {
            rows += 1;
            let raw = || serde_json::to_vec(&deletion).expect("deletions serialize");
            lander.land(
                object.as_bytes(),
                deletion.id.as_bytes(),
                deletion.deleted_at.as_bytes(),
                None,
                raw,
            )?;
        }
    }
    let (file, stats) = lander.finish()?;
    Ok((file, stats, rows))
}

/// Records the API served = landed + quarantined + unchanged, per object.
fn conserve(
    checkpoints: &BTreeMap<String, Checkpoint>,
    landed: &BTreeMap<String, LandedObject>,
) -> Result<BTreeMap<String, ObjectManifest>> {
    let mut objects = BTreeMap::new();
    let mut broken = Vec::new();
    for (name, object) in landed {
        let served = checkpoints[name].records;
        let stats = &object.stats;
        let accounted = stats.landed + stats.quarantined + stats.unchanged;
        if accounted != served {
            broken.push(format!(
                "{name}: ServiceTracker served {served} records but {accounted} were accounted for ({} landed + {} quarantined + {} unchanged)",
                stats.landed, stats.quarantined, stats.unchanged
            ));
        }
        objects.insert(
            name.clone(),
            ObjectManifest {
                file: object.file.clone(),
                source_file: None,
                source_sha256: None,
                source_rows: served,
                landed_rows: stats.landed,
                quarantined_rows: stats.quarantined,
                unchanged_rows: stats.unchanged,
                watermark: stats.watermark_micros.map(micros_to_rfc3339),
                columns: object.columns.clone(),
                ambiguous_local_times: stats.ambiguous_local_times,
            },
        );
    }
    if broken.is_empty() {
        Ok(objects)
    } else {
        Err(Error::Remote(format!(
            "records are not conserved:\n  {}",
            broken.join("\n  ")
        )))
    }
}
