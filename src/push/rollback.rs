//! `ferry rollback [--run ID]`: undoes push runs (SPEC §6 Rollback) —
//! every run not yet rolled back, newest first, or the one named. Undoing a
//! run removes the N:N links it made, deletes the records it created
//! (children first), and restores the pre-images of the records it updated.
//! Each undone run is a rollback run of its own in `audit.runs`, every action is in
//! `audit.records`, it resumes where it stopped, and running it again on a
//! rolled-back run changes nothing.
//!
//! Records the push meant to create but never heard back about (intents of
//! an interrupted run) are deleted too: a delete of a record that is not
//! there is recorded as `gone`, not as a failure.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::audit::{self, RecordOutcome};
use crate::dataverse::client::{BatchRequest, Credentials, DataverseClient, MAX_BATCH_REQUESTS};
use crate::dataverse::schema::Schema;
use crate::error::{Error, Result};
use crate::stage::db::relation_exists;
use crate::workspace::Workspace;
use crate::Outcome;

/// One thing to undo.
struct Undo {
    table: String,
    step: String,
    guid: Uuid,
    related: Option<Uuid>,
    record_id: String,
    /// None: delete (or unlink); Some: restore these values.
    preimage: Option<Map<String, Value>>,
}

/// One push run undone (or partly undone) by one rollback run.
struct Undone {
    rollback_run: i32,
    push_run: i32,
    counts: Vec<(String, i64)>,
    failed: u64,
}

/// `ferry rollback`: without `run`, every push run not yet rolled back,
/// newest first — each run's pre-images were read after the runs before it
/// wrote, so only that order restores what the target held before the
/// first. With `run`, that one run.
pub fn run(ws: &Workspace, run: Option<i32>, json_out: bool) -> Result<Outcome> {
    let mut conn = crate::stage::open_database(ws)?;
    if !relation_exists(&conn, "audit", "runs")? {
        return Err(Error::Usage(
            "there is no push to roll back (audit.runs is empty)".into(),
        ));
    }
    audit::ensure(&conn)?;
    let target = ws.config.target_name.clone();
    audit::scope_to_target(&conn, &target)?;
    let unfinished = audit::unfinished_run(&conn, "rollback")?;
    let resume_of = |push_run: i32| match unfinished {
        Some((id, Some(of))) if of == push_run => Some(id),
        _ => None,
    };
    let runs: Vec<i32> = match run {
        Some(id) => {
            let run: Option<(String, String)> = conn
                .query_row(
                    "SELECT status, coalesce(target_name, 'default') FROM audit.runs WHERE run_id = ? AND kind = 'push'",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            match run.as_ref().map(|(status, of)| (status.as_str(), of)) {
                None => {
                    return Err(Error::Usage(format!(
                        "push run {id} does not exist (see audit.runs)"
                    )))
                }
                // Undoing it means talking to the org it went to.
                Some((_, of)) if *of != target => {
                    return Err(Error::Usage(format!(
                        "push run {id} went to the target {of}, not {target}; run `ferry rollback --run {id} --target {of}`"
                    )))
                }
                Some(("rolled back", _)) if resume_of(id).is_none() => {
                    println!("push run {id} was already rolled back; nothing to do");
                    return Ok(Outcome::Ok);
                }
                _ => vec![id],
            }
        }
        None => {
            let mut stmt = conn.prepare(
                "SELECT run_id FROM temp.target_runs WHERE kind = 'push' AND status <> 'rolled back'
                 ORDER BY run_id DESC",
            )?;
            let mut runs: Vec<i32> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            if let Some((_, Some(of))) = unfinished {
                if !runs.contains(&of) {
                    runs.push(of);
                    runs.sort_unstable_by(|a, b| b.cmp(a));
                }
            }
            let pushes: i64 = conn.query_row(
                "SELECT count(*) FROM temp.target_runs WHERE kind = 'push'",
                [],
                |r| r.get(0),
            )?;
            if pushes == 0 {
                return Err(Error::Usage(format!(
                    "there is no push to the target {target} to roll back (audit.runs holds none)"
                )));
            }
            if runs.is_empty() {
                println!(
                    "every push run to the target {target} is rolled back already; nothing to do"
                );
                return Ok(Outcome::Ok);
            }
            runs
        }
    };
    let schema = Schema::builtin(&ws.config.prefix);
    let credentials = Credentials::from_target(&ws.config.target)?;
    let rt = crate::runtime::get()?;
    let client = rt.block_on(DataverseClient::connect(credentials))?;
    let mut undone = Vec::new();
    for push_run in runs {
        let one = undo_run(
            &mut conn,
            rt,
            &client,
            &schema,
            (push_run, &target),
            resume_of(push_run),
        )?;
        let failed = one.failed;
        undone.push(one);
        // An older run is undone only on top of a fully undone newer one.
        if failed > 0 {
            break;
        }
    }
    let failed: u64 = undone.iter().map(|u| u.failed).sum();
    if json_out {
        let runs: Vec<Value> = undone
            .iter()
            .map(|u| {
                let map: Map<String, Value> =
                    u.counts.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                json!({"rollback_run": u.rollback_run, "push_run": u.push_run, "outcomes": map, "failed": u.failed})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"rollbacks": runs})).expect("serializes")
        );
    } else {
        for u in &undone {
            let text: Vec<String> = u.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
            println!(
                "rollback run {} of push run {}: {}",
                u.rollback_run,
                u.push_run,
                if text.is_empty() {
                    "nothing to undo".to_string()
                } else {
                    text.join(", ")
                }
            );
            if u.failed > 0 {
                println!(
                    "{} action(s) failed: run `ferry rollback` again, or see audit.records WHERE run_id = {} AND operation = 'failed'",
                    u.failed, u.rollback_run
                );
            }
        }
    }
    Ok(if failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

/// Undoes one push run in a rollback run of its own (resuming `resume`,
/// an interrupted rollback of the same push run, when given).
fn undo_run(
    conn: &mut duckdb::Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    schema: &Schema,
    (target_run, target): (i32, &str),
    resume: Option<i32>,
) -> Result<Undone> {
    let undo = plan_undo(conn, target_run)?;
    let before = client.stats();
    let rollback_run = match resume {
        Some(id) => {
            eprintln!("resuming rollback run {id} of push run {target_run}");
            id
        }
        None => audit::start_run(
            conn,
            "rollback",
            Some(target_run),
            client.org_url(),
            target,
            "",
        )?,
    };
    let done: HashSet<(String, Uuid, Option<Uuid>)> = {
        let mut stmt = conn.prepare(
            "SELECT table_name, CAST(guid AS VARCHAR), CAST(related_guid AS VARCHAR) FROM audit.records WHERE run_id = ?",
        )?;
        let rows = stmt.query_map([rollback_run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut set = HashSet::new();
        for row in rows {
            let (t, g, rel) = row?;
            if let Ok(g) = Uuid::parse_str(&g) {
                set.insert((t, g, rel.and_then(|r| Uuid::parse_str(&r).ok())));
            }
        }
        set
    };
    let entity_set = |table: &str| {
        schema
            .table(table)
            .map(|t| t.entity_set_name.clone())
            .unwrap_or_else(|| crate::plan::steps::default_entity_set(table))
    };
    let pending: Vec<&Undo> = undo
        .iter()
        .filter(|u| !done.contains(&(u.table.clone(), u.guid, u.related)))
        .collect();
    let bar = crate::progress::steps("rollback", pending.len() as u64);
    let mut failed = 0u64;
    for group in pending.chunks(MAX_BATCH_REQUESTS) {
        let parts: Vec<BatchRequest> = group
            .iter()
            .map(|u| request_for(u, schema, &entity_set, client.org_url()))
            .collect();
        let answers = rt.block_on(client.send_batch(&parts, false, true))?;
        let outcomes: Vec<RecordOutcome> = group
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let answer = answers.get(k);
                let (operation, status, code, message) =
                    match answer.and_then(|a| a.error().map(|e| (a.status, e))) {
                        None if answer.is_some() => (
                            if u.preimage.is_some() {
                                "restored"
                            } else {
                                "deleted"
                            },
                            None,
                            None,
                            None,
                        ),
                        None => (
                            "failed",
                            None,
                            Some("ferry:no_answer".to_string()),
                            Some("no answer for this part".to_string()),
                        ),
                        Some((404, _)) => (
                            "gone",
                            Some(404),
                            None,
                            Some("already absent from the target".to_string()),
                        ),
                        Some((status, (code, message))) => {
                            ("failed", Some(status), Some(code), Some(message))
                        }
                    };
                if operation == "failed" {
                    failed += 1;
                }
                RecordOutcome {
                    guid: u.guid,
                    related: u.related,
                    record_id: u.record_id.clone(),
                    operation,
                    http_status: status,
                    error_code: code,
                    message,
                    payload_hash: None,
                }
            })
            .collect();
        // Outcomes per table keep audit.records' shape (one table each).
        let mut tables: Vec<&str> = group.iter().map(|u| u.table.as_str()).collect();
        tables.dedup();
        for table in tables {
            let these: Vec<RecordOutcome> = outcomes
                .iter()
                .zip(group.iter())
                .filter(|(_, u)| u.table == table)
                .map(|(o, _)| o.clone())
                .collect();
            audit::record_outcomes(conn, rollback_run, "rollback", table, &these, &[])?;
        }
        bar.inc(group.len() as u64);
    }
    bar.finish_and_clear();
    let stats = client.stats();
    audit::finish_run(
        conn,
        rollback_run,
        stats.requests - before.requests,
        stats.throttled - before.throttled,
    )?;
    if failed == 0 {
        conn.execute(
            "UPDATE audit.runs SET status = 'rolled back' WHERE run_id = ?",
            [target_run],
        )?;
    }
    let counts: Vec<(String, i64)> = {
        let mut stmt = conn.prepare(
            "SELECT operation, count(*) FROM audit.records WHERE run_id = ? GROUP BY 1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([rollback_run], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    Ok(Undone {
        rollback_run,
        push_run: target_run,
        counts,
        failed,
    })
}

/// What to undo, in order: links first, then records in the reverse of
/// the order the push wrote them (children before parents), each record's
/// later steps before its earlier ones.
fn plan_undo(conn: &duckdb::Connection, run: i32) -> Result<Vec<Undo>> {
    let mut stmt = conn.prepare(
        "WITH acts AS (
            SELECT r.table_name, r.step, r.guid, r.related_guid, r.record_id, r.operation, r.recorded_at
            FROM audit.records r WHERE r.run_id = ? AND r.operation IN ('created', 'updated')
            UNION ALL
            SELECT i.table_name, i.step, i.guid, i.related_guid, NULL, 'created', CAST(now() AS TIMESTAMP)
            FROM audit.intents i WHERE i.run_id = ? AND i.action = 'create'
         ),
         first_write AS (SELECT table_name, min(recorded_at) AS first_at FROM acts GROUP BY 1)
         SELECT a.table_name, a.step, CAST(a.guid AS VARCHAR), CAST(a.related_guid AS VARCHAR),
                coalesce(a.record_id, ''), a.operation,
                (SELECT p.preimage FROM audit.preimages p WHERE p.run_id = ? AND p.step = a.step AND p.table_name = a.table_name AND p.guid = a.guid ORDER BY p.recorded_at LIMIT 1)
         FROM acts a JOIN first_write f USING (table_name)
         ORDER BY (a.step = 'associate') DESC, f.first_at DESC, a.table_name,
                  CASE a.step WHEN 'state' THEN 0 WHEN 'deferred' THEN 1 ELSE 2 END, a.guid",
    )?;
    let rows = stmt.query_map(duckdb::params![run, run, run], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut created: HashSet<(String, Uuid)> = HashSet::new();
    let mut all = Vec::new();
    for row in rows {
        all.push(row?);
    }
    for (table, step, guid, _, _, op, _) in &all {
        if op == "created" && step == "records" {
            if let Ok(g) = Uuid::parse_str(guid) {
                created.insert((table.clone(), g));
            }
        }
    }
    for (table, step, guid, related, record_id, op, preimage) in all {
        let Ok(guid) = Uuid::parse_str(&guid) else {
            continue;
        };
        let related = related.and_then(|r| Uuid::parse_str(&r).ok());
        if !seen.insert((table.clone(), step.clone(), guid, related)) {
            continue;
        }
        let preimage = match op.as_str() {
            // A record the run created is deleted; its later steps need no
            // restoring.
            "updated" if created.contains(&(table.clone(), guid)) => continue,
            "created" if step != "records" && step != "associate" => continue,
            "updated" => {
                match preimage.and_then(|p| serde_json::from_str::<Map<String, Value>>(&p).ok()) {
                    Some(p) => Some(p),
                    None => continue,
                }
            }
            _ => None,
        };
        out.push(Undo {
            table,
            step,
            guid,
            related,
            record_id,
            preimage,
        });
    }
    Ok(out)
}

fn request_for(
    u: &Undo,
    schema: &Schema,
    entity_set: &dyn Fn(&str) -> String,
    org_url: &str,
) -> BatchRequest {
    if u.step == "associate" {
        // table_name is the relationship; guid is side 1, related side 2.
        let relationship = schema.many_to_many().iter().find(|m| m.name == u.table);
        let (t1, t2) = relationship
            .map(|m| (m.table1.clone(), m.table2.clone()))
            .unwrap_or_default();
        let target = format!(
            "{}/api/data/v9.2/{}({})",
            org_url.trim_end_matches('/'),
            entity_set(&t2),
            u.related.unwrap_or_default()
        );
        return BatchRequest::new(
            Method::DELETE,
            format!(
                "{}({})/{}/$ref?$id={target}",
                entity_set(&t1),
                u.guid,
                u.table
            ),
            None,
        );
    }
    let path = format!("{}({})", entity_set(&u.table), u.guid);
    match &u.preimage {
        None => BatchRequest::new(Method::DELETE, path, None),
        Some(pre) => {
            let mut body = Map::new();
            for (column, value) in pre {
                match value {
                    Value::Object(o) if o.contains_key("id") => {
                        let nav = navigation(
                            schema,
                            &u.table,
                            column,
                            o.get("table").and_then(Value::as_str),
                        );
                        let bind = match (
                            o.get("id").and_then(Value::as_str),
                            o.get("table").and_then(Value::as_str),
                        ) {
                            (Some(id), Some(t)) => {
                                Value::String(format!("/{}({id})", entity_set(t)))
                            }
                            _ => Value::Null,
                        };
                        body.insert(format!("{nav}@odata.bind"), bind);
                    }
                    other => {
                        body.insert(column.clone(), other.clone());
                    }
                }
            }
            let mut req = BatchRequest::new(Method::PATCH, path, Some(Value::Object(body)));
            // Restore only what exists: never create a record by PATCH.
            req.headers.push(("If-Match".into(), "*".into()));
            req
        }
    }
}

/// The navigation property that sets `column` to a record of `target`.
fn navigation(schema: &Schema, table: &str, column: &str, target: Option<&str>) -> String {
    let def = schema.column(table, column);
    let multi = def.is_some_and(|c| {
        c.column_type != crate::dataverse::schema::ColumnType::Owner && c.targets.len() > 1
    });
    match (column, target) {
        ("regardingobjectid", Some(t)) => format!("regardingobjectid_{t}_{table}"),
        (_, Some(t)) if multi => format!("{column}_{t}"),
        _ => column.to_string(),
    }
}
