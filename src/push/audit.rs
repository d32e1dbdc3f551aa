//! The loader's record of everything it did, in `ferry.duckdb` (SPEC §6
//! Audit): `audit.runs`, `audit.records` (one outcome per record and step),
//! `audit.preimages` (what an update overwrote), `audit.intents` (writes
//! sent but not yet answered — what makes a killed push resumable without
//! losing track of what it created), `audit.steps` (the per-table summary),
//! `audit.substitutions` (owners and parties replaced) and
//! `audit.guid_map` (records Dataverse created under its own id).
//!
//! Every change to these tables for one window of records happens in one
//! DuckDB transaction, so after a kill the audit holds either the whole
//! window's outcome or only its intents.

use chrono::Utc;
use duckdb::types::{TimeUnit, Value as DuckValue};
use duckdb::{params, Connection};
use uuid::Uuid;

use crate::error::Result;

/// Audit times are UTC (TIMESTAMP columns).
fn now() -> DuckValue {
    DuckValue::Timestamp(TimeUnit::Microsecond, Utc::now().timestamp_micros())
}

/// Creates the `audit.*` tables (sql/schema/audit.sql) when missing.
pub fn ensure(conn: &Connection) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("audit", "tables"))?;
    Ok(())
}

/// Creates `temp.target_runs`, the runs of the target named `target`
/// (audit.sql): what push, rollback, verify and reconcile read of the audit.
pub fn scope_to_target(conn: &Connection, target: &str) -> Result<()> {
    conn.execute("SET VARIABLE ferry_target = ?", [target])?;
    conn.execute_batch(crate::sql_catalog::schema_sql("audit", "target runs"))?;
    Ok(())
}

/// An unfinished run of `kind` on this target (the one a new invocation
/// resumes).
pub fn unfinished_run(conn: &Connection, kind: &str) -> Result<Option<(i32, Option<i32>)>> {
    let mut stmt = conn.prepare(
        "SELECT run_id, rollback_of FROM temp.target_runs WHERE kind = ? AND status = 'running' ORDER BY run_id DESC LIMIT 1",
    )?;
    let mut rows = stmt.query([kind])?;
    Ok(match rows.next()? {
        Some(r) => Some((r.get(0)?, r.get(1)?)),
        None => None,
    })
}

pub fn start_run(
    conn: &Connection,
    kind: &str,
    rollback_of: Option<i32>,
    target: &str,
    target_name: &str,
    options: &str,
) -> Result<i32> {
    let id: i32 = conn.query_row(
        "SELECT coalesce(max(run_id), 0) + 1 FROM audit.runs",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO audit.runs (run_id, kind, rollback_of, target, started_at, status, options, target_name)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
        params![id, kind, rollback_of, target, now(), options, target_name],
    )?;
    Ok(id)
}

/// Closes a run with its totals: one outcome per record (and N:N link)
/// over all its steps — failed if any step failed it, created if the run
/// created it, updated if any step changed it, else unchanged — so a case
/// created and then closed counts once, as created.
pub fn finish_run(conn: &Connection, run: i32, requests: u64, throttled: u64) -> Result<()> {
    let (created, updated, unchanged, failed): (i64, i64, i64, i64) = conn.query_row(
        "WITH per_record AS (
            SELECT table_name, guid, related_guid,
                   bool_or(operation = 'failed') AS failed,
                   bool_or(operation = 'created') AS created,
                   bool_or(operation = 'updated') AS updated
            FROM audit.records WHERE run_id = ? AND step <> 'base_unit'
            GROUP BY ALL)
         SELECT count(*) FILTER (failed),
                count(*) FILTER (NOT failed AND created),
                count(*) FILTER (NOT failed AND NOT created AND updated),
                count(*) FILTER (NOT failed AND NOT created AND NOT updated)
         FROM per_record",
        params![run],
        |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(0)?)),
    )?;
    conn.execute(
        "UPDATE audit.runs SET status = 'finished', finished_at = ?,
            created = ?, updated = ?, unchanged = ?, failed = ?,
            requests = coalesce(requests, 0) + ?, throttled = coalesce(throttled, 0) + ?
         WHERE run_id = ?",
        params![
            now(),
            created,
            updated,
            unchanged,
            failed,
            requests as i64,
            throttled as i64,
            run
        ],
    )?;
    Ok(())
}

/// Adds what an interrupted invocation of a run sent to the run's totals.
pub fn add_requests(conn: &Connection, run: i32, requests: u64, throttled: u64) -> Result<()> {
    conn.execute(
        "UPDATE audit.runs SET requests = coalesce(requests, 0) + ?, throttled = coalesce(throttled, 0) + ? WHERE run_id = ?",
        params![requests as i64, throttled as i64, run],
    )?;
    Ok(())
}

/// Whether the step already finished in this run.
/// Whether the run finished this step already. Keyed by the step and its
/// table, not by its position: positions move when the set of steps does.
pub fn step_done(conn: &Connection, run: i32, step: &str, table: &str) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM audit.steps WHERE run_id = ? AND step = ? AND table_name = ?",
        params![run, step, table],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Refuses, with what to do, when no push has run: verifying or
/// reconciling an empty target would look like a target that lost
/// everything. `command` names the command asking (`verify`, `reconcile`).
/// On the way it scopes `conn` to the workspace's target
/// ([`scope_to_target`]), which the callers' later audit reads rely on.
pub fn ensure_pushed(
    ws: &crate::workspace::Workspace,
    conn: &Connection,
    command: &str,
) -> Result<()> {
    use crate::stage::db::relation_exists;
    if !relation_exists(conn, "meta", "stg_rows")? {
        return Err(crate::error::Error::input(
            ws.database_path(),
            format!(
                "nothing is transformed yet (no stg.* tables), so nothing was pushed to {command}"
            ),
            "run `ferry transform`, `ferry validate` and `ferry push` first",
        ));
    }
    let target = &ws.config.target_name;
    let pushed = relation_exists(conn, "audit", "runs")? && {
        ensure(conn)?;
        scope_to_target(conn, target)?;
        conn.query_row(
            "SELECT count(*) FROM temp.target_runs WHERE kind = 'push'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0
    };
    if !pushed {
        return Err(crate::error::Error::input(
            ws.database_path(),
            format!(
                "no push run to the target {target} is recorded in audit.runs, so there is nothing to {command}"
            ),
            format!("run `ferry push --target {target}` first"),
        ));
    }
    Ok(())
}

/// The options a run was started with, as recorded in `audit.runs`.
pub fn run_options(conn: &Connection, run: i32) -> Result<Option<String>> {
    Ok(conn.query_row(
        "SELECT options FROM audit.runs WHERE run_id = ?",
        params![run],
        |r| r.get(0),
    )?)
}

/// The highest id with an outcome in this run and step: the window before
/// it is done (windows are recorded whole, in id order).
pub fn resume_cursor(conn: &Connection, run: i32, step: &str, table: &str) -> Result<Option<Uuid>> {
    let id: Option<String> = conn.query_row(
        "SELECT CAST(max(guid) AS VARCHAR) FROM audit.records WHERE run_id = ? AND step = ? AND table_name = ?",
        params![run, step, table],
        |r| r.get(0),
    )?;
    Ok(id.and_then(|s| Uuid::parse_str(&s).ok()))
}

/// Writes sent but never answered in this run and step: id → action.
pub fn pending_intents(
    conn: &Connection,
    run: i32,
    step: &str,
    table: &str,
) -> Result<std::collections::HashMap<(Uuid, Option<Uuid>), String>> {
    let mut stmt = conn.prepare(
        "SELECT CAST(guid AS VARCHAR), CAST(related_guid AS VARCHAR), action FROM audit.intents WHERE run_id = ? AND step = ? AND table_name = ?",
    )?;
    let rows = stmt.query_map(params![run, step, table], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (g, related, action) = row?;
        if let Ok(g) = Uuid::parse_str(&g) {
            out.insert((g, related.and_then(|r| Uuid::parse_str(&r).ok())), action);
        }
    }
    Ok(out)
}

/// Staged GUID → target GUID for records Dataverse creates itself.
/// N:N links earlier push runs created and no rollback has undone: a
/// "duplicate" answer for one of these is our own earlier run's link.
pub fn links_created_before(
    conn: &Connection,
    run: i32,
    table: &str,
) -> Result<std::collections::HashSet<(Uuid, Uuid)>> {
    let mut stmt = conn.prepare(
        "SELECT CAST(r.guid AS VARCHAR), CAST(r.related_guid AS VARCHAR)
         FROM audit.records r JOIN temp.target_runs u USING (run_id)
         WHERE u.kind = 'push' AND r.run_id <> ? AND r.table_name = ?
           AND r.operation = 'created' AND r.related_guid IS NOT NULL
           AND r.run_id NOT IN (SELECT rollback_of FROM temp.target_runs
                                WHERE kind = 'rollback' AND rollback_of IS NOT NULL)",
    )?;
    let rows = stmt.query_map(params![run, table], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = std::collections::HashSet::new();
    for row in rows {
        let (guid, related) = row?;
        if let (Ok(g), Ok(r)) = (Uuid::parse_str(&guid), Uuid::parse_str(&related)) {
            out.insert((g, r));
        }
    }
    Ok(out)
}

pub fn guid_map(conn: &Connection) -> Result<std::collections::HashMap<Uuid, Uuid>> {
    let mut stmt = conn.prepare(
        "SELECT CAST(staged_guid AS VARCHAR), CAST(target_guid AS VARCHAR) FROM audit.guid_map",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (a, b) = row?;
        if let (Ok(a), Ok(b)) = (Uuid::parse_str(&a), Uuid::parse_str(&b)) {
            out.insert(a, b);
        }
    }
    Ok(out)
}

/// One record's outcome, as `audit.records` holds it.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub guid: Uuid,
    pub related: Option<Uuid>,
    pub record_id: String,
    pub operation: &'static str,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub payload_hash: Option<String>,
}

/// A pending write: recorded before it is sent.
pub struct Intent {
    pub guid: Uuid,
    pub related: Option<Uuid>,
    pub action: &'static str,
    pub preimage: Option<String>,
}

/// Records what a window is about to send (and the pre-images of its
/// updates) in one transaction.
pub fn record_intents(
    conn: &mut Connection,
    run: i32,
    step: &str,
    table: &str,
    intents: &[Intent],
) -> Result<()> {
    if intents.is_empty() {
        return Ok(());
    }
    let now = now();
    let tx = conn.transaction()?;
    {
        let mut intents_app = tx.appender_to_db("intents", "audit")?;
        for i in intents {
            intents_app.append_row(params![
                run,
                step,
                table,
                i.guid.to_string(),
                i.related.map(|r| r.to_string()),
                i.action
            ])?;
        }
        intents_app.flush()?;
        let mut pre = tx.appender_to_db("preimages", "audit")?;
        for i in intents {
            if let Some(p) = &i.preimage {
                pre.append_row(params![run, step, table, i.guid.to_string(), p, now])?;
            }
        }
        pre.flush()?;
    }
    tx.commit()?;
    Ok(())
}

/// A replaced owner or party: the record's guid and record id, and
/// (column, wanted, reason, used) as `audit.substitutions` stores them.
pub type SubstitutionRow = (Uuid, String, (String, String, String, String));

/// Records a window's outcomes and substitutions and clears its intents,
/// in one transaction.
pub fn record_outcomes(
    conn: &mut Connection,
    run: i32,
    step: &str,
    table: &str,
    outcomes: &[RecordOutcome],
    substitutions: &[SubstitutionRow],
) -> Result<()> {
    let now = now();
    let tx = conn.transaction()?;
    {
        let mut app = tx.appender_to_db("records", "audit")?;
        for o in outcomes {
            app.append_row(params![
                run,
                step,
                table,
                o.record_id,
                o.guid.to_string(),
                o.related.map(|r| r.to_string()),
                o.operation,
                o.http_status.map(i32::from),
                o.error_code,
                o.message,
                o.payload_hash,
                now
            ])?;
        }
        app.flush()?;
        let mut subs = tx.appender_to_db("substitutions", "audit")?;
        for (guid, record_id, (column, wanted, reason, used)) in substitutions {
            subs.append_row(params![
                run,
                table,
                record_id,
                guid.to_string(),
                column,
                wanted,
                reason,
                used
            ])?;
        }
        subs.flush()?;
    }
    tx.execute(
        "DELETE FROM audit.intents WHERE run_id = ? AND step = ? AND table_name = ?",
        params![run, step, table],
    )?;
    tx.commit()?;
    Ok(())
}

/// Dataverse answers a lookup or link to a record that does not exist with
/// 0x80040217 and "`<table>` With Id = `<guid>` Does Not Exist" (Web API
/// error codes, "ObjectDoesNotExist"). When that record is one this run
/// failed to create, the answer alone sends the analyst hunting for a
/// missing parent; the audit row says which failure it follows from.
pub fn explain_missing_parents(conn: &Connection, run: i32, step: &str, table: &str) -> Result<()> {
    conn.execute(
        "UPDATE audit.records AS r
         SET message = r.message || ' — it failed to load earlier in this run: '
                       || p.table_name || ' ' || coalesce(p.record_id, '') || ' (' || p.error_code
                       || '); correct that record and push again'
         FROM (SELECT guid, any_value(table_name) AS table_name, any_value(record_id) AS record_id,
                      any_value(error_code) AS error_code
               FROM audit.records AS f
               WHERE f.run_id = ? AND f.step = 'records' AND f.operation = 'failed'
                 AND NOT EXISTS (SELECT 1 FROM audit.records AS c
                                 WHERE c.run_id = f.run_id AND c.step = 'records' AND c.guid = f.guid
                                   AND c.operation <> 'failed')
               GROUP BY guid) AS p
         WHERE r.run_id = ? AND r.step = ? AND r.table_name = ?
           AND r.operation = 'failed' AND r.error_code = '0x80040217'
           AND NOT contains(r.message, 'failed to load earlier in this run')
           AND p.guid = TRY_CAST(regexp_extract(r.message,
                 '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}') AS UUID)",
        params![run, run, step, table],
    )?;
    Ok(())
}

/// The per-step summary row.
#[allow(clippy::too_many_arguments)]
pub fn record_step(
    conn: &Connection,
    run: i32,
    step_no: usize,
    step: &str,
    table: &str,
    label: &str,
    read_requests: u64,
    write_requests: u64,
    requests: u64,
    throttled: u64,
    seconds: f64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit.steps
         SELECT ?, ?, ?, ?, ?, count(*),
                count(*) FILTER (operation = 'created'), count(*) FILTER (operation = 'updated'),
                count(*) FILTER (operation = 'unchanged'), count(*) FILTER (operation = 'failed'),
                ?, ?, ?, ?, ?, ?
         FROM audit.records WHERE run_id = ? AND step = ? AND table_name = ?",
        params![
            run,
            step_no as i64,
            step,
            table,
            label,
            read_requests as i64,
            write_requests as i64,
            requests as i64,
            throttled as i64,
            seconds,
            now(),
            run,
            step,
            table
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(
        conn: &Connection,
        step: &str,
        table: &str,
        record: &str,
        guid: &str,
        code: &str,
        message: &str,
    ) {
        conn.execute(
            "INSERT INTO audit.records VALUES (1, ?, ?, ?, ?, NULL, 'failed', 400, ?, ?, NULL, now())",
            params![step, table, record, guid, code, message],
        )
        .unwrap();
    }

    fn message_of(conn: &Connection, record: &str) -> String {
        conn.query_row(
            "SELECT message FROM audit.records WHERE record_id = ?",
            [record],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_missing_parent_that_failed_earlier_in_the_run_is_named() {
        let conn = Connection::open_in_memory().unwrap();
        ensure(&conn).unwrap();
        let parent = "ed8dfd57-dbd4-55a3-89ab-5690c7ccb810";
        let stranger = "0b7c2c5e-32a4-4f5e-9a52-6f0f4e1f3a11";
        failed(
            &conn,
            "records",
            "st_equipment",
            "EQ-7",
            parent,
            "ferry:date_out_of_range",
            "st_installdate is \"0202-09-03\"",
        );
        failed(
            &conn,
            "associate",
            "st_equipment_customeraddress",
            "LINK-1",
            parent,
            "0x80040217",
            &format!("st_equipment With Id = {parent} Does Not Exist"),
        );
        failed(
            &conn,
            "associate",
            "st_equipment_customeraddress",
            "LINK-2",
            stranger,
            "0x80040217",
            &format!("st_equipment With Id = {stranger} Does Not Exist"),
        );
        explain_missing_parents(&conn, 1, "associate", "st_equipment_customeraddress").unwrap();
        explain_missing_parents(&conn, 1, "associate", "st_equipment_customeraddress").unwrap();
        assert_eq!(
            message_of(&conn, "LINK-1"),
            format!(
                "st_equipment With Id = {parent} Does Not Exist — it failed to load earlier in this run: \
                 st_equipment EQ-7 (ferry:date_out_of_range); correct that record and push again"
            )
        );
        // A record that never failed here is a real hole: left as Dataverse said it.
        assert_eq!(
            message_of(&conn, "LINK-2"),
            format!("st_equipment With Id = {stranger} Does Not Exist")
        );
    }
}
