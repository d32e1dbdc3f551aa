//! `ferry plan [--apply]`: the schema the staged rows need against the
//! target's metadata, and the load estimate; `reports/plan.html` and
//! `plan.json`. Exits 1 while anything is missing or incompatible.

use chrono::{SecondsFormat, Utc};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use serde::Serialize;

use crate::commands::output;
use crate::dataverse::schema::Schema;
use crate::error::{Error, IoContext, Result};
use crate::plan::target::{self as plan_target, planned_schema};
use crate::plan::{self, Plan, Standing};
use crate::report::ReportHeader;
use crate::stage::db::relation_exists;
use crate::stage::open_database;
use crate::templates::Templates;
use crate::workspace::{Licence, Workspace};
use crate::Outcome;

#[derive(Serialize)]
struct PlanContext<'a> {
    header: ReportHeader,
    plan: &'a Plan,
    entitlement_days: f64,
}

pub fn run(ws: &Workspace, apply: bool, json: bool) -> Result<Outcome> {
    let conn = open_database(ws)?;
    if !relation_exists(&conn, "meta", "stg_rows")? {
        return Err(Error::input(
            ws.database_path(),
            "nothing is transformed yet (no stg.* tables)",
            "run `ferry transform` first",
        ));
    }
    // The proposal is made against the same schema `ferry map propose`
    // uses (the target's metadata when a target is configured), so plan
    // and propose agree on which columns are custom.
    let (planned, known) = planned_schema(ws, &conn)?;
    let needs = plan::needs(&conn, &planned)?;
    drop(conn);
    let (target, label) = match &ws.config.target.url {
        None => (
            planned.standard_only(),
            "ferry's built-in reference of a fresh org (no target url in ferry.toml)".to_string(),
        ),
        Some(_) => plan_target::read_target(ws, &needs, known.as_ref())?,
    };
    // Unit groups are records, not metadata: `--apply` does not change them.
    let unit_groups_in_target = match &ws.config.target.url {
        None => None,
        Some(_) => {
            let names: Vec<String> = needs.unit_groups.iter().map(|g| g.name.clone()).collect();
            Some(plan_target::unit_groups_in_target(ws, &names)?)
        }
    };
    let compare = |target: &Schema, label: &str| {
        plan::compare(
            &needs,
            &planned,
            target,
            label,
            ws.config.target.licence == Licence::Professional,
            ws.config.push.batch_size,
            ws.config.push.application_users,
            unit_groups_in_target.as_deref(),
        )
    };
    let mut result = compare(&target, &label);
    if apply {
        if ws.config.target.url.is_none() {
            return Err(Error::Usage(format!(
                "plan --apply needs a target: set [targets.{}] url in ferry.toml",
                ws.config.target_name
            )));
        }
        if let Some(problem) = &result.licence_problem {
            return Err(Error::Usage(problem.clone()));
        }
        plan_target::apply(ws, &planned, &result)?;
        let (target, label) = plan_target::read_target(ws, &needs, None)?;
        result = compare(&target, &label);
    }
    let files = write_reports(ws, &result)?;
    let outcome = if result.is_ready() {
        Outcome::Ok
    } else {
        Outcome::Problems
    };
    output::emit(json, &result, |result| {
        print_plan(result);
        println!("report: {}", files.0.display());
    });
    Ok(outcome)
}

fn print_plan(result: &Plan) {
    let open: Vec<_> = result
        .items
        .iter()
        .filter(|i| i.standing != Standing::Present)
        .collect();
    if open.is_empty() {
        println!("the target has every table, column and option value the staged rows use");
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["kind", "table", "name", "standing", "detail", "--apply"]);
        for i in &open {
            table.add_row([
                i.kind.to_string(),
                i.table.clone(),
                i.name.clone(),
                format!("{:?}", i.standing).to_lowercase(),
                i.detail.clone(),
                if i.creatable { "creates it" } else { "by hand" }.to_string(),
            ]);
        }
        println!("{table}");
    }
    if let Some(problem) = &result.licence_problem {
        println!("licence: {problem}");
    }
    print_units(result);
    let e = &result.estimate;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["push step", "records", "reads", "writes", "requests", "how"]);
    for t in &e.tables {
        table.add_row([
            t.table.clone(),
            t.rows.to_string(),
            t.reads.to_string(),
            t.writes.to_string(),
            t.requests.to_string(),
            t.how.to_string(),
        ]);
    }
    for i in 1..=4 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    println!(
        "{} records in {} requests into an empty target, counted as `ferry push` sends them (batches of {}, {} application user(s)): at least {:.1} min under the request limit, {:.1} min under the execution-time limit at an assumed {} ms/record; {:.2} day(s) of one user's daily entitlement",
        e.records,
        e.requests,
        e.batch_size,
        e.application_users,
        e.minutes_by_request_limit,
        e.minutes_by_execution_limit,
        e.assumed_ms_per_record,
        plan::entitlement_days(e)
    );
    println!(
        "{} missing, {} incompatible, {} custom table(s) — target metadata: {}",
        result.missing, result.incompatible, result.custom_tables, result.target
    );
}

/// The unit groups products need: records, created by the loader before
/// the products, so this is for information only.
fn print_units(result: &Plan) {
    for group in &result.units {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["unit", "quantity", "products"]);
        table.add_row([
            format!("{} (base unit)", group.base_unit),
            "1".to_string(),
            group.base_unit_products.to_string(),
        ]);
        for unit in &group.units {
            table.add_row([
                unit.name.clone(),
                format!("{} {}", unit.quantity, group.base_unit),
                unit.products.to_string(),
            ]);
        }
        for i in [1, 2] {
            if let Some(c) = table.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        println!(
            "unit group \"{}\" for {} product(s), base unit {}, {} other unit(s):",
            group.name,
            group.products,
            group.base_unit,
            group.units.len()
        );
        println!("{table}");
        if group.products_without_unit > 0 {
            println!(
                "{} product(s) of the group have no default unit",
                group.products_without_unit
            );
        }
        println!("{}", unit_group_standing(group));
    }
}

fn unit_group_standing(group: &plan::UnitGroup) -> String {
    match group.in_target {
        Some(true) => format!(
            "the target already has a unit group named \"{}\"",
            group.name
        ),
        Some(false) => "the target has no unit group of this name: the loader creates it and its units before the products".to_string(),
        None => "the loader creates the unit group and its units before the products (no target to look in)".to_string(),
    }
}

/// `reports/plan.html` and `reports/plan.json`.
fn write_reports(
    ws: &Workspace,
    result: &Plan,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let context = PlanContext {
        header: ReportHeader {
            report: "plan".into(),
            workspace: ws.root.display().to_string(),
            generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            ferry_version: env!("CARGO_PKG_VERSION"),
            sql_file: "stg.* (ferry plan)".into(),
        },
        plan: result,
        entitlement_days: plan::entitlement_days(&result.estimate),
    };
    let html =
        Templates::for_workspace(&ws.root)?.render(crate::templates::PLAN_TEMPLATE, &context)?;
    let dir = ws.reports_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let html_path = dir.join("plan.html");
    let json_path = dir.join("plan.json");
    crate::atomic_write::write_atomically(&html_path, html.as_bytes())?;
    crate::atomic_write::write_atomically(
        &json_path,
        serde_json::to_string_pretty(&context)
            .expect("plan serializes")
            .as_bytes(),
    )?;
    Ok((html_path, json_path))
}
