//! `ferry push --sample N`: a rehearsal load of about N records (within
//! 10%) that spans every staged table and is referentially closed — every
//! parent a sampled record points at (through any lookup or activity party)
//! is sampled too, so the sample loads without a single missing-parent
//! failure.
//!
//! Records are picked by a hash of their GUID below a share, so the same
//! workspace gives the same sample on every run (a resumed sample push
//! continues the same set). Parents come on top of the picked records, and
//! how many depends on the data, so the share is searched for: a larger
//! share picks a superset and its closure is a superset too, so the
//! sample's size grows with the share, and narrowing a bracket of shares
//! converges on N.

use duckdb::Connection;

use super::steps::{Step, StepKind};
use crate::error::Result;
use crate::stage::db::{qualified, quote_ident};

/// The hash range a share is taken from: fine enough that one step of the
/// share adds at most a handful of records even at millions of rows.
const SHARE_SCALE: i64 = 1_000_000_000;

/// How far from N a sample may end up, as a fraction of N.
const TOLERANCE: f64 = 0.10;

/// Fills `temp.push_sample(table_name, guid)` with about `about` records;
/// returns how many records of the pushed tables it holds.
pub fn build(conn: &Connection, steps: &[Step], about: usize) -> Result<u64> {
    let tables: Vec<&Step> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Records)
        .collect();
    let columns = super::steps::staged_columns(conn)?;
    let sample = Sampler {
        conn,
        tables: &tables,
        columns: &columns,
    };
    let wanted = about as u64;
    let staged = sample.staged_rows()?;
    // Aim at N; stop as soon as the sample is within half the tolerance.
    let close_enough = ((wanted as f64) * TOLERANCE / 2.0).floor() as u64;
    let floor = sample.fill(0)?;
    let mut best = (floor, 0i64);
    if floor < wanted {
        // Bracket N between two shares, starting from the share that would
        // pick N records if no parent were added, then narrow the bracket
        // by interpolation (size grows about linearly with the share), with
        // a bisection whenever interpolation lands near an end.
        let (mut low, mut low_size) = (0i64, floor);
        let (mut high, mut high_size) = (SHARE_SCALE, u64::MAX);
        let mut share = ((wanted as f64 / staged.max(1) as f64) * SHARE_SCALE as f64)
            .clamp(1.0, SHARE_SCALE as f64) as i64;
        while high - low > 1 && best.0.abs_diff(wanted) > close_enough {
            let size = sample.fill(share)?;
            best = nearer(best, (size, share), wanted);
            if size < wanted {
                (low, low_size) = (share, size);
            } else {
                (high, high_size) = (share, size);
            }
            if high_size == u64::MAX {
                if share == SHARE_SCALE {
                    break;
                }
                share = (share.saturating_mul(2)).min(SHARE_SCALE);
                continue;
            }
            let span = (high - low) as f64;
            let fraction = (wanted - low_size) as f64 / (high_size - low_size).max(1) as f64;
            let step = (span * fraction) as i64;
            share = if step < (high - low) / 20 || step > (high - low) * 19 / 20 {
                low + (high - low) / 2
            } else {
                low + step
            }
            .clamp(low + 1, (high - 1).max(low + 1));
        }
    }
    let size = sample.fill(best.1)?;
    if size > wanted + (wanted as f64 * TOLERANCE) as u64 {
        crate::progress::note(format!(
            "sample: one record of every table with all its parents is already {size} records, more than the {wanted} asked for"
        ));
    }
    Ok(size)
}

fn nearer(a: (u64, i64), b: (u64, i64), wanted: u64) -> (u64, i64) {
    if b.0.abs_diff(wanted) < a.0.abs_diff(wanted) {
        b
    } else {
        a
    }
}

struct Sampler<'a> {
    conn: &'a Connection,
    tables: &'a [&'a Step],
    columns: &'a std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl Sampler<'_> {
    fn staged_rows(&self) -> Result<u64> {
        let mut total = 0i64;
        for s in self.tables {
            let n: i64 = self.conn.query_row(
                &format!("SELECT count(*) FROM {}", qualified("stg", &s.table)),
                [],
                |r| r.get(0),
            )?;
            total += n;
        }
        Ok(total as u64)
    }

    /// Rebuilds the sample for records whose hash falls below `share` (out
    /// of [`SHARE_SCALE`]), plus the first record of every table, closed
    /// over their parents; returns its size in pushed tables.
    fn fill(&self, share: i64) -> Result<u64> {
        let conn = self.conn;
        conn.execute_batch(crate::sql_catalog::schema_sql("audit", "sample"))?;
        for s in self.tables {
            let pk = quote_ident(&s.primary_id);
            conn.execute(
                &format!(
                    "INSERT INTO temp.push_sample
                     SELECT ?, {pk} FROM {tab} WHERE hash(CAST({pk} AS VARCHAR)) % {SHARE_SCALE} < ?
                     UNION SELECT ?, min({pk}) FROM {tab} HAVING count(*) > 0",
                    tab = qualified("stg", &s.table)
                ),
                duckdb::params![s.table, share, s.table],
            )?;
        }
        self.close_over_parents()?;
        let names: Vec<String> = self
            .tables
            .iter()
            .map(|s| format!("'{}'", s.table.replace('\'', "''")))
            .collect();
        let n: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM temp.push_sample WHERE table_name IN ({})",
                if names.is_empty() {
                    "NULL".to_string()
                } else {
                    names.join(", ")
                }
            ),
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Adds the parents of sampled records until nothing is added.
    fn close_over_parents(&self) -> Result<()> {
        let conn = self.conn;
        loop {
            let mut added = 0usize;
            for s in self.tables {
                let Some(cols) = self.columns.get(&s.table) else {
                    continue;
                };
                for (c, _) in cols {
                    if !cols.iter().any(|(o, _)| *o == format!("{c}_table")) {
                        continue;
                    }
                    added += conn.execute(
                        &format!(
                            "INSERT INTO temp.push_sample
                             SELECT DISTINCT t.{ct}, t.{c} FROM {tab} AS t
                             JOIN temp.push_sample AS s ON s.table_name = ? AND s.guid = t.{pk}
                             WHERE t.{c} IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM temp.push_sample AS x WHERE x.table_name = t.{ct} AND x.guid = t.{c})",
                            ct = quote_ident(&format!("{c}_table")),
                            c = quote_ident(c),
                            pk = quote_ident(&s.primary_id),
                            tab = qualified("stg", &s.table)
                        ),
                        [&s.table],
                    )?;
                }
            }
            if self.columns.contains_key("activityparty") {
                added += conn.execute(
                    "INSERT INTO temp.push_sample
                     SELECT DISTINCT p.partyid_table, p.partyid FROM stg.activityparty AS p
                     JOIN temp.push_sample AS s ON s.table_name = p.activityid_table AND s.guid = p.activityid
                     WHERE p.partyid IS NOT NULL AND p.partyid_table <> 'systemuser' AND NOT EXISTS (
                         SELECT 1 FROM temp.push_sample AS x WHERE x.table_name = p.partyid_table AND x.guid = p.partyid)",
                    [],
                )?;
            }
            if added == 0 {
                return Ok(());
            }
        }
    }
}
