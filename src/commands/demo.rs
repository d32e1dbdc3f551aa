//! `ferry demo [DIR]`: the README's run command. Generates a dirty
//! ServiceTracker export, starts both emulators in this process (the
//! ServiceTracker REST API over the export, and a Dataverse org seeded with
//! the technicians' users), and runs the whole pipeline against them with
//! the very commands an analyst would type — extract via the API, stage,
//! map propose, transform, validate, map confirm, plan --apply, push, verify,
//! reconcile, report — each one logged to `DIR/logs/`. It ends with the
//! path of the reports' index page and a one-screen summary, including how
//! many of the planted dirt items (`export/dirt.json`) the pipeline caught.
//!
//! Running the real commands as child processes, rather than calling the
//! library, keeps the demo honest: what it shows is what `ferry <command>`
//! does, and every step can be repeated by hand from the printed lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use duckdb::Connection;

use crate::error::{Error, IoContext, Result};
use crate::generate::{generate_export, GenerateOptions};
use crate::serve::servicetracker::{Emulator, EmulatorConfig};
use crate::workspace::{Profile, SourceSetting, Workspace};
use crate::Outcome;
use dataverse_emulator::{DataverseConfig, DataverseEmulator};

/// Marks a folder as made by `ferry demo`, so a later demo may replace it
/// and nothing else is ever deleted.
const DEMO_MARKER: &str = ".ferry-demo";

/// Secrets of the two emulators. They exist only inside this process and
/// its children's environment, under the variable names `ferry.toml` names.
const DEMO_API_KEY: &str = "ferry-demo-servicetracker-key";
const DEMO_CLIENT_SECRET: &str = "ferry-demo-client-secret";

/// What the demo's sign-off says, so nobody mistakes it for a review.
const DEMO_SIGNER: &str =
    "ferry demo (confirmed automatically; a real migration needs an analyst's review)";

pub fn run(dir: &Path, customers: u64, seed: u64, json: bool) -> Result<Outcome> {
    prepare_folder(dir)?;
    let dir = std::path::absolute(dir).at(dir)?;
    let export = dir.join("export");
    let root = dir.join("workspace");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).at(&logs)?;

    eprintln!("ferry demo: generating a ServiceTracker export of {customers} customers (seed {seed}), with planted dirt …");
    let generated = generate_export(
        &export,
        &GenerateOptions {
            customers,
            seed,
            clean: false,
        },
    )?;

    eprintln!("ferry demo: starting the ServiceTracker and Dataverse emulators on 127.0.0.1 …");
    let loopback = "127.0.0.1:0".parse().expect("a socket address");
    let servicetracker_export = Emulator::load(EmulatorConfig::new(&export, DEMO_API_KEY))?;
    // Rows broken only in the CSV export are never served by the API: the
    // emulator's CSV reader (ferry's own extractor) quarantines them.
    let not_served = servicetracker_export.summary().quarantined;
    let servicetracker = servicetracker_export.spawn(loopback)?;
    let mut org_config =
        DataverseConfig::new("st").with_technician_users(&export.join("technicians.csv"))?;
    org_config.client_secret = Some(DEMO_CLIENT_SECRET.to_string());
    let org = DataverseEmulator::new(org_config).spawn(loopback)?;
    eprintln!(
        "  ServiceTracker API {}  ·  Dataverse org {}",
        servicetracker.url(),
        org.url()
    );

    super::init::create_workspace(
        &root,
        Profile::Sales,
        &SourceSetting::Api(servicetracker.url()),
        Some(&org.url()),
    )?;
    let ws = Workspace::open(&root)?;
    let runner = Runner {
        root: root.clone(),
        logs: logs.clone(),
        env: vec![
            (ws.config.source.api_key_env.clone(), DEMO_API_KEY.into()),
            (
                ws.config.target.client_secret_env.clone(),
                DEMO_CLIENT_SECRET.into(),
            ),
        ],
        step: std::cell::Cell::new(0),
    };

    eprintln!("ferry demo: work orders pending offline sync would stop a real extract (exit 1); the demo lands them anyway with --allow-pending");
    runner.expect_ok("extract", &["extract", "--allow-pending"])?;
    runner.expect_ok("stage", &["stage"])?;
    // The proposal appends option-set translations and writes custom-field
    // transforms, so it comes before the transforms run.
    let (propose_code, _) = runner.ferry("map propose", &["map", "propose"])?;
    if propose_code > 1 {
        return Err(stopped("map propose", propose_code, &logs));
    }
    if propose_code == 1 {
        eprintln!("ferry demo: the proposal leaves some fields or values for a person to decide (see reports/mapping-proposal.html); the demo takes the proposal as it stands");
    }
    runner.expect_ok("transform", &["transform"])?;
    let (validate_code, _) = runner.ferry("validate", &["validate"])?;
    let waived = if validate_code == 1 {
        let waived = waive_every_error(
            &ws,
            "ferry demo: loaded as is so the reports show what Dataverse makes of it",
        )?;
        eprintln!("ferry demo: validation found {waived} kinds of error (the planted dirt); the demo waives them in mapping/waivers.csv so the loader meets the dirt itself");
        runner.expect_ok("validate", &["validate"])?;
        waived
    } else {
        0
    };
    keep_first_findings(&ws)?;
    let shortened = shorten_values_that_do_not_fit(&ws)?;
    if shortened > 0 {
        eprintln!("ferry demo: {shortened} staged values are longer than their Dataverse column (max_length findings); the demo cuts them in stg.*, the fix an analyst would make at the source");
    }
    eprintln!("ferry demo: THE DEMO CONFIRMS THE MAP FOR YOU. In a real migration an analyst reviews reports/mapping-proposal.html and runs `ferry map confirm` themselves.");
    runner.expect_ok("map confirm", &["map", "confirm", "--by", DEMO_SIGNER])?;
    runner.expect_ok("plan --apply", &["plan", "--apply"])?;
    let (push_code, _) = runner.ferry("push", &["push"])?;
    // Push read the target's users into dv.systemuser; only now can the
    // checks match technicians to users (before, they said they could not).
    eprintln!("ferry demo: validating again now that push has read the target's users (technician ↔ user checks)");
    let (revalidate_code, _) = runner.ferry("validate", &["validate"])?;
    if revalidate_code > 1 {
        return Err(stopped("validate", revalidate_code, &logs));
    }
    let (verify_code, _) = runner.ferry("verify", &["verify"])?;
    let (reconcile_code, _) = runner.ferry("reconcile", &["reconcile"])?;
    runner.expect_ok("report", &["report", "all"])?;
    for (what, code) in [
        ("push", push_code),
        ("verify", verify_code),
        ("reconcile", reconcile_code),
    ] {
        if code > 1 {
            return Err(stopped(what, code, &logs));
        }
    }
    org.stop()?;
    servicetracker.stop();

    let conn = crate::stage::open_existing_database(&ws)?.ok_or_else(|| {
        Error::input(
            ws.database_path(),
            "the demo's database is missing",
            "run the demo again",
        )
    })?;
    let dirt = dirt_ledger(&conn, &generated.dirt, not_served)?;
    let dirt_kinds = generated
        .dirt
        .iter()
        .map(|e| e.kind)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let summary = Summary::read(&conn, &dir, dirt_kinds, dirt, waived)?;
    let index = ws.reports_dir().join("index.html");
    super::output::emit(json, &summary.to_json(&index), |_| {
        summary.print(&index, &root)
    });
    // A demo that loses or mangles a record has failed, whatever it printed.
    Ok(
        if summary.dirt_missed > 0 || verify_code != 0 || reconcile_code != 0 {
            Outcome::Problems
        } else {
            Outcome::Ok
        },
    )
}

/// Runs `ferry --workspace ROOT ARGS…` as a child process: stdout to
/// `logs/NN-<name>.txt`, stderr (progress, messages) straight through.
struct Runner {
    root: PathBuf,
    logs: PathBuf,
    env: Vec<(String, String)>,
    step: std::cell::Cell<usize>,
}

impl Runner {
    fn ferry(&self, name: &str, args: &[&str]) -> Result<(i32, String)> {
        let n = self.step.get() + 1;
        self.step.set(n);
        let log = self
            .logs
            .join(format!("{n:02}-{}.txt", name.replace([' ', '-'], "_")));
        eprintln!(
            "\n── {n:02} ferry --workspace {} {}",
            self.root.display(),
            args.join(" ")
        );
        let exe = ferry_executable()?;
        let started = std::time::Instant::now();
        let output = Command::new(&exe)
            .arg("--workspace")
            .arg(&self.root)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .at(&exe)?;
        std::fs::write(&log, &output.stdout).at(&log)?;
        let code = output.status.code().unwrap_or(3);
        eprintln!(
            "   exit {code} after {:.1} s; output in {}",
            started.elapsed().as_secs_f64(),
            log.display()
        );
        Ok((code, String::from_utf8_lossy(&output.stdout).into_owned()))
    }

    fn expect_ok(&self, name: &str, args: &[&str]) -> Result<String> {
        let (code, stdout) = self.ferry(name, args)?;
        if code != 0 {
            return Err(stopped(&args.join(" "), code, &self.logs));
        }
        Ok(stdout)
    }
}

/// This very executable. On Linux `/proc/self/exe` still runs it when the
/// file was replaced since it started (a rebuild during a long demo), where
/// the path `current_exe` names would run the new build or nothing.
fn ferry_executable() -> Result<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self.to_path_buf());
    }
    std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find the ferry executable: {e}")))
}

fn stopped(command: &str, code: i32, logs: &Path) -> Error {
    Error::Usage(format!(
        "the demo stopped: `ferry {command}` exited {code}; its output is above and in {}",
        logs.display()
    ))
}

/// Waives every open error by rule and object with `reason`, and returns
/// how many rule/object pairs it waived. For rehearsals on dirty data (the
/// demo, the push tests): the loader then meets the dirt itself.
pub fn waive_every_error(ws: &Workspace, reason: &str) -> Result<usize> {
    let conn = open(ws)?;
    let mut stmt = conn.prepare(
        "SELECT DISTINCT rule, object FROM \"check\".findings WHERE severity = 'error' ORDER BY ALL",
    )?;
    let pairs: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let path = ws.root.join("mapping").join("waivers.csv");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if text.trim().is_empty() {
        text = "rule,object,record_id,reason\n".into();
    }
    for (rule, object) in &pairs {
        text.push_str(&format!("{rule},{object},,{reason}\n"));
    }
    std::fs::write(&path, text).at(&path)?;
    Ok(pairs.len())
}

/// Cuts staged text to its Dataverse column's length — the fix an analyst
/// would make at the source — and returns how many values it cut. Push's
/// preflight refuses values that do not fit.
pub fn shorten_values_that_do_not_fit(ws: &Workspace) -> Result<u64> {
    let conn = open(ws)?;
    let mut stmt = conn.prepare(
        "SELECT t.table_name, t.column_name, t.max_length FROM map.target_columns t
         JOIN duckdb_columns() c ON c.schema_name = 'stg' AND c.table_name = t.table_name
          AND c.column_name = t.column_name
         WHERE t.max_length IS NOT NULL AND c.data_type = 'VARCHAR'",
    )?;
    let columns: Vec<(String, String, i64)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut cut = 0u64;
    for (table, column, max) in columns {
        cut += conn.execute(
            &format!(
                "UPDATE stg.\"{table}\" SET \"{column}\" = left(\"{column}\", {max}) WHERE length(\"{column}\") > {max}"
            ),
            [],
        )? as u64;
    }
    Ok(cut)
}

/// The findings of the validation before the demo cut values to fit:
/// validating again after push no longer sees those values as too long,
/// and the dirt ledger must still credit the check that found them.
fn keep_first_findings(ws: &Workspace) -> Result<()> {
    open(ws)?.execute_batch(crate::sql_catalog::schema_sql(
        "demo",
        "findings_before_fixes",
    ))?;
    Ok(())
}

fn open(ws: &Workspace) -> Result<Connection> {
    crate::stage::open_existing_database(ws)?.ok_or_else(|| {
        Error::input(
            ws.database_path(),
            "the demo's database is missing",
            "run the demo again",
        )
    })
}

/// The planted dirt, item by item, with where the pipeline caught it:
/// `demo.dirt` in the workspace database, for anyone who wants to look.
///
/// Rows broken only in the CSV file (malformed lines, untypeable values)
/// cannot reach ferry through the REST API; they count as caught when the
/// ServiceTracker emulator's CSV reader quarantined exactly as many rows as
/// were planted.
fn dirt_ledger(
    conn: &Connection,
    planted: &[crate::generate::DirtEntry],
    quarantined_by_the_api: u64,
) -> Result<Vec<DirtKindCount>> {
    conn.execute_batch(crate::sql_catalog::schema_sql("demo", "planted"))?;
    {
        let mut appender = conn.appender_to_db("planted", "demo")?;
        for entry in planted {
            let caught_by = entry.caught_by.join(",");
            for id in &entry.ids {
                appender.append_row(duckdb::params![
                    entry.kind.as_str(),
                    entry.object,
                    entry.field,
                    id,
                    entry.lines.get(id).map(|l| *l as i64),
                    entry.expected.get(id),
                    caught_by,
                ])?;
            }
        }
        appender.flush()?;
    }
    // Values that must arrive byte for byte: compared with raw.<object>_current.
    let mut stmt = conn.prepare(
        "SELECT DISTINCT object, field FROM demo.planted
         WHERE caught_by LIKE '%landed_intact%' AND field IS NOT NULL",
    )?;
    let intact_fields: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let landed_intact = if intact_fields.is_empty() {
        "SELECT NULL::VARCHAR AS object, NULL::VARCHAR AS record_id WHERE false".to_string()
    } else {
        intact_fields
            .iter()
            .map(|(object, field)| {
                format!(
                    "SELECT '{object}' AS object, CAST(r.id AS VARCHAR) AS record_id FROM raw.\"{object}_current\" r
                     JOIN demo.planted p ON p.object = '{object}' AND p.field = '{field}'
                      AND p.record_id = CAST(r.id AS VARCHAR) AND CAST(r.\"{field}\" AS VARCHAR) = p.expected"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    };
    // generated per planted field: one UNION arm per value that must land intact.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE demo.dirt AS
         WITH intact AS ({landed_intact})
         SELECT p.kind, p.object, p.field, p.record_id, p.caught_by AS must_be_caught_by,
                CASE
                  WHEN p.caught_by LIKE '%check%' AND EXISTS (SELECT 1 FROM \"check\".findings f
                        WHERE f.object = p.object AND f.record_id = p.record_id) THEN 'check.findings'
                  WHEN p.caught_by LIKE '%check%' AND EXISTS (SELECT 1 FROM demo.findings_before_fixes f
                        WHERE f.object = p.object AND f.record_id = p.record_id)
                    THEN 'check.findings of the first validation (demo.findings_before_fixes)'
                  WHEN p.caught_by LIKE '%quarantine%' AND EXISTS (SELECT 1 FROM raw._quarantine q
                        WHERE q.object = p.object AND (q.record_id = p.record_id OR q.line = p.line)) THEN 'raw._quarantine'
                  WHEN p.caught_by LIKE '%quarantine%' AND {quarantined_by_the_api} =
                        (SELECT count(*) FROM demo.planted WHERE caught_by LIKE '%quarantine%')
                    THEN 'quarantined by the ServiceTracker emulator''s CSV reader (never served by the API)'
                  WHEN p.caught_by LIKE '%pending_sync%' AND EXISTS (SELECT 1 FROM \"check\".findings f
                        WHERE f.rule = 'pending_sync' AND f.record_id = p.record_id) THEN 'check.findings (pending_sync)'
                  WHEN p.caught_by LIKE '%landed_intact%' AND EXISTS (SELECT 1 FROM intact i
                        WHERE i.object = p.object AND i.record_id = p.record_id) THEN 'landed intact in raw.*'
                END AS caught_in
         FROM demo.planted p;"
    ))?;
    let mut stmt = conn.prepare(
        "SELECT kind, count(*) FILTER (caught_in IS NOT NULL), count(*) FILTER (caught_in IS NULL)
         FROM demo.dirt GROUP BY kind ORDER BY kind",
    )?;
    let counts = stmt
        .query_map([], |row| {
            Ok(DirtKindCount {
                kind: row.get(0)?,
                caught: row.get::<_, i64>(1)? as u64,
                missed: row.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<std::result::Result<_, _>>()?;
    Ok(counts)
}

struct DirtKindCount {
    kind: String,
    caught: u64,
    missed: u64,
}

/// The one screen the demo ends with.
struct Summary {
    dir: PathBuf,
    lines: Vec<(String, String)>,
    dirt_kinds: usize,
    dirt_caught: u64,
    dirt_missed: u64,
    missed_kinds: Vec<String>,
}

impl Summary {
    fn read(
        conn: &Connection,
        dir: &Path,
        dirt_kinds: usize,
        dirt: Vec<DirtKindCount>,
        waived: usize,
    ) -> Result<Summary> {
        let scalar = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
        let mut lines = Vec::new();
        lines.push((
            "landed".into(),
            format!(
                "{} current records in raw.*, {} rows quarantined with their reason (raw._quarantine)",
                scalar("SELECT coalesce(sum(current_records), 0) FROM meta.inventory_objects")?,
                scalar("SELECT count(*) FROM raw._quarantine")?,
            ),
        ));
        lines.push((
            "staged".into(),
            format!(
                "{} rows in stg.* ({} Dataverse tables)",
                scalar_sum_stg(conn)?,
                scalar("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'stg'")?
            ),
        ));
        lines.push((
            "validated".into(),
            format!(
                "{} findings in \"check\".findings ({} errors, waived by the demo in {waived} groups)",
                scalar("SELECT count(*) FROM \"check\".findings")?,
                scalar("SELECT count(*) FROM \"check\".findings WHERE severity = 'error'")?,
            ),
        ));
        let latest_push = "(SELECT max(run_id) FROM audit.runs WHERE kind = 'push')";
        lines.push((
            "pushed".into(),
            format!(
                "{} created, {} updated, {} unchanged, {} failed, each with its reason (audit.records)",
                scalar(&format!("SELECT coalesce(created, 0) FROM audit.runs WHERE run_id = {latest_push}"))?,
                scalar(&format!("SELECT coalesce(updated, 0) FROM audit.runs WHERE run_id = {latest_push}"))?,
                scalar(&format!("SELECT coalesce(unchanged, 0) FROM audit.runs WHERE run_id = {latest_push}"))?,
                scalar(&format!("SELECT coalesce(failed, 0) FROM audit.runs WHERE run_id = {latest_push}"))?,
            ),
        ));
        lines.push((
            "verified".into(),
            format!(
                "{} records read back: {} matched, {} differing, {} truncated, {} missing, {} unexpected (verify.*)",
                scalar("SELECT coalesce(sum(target), 0) FROM verify.tables")?,
                scalar("SELECT coalesce(sum(matched), 0) FROM verify.tables")?,
                scalar("SELECT coalesce(sum(differing), 0) FROM verify.tables")?,
                scalar("SELECT coalesce(sum(truncated), 0) FROM verify.tables")?,
                scalar("SELECT coalesce(sum(missing), 0) FROM verify.tables")?,
                scalar("SELECT coalesce(sum(unexpected), 0) FROM verify.tables")?,
            ),
        ));
        lines.push((
            "reconciled".into(),
            format!(
                "{} checks: {} add up, {} explained, {} break(s) (reconcile.checks)",
                scalar("SELECT count(*) FROM reconcile.checks")?,
                scalar("SELECT count(*) FROM reconcile.checks WHERE status = 'ok'")?,
                scalar("SELECT count(*) FROM reconcile.checks WHERE status = 'explained'")?,
                scalar("SELECT count(*) FROM reconcile.checks WHERE status = 'break'")?,
            ),
        ));
        let dirt_caught = dirt.iter().map(|d| d.caught).sum();
        let dirt_missed = dirt.iter().map(|d| d.missed).sum();
        let missed_kinds = dirt
            .iter()
            .filter(|d| d.missed > 0)
            .map(|d| format!("{} ({} missed)", d.kind, d.missed))
            .collect();
        Ok(Summary {
            dir: dir.to_path_buf(),
            lines,
            dirt_kinds,
            dirt_caught,
            dirt_missed,
            missed_kinds,
        })
    }

    fn print(&self, index: &Path, root: &Path) {
        println!("ferry demo — {}", self.dir.display());
        println!();
        println!("  reports    {}", index.display());
        for (what, text) in &self.lines {
            println!("  {what:<10} {text}");
        }
        println!(
            "  dirt       {} of {} planted items caught ({} kinds; demo.dirt says where each was caught){}",
            self.dirt_caught,
            self.dirt_caught + self.dirt_missed,
            self.dirt_kinds,
            if self.missed_kinds.is_empty() {
                String::new()
            } else {
                format!(" — MISSED: {}", self.missed_kinds.join(", "))
            }
        );
        println!("  logs       {}", self.dir.join("logs").display());
        println!();
        println!(
            "  try: cargo run --release -- --workspace {} sql \"SELECT rule, severity, count(*) FROM \\\"check\\\".findings GROUP BY ALL ORDER BY 3 DESC\"",
            root.display()
        );
    }

    fn to_json(&self, index: &Path) -> serde_json::Value {
        serde_json::json!({
            "demo": self.dir.display().to_string(),
            "index": index.display().to_string(),
            "stages": self.lines.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "dirt_caught": self.dirt_caught,
            "dirt_missed": self.dirt_missed,
            "dirt_missed_kinds": self.missed_kinds,
        })
    }
}

fn scalar_sum_stg(conn: &Connection) -> Result<i64> {
    let mut stmt = conn
        .prepare("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'stg' ORDER BY 1")?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let mut total = 0i64;
    for t in tables {
        total += conn.query_row(&format!("SELECT count(*) FROM stg.\"{t}\""), [], |r| {
            r.get::<_, i64>(0)
        })?;
    }
    Ok(total)
}

/// Empties a previous demo's folder; refuses any other non-empty folder.
fn prepare_folder(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_previous_demo = dir.join(DEMO_MARKER).is_file();
        let is_empty = dir.read_dir().at(dir)?.next().is_none();
        if is_previous_demo {
            std::fs::remove_dir_all(dir).at(dir)?;
        } else if !is_empty {
            return Err(Error::input(
                dir,
                "the folder exists and was not made by `ferry demo`",
                "pass another folder: `ferry demo DIR`",
            ));
        }
    }
    std::fs::create_dir_all(dir).at(dir)?;
    std::fs::write(
        dir.join(DEMO_MARKER),
        "made by `ferry demo`; the next demo in this folder replaces it\n",
    )
    .at(dir.join(DEMO_MARKER))
}
