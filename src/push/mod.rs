//! `ferry push`: the moment a company's data moves (SPEC §6, §9). Every
//! staged record goes into Dataverse exactly once under its deterministic
//! GUID, parents before children, owned by its technician's user, with
//! every outcome, pre-image and substitution in `audit.*` — so a push can be
//! interrupted at any moment and run again, and undone by `ferry rollback`.
//!
//! This module holds the command's flow: gates, preflight, the target's
//! users and org records, then the steps the plan orders ([`steps`]) run by the engine
//! ([`load`]) over payloads built by [`rows`].

pub mod audit;
pub mod load;
pub mod rollback;
pub mod rows;
pub mod sample;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table as TextTable};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::dataverse::client::{Credentials, DataverseClient, MAX_PAGE_SIZE};
use crate::dataverse::schema::Schema;
use crate::error::{Error, Result};
use crate::plan::estimate;
use crate::plan::steps::{self, Step, StepKind};
use crate::stage::db::relation_exists;
use crate::workspace::Workspace;
use crate::Outcome;

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub dry_run: bool,
    /// About this many records, referentially closed.
    pub sample: Option<usize>,
    /// Only these tables (and relationships).
    pub only: Vec<String>,
}

/// One line of the summary (per step).
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub step: String,
    pub table: String,
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub read_requests: u64,
    pub write_requests: u64,
    pub requests: u64,
    pub throttled: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushSummary {
    pub run_id: i32,
    pub resumed: bool,
    /// The `[targets.<name>]` pushed to, and its URL.
    pub target_name: String,
    pub target: String,
    pub steps: Vec<StepSummary>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Requests the loader sent for records (reads and writes), as `plan`
    /// estimates them.
    pub record_requests: u64,
    /// Every HTTP request, retries and sign-in included.
    pub http_requests: u64,
    pub throttled: u64,
    pub substitutions: u64,
    pub seconds: f64,
}

/// The gates of SPEC §6: unwaived error findings and the sign-off.
pub fn gate_refusals(ws: &Workspace, conn: &duckdb::Connection) -> Result<Vec<String>> {
    let mut refusals = Vec::new();
    match crate::validate::open_errors(conn)? {
        None => refusals.push(
            "the staged rows were never validated: run `ferry validate` first".to_string(),
        ),
        Some(0) => {}
        Some(n) => refusals.push(format!(
            "{n} error finding(s) in \"check\".findings are neither fixed nor waived: see `ferry validate`, fix the source or transform, or waive them in mapping/waivers.csv with a reason"
        )),
    }
    if let Some(refusal) = crate::mapping::signoff::status(ws)?.refusal() {
        refusals.push(refusal);
    }
    Ok(refusals)
}

pub fn run(ws: &Workspace, options: &PushOptions, json: bool) -> Result<Outcome> {
    let mut conn = crate::stage::open_database(ws)?;
    if !relation_exists(&conn, "meta", "stg_rows")? {
        return Err(Error::input(
            ws.database_path(),
            "nothing is transformed yet (no stg.* tables)",
            "run `ferry transform` and `ferry validate` first",
        ));
    }
    audit::ensure(&conn)?;
    audit::scope_to_target(&conn, &ws.config.target_name)?;
    let refusals = gate_refusals(ws, &conn)?;
    if !refusals.is_empty() && !options.dry_run {
        eprintln!("ferry push refuses to write:");
        for r in &refusals {
            eprintln!("  - {r}");
        }
        return Ok(Outcome::Problems);
    }
    let (planned, known) = crate::plan::target::planned_schema(ws, &conn)?;
    let needs = crate::plan::needs(&conn, &planned)?;
    let (target_schema, target_label) = match (&ws.config.target.url, options.dry_run) {
        (None, true) => (planned.clone(), "ferry's built-in reference".to_string()),
        _ => crate::plan::target::read_target(ws, &needs, known.as_ref())?,
    };
    // Preflight: every table, column and option value the rows use exists,
    // judged by the same planned schema as `ferry plan`.
    let plan = crate::plan::compare(
        &needs,
        &planned,
        &target_schema,
        &target_label,
        false,
        ws.config.push.batch_size,
        ws.config.push.application_users,
        None,
    );
    let open: Vec<_> = plan
        .items
        .iter()
        .filter(|i| i.standing != crate::plan::Standing::Present)
        .collect();
    if !open.is_empty() && ws.config.target.url.is_some() {
        eprintln!("preflight: the target lacks what the staged rows use ({target_label}):");
        for i in open.iter().take(40) {
            eprintln!(
                "  - {} {}.{}: {:?} {}",
                i.kind, i.table, i.name, i.standing, i.detail
            );
        }
        if open.len() > 40 {
            eprintln!("  … and {} more (see `ferry plan`)", open.len() - 40);
        }
        eprintln!(
            "  what to do: run `ferry plan --apply` (or create them by hand), then push again"
        );
        if !options.dry_run {
            return Ok(Outcome::Problems);
        }
    }
    let mut all_steps = steps::plan_steps(&conn, &target_schema)?;
    if !options.only.is_empty() {
        for name in &options.only {
            if !all_steps.iter().any(|s| &s.table == name) {
                return Err(Error::Usage(format!(
                    "--only {name}: there is no staged table or relationship of that name"
                )));
            }
        }
        all_steps.retain(|s| options.only.contains(&s.table));
    }
    let sampled = match options.sample {
        Some(n) => {
            let picked = sample::build(&conn, &all_steps, n)?;
            eprintln!(
                "sample: {picked} records (about {n} asked for), every parent of a sampled record included"
            );
            true
        }
        None => false,
    };
    if options.dry_run {
        return dry_run(
            ws,
            &conn,
            &all_steps,
            sampled,
            &refusals,
            &target_schema,
            json,
        );
    }
    let credentials = Credentials::from_target(&ws.config.target)?;
    let rt = crate::runtime::get()?;
    let client = rt.block_on(DataverseClient::connect(credentials))?;
    // Proves the token works before anything is read or written.
    rt.block_on(client.whoami())?;
    let users = read_users(&conn, rt, &client)?;
    check_user_overrides(&conn, &users)?;
    // The target's own fallback owner wins: users differ between orgs.
    let (fallback_setting, fallback_owner_setting) = match &ws.config.target.fallback_owner {
        Some(email) => (
            Some(email),
            format!("[targets.{}] fallback_owner", ws.config.target_name),
        ),
        None => (
            ws.config.push.fallback_owner.as_ref(),
            "[push] fallback_owner".to_string(),
        ),
    };
    let fallback_owner = match fallback_setting {
        None => None,
        Some(email) => match users.get(&email.trim().to_lowercase()) {
            Some((id, false)) => Some((*id, email.clone())),
            Some((_, true)) => {
                return Err(Error::Usage(format!(
                    "{fallback_owner_setting} {email} is disabled in the target; name an enabled user"
                )))
            }
            None => {
                return Err(Error::Usage(format!(
                    "{fallback_owner_setting} {email} is not a user of the target; name an enabled user's internalemailaddress"
                )))
            }
        },
    };
    let org_binds = resolve_org_records(ws, rt, &client, &all_steps, &target_schema)?;
    let entity_sets: HashMap<String, String> = target_schema
        .tables()
        .map(|t| (t.logical_name.clone(), t.entity_set_name.clone()))
        .collect();
    let options_text = format!(
        "batch_size={} sample={} only={}",
        ws.config.push.batch_size,
        options.sample.map_or("all".to_string(), |n| n.to_string()),
        if options.only.is_empty() {
            "all".to_string()
        } else {
            options.only.join(",")
        }
    );
    let (run_id, resumed) = match audit::unfinished_run(&conn, "push")? {
        Some((id, _)) => {
            // A resume continues the same work: with other options (tables,
            // sample) the steps already done would not be the ones asked for.
            let started_with = audit::run_options(&conn, id)?.unwrap_or_default();
            if started_with != options_text {
                return Err(Error::Usage(format!(
                    "push run {id} was interrupted and has not finished; it was started with `{started_with}`, \
                     this push asks for `{options_text}`. Finish it first by running `ferry push` with the \
                     same --sample/--only options and [push] batch_size, or undo it with `ferry rollback --run {id}`"
                )));
            }
            eprintln!("resuming push run {id} (it was interrupted)");
            (id, true)
        }
        None => (
            audit::start_run(
                &conn,
                "push",
                None,
                client.org_url(),
                &ws.config.target_name,
                &options_text,
            )?,
            false,
        ),
    };
    let started = Instant::now();
    let staged_types = steps::staged_columns(&conn)?;
    for (step_no, step) in all_steps.iter().enumerate() {
        if audit::step_done(&conn, run_id, step.key(), &step.table)? {
            continue;
        }
        let step_start = Instant::now();
        let before = client.stats();
        let guid_map = audit::guid_map(&conn)?;
        let binds: Vec<(String, String)> = if step.kind == StepKind::Records {
            step.org_refs
                .iter()
                .filter_map(|(column, _)| {
                    org_binds.get(column).map(|b| (column.clone(), b.clone()))
                })
                .collect()
        } else {
            Vec::new()
        };
        let ctx = rows::Context {
            step,
            users: &users,
            fallback_owner: fallback_owner.clone(),
            guid_map: &guid_map,
            entity_sets: &entity_sets,
            org_binds: &binds,
            max_upload_bytes: ws.config.target.max_upload_bytes,
        };
        let duck_types: BTreeMap<String, String> = staged_types
            .get(&step.table)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let total = count_rows(&conn, step, &duck_types, sampled)?;
        let bar = crate::progress::steps(&step.label(), total);
        let engine = load::StepRun {
            client: &client,
            runtime: rt,
            run: run_id,
            batch: ws
                .config
                .push
                .batch_size
                .clamp(1, crate::dataverse::client::MAX_BULK_RECORDS),
            concurrency: ws.config.push.concurrency.max(1),
            sampled,
            counts: load::Counts::default(),
            org_url: client.org_url().to_string(),
        };
        let result = engine.run(&mut conn, &ctx, &duck_types, &bar);
        bar.finish_and_clear();
        let after = client.stats();
        if let Err(e) = result {
            audit::add_requests(
                &conn,
                run_id,
                after.requests - before.requests,
                after.throttled - before.throttled,
            )?;
            return Err(e);
        }
        audit::explain_missing_parents(&conn, run_id, step.key(), &step.table)?;
        if step.kind == StepKind::Records && step.table == "uomschedule" {
            match_base_units(&mut conn, rt, &client, run_id, &engine.counts)?;
        }
        let reads = engine
            .counts
            .reads
            .load(std::sync::atomic::Ordering::Relaxed);
        let writes = engine
            .counts
            .writes
            .load(std::sync::atomic::Ordering::Relaxed);
        audit::record_step(
            &conn,
            run_id,
            step_no,
            step.key(),
            &step.table,
            &step.label(),
            reads,
            writes,
            after.requests - before.requests,
            after.throttled - before.throttled,
            step_start.elapsed().as_secs_f64(),
        )?;
        crate::progress::note(format!(
            "{:<38} {} records, {} requests",
            step.label(),
            total,
            reads + writes
        ));
    }
    let stats = client.stats();
    audit::finish_run(&conn, run_id, stats.requests, stats.throttled)?;
    let summary = summarize(
        &conn,
        run_id,
        resumed,
        (&ws.config.target_name, client.org_url()),
        started,
    )?;
    print_summary(&summary, json);
    Ok(if summary.failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

/// Rows the step will process (its filter and the sample applied): the
/// progress bar's total.
fn count_rows(
    conn: &duckdb::Connection,
    step: &Step,
    duck_types: &BTreeMap<String, String>,
    sampled: bool,
) -> Result<u64> {
    let mut filters: Vec<String> = steps::step_filter(step, duck_types).into_iter().collect();
    if sampled && step.kind != StepKind::Associate {
        filters.push(format!(
            "t.{} IN (SELECT guid FROM temp.push_sample WHERE table_name = '{}')",
            crate::stage::db::quote_ident(&step.primary_id),
            step.table.replace('\'', "''")
        ));
    }
    let sql = format!(
        "SELECT count(*) FROM {} AS t{}",
        crate::stage::db::qualified("stg", &step.table),
        if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        }
    );
    Ok(conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64)
}

/// The target's users, into `dv.systemuser` (for analysts and checks) and
/// a map by lower-cased e-mail.
fn read_users(
    conn: &duckdb::Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
) -> Result<HashMap<String, (Uuid, bool)>> {
    let rows = rt.block_on(client.get_all(
        "systemusers?$select=systemuserid,internalemailaddress,fullname,isdisabled",
        MAX_PAGE_SIZE,
    ))?;
    conn.execute_batch(crate::sql_catalog::schema_sql("dv", "users"))?;
    // What the target holds now replaces what an earlier read found.
    conn.execute_batch("DELETE FROM dv.systemuser")?;
    let mut users = HashMap::new();
    let mut app = conn.appender_to_db("systemuser", "dv")?;
    for row in &rows {
        let id = row
            .get("systemuserid")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        let email = row.get("internalemailaddress").and_then(Value::as_str);
        let disabled = row
            .get("isdisabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let name = row.get("fullname").and_then(Value::as_str);
        if let Some(id) = id {
            app.append_row(duckdb::params![id.to_string(), email, name, disabled])?;
            if let Some(email) = email {
                users.insert(email.trim().to_lowercase(), (id, disabled));
            }
        }
    }
    app.flush()?;
    Ok(users)
}

/// `mapping/users.csv` names users explicitly: each must exist (SPEC §6
/// preflight: referenced users exist).
fn check_user_overrides(
    conn: &duckdb::Connection,
    users: &HashMap<String, (Uuid, bool)>,
) -> Result<()> {
    if !relation_exists(conn, "map", "users")? {
        return Ok(());
    }
    let mut stmt = conn
        .prepare("SELECT technician_id, user_email FROM map.users WHERE user_email IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut missing = Vec::new();
    for row in rows {
        let (tech, email) = row?;
        if !users.contains_key(&email.trim().to_lowercase()) {
            missing.push(format!("{tech} → {email}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        "mapping/users.csv",
        format!(
            "these technicians are mapped to users the target does not have: {}",
            missing.join(", ")
        ),
        "correct the e-mail to the user's internalemailaddress in the target, or remove the line to fall back",
    ))
}

/// Binds for required lookups to org records (currency, contract template).
fn resolve_org_records(
    ws: &Workspace,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    steps: &[Step],
    schema: &Schema,
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let wanted: std::collections::BTreeSet<(String, String)> = steps
        .iter()
        .flat_map(|s| s.org_refs.iter().cloned())
        .collect();
    for (column, table) in wanted {
        let set = schema
            .table(&table)
            .map(|t| t.entity_set_name.clone())
            .unwrap_or_else(|| steps::default_entity_set(&table));
        let id = match table.as_str() {
            "transactioncurrency" => {
                let rows = rt.block_on(client.get_all(
                    "transactioncurrencies?$select=transactioncurrencyid,isocurrencycode",
                    MAX_PAGE_SIZE,
                ))?;
                let base = match &ws.config.target.currency {
                    Some(code) => rows.iter().find(|r| {
                        r.get("isocurrencycode")
                            .and_then(Value::as_str)
                            .is_some_and(|c| c.eq_ignore_ascii_case(code))
                    }),
                    None => {
                        let org = rt.block_on(
                            client.get_all("organizations?$select=_basecurrencyid_value", 10),
                        )?;
                        let base = org
                            .first()
                            .and_then(|o| o.get("_basecurrencyid_value"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        rows.iter()
                            .find(|r| {
                                r.get("transactioncurrencyid")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                                    == base
                            })
                            .or(rows.first())
                    }
                };
                base.and_then(|r| r.get("transactioncurrencyid"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }
            _ => {
                let rows = rt.block_on(client.get_all(
                    &format!("{set}?$select={table}id,name,abbreviation"),
                    MAX_PAGE_SIZE,
                ))?;
                let found = match &ws.config.target.contract_template {
                    Some(name) => rows.iter().find(|r| {
                        ["name", "abbreviation"].iter().any(|k| {
                            r.get(*k)
                                .and_then(Value::as_str)
                                .is_some_and(|v| v.eq_ignore_ascii_case(name))
                        })
                    }),
                    None => rows.first(),
                };
                found
                    .and_then(|r| r.get(&format!("{table}id")))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }
        };
        let Some(id) = id else {
            return Err(Error::Usage(format!(
                "the target has no {table} record for {column} (SPEC §9: contracts need an existing currency and contract template); create one, or name it in ferry.toml ([targets.<name>] currency / contract_template)"
            )));
        };
        out.insert(column, format!("/{set}({id})"));
    }
    Ok(out)
}

/// Dataverse creates a unit group's base unit itself, under its own id
/// (SPEC §9 product). The staged base unit is matched to it by name and
/// remembered in `audit.guid_map`, so products bind to the real unit.
fn match_base_units(
    conn: &mut duckdb::Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    run: i32,
    counts: &load::Counts,
) -> Result<()> {
    if !relation_exists(conn, "stg", "uom")? {
        return Ok(());
    }
    // Already matched by this run before an interruption.
    let matched: i64 = conn.query_row(
        "SELECT count(*) FROM audit.records WHERE run_id = ? AND step = 'base_unit'",
        [run],
        |r| r.get(0),
    )?;
    if matched > 0 {
        return Ok(());
    }
    let staged: Vec<(String, String, String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT CAST(u.uomid AS VARCHAR), CAST(u.uomscheduleid AS VARCHAR), u.name, CAST(u.st_record_id AS VARCHAR)
             FROM stg.uom u WHERE coalesce(u._is_base_unit, false)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let mut outcomes = Vec::new();
    for (uom, group, name, record_id) in staged {
        counts
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let units = rt.block_on(client.get_all(
            &format!("uoms?$select=uomid,name&$filter=_uomscheduleid_value eq {group}"),
            MAX_PAGE_SIZE,
        ))?;
        let found = units
            .iter()
            .find(|u| u.get("name").and_then(Value::as_str) == Some(name.as_str()));
        let guid = Uuid::parse_str(&uom).unwrap_or_default();
        match found.and_then(|u| u.get("uomid")).and_then(Value::as_str) {
            Some(target) => {
                conn.execute(
                    "DELETE FROM audit.guid_map WHERE table_name = 'uom' AND staged_guid = ?::UUID",
                    [&uom],
                )?;
                conn.execute(
                    "INSERT INTO audit.guid_map VALUES ('uom', ?::UUID, ?::UUID, 'the unit group''s base unit, created by Dataverse with the group')",
                    [&uom, &target.to_string()],
                )?;
                outcomes.push(audit::RecordOutcome {
                    guid,
                    related: Uuid::parse_str(target).ok(),
                    record_id,
                    operation: "unchanged",
                    http_status: None,
                    error_code: None,
                    message: Some(format!(
                        "base unit of the group: Dataverse created it as {target}"
                    )),
                    payload_hash: None,
                });
            }
            None => outcomes.push(audit::RecordOutcome {
                guid,
                related: None,
                record_id,
                operation: "failed",
                http_status: None,
                error_code: Some("ferry:base_unit_missing".into()),
                message: Some(format!(
                    "the unit group {group} has no base unit named {name} in the target"
                )),
                payload_hash: None,
            }),
        }
    }
    audit::record_outcomes(conn, run, "base_unit", "uom", &outcomes, &[])?;
    Ok(())
}

fn summarize(
    conn: &duckdb::Connection,
    run: i32,
    resumed: bool,
    (target_name, target): (&str, &str),
    started: Instant,
) -> Result<PushSummary> {
    let mut stmt = conn.prepare(
        "SELECT label, table_name, records, created, updated, unchanged, failed, read_requests, write_requests, requests, throttled, seconds
         FROM audit.steps WHERE run_id = ? ORDER BY step_no",
    )?;
    let steps: Vec<StepSummary> = stmt
        .query_map([run], |r| {
            Ok(StepSummary {
                step: r.get(0)?,
                table: r.get(1)?,
                records: r.get::<_, i64>(2)? as u64,
                created: r.get::<_, i64>(3)? as u64,
                updated: r.get::<_, i64>(4)? as u64,
                unchanged: r.get::<_, i64>(5)? as u64,
                failed: r.get::<_, i64>(6)? as u64,
                read_requests: r.get::<_, i64>(7)? as u64,
                write_requests: r.get::<_, i64>(8)? as u64,
                requests: r.get::<_, i64>(9)? as u64,
                throttled: r.get::<_, i64>(10)? as u64,
                seconds: r.get(11)?,
            })
        })?
        .collect::<std::result::Result<_, _>>()?;
    let (created, updated, unchanged, failed, http, throttled): (i64, i64, i64, i64, i64, i64) = conn.query_row(
        "SELECT coalesce(created,0), coalesce(updated,0), coalesce(unchanged,0), coalesce(failed,0), coalesce(requests,0), coalesce(throttled,0) FROM audit.runs WHERE run_id = ?",
        [run],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let substitutions: i64 = conn.query_row(
        "SELECT count(*) FROM audit.substitutions WHERE run_id = ?",
        [run],
        |r| r.get(0),
    )?;
    Ok(PushSummary {
        run_id: run,
        resumed,
        target_name: target_name.to_string(),
        target: target.to_string(),
        record_requests: steps
            .iter()
            .map(|s| s.read_requests + s.write_requests)
            .sum(),
        steps,
        created: created as u64,
        updated: updated as u64,
        unchanged: unchanged as u64,
        failed: failed as u64,
        http_requests: http as u64,
        throttled: throttled as u64,
        substitutions: substitutions as u64,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn print_summary(summary: &PushSummary, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).expect("summary serializes")
        );
        return;
    }
    let mut table = TextTable::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "step",
        "records",
        "created",
        "updated",
        "unchanged",
        "failed",
        "requests",
        "429s",
        "seconds",
    ]);
    for s in &summary.steps {
        table.add_row([
            s.step.clone(),
            s.records.to_string(),
            s.created.to_string(),
            s.updated.to_string(),
            s.unchanged.to_string(),
            s.failed.to_string(),
            (s.read_requests + s.write_requests).to_string(),
            s.throttled.to_string(),
            format!("{:.1}", s.seconds),
        ]);
    }
    for i in 1..9 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    println!(
        "push run {}{} into the target {} ({}): {} created, {} updated, {} unchanged, {} failed; {} record requests ({} HTTP requests, {} throttled); {} owner/party substitution(s); {:.1} s",
        summary.run_id,
        if summary.resumed { " (resumed)" } else { "" },
        summary.target_name,
        summary.target,
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.failed,
        summary.record_requests,
        summary.http_requests,
        summary.throttled,
        summary.substitutions,
        summary.seconds
    );
    if summary.failed > 0 {
        println!(
            "failed records and their reasons: ferry sql \"SELECT table_name, record_id, error_code, message FROM audit.records WHERE run_id = {} AND operation = 'failed'\"",
            summary.run_id
        );
    }
    if summary.substitutions > 0 {
        println!(
            "owners replaced: ferry sql \"SELECT * FROM audit.substitutions WHERE run_id = {}\"",
            summary.run_id
        );
    }
}

/// `--dry-run`: builds every payload and prints the request plan and the
/// estimate on a target that holds none of the records, writing nothing.
fn dry_run(
    ws: &Workspace,
    conn: &duckdb::Connection,
    all_steps: &[Step],
    sampled: bool,
    refusals: &[String],
    schema: &Schema,
    json: bool,
) -> Result<Outcome> {
    let users = HashMap::new();
    let guid_map = HashMap::new();
    let entity_sets: HashMap<String, String> = schema
        .tables()
        .map(|t| (t.logical_name.clone(), t.entity_set_name.clone()))
        .collect();
    let staged_types = steps::staged_columns(conn)?;
    let batch = ws
        .config
        .push
        .batch_size
        .clamp(1, crate::dataverse::client::MAX_BULK_RECORDS);
    let mut lines = Vec::new();
    let mut problems = 0u64;
    for step in all_steps {
        let ctx = rows::Context {
            step,
            users: &users,
            fallback_owner: None,
            guid_map: &guid_map,
            entity_sets: &entity_sets,
            org_binds: &[],
            max_upload_bytes: ws.config.target.max_upload_bytes,
        };
        let duck_types: BTreeMap<String, String> = staged_types
            .get(&step.table)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut after = None;
        let mut count = 0u64;
        let mut refused = 0u64;
        loop {
            let mut window = rows::fetch(
                conn,
                &ctx,
                &duck_types,
                &rows::Window {
                    after,
                    limit: 20_000,
                    sampled,
                    extra_filter: steps::step_filter(step, &duck_types).as_deref(),
                },
            )?;
            if window.is_empty() {
                break;
            }
            if step.kind == StepKind::Records && duck_types.contains_key("activityid") {
                rows::attach_parties(conn, &ctx, &mut window, after)?;
            }
            after = window.iter().map(|d| d.guid).max();
            for d in &window {
                count += 1;
                if d.problem.is_some() {
                    refused += 1;
                    continue;
                }
                if step.kind != StepKind::Associate {
                    // Building the body is what checks it.
                    let _ = ctx.create_payload(d);
                }
            }
        }
        problems += refused;
        lines.push((step.label(), count, refused));
    }
    let counts = estimate::count_steps(conn, all_steps)?;
    let planned: HashMap<String, (u64, u64)> = estimate::requests(&counts, batch)
        .into_iter()
        .map(|r| (r.label.clone(), (r.reads, r.writes)))
        .collect();
    let lines: Vec<(String, u64, u64, u64, u64)> = lines
        .into_iter()
        .map(|(label, n, refused)| {
            let (reads, writes) = planned.get(&label).copied().unwrap_or((0, 0));
            (label, n, refused, reads, writes)
        })
        .collect();
    let total_requests: u64 = lines.iter().map(|l| l.3 + l.4).sum();
    let total_records: u64 = lines.iter().map(|l| l.1).sum();
    if json {
        let steps: Vec<Value> = lines
            .iter()
            .map(|(label, n, refused, reads, writes)| serde_json::json!({"step": label, "records": n, "refused": refused, "read_requests": reads, "write_requests": writes}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"dry_run": true, "steps": steps, "records": total_records, "requests": total_requests, "refusals": refusals}))
                .expect("serializes")
        );
    } else {
        let mut table = TextTable::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header([
            "step",
            "records",
            "refused before sending",
            "read requests",
            "write requests",
        ]);
        for (label, n, refused, reads, writes) in &lines {
            table.add_row([
                label.clone(),
                n.to_string(),
                refused.to_string(),
                reads.to_string(),
                writes.to_string(),
            ]);
        }
        println!("{table}");
        let minutes = total_requests as f64
            / (crate::plan::REQUESTS_PER_WINDOW
                * f64::from(ws.config.push.application_users.max(1)))
            * crate::plan::WINDOW_SECONDS
            / 60.0;
        println!(
            "dry run: {total_records} records in {total_requests} requests on a target that holds none of them (batches of {batch}); at least {minutes:.1} min under the request limit; nothing was written"
        );
        for r in refusals {
            println!("a real push would refuse: {r}");
        }
    }
    Ok(if problems > 0 || !refusals.is_empty() {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}
