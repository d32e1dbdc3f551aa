//! The live side of `ferry plan`: reading the target's metadata for the
//! tables the staged rows use, and `--apply` creating what is missing
//! (custom tables, columns, option values) through the Web API.

use std::collections::BTreeSet;

use crate::dataverse::client::{Credentials, DataverseClient};
use crate::dataverse::schema::Schema;
use crate::error::{Error, Result};
use crate::plan::{Needs, Plan, Standing};
use crate::workspace::Workspace;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// The target's definitions of every table the staged rows use.
pub fn read_target(ws: &Workspace, needs: &Needs) -> Result<(Schema, String)> {
    let credentials = Credentials::from_target(&ws.config.target)?;
    let tables: BTreeSet<&str> = needs.columns.iter().map(|c| c.table.as_str()).collect();
    let names: Vec<&str> = tables.into_iter().collect();
    let url = credentials.org_url.clone();
    let (tables, relationships) = runtime()?.block_on(async {
        let client = DataverseClient::connect(credentials).await?;
        let tables = client.entity_definitions(&names).await?;
        let relationships = client.many_to_many(&names).await?;
        Ok::<_, crate::dataverse::client::DvClientError>((tables, relationships))
    })?;
    Ok((
        Schema::from_tables(&ws.config.prefix, &url, tables, relationships),
        format!("read from {url}"),
    ))
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
    runtime()?.block_on(async {
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
