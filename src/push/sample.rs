//! `ferry push --sample N`: a rehearsal load of about N records that spans
//! every staged table and is referentially closed — every parent a sampled
//! record points at (through any lookup or activity party) is sampled too,
//! so the sample loads without a single missing-parent failure.
//!
//! The pick is a hash of the record's GUID, so the same workspace gives the
//! same sample on every run (a resumed sample push continues the same set).

use duckdb::Connection;

use crate::error::Result;
use crate::plan::steps::{Step, StepKind};
use crate::stage::db::{qualified, quote_ident};

/// Fills `temp.push_sample(table_name, guid)`; returns how many records.
pub fn build(conn: &Connection, steps: &[Step], about: usize) -> Result<u64> {
    conn.execute_batch(crate::sql_catalog::schema_sql("audit", "sample"))?;
    let tables: Vec<&Step> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Records)
        .collect();
    let mut total = 0i64;
    for s in &tables {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", qualified("stg", &s.table)),
            [],
            |r| r.get(0),
        )?;
        total += n;
    }
    // Parents added by the closure push the count above the share picked,
    // so the seed share is half of it.
    let per_million =
        ((about as f64 / total.max(1) as f64) * 500_000.0).clamp(1.0, 1_000_000.0) as i64;
    for s in &tables {
        let pk = quote_ident(&s.primary_id);
        conn.execute(
            &format!(
                "INSERT INTO temp.push_sample
                 SELECT ?, {pk} FROM {tab} WHERE hash(CAST({pk} AS VARCHAR)) % 1000000 < ?
                 UNION SELECT ?, min({pk}) FROM {tab} HAVING count(*) > 0",
                tab = qualified("stg", &s.table)
            ),
            duckdb::params![s.table, per_million, s.table],
        )?;
    }
    // Close over lookups until nothing is added.
    let columns = crate::plan::steps::staged_columns(conn)?;
    loop {
        let mut added = 0usize;
        for s in &tables {
            let Some(cols) = columns.get(&s.table) else {
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
        if columns.contains_key("activityparty") {
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
            break;
        }
    }
    let n: i64 = conn.query_row("SELECT count(*) FROM temp.push_sample", [], |r| r.get(0))?;
    Ok(n as u64)
}
