//! What a push will send, counted before it runs — one rule shared by
//! `ferry plan`'s estimate and `ferry push --dry-run`, so the number an
//! analyst plans with is the number the loader's own request counters
//! report afterwards (`audit.steps.read_requests + write_requests`).
//!
//! The counts assume a target that holds none of the records (the first
//! push): every record step reads its ids once per chunk and creates them
//! once per chunk; state, deferred and N:N steps add their own requests.
//! A re-run sends the reads and only the writes for what changed.

use duckdb::Connection;
use serde::Serialize;

use super::steps::{step_filter, Step, StepKind};
use crate::dataverse::client::MAX_BATCH_REQUESTS;
use crate::error::Result;
use crate::stage::db::qualified;

/// Ids per existence read. 500 GUIDs keep the URL near 20 KB, inside the
/// Web API's 32 KB limit on a GET's URL.
pub const IDS_PER_READ: usize = 500;
/// Body bytes per bulk request. Dataverse accepts up to 128 MB, but a
/// smaller request fails faster and retries cheaper (notes with files).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Ids per existence read at this batch size: a read covers what one bulk
/// write sends, up to [`IDS_PER_READ`].
pub fn read_chunk(batch: usize) -> usize {
    batch.clamp(1, IDS_PER_READ)
}

/// Rows of one step, counted in `stg.*` (independent of the batch size).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepCount {
    pub label: String,
    pub table: String,
    pub kind: String,
    pub rows: u64,
    /// State step of `incident`: cases resolved through `CloseIncident`.
    pub closes: u64,
    /// Records step of `uomschedule`: base units matched by one read each.
    pub base_units: u64,
    /// Records step of `annotation`: rows whose file body alone fills a
    /// request (they go one per request).
    pub oversized: u64,
}

/// Requests one step sends into an empty target.
#[derive(Debug, Clone, Serialize)]
pub struct StepRequests {
    pub label: String,
    pub table: String,
    pub rows: u64,
    pub reads: u64,
    pub writes: u64,
    pub how: &'static str,
}

impl StepRequests {
    pub fn requests(&self) -> u64 {
        self.reads + self.writes
    }
}

/// Counts the rows every step of `steps` will process.
pub fn count_steps(conn: &Connection, steps: &[Step]) -> Result<Vec<StepCount>> {
    let staged = super::steps::staged_columns(conn)?;
    let mut out = Vec::new();
    for step in steps {
        let duck_types: std::collections::BTreeMap<String, String> = staged
            .get(&step.table)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let table = qualified("stg", &step.table);
        let filter = step_filter(step, &duck_types)
            .map(|f| format!(" WHERE {f}"))
            .unwrap_or_default();
        let count = |sql: String| -> Result<u64> {
            Ok(conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let rows = count(format!("SELECT count(*) FROM {table} AS t{filter}"))?;
        let closes = if step.kind == StepKind::State && step.table == "incident" {
            count(format!(
                "SELECT count(*) FROM {table} AS t WHERE coalesce(t.statecode, 0) = 1"
            ))?
        } else {
            0
        };
        let base_units = if step.kind == StepKind::Records
            && step.table == "uomschedule"
            && staged
                .get("uom")
                .is_some_and(|c| c.iter().any(|(n, _)| n == "_is_base_unit"))
        {
            count("SELECT count(*) FROM stg.uom WHERE coalesce(_is_base_unit, false)".into())?
        } else {
            0
        };
        let oversized = if step.kind == StepKind::Records && duck_types.contains_key("_base64_size")
        {
            count(format!(
                "SELECT count(*) FROM {table} AS t WHERE coalesce(t._base64_size, 0) > {}",
                MAX_REQUEST_BYTES
            ))?
        } else {
            0
        };
        out.push(StepCount {
            label: step.label(),
            table: step.table.clone(),
            kind: step.key().to_string(),
            rows,
            closes,
            base_units,
            oversized,
        });
    }
    Ok(out)
}

/// The requests each counted step sends at `batch` records per request.
pub fn requests(counts: &[StepCount], batch: usize) -> Vec<StepRequests> {
    let batch = batch.clamp(1, crate::dataverse::client::MAX_BULK_RECORDS) as u64;
    let per_read = read_chunk(batch as usize) as u64;
    counts
        .iter()
        .filter(|c| c.rows > 0 || c.base_units > 0)
        .map(|c| {
            let (reads, writes, how) = match c.kind.as_str() {
                "associate" => (
                    0,
                    c.rows.div_ceil(MAX_BATCH_REQUESTS as u64),
                    "$batch of $ref",
                ),
                "state" => {
                    let updates = c.rows - c.closes;
                    (
                        c.rows.div_ceil(per_read),
                        updates.div_ceil(batch) + c.closes.div_ceil(MAX_BATCH_REQUESTS as u64),
                        if c.closes > 0 {
                            "UpdateMultiple + $batch of CloseIncident"
                        } else {
                            "UpdateMultiple"
                        },
                    )
                }
                "deferred" => (
                    c.rows.div_ceil(per_read),
                    c.rows.div_ceil(batch),
                    "UpdateMultiple",
                ),
                _ => {
                    let normal = c.rows - c.oversized;
                    (
                        c.rows.div_ceil(per_read) + c.base_units,
                        normal.div_ceil(batch) + c.oversized,
                        "CreateMultiple",
                    )
                }
            };
            StepRequests {
                label: c.label.clone(),
                table: c.table.clone(),
                rows: c.rows,
                reads,
                writes,
                how,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(kind: &str, rows: u64) -> StepCount {
        StepCount {
            label: kind.into(),
            table: "t".into(),
            kind: kind.into(),
            rows,
            ..Default::default()
        }
    }

    #[test]
    fn a_record_step_reads_and_creates_once_per_chunk() {
        let r = requests(&[count("records", 1001)], 500);
        assert_eq!((r[0].reads, r[0].writes), (3, 3));
        // Reads stay at 500 ids (URL length) when writes take 1,000.
        let r = requests(&[count("records", 2000)], 1000);
        assert_eq!((r[0].reads, r[0].writes), (4, 2));
    }

    #[test]
    fn resolved_cases_close_in_batches_of_a_thousand() {
        let mut c = count("state", 2500);
        c.closes = 2100;
        let r = requests(&[c], 500);
        assert_eq!(r[0].reads, 5);
        assert_eq!(r[0].writes, 1 + 3);
        let r = requests(&[count("associate", 1500)], 500);
        assert_eq!((r[0].reads, r[0].writes), (0, 2));
    }
}
