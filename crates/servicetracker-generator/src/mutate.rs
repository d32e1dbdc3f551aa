//! `ferry generate DIR --mutate --change N --delete M [--seed S]`: what
//! happened at the source between two exports, applied to an existing
//! export in place, so delta extracts and the API emulator's
//! `modified_since` and `/deleted` can be tested against ground truth.
//!
//! - **Changes** touch one field of N records spread over customers
//!   (`phone`, `email`), contacts (`job_title`), work orders (`status`
//!   between Open / In Progress / On Hold, `summary`) and activities
//!   (`subject`): each gets a new, clean value and a
//!   `modified_at` later than every `modified_at` (and deletion) already in
//!   the export, one minute apart in the order they were picked.
//! - **Deletions** remove M records of leaf objects nothing points at
//!   (notes, activities, dispatches, work-order parts), so no orphans appear;
//!   they are appended to `deleted.csv` (`object,id,deleted_at`, local time
//!   like every CSV timestamp) and listed in the manifest as
//!   `"deleted": {"file": "deleted.csv", "rows": total}`.
//! - The manifest's `exported_at` moves past all of them and its row counts
//!   follow the deletions.
//! - Only well-formed records (as many fields as the header, valid UTF-8, a
//!   unique id) that carry no dirt in `dirt.json` are picked, so the dirt's
//!   ground truth stays true; `dirt.json` line numbers are shifted where
//!   deletions moved the rows after them.
//! - Every other record is copied byte for byte — deliberately malformed
//!   rows included — because files are rewritten as the original bytes with
//!   only the picked records' spans replaced or cut out.
//! - `mutations.json` beside the manifest records every change (`object`,
//!   `id`, `field`, `old`, `new`, `modified_at`) and deletion (`object`,
//!   `id`, `deleted_at`), instants in UTC as the API serves them; a later
//!   mutation extends it as a new round.
//!
//! The picks are deterministic for the seed and the round (how many
//! mutations the export has had), so a second `--mutate` with the same seed
//! picks afresh instead of repeating the first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, LocalResult, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{write_json, DirtFile, MANIFEST_FILE};
use crate::clock::parse_local_micros;
use crate::error::{Error, IoContext, Result};

/// The ground-truth file written beside the manifest.
pub const MUTATIONS_FILE: &str = "mutations.json";
/// The deletions file a mutation creates when the export has none.
pub const DELETED_FILE: &str = "deleted.csv";

/// The fields a change may touch, in the order picks cycle through them.
pub const CHANGE_TARGETS: &[(&str, &str)] = &[
    ("customers", "phone"),
    ("contacts", "job_title"),
    ("work_orders", "status"),
    ("activities", "subject"),
    ("customers", "email"),
    ("work_orders", "summary"),
];

/// Work-order statuses a status change moves between: reopening a closed
/// order or closing one without `completed_at` would make the record
/// inconsistent, not just changed.
pub const OPEN_STATUSES: &[&str] = &["Open", "In Progress", "On Hold"];

/// Objects whose records nothing else refers to: deleting one leaves no
/// orphan behind.
pub const DELETE_TARGETS: &[&str] = &["notes", "activities", "dispatches", "work_order_parts"];

/// Minutes between consecutive mutation instants.
const STEP_SECONDS: i64 = 60;
/// How far `exported_at` moves past the last mutation.
const EXPORT_AFTER_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutateOptions {
    pub change: u64,
    pub delete: u64,
    pub seed: u64,
}

/// One changed record, as in `mutations.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub round: u64,
    pub object: String,
    pub id: String,
    pub field: String,
    pub old: String,
    pub new: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub modified_at: String,
}

/// One deleted record, as in `mutations.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    pub round: u64,
    pub object: String,
    pub id: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub deleted_at: String,
}

/// One `--mutate` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub round: u64,
    pub seed: u64,
    /// The export's `exported_at` before and after this round.
    pub previous_exported_at: Option<String>,
    pub exported_at: String,
    pub changed: u64,
    pub deleted: u64,
}

/// `mutations.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationsFile {
    /// The seed of the latest round.
    pub seed: u64,
    pub rounds: Vec<Round>,
    pub changed: Vec<Change>,
    pub deleted: Vec<Deletion>,
}

impl MutationsFile {
    pub fn read(path: &Path) -> Result<MutationsFile> {
        let text = std::fs::read_to_string(path).at(path)?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!("not a mutations.json file: {e}"),
                "delete it (it is only ground truth) and mutate again",
            )
        })
    }
}

/// What one mutation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutateSummary {
    pub round: Round,
    pub changed: Vec<Change>,
    pub deleted: Vec<Deletion>,
    /// Records per object after the mutation, as in the manifest.
    pub rows: BTreeMap<String, u64>,
}

/// The export's `manifest.json`, keeping whatever else it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExportManifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exported_at: Option<String>,
    timezone: String,
    objects: BTreeMap<String, FileRows>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<FileRows>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRows {
    file: String,
    rows: u64,
}

/// What a picked record will undergo.
#[derive(Debug, Clone)]
enum Edit {
    /// Change `field`; `pick` numbers the change within the round.
    Change {
        field: String,
        pick: u64,
    },
    Delete,
}

/// Applies one mutation to the export in `dir`.
pub fn mutate_export(dir: &Path, opts: &MutateOptions) -> Result<MutateSummary> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Err(Error::input(
            dir,
            "holds no ServiceTracker export (no manifest.json)",
            "run `ferry generate DIR` first, then `ferry generate DIR --mutate`",
        ));
    }
    if opts.change == 0 && opts.delete == 0 {
        return Err(Error::Usage(
            "--mutate needs something to do: give --change N and/or --delete M".into(),
        ));
    }
    let mut manifest: ExportManifest =
        read_json(&manifest_path, "a ServiceTracker export manifest")?;
    let tz: Tz = manifest.timezone.parse().map_err(|_| {
        Error::input(
            &manifest_path,
            format!("`{}` is not an IANA timezone name", manifest.timezone),
            "the export's timezone must be a name such as America/Chicago",
        )
    })?;
    let mutations_path = dir.join(MUTATIONS_FILE);
    let mut mutations = if mutations_path.exists() {
        MutationsFile::read(&mutations_path)?
    } else {
        MutationsFile::default()
    };
    let round = mutations.rounds.len() as u64 + 1;
    let dirt_path = dir.join(DirtFile::FILE_NAME);
    let dirt = if dirt_path.exists() {
        Some(DirtFile::read(&dirt_path)?)
    } else {
        None
    };
    let dirty = dirt.as_ref().map(dirty_ids).unwrap_or_default();
    let deleted_file = manifest
        .deleted
        .as_ref()
        .map_or(DELETED_FILE.to_string(), |d| d.file.clone());
    let deleted_path = plain_file(dir, &manifest_path, &deleted_file)?;

    // Scan every object once: the newest instant, and who may be picked.
    let wanted: HashSet<&str> = CHANGE_TARGETS
        .iter()
        .map(|(o, _)| *o)
        .chain(DELETE_TARGETS.iter().copied())
        .collect();
    let mut newest = manifest
        .exported_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros());
    let mut eligible: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (object, entry) in &manifest.objects {
        let path = plain_file(dir, &manifest_path, &entry.file)?;
        let scan = scan_object(&path, &tz, wanted.contains(object.as_str()), &dirty)?;
        newest = newest.max(scan.newest_modified_at);
        if wanted.contains(object.as_str()) {
            eligible.insert(object.clone(), scan.eligible);
            if object == "work_orders" {
                eligible.insert(pool_name(object, "status"), scan.open);
            }
        }
    }
    if deleted_path.exists() {
        newest = newest.max(newest_deletion(&deleted_path, &tz)?);
    }

    let picks = pick(&mut eligible, opts, round)?;

    // Instants: one step apart after everything already in the export.
    let mut clock = newest
        .map(|m| m.div_euclid(1_000_000) + i64::from(m.rem_euclid(1_000_000) > 0))
        .unwrap_or_else(|| Utc::now().timestamp());
    let mut tick = |seconds: i64| {
        clock = unambiguous(clock + seconds, &tz);
        clock
    };
    let mut stamps: HashMap<(String, String), i64> = HashMap::new();
    for (object, id, _) in &picks {
        stamps.insert((object.clone(), id.clone()), tick(STEP_SECONDS));
    }
    let exported_at_unix = tick(EXPORT_AFTER_SECONDS);

    // Rewrite each touched file.
    let mut by_object: BTreeMap<&str, HashMap<&str, Edit>> = BTreeMap::new();
    for (object, id, edit) in &picks {
        by_object
            .entry(object.as_str())
            .or_default()
            .insert(id.as_str(), edit.clone());
    }
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    let mut line_shifts: BTreeMap<String, Vec<(u64, i64)>> = BTreeMap::new();
    for (object, edits) in &by_object {
        let entry = manifest
            .objects
            .get_mut(*object)
            .expect("picked objects are in the manifest");
        let path = dir.join(&entry.file);
        let stamp_of = |id: &str| stamps[&(object.to_string(), id.to_string())];
        let outcome = rewrite_object(&path, edits, &|id, field, old, pick| {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream((round << 32) | pick);
            let new = new_value(&mut rng, object, field, old);
            (new, local_text(stamp_of(id), &tz))
        })?;
        for (id, field, old, new) in outcome.changed {
            changed.push(Change {
                round,
                object: object.to_string(),
                modified_at: utc_text(stamp_of(&id)),
                id,
                field,
                old,
                new,
            });
        }
        for id in outcome.deleted {
            entry.rows = entry.rows.saturating_sub(1);
            deleted.push(Deletion {
                round,
                object: object.to_string(),
                deleted_at: utc_text(stamp_of(&id)),
                id,
            });
        }
        line_shifts.insert(object.to_string(), outcome.line_shifts);
    }
    // Report in the order the instants were given.
    changed.sort_by(|a, b| {
        (&a.modified_at, &a.object, &a.id).cmp(&(&b.modified_at, &b.object, &b.id))
    });
    deleted
        .sort_by(|a, b| (&a.deleted_at, &a.object, &a.id).cmp(&(&b.deleted_at, &b.object, &b.id)));

    if !deleted.is_empty() {
        let rows = append_deletions(&deleted_path, &deleted, &stamps, &tz)?;
        manifest.deleted = Some(FileRows {
            file: deleted_file,
            rows,
        });
    }
    if let Some(mut dirt) = dirt {
        if shift_dirt_lines(&mut dirt, &line_shifts) {
            write_json(&dirt_path, &dirt)?;
        }
    }

    let previous_exported_at = manifest.exported_at.clone();
    let exported_at = tz
        .timestamp_opt(exported_at_unix, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| utc_text(exported_at_unix));
    manifest.exported_at = Some(exported_at.clone());
    let round_entry = Round {
        round,
        seed: opts.seed,
        previous_exported_at,
        exported_at,
        changed: changed.len() as u64,
        deleted: deleted.len() as u64,
    };
    mutations.seed = opts.seed;
    mutations.rounds.push(round_entry.clone());
    mutations.changed.extend(changed.iter().cloned());
    mutations.deleted.extend(deleted.iter().cloned());
    write_json(&mutations_path, &mutations)?;

    // The manifest last, via a temporary name.
    let temp = dir.join(".manifest.json.tmp");
    write_json(&temp, &manifest)?;
    std::fs::rename(&temp, &manifest_path).at(&manifest_path)?;

    Ok(MutateSummary {
        round: round_entry,
        changed,
        deleted,
        rows: manifest
            .objects
            .iter()
            .map(|(name, entry)| (name.clone(), entry.rows))
            .collect(),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = std::fs::read(path).at(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(
            path,
            format!("not {what}: {e}"),
            "point --mutate at a folder written by `ferry generate`",
        )
    })
}

/// `dir/<name>` when `name` is a plain file name.
fn plain_file(dir: &Path, manifest_path: &Path, name: &str) -> Result<PathBuf> {
    let plain = Path::new(name).components().count() == 1
        && !name.starts_with('.')
        && !name.contains(['/', '\\']);
    if plain {
        Ok(dir.join(name))
    } else {
        Err(Error::input(
            manifest_path,
            format!("`{name}` is not a plain file name beside manifest.json"),
            "point --mutate at a folder written by `ferry generate`",
        ))
    }
}

/// Every id `dirt.json` mentions: picked records must stay as the dirt's
/// ground truth describes them.
fn dirty_ids(dirt: &DirtFile) -> HashSet<String> {
    let mut ids = HashSet::new();
    for entry in &dirt.dirt {
        ids.extend(entry.ids.iter().cloned());
        ids.extend(entry.expected.keys().cloned());
        ids.extend(entry.lines.keys().cloned());
        ids.extend(entry.pairs.iter().flatten().cloned());
        ids.extend(entry.related.values().flatten().cloned());
    }
    ids
}

/// The first instant at or after `unix` whose local time in `tz` is
/// neither repeated nor skipped by daylight saving (an hour at a time, as
/// the generator does), so the CSV's local time reads back exactly.
fn unambiguous(unix: i64, tz: &Tz) -> i64 {
    let mut t = unix;
    for _ in 0..4 {
        let local = match tz.timestamp_opt(t, 0).single() {
            Some(local) => local.naive_local(),
            None => return t,
        };
        if matches!(tz.from_local_datetime(&local), LocalResult::Single(_)) {
            return t;
        }
        t += 3_600;
    }
    t
}

fn local_text(unix: i64, tz: &Tz) -> String {
    match tz.timestamp_opt(unix, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => utc_text(unix),
    }
}

fn utc_text(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input)
}

/// Header names with a BOM and a CRLF's CR removed.
fn header_names(record: &csv::ByteRecord) -> Vec<String> {
    let last = record.len().saturating_sub(1);
    record
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let raw = if i == last {
                raw.strip_suffix(b"\r").unwrap_or(raw)
            } else {
                raw
            };
            String::from_utf8_lossy(raw)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect()
}

/// A field of a record, with a CRLF's CR trimmed off the last one.
fn field(record: &csv::ByteRecord, index: usize) -> Option<&[u8]> {
    let value = record.get(index)?;
    if index + 1 == record.len() {
        Some(value.strip_suffix(b"\r").unwrap_or(value))
    } else {
        Some(value)
    }
}

struct Scan {
    newest_modified_at: Option<i64>,
    /// Ids that may be picked, in file order.
    eligible: Vec<String>,
    /// Those whose `status` is one of [`OPEN_STATUSES`].
    open: Vec<String>,
}

fn scan_object(path: &Path, tz: &Tz, collect: bool, dirty: &HashSet<String>) -> Result<Scan> {
    let file = File::open(path).at(path)?;
    let mut reader = csv_reader(BufReader::with_capacity(1 << 20, file));
    let mut record = csv::ByteRecord::new();
    let read = |reader: &mut csv::Reader<_>, record: &mut csv::ByteRecord| {
        reader
            .read_byte_record(record)
            .map_err(|e| Error::input(path, format!("unreadable CSV: {e}"), "export again"))
    };
    if !read(&mut reader, &mut record)? {
        return Ok(Scan {
            newest_modified_at: None,
            eligible: Vec::new(),
            open: Vec::new(),
        });
    }
    let header = header_names(&record);
    let id_at = header.iter().position(|h| h == "id");
    let modified_at = header.iter().position(|h| h == "modified_at");
    let status_at = header.iter().position(|h| h == "status");
    let mut newest = None;
    let mut candidates: Vec<String> = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    while read(&mut reader, &mut record)? {
        if record.len() != header.len() {
            continue;
        }
        let parsed = modified_at
            .and_then(|i| field(&record, i))
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| parse_local_micros(t, tz));
        if let Some(micros) = parsed {
            newest = newest.max(Some(micros));
        }
        if !collect {
            continue;
        }
        let Some(id) = id_at
            .and_then(|i| field(&record, i))
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::trim)
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        *seen.entry(id.to_string()).or_insert(0) += 1;
        let utf8 = (0..record.len())
            .all(|i| field(&record, i).is_some_and(|b| std::str::from_utf8(b).is_ok()));
        if utf8 && parsed.is_some() && !dirty.contains(id) {
            candidates.push(id.to_string());
            let status = status_at
                .and_then(|i| field(&record, i))
                .unwrap_or_default();
            if OPEN_STATUSES.iter().any(|s| s.as_bytes() == status) {
                open.push(id.to_string());
            }
        }
    }
    let unique = |ids: Vec<String>| -> Vec<String> {
        ids.into_iter()
            .filter(|id| seen.get(id) == Some(&1))
            .collect()
    };
    Ok(Scan {
        newest_modified_at: newest,
        eligible: unique(candidates),
        open: unique(open),
    })
}

fn newest_deletion(path: &Path, tz: &Tz) -> Result<Option<i64>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path, e.to_string(), "restore or remove the deletions file"))?;
    let at = reader
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|n| n == "deleted_at"));
    let mut newest = None;
    for record in reader.records().flatten() {
        let instant = at
            .and_then(|i| record.get(i))
            .and_then(|t| parse_local_micros(t, tz));
        newest = newest.max(instant);
    }
    Ok(newest)
}

/// Eligible records over `objects`, each object counted once.
fn available<'a>(
    eligible: &BTreeMap<String, Vec<String>>,
    objects: impl Iterator<Item = &'a str>,
) -> u64 {
    let distinct: std::collections::BTreeSet<&str> = objects.collect();
    distinct
        .iter()
        .map(|o| eligible.get(*o).map_or(0, Vec::len) as u64)
        .sum()
}

/// Chooses the records to change and delete, cycling through the targets
/// from a seeded start so every kind gets its share.
fn pick(
    eligible: &mut BTreeMap<String, Vec<String>>,
    opts: &MutateOptions,
    round: u64,
) -> Result<Vec<(String, String, Edit)>> {
    let change_objects = CHANGE_TARGETS.iter().map(|(o, _)| *o);
    let changeable = available(eligible, change_objects.clone());
    let deletable = available(eligible, DELETE_TARGETS.iter().copied());
    // Activities can be changed or deleted, never both.
    let either = available(
        eligible,
        change_objects.chain(DELETE_TARGETS.iter().copied()),
    );
    if opts.change > changeable || opts.delete > deletable || opts.change + opts.delete > either {
        let fields: Vec<String> = CHANGE_TARGETS
            .iter()
            .map(|(o, f)| format!("{o}.{f}"))
            .collect();
        return Err(Error::Usage(format!(
            "--change {} --delete {} asks for more than the export offers: {changeable} records \
             can be changed ({}) and {deletable} deleted ({}), counting only clean, well-formed records",
            opts.change,
            opts.delete,
            fields.join(", "),
            DELETE_TARGETS.join(", "),
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(round << 32 | 0xffff_ffff);
    // A record is picked once per round, whichever pool it is drawn from.
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let mut take = |object: &str, pool: &str, rng: &mut ChaCha8Rng| -> Option<String> {
        let pool = eligible.get_mut(pool)?;
        while !pool.is_empty() {
            let id = pool.swap_remove(rng.gen_range(0..pool.len()));
            if taken.insert((object.to_string(), id.clone())) {
                return Some(id);
            }
        }
        None
    };
    let mut picks = Vec::new();
    let mut next = rng.gen_range(0..CHANGE_TARGETS.len());
    for pick in 0..opts.change {
        let mut found = None;
        for _ in 0..CHANGE_TARGETS.len() {
            let (object, field) = CHANGE_TARGETS[next % CHANGE_TARGETS.len()];
            next += 1;
            if let Some(id) = take(object, &pool_name(object, field), &mut rng) {
                found = Some((
                    object.to_string(),
                    id,
                    Edit::Change {
                        field: field.to_string(),
                        pick,
                    },
                ));
                break;
            }
        }
        picks.push(found.ok_or_else(|| Error::Usage("not enough records left to change".into()))?);
    }
    let mut next = rng.gen_range(0..DELETE_TARGETS.len());
    for _ in 0..opts.delete {
        let mut found = None;
        for _ in 0..DELETE_TARGETS.len() {
            let object = DELETE_TARGETS[next % DELETE_TARGETS.len()];
            next += 1;
            if let Some(id) = take(object, object, &mut rng) {
                found = Some((object.to_string(), id, Edit::Delete));
                break;
            }
        }
        picks.push(found.ok_or_else(|| {
            Error::Usage("not enough records left to delete once the changes were picked".into())
        })?);
    }
    Ok(picks)
}

/// The pool a change of `object.field` draws from: work-order status
/// changes only from the open statuses, everything else from the object's
/// eligible records.
fn pool_name(object: &str, field: &str) -> String {
    if (object, field) == ("work_orders", "status") {
        "work_orders.status".into()
    } else {
        object.to_string()
    }
}

/// What rewriting one file did.
#[derive(Debug, Default)]
struct Rewritten {
    /// (id, field, old, new)
    changed: Vec<(String, String, String, String)>,
    deleted: Vec<String>,
    /// (line the edited record started on, lines gained (+) or lost (−)).
    line_shifts: Vec<(u64, i64)>,
}

/// The new value of a changed field and the record's new local
/// `modified_at`, from (id, field, old value, pick number).
type NewValue<'a> = dyn Fn(&str, &str, &str, u64) -> (String, String) + 'a;

/// Rewrites `path` with `edits` applied: every byte outside the edited
/// records is copied unchanged.
fn rewrite_object(
    path: &Path,
    edits: &HashMap<&str, Edit>,
    new_value: &NewValue<'_>,
) -> Result<Rewritten> {
    let file = File::open(path).at(path)?;
    let length = file.metadata().at(path)?.len();
    let mut reader = csv_reader(BufReader::with_capacity(1 << 20, file));
    let mut raw = File::open(path).at(path)?;
    let temp = path.with_file_name(format!(
        ".{}.mutate.tmp",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&temp).at(&temp)?);
    let unreadable =
        |e: csv::Error| Error::input(path, format!("unreadable CSV: {e}"), "export again");

    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(unreadable)? {
        return Err(Error::input(path, "the file has no header", "export again"));
    }
    let header = header_names(&record);
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::input(
                path,
                format!("the header has no `{name}` column"),
                "export again",
            )
        })
    };
    let id_at = column("id")?;
    let modified_at = column("modified_at")?;

    let mut result = Rewritten::default();
    let mut copied_to = 0u64;
    loop {
        let start = reader.position().byte();
        if !reader.read_byte_record(&mut record).map_err(unreadable)? {
            break;
        }
        let end = reader.position().byte();
        if record.len() != header.len() {
            continue;
        }
        let Some(id) = field(&record, id_at)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::trim)
        else {
            continue;
        };
        let Some(edit) = edits.get(id) else {
            continue;
        };
        let line = record.position().map_or(0, |p| p.line());
        let original = read_span(&mut raw, start, end).at(path)?;
        copy_span(&mut raw, &mut out, copied_to, start).at(path)?;
        copied_to = end;
        let old_lines = original.iter().filter(|b| **b == b'\n').count() as i64;
        match edit {
            Edit::Delete => {
                result.deleted.push(id.to_string());
                result.line_shifts.push((line, -old_lines));
            }
            Edit::Change { field: name, pick } => {
                let at = column(name)?;
                let old =
                    String::from_utf8_lossy(field(&record, at).unwrap_or_default()).into_owned();
                let (new, stamp) = new_value(id, name, &old, *pick);
                let mut fields: Vec<Vec<u8>> = (0..record.len())
                    .map(|i| field(&record, i).unwrap_or_default().to_vec())
                    .collect();
                fields[at] = new.clone().into_bytes();
                fields[modified_at] = stamp.into_bytes();
                let bytes = serialize_like(&fields, &original).at(path)?;
                let new_lines = bytes.iter().filter(|b| **b == b'\n').count() as i64;
                out.write_all(&bytes).at(&temp)?;
                result
                    .changed
                    .push((id.to_string(), name.clone(), old, new));
                result.line_shifts.push((line, new_lines - old_lines));
            }
        }
    }
    copy_span(&mut raw, &mut out, copied_to, length).at(path)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .at(&temp)?;
    std::fs::rename(&temp, path).at(path)?;
    Ok(result)
}

fn read_span(file: &mut File, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; (end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

fn copy_span(file: &mut File, out: &mut impl Write, start: u64, end: u64) -> std::io::Result<()> {
    if end <= start {
        return Ok(());
    }
    file.seek(SeekFrom::Start(start))?;
    let copied = std::io::copy(&mut file.take(end - start), out)?;
    if copied != end - start {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file shrank while it was being rewritten",
        ));
    }
    Ok(())
}

/// `fields` as one CSV record ending the way `original` ends (CRLF, LF or
/// nothing at the end of the file).
fn serialize_like(fields: &[Vec<u8>], original: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(fields)?;
    let mut bytes = writer.into_inner().map_err(|e| e.into_error())?;
    bytes.pop();
    if original.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    } else if original.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Appends the deletions (local times) and returns the file's record count.
fn append_deletions(
    path: &Path,
    deleted: &[Deletion],
    stamps: &HashMap<(String, String), i64>,
    tz: &Tz,
) -> Result<u64> {
    let existing = if path.exists() {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| {
                Error::input(path, e.to_string(), "restore or remove the deletions file")
            })?;
        reader.byte_records().count() as u64
    } else {
        0
    };
    let mut bytes = if path.exists() {
        std::fs::read(path).at(path)?
    } else {
        b"object,id,deleted_at\n".to_vec()
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    let mut writer = csv::WriterBuilder::new().from_writer(bytes);
    for d in deleted {
        let at = stamps[&(d.object.clone(), d.id.clone())];
        writer
            .write_record([d.object.as_str(), d.id.as_str(), &local_text(at, tz)])
            .map_err(|e| Error::input(path, e.to_string(), "check the disk"))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::input(path, e.to_string(), "check the disk"))?;
    let temp = path.with_extension("csv.tmp");
    std::fs::write(&temp, bytes).at(&temp)?;
    std::fs::rename(&temp, path).at(path)?;
    Ok(existing + deleted.len() as u64)
}

/// Moves `dirt.json` line numbers past the edits before them; true when any
/// moved.
fn shift_dirt_lines(dirt: &mut DirtFile, shifts: &BTreeMap<String, Vec<(u64, i64)>>) -> bool {
    let mut moved = false;
    for entry in &mut dirt.dirt {
        let Some(shifts) = shifts.get(&entry.object) else {
            continue;
        };
        for line in entry.lines.values_mut() {
            let delta: i64 = shifts
                .iter()
                .filter(|(at, _)| *at < *line)
                .map(|(_, d)| d)
                .sum();
            if delta != 0 {
                *line = (*line as i64 + delta).max(1) as u64;
                moved = true;
            }
        }
    }
    moved
}

const JOB_TITLES: &[&str] = &[
    "Facilities Manager",
    "Operations Director",
    "Maintenance Supervisor",
    "Office Manager",
    "Purchasing Agent",
    "Plant Engineer",
    "Property Manager",
    "Controller",
];

const SUMMARIES: &[&str] = &[
    "Follow-up visit requested by customer",
    "Replace worn drive belt",
    "Thermostat not holding setpoint",
    "Water heater pilot keeps going out",
    "Breaker trips under load",
    "Annual inspection rescheduled",
    "Leak under kitchen sink returned",
];

const SUBJECTS: &[&str] = &[
    "Follow-up on open invoice",
    "Scheduling the next maintenance visit",
    "Quote for replacement unit",
    "Confirming technician arrival window",
    "Warranty question",
    "Service agreement renewal",
];

const EMAIL_BOXES: &[&str] = &[
    "billing",
    "accounts",
    "ap",
    "office",
    "service",
    "facilities",
];

/// A new clean value for `object.field`, different from `old`.
fn new_value(rng: &mut impl Rng, object: &str, field: &str, old: &str) -> String {
    let from_list = |rng: &mut dyn rand::RngCore, list: &[&str]| -> String {
        let choices: Vec<&&str> = list.iter().filter(|v| **v != old).collect();
        choices[rng.gen_range(0..choices.len())].to_string()
    };
    match (object, field) {
        (_, "phone") => {
            let area = old
                .strip_prefix('(')
                .and_then(|rest| rest.get(..3))
                .filter(|a| a.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or("312")
                .to_string();
            loop {
                let phone = format!("({area}) 555-{:04}", rng.gen_range(0..10_000));
                if phone != old {
                    return phone;
                }
            }
        }
        (_, "email") => {
            let domain = old
                .rsplit_once('@')
                .map(|(_, d)| d)
                .filter(|d| d.contains('.') && !d.contains(char::is_whitespace))
                .unwrap_or("example.com")
                .to_string();
            loop {
                let mailbox = EMAIL_BOXES[rng.gen_range(0..EMAIL_BOXES.len())];
                let email = format!("{mailbox}{}@{domain}", rng.gen_range(1..100));
                if email != old {
                    return email;
                }
            }
        }
        (_, "job_title") => from_list(rng, JOB_TITLES),
        (_, "status") => from_list(rng, OPEN_STATUSES),
        (_, "summary") => from_list(rng, SUMMARIES),
        (_, "subject") => from_list(rng, SUBJECTS),
        _ => format!("{old} (updated)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_records_keep_their_line_ending() {
        let fields = vec![b"a".to_vec(), b"b,c".to_vec(), b"say \"hi\"".to_vec()];
        assert_eq!(
            serialize_like(&fields, b"x\r\n").unwrap(),
            b"a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(
            serialize_like(&fields, b"x\n").unwrap(),
            b"a,\"b,c\",\"say \"\"hi\"\"\"\n"
        );
        assert_eq!(
            serialize_like(&fields, b"x").unwrap(),
            b"a,\"b,c\",\"say \"\"hi\"\"\""
        );
    }

    #[test]
    fn new_values_differ_from_the_old_and_look_real() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let phone = new_value(&mut rng, "customers", "phone", "(773) 555-0101");
            assert!(
                phone.starts_with("(773) 555-") && phone != "(773) 555-0101",
                "{phone}"
            );
            let email = new_value(&mut rng, "customers", "email", "info@acme-hvac.com");
            assert!(email.ends_with("@acme-hvac.com") && email != "info@acme-hvac.com");
            let status = new_value(&mut rng, "work_orders", "status", "Open");
            assert!(OPEN_STATUSES.contains(&status.as_str()) && status != "Open");
        }
    }

    #[test]
    fn instants_skip_the_daylight_saving_fold() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        // 2024-11-03 06:30 UTC is 01:30 CDT, a local time that happens twice.
        assert_eq!(unambiguous(1_730_615_400, &tz), 1_730_615_400 + 2 * 3_600);
        assert_eq!(unambiguous(1_720_112_400, &tz), 1_720_112_400);
        assert_eq!(local_text(1_720_112_400, &tz), "2024-07-04 12:00:00");
        assert_eq!(utc_text(1_720_112_400), "2024-07-04T17:00:00Z");
    }

    #[test]
    fn dirt_lines_move_past_earlier_edits_only() {
        let mut dirt: DirtFile = serde_json::from_value(serde_json::json!({
            "seed": 1, "customers": 1, "clean": false, "timezone": "America/Chicago",
            "dirt": [{"kind": "malformed_row", "object": "notes", "field": null, "count": 2,
                      "ids": ["NOT-1", "NOT-9"], "caught_by": ["quarantine"],
                      "lines": {"NOT-1": 3, "NOT-9": 40}}]
        }))
        .unwrap();
        let shifts = BTreeMap::from([("notes".to_string(), vec![(10, -1), (20, -2), (50, -1)])]);
        assert!(shift_dirt_lines(&mut dirt, &shifts));
        assert_eq!(dirt.dirt[0].lines["NOT-1"], 3);
        assert_eq!(dirt.dirt[0].lines["NOT-9"], 37);
    }
}
