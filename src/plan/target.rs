//! The live side of the plan, shared by `ferry plan`, `ferry map propose`,
//! push's preflight and verify's read-back: reading the target's metadata
//! (the schema a proposal is made against, the tables the staged rows use,
//! the unit groups products need), the planned schema the staged rows are
//! judged by, and `plan --apply` creating what is missing (custom tables,
//! columns, option values) through the Web API.

use std::collections::BTreeSet;

use super::{Needs, Plan, Standing};
use crate::dataverse::client::{Credentials, DataverseClient};
use crate::dataverse::schema::{Schema, Table};
use crate::error::{Error, Result};
use crate::stage::db::relation_exists;
use crate::workspace::Workspace;

/// Table definitions read from the target, with the names that were asked
/// for (a name asked for and not among `tables` is a table the target lacks).
#[derive(Debug, Clone, Default)]
pub struct TargetRead {
    pub asked: Vec<String>,
    pub tables: Vec<Table>,
}

/// The schema a mapping proposal is made against, shared by `ferry map
/// propose` and `ferry plan` so both propose the same map.
pub struct ProposalBasis {
    pub schema: Schema,
    /// Which metadata it is, for stderr.
    pub label: String,
    /// The target's definitions as read; `ferry plan` compares against
    /// them instead of reading them again. `None` without a target.
    pub read: Option<TargetRead>,
}

/// Without a target `url`: ferry's built-in schema. With one: the built-in
/// schema with the target's definitions of its tables merged in through
/// [`Schema::replace_tables`] — standard columns as the org has them,
/// ferry's planned custom columns kept, the org's own custom columns
/// (which the built-in schema does not know) candidates for source fields
/// — read through the Web API. Tables the target lacks keep their
/// built-in definition. The schema's source names the target URL, so the
/// proposal says what it was built against.
pub fn proposal_basis(ws: &Workspace) -> Result<ProposalBasis> {
    let mut schema = Schema::builtin(&ws.config.prefix);
    if ws.config.target.url.is_none() {
        return Ok(ProposalBasis {
            schema,
            label: "ferry's built-in reference of a fresh org (no target url in ferry.toml)"
                .to_string(),
            read: None,
        });
    }
    let credentials = Credentials::from_target(&ws.config.target)?;
    let url = credentials.org_url.clone();
    let asked: Vec<String> = schema.tables().map(|t| t.logical_name.clone()).collect();
    let names: Vec<&str> = asked.iter().map(String::as_str).collect();
    let tables = crate::runtime::get()?.block_on(async {
        let client = DataverseClient::connect(credentials).await?;
        client.entity_definitions(&names).await
    })?;
    let found = tables.len();
    schema.replace_tables(tables.clone());
    schema.set_source(format!(
        "{url} — the target's metadata, read through the Web API ({found} of {} tables; ferry's built-in reference for the rest)",
        asked.len()
    ));
    let label = format!(
        "the target's metadata read from {url} ({found} of {} tables; the {} it lacks from ferry's built-in reference)",
        asked.len(),
        asked.len() - found
    );
    Ok(ProposalBasis {
        schema,
        label,
        read: Some(TargetRead { asked, tables }),
    })
}

/// ferry's built-in plan plus the custom columns `ferry map propose` gives
/// the source's custom fields (the proposal is deterministic, so running it
/// again against the same `basis` yields the columns the proposed
/// transforms create, with their types, lengths and choice options). A
/// field proposed for a column the target has but ferry's built-in schema
/// does not know (an org's own custom column) brings that column's
/// definition along, so its staged values are checked against it.
/// ferry's reference schema plus the custom columns the map proposes, and
/// the target's definitions when they were read for the proposal. `ferry
/// plan` and push's preflight both judge the staged rows by it, so a column
/// plan created as a choice column is not "incompatible" to push.
pub fn planned_schema(
    ws: &Workspace,
    conn: &duckdb::Connection,
) -> Result<(Schema, Option<TargetRead>)> {
    let prefix = &ws.config.prefix;
    if relation_exists(conn, "meta", "inventory_fields")? {
        let basis = proposal_basis(ws)?;
        eprintln!("proposing the map against {}", basis.label);
        let planned = with_proposed_columns(ws, conn, Schema::builtin(prefix), &basis.schema)?;
        Ok((planned, basis.read))
    } else {
        Ok((Schema::builtin(prefix), None))
    }
}

fn with_proposed_columns(
    ws: &Workspace,
    conn: &duckdb::Connection,
    mut planned: Schema,
    basis: &Schema,
) -> Result<Schema> {
    let existing = crate::transform::mapping_files::read_optionsets(ws)?;
    let proposal = crate::mapping::propose::propose(
        conn,
        basis,
        ws.config.profile,
        &ws.config.prefix,
        &existing,
    )?;
    let add = |planned: &mut Schema, table: &str, column: crate::dataverse::Column| {
        if planned.table(table).is_some() && planned.column(table, &column.name).is_none() {
            // Cannot fail: the table exists and the column does not.
            let _ = planned.add_column(table, column);
        }
    };
    for (table, column) in proposal.schema_columns() {
        add(&mut planned, &table, column);
    }
    for field in proposal.fields() {
        let Some(name) = &field.target_column else {
            continue;
        };
        if let Some(column) = basis.column(&field.target_table, name) {
            add(&mut planned, &field.target_table, column.clone());
        }
    }
    Ok(planned)
}

/// The target's definitions of every table the staged rows use. Tables
/// `known` already asked for are taken from it rather than read again.
pub fn read_target(
    ws: &Workspace,
    needs: &Needs,
    known: Option<&TargetRead>,
) -> Result<(Schema, String)> {
    let credentials = Credentials::from_target(&ws.config.target)?;
    let tables: BTreeSet<&str> = needs.columns.iter().map(|c| c.table.as_str()).collect();
    let names: Vec<&str> = tables.into_iter().collect();
    let mut have: Vec<Table> = Vec::new();
    let mut unread: Vec<&str> = Vec::new();
    for name in &names {
        match known.filter(|k| k.asked.iter().any(|a| a == name)) {
            Some(k) => have.extend(k.tables.iter().filter(|t| t.logical_name == *name).cloned()),
            None => unread.push(name),
        }
    }
    let url = credentials.org_url.clone();
    let (tables, relationships) = crate::runtime::get()?.block_on(async {
        let client = DataverseClient::connect(credentials).await?;
        let tables = client.entity_definitions(&unread).await?;
        let relationships = client.many_to_many(&names).await?;
        Ok::<_, crate::dataverse::client::DvClientError>((tables, relationships))
    })?;
    have.extend(tables);
    Ok((
        Schema::from_tables(&ws.config.prefix, &url, have, relationships),
        format!("read from {url}"),
    ))
}

/// Which of the unit groups `names` the target already has, by name
/// (`uomschedules?$filter=name eq '…'`; Dataverse compares names without
/// regard to case).
pub fn unit_groups_in_target(ws: &Workspace, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let credentials = Credentials::from_target(&ws.config.target)?;
    let found = crate::runtime::get()?.block_on(async {
        let client = DataverseClient::connect(credentials).await?;
        let mut found = Vec::new();
        for name in names {
            let path = format!(
                "uomschedules?$select=name&$filter=name eq '{}'",
                odata_string(name)
            );
            let rows = client.get_all(&path, 50).await?;
            if !rows.is_empty() {
                found.push(name.clone());
            }
        }
        Ok::<_, crate::dataverse::client::DvClientError>(found)
    })?;
    Ok(found)
}

/// The inside of an OData string literal in a URL query: quotes doubled,
/// and every character that would end or change the query percent-encoded.
fn odata_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.replace('\'', "''").chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '\'' | '-' | '.' | '_' | '~') {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Creates every missing item `plan --apply` can create, in dependency
/// order: tables, then columns, then option values; then publishes.
pub fn apply(ws: &Workspace, planned: &Schema, plan: &Plan) -> Result<()> {
    let credentials = Credentials::from_target(&ws.config.target)?;
    let missing = |kind: &'static str| {
        plan.items
            .iter()
            .filter(move |i| i.kind == kind && i.standing == Standing::Missing && i.creatable)
    };
    crate::runtime::get()?.block_on(async {
        let client = DataverseClient::connect(credentials).await?;
        let mut created_tables = BTreeSet::new();
        for item in missing("table") {
            let table = planned.table(&item.table).ok_or_else(|| {
                Error::Usage(format!(
                    "ferry has no definition of {} to create",
                    item.table
                ))
            })?;
            eprintln!("creating table {}", item.table);
            client.create_table(table).await?;
            created_tables.insert(item.table.clone());
        }
        // A created table may lack some planned columns (only its primary
        // name comes with it): re-read it before adding columns.
        let existing: Vec<String> = if created_tables.is_empty() {
            Vec::new()
        } else {
            let names: Vec<&str> = created_tables.iter().map(String::as_str).collect();
            client
                .entity_definitions(&names)
                .await?
                .into_iter()
                .flat_map(|t| {
                    let table = t.logical_name.clone();
                    t.columns
                        .into_iter()
                        .map(move |c| format!("{table}.{}", c.name))
                })
                .collect()
        };
        let mut columns: Vec<(String, String)> = missing("column")
            .map(|i| (i.table.clone(), i.name.clone()))
            .collect();
        // A new table's own columns: those with the publisher prefix; the
        // platform adds the rest (owner, state, currency) itself.
        let own = format!("{}_", ws.config.prefix);
        for table in &created_tables {
            if let Some(t) = planned.table(table) {
                for c in t.columns.iter().filter(|c| {
                    c.name.starts_with(&own) && c.name != t.primary_id && c.name != t.primary_name
                }) {
                    columns.push((table.clone(), c.name.clone()));
                }
            }
        }
        columns.sort();
        columns.dedup();
        for (table, column) in columns {
            if existing.contains(&format!("{table}.{column}")) {
                continue;
            }
            let Some(definition) = planned.column(&table, &column) else {
                continue;
            };
            eprintln!("creating column {table}.{column}");
            client.create_column(&table, definition).await?;
        }
        for item in missing("option") {
            let (column, value) = item
                .name
                .split_once(" = ")
                .and_then(|(c, v)| Some((c, v.parse::<i32>().ok()?)))
                .ok_or_else(|| Error::Usage(format!("unreadable plan item {}", item.name)))?;
            let label = planned
                .column(&item.table, column)
                .and_then(|c| c.option(value))
                .map(|o| o.label.clone())
                .unwrap_or_else(|| format!("Option {value}"));
            eprintln!(
                "inserting option {}.{column} = {value} ({label})",
                item.table
            );
            client
                .insert_option_value(&item.table, column, Some(value), &label)
                .await?;
        }
        for item in missing("relationship") {
            let relationship = planned
                .many_to_many()
                .iter()
                .find(|m| m.name == item.table)
                .ok_or_else(|| {
                    Error::Usage(format!("ferry has no definition of {}", item.table))
                })?;
            eprintln!("creating N:N relationship {}", relationship.name);
            client
                .create_many_to_many(
                    &relationship.name,
                    &relationship.table1,
                    &relationship.table2,
                )
                .await?;
        }
        client.publish_all().await?;
        Ok::<(), Error>(())
    })
}
