//! The loader's engine: one step at a time, one window of records at a
//! time, in four phases (SPEC §6):
//!
//! 1. read which of the window's ids exist, with the columns the step
//!    writes (one request per chunk; this is also the pre-image);
//! 2. decide create / update / unchanged, and record the writes about to be
//!    sent (intents + pre-images) in one DuckDB transaction;
//! 3. send the writes, chunks in parallel (CreateMultiple, UpdateMultiple,
//!    `$batch` for `CloseIncident` and N:N links); a chunk Dataverse
//!    refuses is split until the bad records are isolated;
//! 4. record every outcome and clear the intents in one transaction.
//!
//! A kill between 2 and 4 leaves intents: the next run reads the ids again
//! and an id it meant to create that now exists is one *it* created — that
//! is what makes rollback after a resumed push exact. Ids are
//! deterministic, so a write the client retried after it was applied meets
//! "duplicate record" and is resolved the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit::{self, Intent, RecordOutcome};
use super::rows::{self, Cell, Context, Desired, Window};
use crate::dataverse::client::{
    BatchRequest, DataverseClient, DvClientError, DvResult, MAX_PAGE_SIZE,
};
use crate::error::Result;
use crate::plan::estimate::{read_chunk, MAX_REQUEST_BYTES};
use crate::plan::steps::{step_filter, Step, StepKind};

/// Dataverse's "duplicate record" code: a create met an existing id, or a
/// link that is already there.
pub const DUPLICATE_RECORD: &str = "0x80040237";
/// Counters of one step.
#[derive(Default)]
pub struct Counts {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

/// Why one record could not be written.
#[derive(Debug, Clone)]
struct Fail {
    status: Option<u16>,
    code: String,
    message: String,
}

impl Fail {
    fn from_error(e: &DvClientError) -> Fail {
        match e {
            DvClientError::Remote {
                status,
                code,
                message,
                ..
            } => Fail {
                status: Some(*status),
                code: code.clone(),
                message: message.clone(),
            },
            other => Fail {
                status: None,
                code: String::new(),
                message: other.to_string(),
            },
        }
    }
}

/// What happened to one record in phase 3.
enum Written {
    Ok,
    /// The write met the record already there (or the link already made).
    AlreadyThere,
    Failed(Fail),
}

/// Groups records into requests of at most `batch` records and
/// [`MAX_REQUEST_BYTES`] bytes, in order. The estimate uses the same rule.
pub fn chunk_bounds(sizes: &[usize], batch: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && (i - start >= batch || bytes + size > MAX_REQUEST_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Runs one step to the end (or to the first error that stops the push).
pub struct StepRun<'a> {
    pub client: &'a DataverseClient,
    pub runtime: &'a tokio::runtime::Runtime,
    pub run: i32,
    pub batch: usize,
    pub concurrency: usize,
    pub sampled: bool,
    pub counts: Counts,
    pub org_url: String,
}

impl StepRun<'_> {
    pub fn run(
        &self,
        conn: &mut duckdb::Connection,
        ctx: &Context,
        duck_types: &BTreeMap<String, String>,
        progress: &indicatif::ProgressBar,
    ) -> Result<()> {
        let step = ctx.step;
        let key = step.key();
        let prior_intents = audit::pending_intents(conn, self.run, key, &step.table)?;
        let mut after = audit::resume_cursor(conn, self.run, key, &step.table)?;
        let filter = step_filter(step, duck_types);
        let mut dop = self.concurrency.max(1);
        loop {
            let window_rows = dop * self.batch * 2;
            let mut rows = rows::fetch(
                conn,
                ctx,
                duck_types,
                &Window {
                    after,
                    limit: window_rows,
                    sampled: self.sampled,
                    extra_filter: filter.as_deref(),
                },
            )?;
            if rows.is_empty() {
                return Ok(());
            }
            if step.kind == StepKind::Records && duck_types.contains_key("activityid") {
                rows::attach_parties(conn, ctx, &mut rows, after)?;
            }
            let next_after = rows.iter().map(|d| d.guid).max();
            let throttled_before = self.client.stats().throttled_for_load;
            let outcomes = if step.kind == StepKind::Associate {
                self.associate_window(conn, ctx, &rows, &prior_intents, dop)?
            } else {
                self.records_window(conn, ctx, &rows, &prior_intents, dop)?
            };
            let substitutions: Vec<_> = rows
                .iter()
                .flat_map(|d| {
                    d.substitutions
                        .iter()
                        .map(|s| (d.guid, d.record_id.clone(), s.clone()))
                })
                .collect();
            audit::record_outcomes(conn, self.run, key, &step.table, &outcomes, &substitutions)?;
            progress.inc(rows.len() as u64);
            after = next_after;
            // Adaptive concurrency (SPEC §6 Throttling): back off on 429s
            // for concurrency or execution time, otherwise grow towards the
            // org's recommendation. Request-count 429s are the client's
            // pacer's business: fewer workers would not send fewer requests.
            let hint = self.client.dop_hint().unwrap_or(self.concurrency).max(1);
            if self.client.stats().throttled_for_load > throttled_before {
                dop = (dop / 2).max(1);
            } else if dop < hint {
                dop += 1;
            } else {
                dop = hint;
            }
        }
    }

    /// Phases 1–3 for a window of records (records, deferred, state steps).
    fn records_window(
        &self,
        conn: &mut duckdb::Connection,
        ctx: &Context,
        rows: &[Desired],
        prior_intents: &HashMap<(Uuid, Option<Uuid>), String>,
        dop: usize,
    ) -> Result<Vec<RecordOutcome>> {
        let step = ctx.step;
        // Phase 1: which ids exist, with their current values.
        let ids: Vec<Uuid> = rows.iter().map(|d| d.guid).collect();
        let current = self.runtime.block_on(self.read_existing(step, &ids, dop))?;
        // Phase 2: decide.
        let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; rows.len()];
        let mut creates: Vec<(usize, Map<String, Value>)> = Vec::new();
        let mut updates: Vec<(usize, Map<String, Value>)> = Vec::new();
        let mut closes: Vec<(usize, i64)> = Vec::new();
        let mut intents = Vec::new();
        for (i, d) in rows.iter().enumerate() {
            let prior = prior_intents.get(&(d.guid, None)).map(String::as_str);
            if let Some((code, message)) = &d.problem {
                outcomes[i] = Some(outcome(d, "failed", None, Some(code), Some(message), None));
                continue;
            }
            match current.get(&d.guid) {
                None if step.kind == StepKind::Records => {
                    let payload = ctx.create_payload(d);
                    intents.push(Intent {
                        guid: d.guid,
                        related: None,
                        action: "create",
                        preimage: None,
                    });
                    creates.push((i, payload));
                }
                None => {
                    outcomes[i] = Some(outcome(
                        d,
                        "failed",
                        Some(404),
                        Some("ferry:not_in_target"),
                        Some("the record is not in the target, so this step cannot set it: its create failed (see the records step of this table in audit.records)"),
                        None,
                    ));
                }
                Some(cur) => {
                    let (changed, owner_changed) = ctx.differences(d, cur);
                    if changed.is_empty() && !owner_changed {
                        let op = match prior {
                            Some("create") => "created",
                            Some("update") => "updated",
                            _ => "unchanged",
                        };
                        outcomes[i] = Some(outcome(d, op, None, None, None, None));
                        continue;
                    }
                    let preimage = preimage_of(step, cur, &changed, owner_changed);
                    let close_to = (step.kind == StepKind::State && step.table == "incident")
                        .then(|| resolved_status(step, d))
                        .flatten();
                    intents.push(Intent {
                        guid: d.guid,
                        related: None,
                        action: if prior == Some("create") {
                            "create"
                        } else {
                            "update"
                        },
                        // A resumed update keeps the pre-image recorded the
                        // first time: the target now holds ferry's values.
                        preimage: (prior.is_none()).then_some(preimage),
                    });
                    match close_to {
                        Some(status) => closes.push((i, status)),
                        None => updates.push((i, ctx.update_payload(d, &changed, owner_changed))),
                    }
                }
            }
        }
        audit::record_intents(conn, self.run, step.key(), &step.table, &intents)?;
        // Phase 3: write.
        let written = self.runtime.block_on(async {
            let mut jobs: Vec<ChunkJob<'_>> = Vec::new();
            let sizes: Vec<usize> = creates.iter().map(|(i, _)| rows[*i].bytes).collect();
            for range in chunk_bounds(&sizes, self.batch) {
                jobs.push(Box::pin(self.create_chunk(step, creates[range].to_vec())));
            }
            let sizes: Vec<usize> = updates.iter().map(|(i, _)| rows[*i].bytes).collect();
            for range in chunk_bounds(&sizes, self.batch) {
                jobs.push(Box::pin(self.update_chunk(step, updates[range].to_vec())));
            }
            for chunk in closes.chunks(crate::dataverse::client::MAX_BATCH_REQUESTS) {
                let chunk: Vec<(usize, Uuid, i64)> =
                    chunk.iter().map(|(i, s)| (*i, rows[*i].guid, *s)).collect();
                jobs.push(Box::pin(self.close_incidents(step, chunk)));
            }
            let results: Vec<DvResult<Vec<(usize, Written)>>> =
                stream::iter(jobs).buffer_unordered(dop).collect().await;
            let mut all = Vec::new();
            for r in results {
                all.extend(r?);
            }
            Ok::<_, DvClientError>(all)
        })?;
        let hashes: HashMap<usize, String> = creates
            .iter()
            .chain(updates.iter())
            .map(|(i, p)| (*i, payload_hash(p)))
            .collect();
        let created: std::collections::HashSet<usize> = creates.iter().map(|(i, _)| *i).collect();
        for (i, w) in written {
            let d = &rows[i];
            let prior = prior_intents.get(&(d.guid, None)).map(String::as_str);
            let hash = hashes.get(&i).cloned();
            outcomes[i] = Some(match w {
                Written::Ok | Written::AlreadyThere => {
                    let op = if created.contains(&i) || prior == Some("create") {
                        "created"
                    } else {
                        "updated"
                    };
                    outcome(d, op, None, None, None, hash)
                }
                Written::Failed(f) => {
                    outcome(d, "failed", f.status, Some(&f.code), Some(&f.message), hash)
                }
            });
        }
        Ok(or_unanswered(outcomes, rows))
    }

    /// N:N links: `$batch` of `$ref` POSTs; a link already there is fine.
    fn associate_window(
        &self,
        conn: &mut duckdb::Connection,
        ctx: &Context,
        rows: &[Desired],
        prior_intents: &HashMap<(Uuid, Option<Uuid>), String>,
        dop: usize,
    ) -> Result<Vec<RecordOutcome>> {
        let step = ctx.step;
        let intents: Vec<Intent> = rows
            .iter()
            .map(|d| Intent {
                guid: d.guid,
                related: d.related,
                action: "create",
                preimage: None,
            })
            .collect();
        audit::record_intents(conn, self.run, step.key(), &step.table, &intents)?;
        let [(_, _, set1), (_, _, set2)] = step.sides.clone().expect("associate step has sides");
        let written = self.runtime.block_on(async {
            let jobs = rows
                .chunks(crate::dataverse::client::MAX_BATCH_REQUESTS)
                .enumerate()
                .map(|(n, chunk)| {
                    let base = n * crate::dataverse::client::MAX_BATCH_REQUESTS;
                    let parts: Vec<BatchRequest> = chunk
                        .iter()
                        .map(|d| {
                            BatchRequest::new(
                                Method::POST,
                                format!("{set1}({})/{}/$ref", ctx.remap(d.guid), step.table),
                                Some(json!({
                                    "@odata.id": format!(
                                        "{}/api/data/v9.2/{set2}({})",
                                        self.org_url.trim_end_matches('/'),
                                        d.related.map(|r| ctx.remap(r)).unwrap_or_default()
                                    )
                                })),
                            )
                        })
                        .collect();
                    async move {
                        self.counts.writes.fetch_add(1, Ordering::Relaxed);
                        let batch = self.client.send_batch_resent(&parts, false, true).await?;
                        let resent = batch.resent_after_possible_write;
                        Ok::<_, DvClientError>(
                            batch
                                .answers
                                .into_iter()
                                .enumerate()
                                .map(|(k, a)| (base + k, batch_written(&a), resent))
                                .collect::<Vec<_>>(),
                        )
                    }
                });
            let results: Vec<DvResult<Vec<(usize, Written, bool)>>> =
                stream::iter(jobs).buffer_unordered(dop).collect().await;
            let mut all = Vec::new();
            for r in results {
                all.extend(r?);
            }
            Ok::<_, DvClientError>(all)
        })?;
        // A link answered "duplicate" is this run's own when an earlier
        // attempt of it may have been applied: an interrupted process (its
        // intent is still open) or a batch re-sent after a 5xx or dropped
        // connection — unless an earlier push run made it. Recording it as
        // created is what lets rollback unlink it.
        let earlier_runs = audit::links_created_before(conn, self.run, &step.table)?;
        let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; rows.len()];
        for (i, w, resent) in written {
            let Some(d) = rows.get(i) else { continue };
            let prior = prior_intents.get(&(d.guid, d.related)).map(String::as_str);
            let made_by_earlier_run = d
                .related
                .is_some_and(|r| earlier_runs.contains(&(d.guid, r)));
            outcomes[i] = Some(match w {
                Written::Ok => outcome(d, "created", None, None, None, None),
                Written::AlreadyThere
                    if !made_by_earlier_run && (prior == Some("create") || resent) =>
                {
                    outcome(d, "created", None, None, None, None)
                }
                Written::AlreadyThere => outcome(d, "unchanged", None, None, None, None),
                Written::Failed(f) => {
                    outcome(d, "failed", f.status, Some(&f.code), Some(&f.message), None)
                }
            });
        }
        Ok(or_unanswered(outcomes, rows))
    }

    /// Existence reads of `ids` in chunks of
    /// [`IDS_PER_READ`](crate::plan::estimate::IDS_PER_READ), in parallel.
    async fn read_existing(
        &self,
        step: &Step,
        ids: &[Uuid],
        dop: usize,
    ) -> DvResult<HashMap<Uuid, Map<String, Value>>> {
        let select = rows::select_list(step);
        let paths: Vec<String> = ids
            .chunks(read_chunk(self.batch))
            .map(|chunk| in_filter_path(step, &select, chunk))
            .collect();
        let reads = paths.into_iter().map(|path| async move {
            self.counts.reads.fetch_add(1, Ordering::Relaxed);
            self.client.get_all(&path, MAX_PAGE_SIZE).await
        });
        let pages: Vec<DvResult<Vec<Map<String, Value>>>> =
            stream::iter(reads).buffer_unordered(dop).collect().await;
        let mut out = HashMap::new();
        for page in pages {
            for row in page? {
                if let Some(id) = row
                    .get(&step.primary_id)
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                {
                    out.insert(id, row);
                }
            }
        }
        Ok(out)
    }

    /// CreateMultiple of one chunk. Standard tables roll back the whole
    /// request when one record fails (SPEC §9), so a refused chunk is split
    /// in halves until the failing records stand alone and the rest load.
    fn create_chunk<'s>(
        &'s self,
        step: &'s Step,
        rows: Vec<(usize, Map<String, Value>)>,
    ) -> BoxFuture<'s, DvResult<Vec<(usize, Written)>>> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let payloads: Vec<Map<String, Value>> = rows.iter().map(|(_, p)| p.clone()).collect();
            self.counts.writes.fetch_add(1, Ordering::Relaxed);
            match self
                .client
                .create_multiple(&step.entity_set, &step.table, &payloads)
                .await
            {
                Ok(_) => Ok(rows.into_iter().map(|(i, _)| (i, Written::Ok)).collect()),
                Err(e) if e.code() == Some(DUPLICATE_RECORD) => {
                    // Some ids exist now: a retried request had been applied
                    // (ids are ferry's, so they are these very records), or
                    // another process loaded them. Keep those, send the rest.
                    let mut ids: Vec<Uuid> = Vec::with_capacity(rows.len());
                    for (_, p) in &rows {
                        ids.extend(payload_id(step, p));
                    }
                    let existing = self.read_existing(step, &ids, 1).await?;
                    let mut out: Vec<(usize, Written)> = Vec::new();
                    let mut missing = Vec::new();
                    for (i, p) in rows {
                        match payload_id(step, &p) {
                            Some(id) if existing.contains_key(&id) => {
                                out.push((i, Written::AlreadyThere))
                            }
                            _ => missing.push((i, p)),
                        }
                    }
                    if !missing.is_empty() && out.is_empty() {
                        // Nothing was there, yet the org said duplicate: a
                        // record-level refusal; isolate it like any other.
                        out.extend(self.split_or_fail(step, missing, &e, true).await?);
                    } else {
                        out.extend(self.create_chunk(step, missing).await?);
                    }
                    Ok(out)
                }
                Err(e) if is_record_level(&e) => self.split_or_fail(step, rows, &e, true).await,
                Err(e) => Err(e),
            }
        })
    }

    fn update_chunk<'s>(
        &'s self,
        step: &'s Step,
        rows: Vec<(usize, Map<String, Value>)>,
    ) -> BoxFuture<'s, DvResult<Vec<(usize, Written)>>> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let payloads: Vec<Map<String, Value>> = rows.iter().map(|(_, p)| p.clone()).collect();
            self.counts.writes.fetch_add(1, Ordering::Relaxed);
            match self
                .client
                .update_multiple(&step.entity_set, &step.table, &payloads)
                .await
            {
                Ok(()) => Ok(rows.into_iter().map(|(i, _)| (i, Written::Ok)).collect()),
                Err(e) if is_record_level(&e) => self.split_or_fail(step, rows, &e, false).await,
                Err(e) => Err(e),
            }
        })
    }

    async fn split_or_fail(
        &self,
        step: &Step,
        mut rows: Vec<(usize, Map<String, Value>)>,
        e: &DvClientError,
        create: bool,
    ) -> DvResult<Vec<(usize, Written)>> {
        if rows.len() == 1 {
            return Ok(vec![(rows[0].0, Written::Failed(Fail::from_error(e)))]);
        }
        let second = rows.split_off(rows.len() / 2);
        let (a, b) = if create {
            futures::join!(
                self.create_chunk(step, rows),
                self.create_chunk(step, second)
            )
        } else {
            futures::join!(
                self.update_chunk(step, rows),
                self.update_chunk(step, second)
            )
        };
        let mut out = a?;
        out.extend(b?);
        Ok(out)
    }

    /// Resolved cases go through `CloseIncident` with an
    /// `incidentresolution` (SPEC §9 incident: statecode cannot be set to
    /// Resolved by an update), sent as a `$batch` that continues past a
    /// failing part.
    async fn close_incidents(
        &self,
        step: &Step,
        chunk: Vec<(usize, Uuid, i64)>,
    ) -> DvResult<Vec<(usize, Written)>> {
        let parts: Vec<BatchRequest> = chunk
            .iter()
            .map(|(_, id, status)| {
                BatchRequest::new(
                    Method::POST,
                    "CloseIncident",
                    Some(json!({
                        "IncidentResolution": {
                            "@odata.type": "Microsoft.Dynamics.CRM.incidentresolution",
                            "subject": "Resolved in ServiceTracker (migrated by ferry)",
                            "incidentid@odata.bind": format!("/{}({id})", step.entity_set),
                        },
                        "Status": status,
                    })),
                )
            })
            .collect();
        self.counts.writes.fetch_add(1, Ordering::Relaxed);
        let answers = self.client.send_batch(&parts, false, true).await?;
        let mut written: Vec<(usize, Written)> = chunk
            .iter()
            .enumerate()
            .map(|(k, (i, _, _))| {
                let w = answers.get(k).map_or_else(
                    || {
                        Written::Failed(Fail {
                            status: None,
                            code: "ferry:no_answer".into(),
                            message: "the $batch answer had no part for this case".into(),
                        })
                    },
                    batch_written,
                );
                (*i, w)
            })
            .collect();
        // A `$batch` the client sent again after its first attempt was
        // applied (a 5xx or dropped connection after the write) meets the
        // cases it closed as "not active". Phase 1 read them open, so a case
        // that is now resolved with the status asked for was closed by this
        // request: read them again rather than report a failure.
        let refused: Vec<Uuid> = written
            .iter()
            .zip(&chunk)
            .filter(|((_, w), _)| matches!(w, Written::Failed(_)))
            .map(|(_, (_, id, _))| *id)
            .collect();
        if !refused.is_empty() {
            let now = self.read_existing(step, &refused, 1).await?;
            for ((_, w), (_, id, status)) in written.iter_mut().zip(&chunk) {
                let closed = now.get(id).is_some_and(|row| {
                    row.get("statecode").and_then(Value::as_i64) == Some(1)
                        && row.get("statuscode").and_then(Value::as_i64) == Some(*status)
                });
                if closed && matches!(w, Written::Failed(_)) {
                    *w = Written::Ok;
                }
            }
        }
        Ok(written)
    }
}

fn batch_written(a: &crate::dataverse::client::BatchResponse) -> Written {
    match a.error() {
        None => Written::Ok,
        Some((code, _)) if code == DUPLICATE_RECORD => Written::AlreadyThere,
        Some((code, message)) => Written::Failed(Fail {
            status: Some(a.status),
            code,
            message,
        }),
    }
}

/// One bulk request in flight: the rows it carries and how each went.
type ChunkJob<'a> = BoxFuture<'a, DvResult<Vec<(usize, Written)>>>;

/// A refusal about the records themselves (a value, a missing parent),
/// as opposed to the org being unavailable: worth splitting the chunk.
fn is_record_level(e: &DvClientError) -> bool {
    matches!(e.status(), Some(s) if (400..500).contains(&s) && s != 401 && s != 403 && s != 429)
}

fn payload_id(step: &Step, p: &Map<String, Value>) -> Option<Uuid> {
    p.get(&step.primary_id)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// `accounts?$select=…&$filter=Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=[…])`
fn in_filter_path(step: &Step, select: &str, ids: &[Uuid]) -> String {
    let values: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!(
        "{}?$select={select}&$filter=Microsoft.Dynamics.CRM.In(PropertyName='{}',PropertyValues=[{}])",
        step.entity_set,
        step.primary_id,
        values.join(",")
    )
}

/// The status a resolved case closes with, or None when it is not resolved.
fn resolved_status(step: &Step, d: &Desired) -> Option<i64> {
    let value = |name: &str| {
        step.columns
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| match d.cells.get(i) {
                Some(Cell::Int(n)) => Some(*n),
                _ => None,
            })
    };
    (value("statecode") == Some(1)).then(|| value("statuscode").unwrap_or(5))
}

/// The changed columns as the target held them, as JSON.
fn preimage_of(
    step: &Step,
    current: &Map<String, Value>,
    changed: &[usize],
    owner: bool,
) -> String {
    let mut pre = Map::new();
    for &i in changed {
        let column = &step.columns[i];
        let name = rows::read_name(column);
        let mut v = current.get(&name).cloned().unwrap_or(Value::Null);
        if column.kind == crate::plan::steps::Kind::Lookup {
            // Which table the old value pointed at, for restoring it.
            let table = current
                .get(&format!("{name}@Microsoft.Dynamics.CRM.lookuplogicalname"))
                .cloned()
                .unwrap_or(Value::Null);
            v = json!({"id": v, "table": table});
        }
        pre.insert(column.name.clone(), v);
    }
    if owner {
        pre.insert(
            "ownerid".into(),
            json!({"id": current.get("_ownerid_value").cloned().unwrap_or(Value::Null), "table": "systemuser"}),
        );
    }
    Value::Object(pre).to_string()
}

fn payload_hash(p: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    h.update(Value::Object(p.clone()).to_string().as_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Every record's outcome; one the answers did not cover fails with a
/// reason rather than going unrecorded.
fn or_unanswered(outcomes: Vec<Option<RecordOutcome>>, rows: &[Desired]) -> Vec<RecordOutcome> {
    outcomes
        .into_iter()
        .zip(rows)
        .map(|(o, d)| {
            o.unwrap_or_else(|| {
                outcome(
                    d,
                    "failed",
                    None,
                    Some("ferry:no_answer"),
                    Some("Dataverse's answer did not cover this record; run push again"),
                    None,
                )
            })
        })
        .collect()
}

fn outcome(
    d: &Desired,
    operation: &'static str,
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    hash: Option<String>,
) -> RecordOutcome {
    RecordOutcome {
        guid: d.guid,
        related: d.related,
        record_id: d.record_id.clone(),
        operation,
        http_status: status,
        error_code: code.filter(|c| !c.is_empty()).map(str::to_string),
        message: message.map(str::to_string),
        payload_hash: hash,
    }
}

/// Seconds since `start`, for summaries.
pub fn seconds_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_both_the_record_and_the_byte_limits() {
        assert_eq!(chunk_bounds(&[10; 5], 2), vec![0..2, 2..4, 4..5]);
        let big = MAX_REQUEST_BYTES / 2 + 1;
        assert_eq!(chunk_bounds(&[big, big, 10], 500), vec![0..1, 1..3]);
        assert!(chunk_bounds(&[], 500).is_empty());
        // One record over the byte limit still goes, alone.
        assert_eq!(
            chunk_bounds(&[MAX_REQUEST_BYTES * 2, 1], 500),
            vec![0..1, 1..2]
        );
    }
}
