//! `ferry rollback [--run ID]`: undoes a push run (SPEC §6 Rollback) —
//! removes the N:N links it made, deletes the records it created (children
//! first), and restores the pre-images of the records it updated. A
//! rollback is a run of its own in `audit.runs`, every action is in
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

pub fn run(ws: &Workspace, run: Option<i32>, json_out: bool) -> Result<Outcome> {
    let mut conn = crate::stage::open_database(ws)?;
    if !relation_exists(&conn, "audit", "runs")? {
        return Err(Error::Usage(
            "there is no push to roll back (audit.runs is empty)".into(),
        ));
    }
    audit::ensure(&conn)?;
    // Resume an interrupted rollback of the same run first.
    let (rollback_run, target_run, resumed) = match audit::unfinished_run(&conn, "rollback")? {
        Some((id, Some(of))) if run.is_none() || run == Some(of) => (Some(id), of, true),
        _ => {
            let of = match run {
                Some(id) => id,
                None => conn
                    .query_row(
                        "SELECT max(run_id) FROM audit.runs WHERE kind = 'push' AND status <> 'rolled back'",
                        [],
                        |r| r.get::<_, Option<i32>>(0),
                    )?
                    .ok_or_else(|| Error::Usage("there is no push run left to roll back".into()))?,
            };
            (None, of, false)
        }
    };
    let status: Option<String> = conn
        .query_row(
            "SELECT status FROM audit.runs WHERE run_id = ? AND kind = 'push'",
            [target_run],
            |r| r.get(0),
        )
        .ok();
    match status.as_deref() {
        None => {
            return Err(Error::Usage(format!(
                "push run {target_run} does not exist (see audit.runs)"
            )))
        }
        Some("rolled back") => {
            println!("push run {target_run} was already rolled back; nothing to do");
            return Ok(Outcome::Ok);
        }
        _ => {}
    }
    let undo = plan_undo(&conn, target_run)?;
    let schema = Schema::builtin(&ws.config.prefix);
    let credentials = Credentials::from_target(&ws.config.target)?;
    let rt = crate::runtime::get()?;
    let client = rt.block_on(DataverseClient::connect(credentials))?;
    let rollback_run = match rollback_run {
        Some(id) => id,
        None => audit::start_run(&conn, "rollback", Some(target_run), client.org_url(), "")?,
    };
    if resumed {
        eprintln!("resuming rollback run {rollback_run} of push run {target_run}");
    }
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
            .map(|u| request_for(u, &schema, &entity_set, client.org_url()))
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
            audit::record_outcomes(&mut conn, rollback_run, "rollback", table, &these, &[])?;
        }
        bar.inc(group.len() as u64);
    }
    bar.finish_and_clear();
    let stats = client.stats();
    audit::finish_run(&conn, rollback_run, stats.requests, stats.throttled)?;
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
    if json_out {
        let map: Map<String, Value> = counts.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"rollback_run": rollback_run, "push_run": target_run, "outcomes": map})
            )
            .expect("serializes")
        );
    } else {
        let text: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "rollback run {rollback_run} of push run {target_run}: {}",
            if text.is_empty() {
                "nothing to undo".to_string()
            } else {
                text.join(", ")
            }
        );
        if failed > 0 {
            println!("{failed} action(s) failed: run `ferry rollback` again, or see audit.records WHERE run_id = {rollback_run} AND operation = 'failed'");
        }
    }
    Ok(if failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
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
