//! Read-back: what the target holds now, for every record ferry pushed,
//! into `dv.<table>` under the column names of `stg.<table>`, so staged and
//! target rows join on the primary id in plain SQL (SPEC §1 verify).
//!
//! Only records carrying a ferry record id (`<prefix>_record_id`) are
//! read: the org's own records are none of the migration's business. Reads
//! go page by page (`Prefer: odata.maxpagesize`, `@odata.nextLink`) and
//! each page is appended to DuckDB before the next is asked for, so a
//! million-row table never sits in memory. Values land as text first and
//! are typed by one SQL statement per table.
//!
//! What was read, and how each column is to be compared, is written down
//! too (`dv.read_backs`, `dv.columns`): the diff ([`super::diff`]) works
//! from those tables alone and never needs the target again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::Utc;
use duckdb::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use super::VerifySql;
use crate::dataverse::client::{Credentials, DataverseClient, MAX_PAGE_SIZE};
use crate::dataverse::schema::Schema;
use crate::error::{Error, Result};
use crate::plan::steps::{self, Kind, SentColumn, StepKind};
use crate::stage::db::{qualified, quote_ident, relation_exists};
use crate::workspace::Workspace;

/// One table that was read back.
#[derive(Debug, Clone, Serialize)]
pub struct TableRead {
    pub table: String,
    pub entity_set: String,
    /// Records of the target carrying a ferry record id.
    pub records: u64,
    /// Pages the reads took (each one request, before retries).
    pub pages: u64,
    pub seconds: f64,
}

/// The whole read-back.
#[derive(Debug, Clone, Serialize)]
pub struct ReadBack {
    /// The org that was read.
    pub target: String,
    pub tables: Vec<TableRead>,
    /// N:N relationships staged and pushed but not read back, with why.
    pub not_read: Vec<(String, String)>,
    /// Every HTTP request of the read-back, retries and sign-in included.
    pub http_requests: u64,
    pub seconds: f64,
}

/// A table as the read-back and the diff see it: the staged table, its key
/// and record id, and every column the loader sends (over all its steps).
#[derive(Debug, Clone)]
pub struct VerifiedTable {
    pub table: String,
    pub entity_set: String,
    pub primary_id: String,
    pub record_id_column: String,
    pub columns: Vec<CheckedColumn>,
}

/// One compared column.
#[derive(Debug, Clone)]
pub struct CheckedColumn {
    pub sent: SentColumn,
    /// The target column whose value it is compared with (itself, or the
    /// column a `verify.rules` `compare_with` names).
    pub target_column: String,
    /// Max length of a text column in the target (truncation's cause).
    pub max_length: Option<i64>,
    /// A staged null is not sent and Dataverse fills its default: only
    /// staged values are compared (`platform_default` rule).
    pub null_is_default: bool,
}

/// `dv.*` tables ferry writes besides the read records
/// (sql/schema/dv.sql).
pub fn dv_ddl() -> &'static str {
    crate::sql_catalog::schema_sql("dv", "read_backs")
}

pub fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Text => "text",
        Kind::Integer => "integer",
        Kind::Number => "number",
        Kind::Boolean => "boolean",
        Kind::DateTime => "datetime",
        Kind::DateOnly => "dateonly",
        Kind::Lookup => "lookup",
    }
}

/// Reads every pushed table back from the configured target into `dv.*`.
pub fn read_back(ws: &Workspace, conn: &Connection) -> Result<ReadBack> {
    let started = Instant::now();
    ensure_pushed(ws, conn)?;
    let sql = VerifySql::load(Some(ws))?;
    sql.prepare(conn)?;
    let prefix = ws.config.prefix.clone();
    let builtin = Schema::builtin(&prefix);
    let needs = crate::plan::needs(conn, &builtin)?;
    let (schema, _) = crate::plan::target::read_target(ws, &needs, None)?;
    let tables = verified_tables(conn, &schema, &prefix)?;
    let not_read: Vec<(String, String)> = steps::plan_steps(conn, &schema)?
        .into_iter()
        .filter(|s| s.kind == StepKind::Associate)
        .map(|s| {
            (
                s.table,
                "N:N links are not read back: the Web API serves them only per record (<set>(id)/<relationship>), one request per record; push's audit.records holds each link's outcome".to_string(),
            )
        })
        .collect();

    let credentials = Credentials::from_target(&ws.config.target)?;
    let rt = crate::runtime::get()?;
    let client = rt.block_on(DataverseClient::connect(credentials))?;
    rt.block_on(client.whoami())?;

    conn.execute_batch(dv_ddl())?;
    conn.execute(
        "INSERT INTO dv.read_from VALUES (?, ?)",
        [&ws.config.target_name, client.org_url()],
    )?;
    let parties = relation_exists(conn, "stg", "activityparty")?;
    write_column_plan(conn, &tables, parties)?;
    let mut reads = Vec::new();
    for table in &tables {
        let read = read_table(conn, rt, &client, table)?;
        crate::progress::note(format!(
            "read back {:<32} {} records in {} page(s)",
            table.table, read.records, read.pages
        ));
        reads.push(read);
    }
    if parties {
        let read = read_parties(conn, rt, &client, &tables)?;
        crate::progress::note(format!(
            "read back {:<32} {} parties of the read activities",
            "activityparty", read.records
        ));
        reads.push(read);
    }
    Ok(ReadBack {
        target: client.org_url().to_string(),
        tables: reads,
        not_read,
        http_requests: client.stats().requests,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Refuses, with what to do, when nothing was pushed (an empty read-back
/// would look like a target that lost everything) or no target is set.
fn ensure_pushed(ws: &Workspace, conn: &Connection) -> Result<()> {
    crate::push::audit::ensure_pushed(ws, conn, "verify")?;
    if ws.config.target.url.is_none() {
        return Err(Error::Usage(
            format!("the target {} has no url in ferry.toml: verify reads the records back from the target push wrote to; set [targets.{}] url (and the secret's env var) as for `ferry push`", ws.config.target_name, ws.config.target_name),
        ));
    }
    Ok(())
}

/// The staged tables push loads as records, each with the union of the
/// columns its steps send (records, deferred lookups, state), and the
/// target column each is compared with after `verify.rules`.
pub fn verified_tables(
    conn: &Connection,
    schema: &Schema,
    prefix: &str,
) -> Result<Vec<VerifiedTable>> {
    let rules = compare_rules(conn)?;
    let staged = steps::staged_columns(conn)?;
    let record_id_column = format!("{prefix}_record_id");
    let mut out: Vec<VerifiedTable> = Vec::new();
    for step in steps::plan_steps(conn, schema)? {
        if step.kind == StepKind::Associate {
            continue;
        }
        let has_record_id = staged
            .get(&step.table)
            .is_some_and(|cols| cols.iter().any(|(c, _)| *c == record_id_column));
        if !has_record_id {
            crate::progress::note(format!(
                "stg.{} has no {record_id_column} column: its records cannot be told from the org's own, so it is not verified",
                step.table
            ));
            continue;
        }
        let index = match out.iter().position(|t| t.table == step.table) {
            Some(i) => i,
            None => {
                out.push(VerifiedTable {
                    table: step.table.clone(),
                    entity_set: step.entity_set.clone(),
                    primary_id: step.primary_id.clone(),
                    record_id_column: record_id_column.clone(),
                    columns: Vec::new(),
                });
                out.len() - 1
            }
        };
        let table = &mut out[index];
        for sent in step.columns {
            if table.columns.iter().any(|c| c.sent.name == sent.name) {
                continue;
            }
            let rule = rules
                .iter()
                .find(|(t, c, _, _)| (t == "*" || *t == step.table) && *c == sent.name);
            if matches!(rule, Some((_, _, r, _)) if r == "ignore") {
                continue;
            }
            let target_column = match rule {
                Some((_, _, _, Some(target)))
                    if schema.column(&step.table, target).is_some()
                        || matches!(target.as_str(), "createdon" | "modifiedon") =>
                {
                    target.clone()
                }
                _ => sent.name.clone(),
            };
            let max_length = schema
                .column(&step.table, &sent.name)
                .and_then(|c| c.max_length);
            table.columns.push(CheckedColumn {
                sent,
                target_column,
                max_length,
                null_is_default: matches!(rule, Some((_, _, r, _)) if r == "platform_default"),
            });
        }
    }
    Ok(out)
}

/// `verify.rules` as (table, column, rule, target column).
#[allow(clippy::type_complexity)]
fn compare_rules(conn: &Connection) -> Result<Vec<(String, String, String, Option<String>)>> {
    if !relation_exists(conn, "verify", "rules")? {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare("SELECT table_name, column_name, rule, target_column FROM verify.rules")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The parties of an activity are compared as one column of its table
/// (`sql/verify/parties.sql`).
pub const PARTIES_COLUMN: &str = "activityparty";

fn write_column_plan(conn: &Connection, tables: &[VerifiedTable], parties: bool) -> Result<()> {
    let reasons: BTreeMap<(String, String), String> = if relation_exists(conn, "verify", "rules")? {
        let mut stmt = conn.prepare(
            "SELECT table_name, column_name, reason FROM verify.rules WHERE rule <> 'ignore'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get(2)?))
        })?;
        rows.collect::<std::result::Result<_, _>>()?
    } else {
        BTreeMap::new()
    };
    let mut app = conn.appender_to_db("columns", "dv")?;
    for t in tables {
        for c in &t.columns {
            let rule = (c.target_column != c.sent.name || c.null_is_default)
                .then(|| {
                    reasons
                        .get(&(t.table.clone(), c.sent.name.clone()))
                        .or_else(|| reasons.get(&("*".to_string(), c.sent.name.clone())))
                        .cloned()
                })
                .flatten();
            app.append_row(duckdb::params![
                t.table,
                c.sent.name,
                kind_name(&c.sent.kind),
                c.sent.precision.map(|p| p as i32),
                c.max_length,
                c.target_column,
                c.null_is_default,
                rule
            ])?;
        }
        if parties && t.primary_id == "activityid" {
            app.append_row(duckdb::params![
                t.table,
                PARTIES_COLUMN,
                "party",
                None::<i32>,
                None::<i64>,
                PARTIES_COLUMN,
                false,
                format!("the {}_activity_parties sent on create, as a set of (participation type, party): sql/verify/parties.sql", t.table)
            ])?;
        }
    }
    app.flush()?;
    Ok(())
}

/// One column of the landing table: the property read, and the dv column
/// it becomes.
struct Landed {
    property: String,
    column: String,
    /// SQL turning the landed text into the dv column's type.
    typed: String,
}

fn landed_columns(table: &VerifiedTable) -> Vec<Landed> {
    let text = |property: &str, column: &str| Landed {
        property: property.to_string(),
        column: column.to_string(),
        typed: quote_ident(column),
    };
    let mut out = vec![
        Landed {
            property: table.primary_id.clone(),
            column: table.primary_id.clone(),
            typed: format!("TRY_CAST({} AS UUID)", quote_ident(&table.primary_id)),
        },
        text(&table.record_id_column, &table.record_id_column),
    ];
    let mut seen: BTreeSet<String> = out.iter().map(|l| l.column.clone()).collect();
    for c in &table.columns {
        // The column read is the compared target column (createdon for
        // overriddencreatedon), stored under that name.
        let name = c.target_column.clone();
        if !seen.insert(name.clone()) {
            continue;
        }
        let q = quote_ident(&name);
        match c.sent.kind {
            Kind::Lookup => {
                out.push(Landed {
                    property: format!("_{name}_value"),
                    column: name.clone(),
                    typed: format!("TRY_CAST({q} AS UUID)"),
                });
                let partner = format!("{name}_table");
                seen.insert(partner.clone());
                out.push(Landed {
                    property: format!("_{name}_value@Microsoft.Dynamics.CRM.lookuplogicalname"),
                    column: partner.clone(),
                    typed: quote_ident(&partner),
                });
            }
            ref kind => out.push(Landed {
                property: name.clone(),
                column: name.clone(),
                typed: match kind {
                    Kind::Text | Kind::Lookup => q,
                    Kind::Integer => format!("TRY_CAST({q} AS BIGINT)"),
                    // Exact: Dataverse keeps at most 10 decimals.
                    Kind::Number => format!("TRY_CAST({q} AS DECIMAL(38, 10))"),
                    Kind::Boolean => format!("TRY_CAST({q} AS BOOLEAN)"),
                    // ISO 8601 with Z: DuckDB's cast applies the offset, so
                    // this is the UTC wall clock.
                    Kind::DateTime => format!("TRY_CAST({q} AS TIMESTAMP)"),
                    Kind::DateOnly => format!("TRY_CAST(left({q}, 10) AS DATE)"),
                },
            }),
        }
    }
    out
}

/// A JSON value as the text DuckDB casts from.
fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Reads one table page by page into `dv.<table>` (replacing it).
fn read_table(
    conn: &Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    table: &VerifiedTable,
) -> Result<TableRead> {
    let started = Instant::now();
    let landed = landed_columns(table);
    let select: Vec<&str> = landed
        .iter()
        .map(|l| l.property.as_str())
        .filter(|p| !p.contains('@'))
        .collect();
    let path = format!(
        "{}?$select={}&$filter={} ne null",
        table.entity_set,
        select.join(","),
        table.record_id_column
    );
    let landing = format!("_landing_{}", table.table);
    let (records, pages) = land_pages(conn, rt, client, &landing, &landed, &path)?;
    let typed: Vec<String> = landed
        .iter()
        .map(|l| format!("{} AS {}", l.typed, quote_ident(&l.column)))
        .collect();
    // generated per read-back table: its columns are the stg table's, typed.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE {dv} AS SELECT {typed} FROM {landing};
         DROP TABLE {landing};",
        dv = qualified("dv", &table.table),
        typed = typed.join(", "),
        landing = qualified("dv", &landing),
    ))?;
    conn.execute(
        "INSERT INTO dv.read_backs VALUES (?, ?, ?, ?, ?, ?)",
        duckdb::params![
            table.table,
            table.entity_set,
            records as i64,
            now(),
            table.primary_id,
            table.record_id_column
        ],
    )?;
    Ok(TableRead {
        table: table.table.clone(),
        entity_set: table.entity_set.clone(),
        records,
        pages,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Follows a collection read to its end, appending each page's rows (as
/// text) to `dv.<landing>` before asking for the next page.
fn land_pages(
    conn: &Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    landing: &str,
    landed: &[Landed],
    path: &str,
) -> Result<(u64, u64)> {
    let columns: Vec<String> = landed
        .iter()
        .map(|l| format!("{} VARCHAR", quote_ident(&l.column)))
        .collect();
    // generated per read-back table: the landing columns of what was read.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE {} ({})",
        qualified("dv", landing),
        columns.join(", ")
    ))?;
    let mut app = conn.appender_to_db(landing, "dv")?;
    let mut next = Some(path.to_string());
    let mut seen = BTreeSet::new();
    let (mut records, mut pages) = (0u64, 0u64);
    while let Some(link) = next.take() {
        if !seen.insert(link.clone()) {
            return Err(Error::Remote(format!(
                "the target sent the same next-page link twice while reading {path}; the read-back stopped so it cannot loop — run `ferry verify` again"
            )));
        }
        let page = rt.block_on(client.get_page(&link, Some(MAX_PAGE_SIZE)))?;
        pages += 1;
        for row in &page.rows {
            append_row(&mut app, landed, row)?;
            records += 1;
        }
        app.flush()?;
        next = page.next_link;
    }
    Ok((records, pages))
}

fn append_row(
    app: &mut duckdb::Appender<'_>,
    landed: &[Landed],
    row: &Map<String, Value>,
) -> Result<()> {
    let values: Vec<Option<String>> = landed
        .iter()
        .map(|l| as_text(row.get(&l.property)))
        .collect();
    app.append_row(duckdb::appender_params_from_iter(values))?;
    Ok(())
}

/// Activity parties travel inside their activity on create
/// (`<activity>_activity_parties`, SPEC §9), so they carry no record id of
/// their own: the parties of the activities just read are kept.
fn read_parties(
    conn: &Connection,
    rt: &tokio::runtime::Runtime,
    client: &DataverseClient,
    tables: &[VerifiedTable],
) -> Result<TableRead> {
    let started = Instant::now();
    let column = |name: &str, typed: String| Landed {
        property: name.to_string(),
        column: name
            .trim_start_matches('_')
            .trim_end_matches("_value")
            .to_string(),
        typed,
    };
    let landed = vec![
        column(
            "activitypartyid",
            "TRY_CAST(activitypartyid AS UUID)".into(),
        ),
        column("_activityid_value", "TRY_CAST(activityid AS UUID)".into()),
        column(
            "participationtypemask",
            "TRY_CAST(participationtypemask AS BIGINT)".into(),
        ),
        column("_partyid_value", "TRY_CAST(partyid AS UUID)".into()),
        Landed {
            property: "_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname".into(),
            column: "partyid_table".into(),
            typed: "partyid_table".into(),
        },
    ];
    let select = "activitypartyid,_activityid_value,participationtypemask,_partyid_value";
    let path = format!("activityparties?$select={select}");
    let (_, pages) = land_pages(conn, rt, client, "_landing_activityparty", &landed, &path)?;
    let activities: Vec<String> = tables
        .iter()
        .filter(|t| t.primary_id == "activityid")
        .map(|t| {
            format!(
                "SELECT activityid, '{}' AS activityid_table FROM {}",
                t.table.replace('\'', "''"),
                qualified("dv", &t.table)
            )
        })
        .collect();
    let typed: Vec<String> = landed
        .iter()
        .map(|l| format!("{} AS {}", l.typed, quote_ident(&l.column)))
        .collect();
    let source = if activities.is_empty() {
        "SELECT NULL::UUID AS activityid, NULL::VARCHAR AS activityid_table WHERE false".to_string()
    } else {
        activities.join(" UNION ALL ")
    };
    // generated per activity table read back: one UNION arm each.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE dv.activityparty AS
         WITH landed AS (SELECT {typed} FROM dv._landing_activityparty),
              read_activities AS ({source})
         SELECT l.activitypartyid, l.activityid, a.activityid_table, l.participationtypemask, l.partyid, l.partyid_table
         FROM landed l JOIN read_activities a USING (activityid);
         DROP TABLE dv._landing_activityparty;",
        typed = typed.join(", "),
    ))?;
    let records: i64 = conn.query_row("SELECT count(*) FROM dv.activityparty", [], |r| r.get(0))?;
    conn.execute(
        "INSERT INTO dv.read_backs VALUES ('activityparty', 'activityparties', ?, ?, 'activitypartyid', '')",
        duckdb::params![records, now()],
    )?;
    Ok(TableRead {
        table: "activityparty".into(),
        entity_set: "activityparties".into(),
        records: records as u64,
        pages,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn now() -> duckdb::types::Value {
    duckdb::types::Value::Timestamp(
        duckdb::types::TimeUnit::Microsecond,
        Utc::now().timestamp_micros(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> VerifiedTable {
        let column = |name: &str, kind: Kind, target: &str| CheckedColumn {
            sent: SentColumn {
                name: name.into(),
                kind,
                on_create: true,
                on_update: true,
                multi_target: false,
                precision: Some(2),
            },
            target_column: target.into(),
            max_length: None,
            null_is_default: false,
        };
        VerifiedTable {
            table: "phonecall".into(),
            entity_set: "phonecalls".into(),
            primary_id: "activityid".into(),
            record_id_column: "st_record_id".into(),
            columns: vec![
                column("subject", Kind::Text, "subject"),
                column("regardingobjectid", Kind::Lookup, "regardingobjectid"),
                column("overriddencreatedon", Kind::DateTime, "createdon"),
                column(
                    "actualdurationminutes",
                    Kind::Integer,
                    "actualdurationminutes",
                ),
            ],
        }
    }

    #[test]
    fn lookups_are_read_as_their_value_property_and_land_under_the_stg_name() {
        let landed = landed_columns(&table());
        let pairs: Vec<(&str, &str)> = landed
            .iter()
            .map(|l| (l.property.as_str(), l.column.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("activityid", "activityid"),
                ("st_record_id", "st_record_id"),
                ("subject", "subject"),
                ("_regardingobjectid_value", "regardingobjectid"),
                (
                    "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
                    "regardingobjectid_table"
                ),
                ("createdon", "createdon"),
                ("actualdurationminutes", "actualdurationminutes"),
            ]
        );
    }

    #[test]
    fn pages_land_as_text_and_are_typed_by_sql() {
        let conn = crate::duck::open_in_memory().unwrap();
        conn.execute_batch(dv_ddl()).unwrap();
        let t = table();
        let landed = landed_columns(&t);
        let columns: Vec<String> = landed
            .iter()
            .map(|l| format!("{} VARCHAR", quote_ident(&l.column)))
            .collect();
        conn.execute_batch(&format!(
            "CREATE TABLE dv._landing_phonecall ({})",
            columns.join(", ")
        ))
        .unwrap();
        let row = json!({
            "activityid": "6f1c2d3e-0000-4000-8000-000000000001",
            "st_record_id": "ACT-1",
            "subject": "Call back",
            "_regardingobjectid_value": "6f1c2d3e-0000-4000-8000-000000000002",
            "_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "incident",
            "createdon": "2019-06-01T09:30:00Z",
            "actualdurationminutes": 15
        });
        {
            let mut app = conn.appender_to_db("_landing_phonecall", "dv").unwrap();
            append_row(&mut app, &landed, row.as_object().unwrap()).unwrap();
            app.flush().unwrap();
        }
        let typed: Vec<String> = landed
            .iter()
            .map(|l| format!("{} AS {}", l.typed, quote_ident(&l.column)))
            .collect();
        conn.execute_batch(&format!(
            "CREATE TABLE dv.phonecall AS SELECT {} FROM dv._landing_phonecall",
            typed.join(", ")
        ))
        .unwrap();
        let (created, minutes, regarding): (String, i64, String) = conn
            .query_row(
                "SELECT strftime(createdon, '%Y-%m-%d %H:%M:%S'), actualdurationminutes, CAST(regardingobjectid AS VARCHAR) || ' ' || regardingobjectid_table FROM dv.phonecall",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(created, "2019-06-01 09:30:00");
        assert_eq!(minutes, 15);
        assert_eq!(regarding, "6f1c2d3e-0000-4000-8000-000000000002 incident");
    }
}
