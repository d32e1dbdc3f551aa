//! The versioned transform files proposed for custom columns
//! (`V<n>__custom_<object>.sql`): one per object, never overwriting an
//! analyst's file.

use super::*;

/// Writes one new versioned transform per object that has custom columns
/// (or is a custom table) into `dir` — `V<version>__custom_<object>.sql`,
/// numbered from `next_version` past any version already used — and returns
/// the files written. An object that already has a `custom_<object>` file
/// (any version) is skipped, so an analyst's edits are never overwritten.
pub fn write_custom_transforms(
    dir: &Path,
    proposal: &Proposal,
    next_version: u32,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let mut versions: BTreeSet<u32> = BTreeSet::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        if let Some((version, name)) =
            crate::transform::files::parse_name(&entry.file_name().to_string_lossy())
        {
            versions.insert(version);
            names.insert(name);
        }
    }
    let mut written = Vec::new();
    let mut version = next_version;
    for object in &proposal.objects {
        let columns: Vec<(&FieldProposal, &CustomColumn)> = object
            .fields
            .iter()
            .filter_map(|f| f.custom_column.as_ref().map(|c| (f, c)))
            .collect();
        if columns.is_empty() && !object.custom_table {
            continue;
        }
        let name = format!("custom_{}", file_stem(&object.object));
        if names.contains(&name) {
            continue;
        }
        while versions.contains(&version) {
            version += 1;
        }
        let text = custom_transform_sql(object, &columns, proposal, version);
        let path = dir.join(format!("V{version:03}__{name}.sql"));
        // create_new: never replace a file, even one that appeared meanwhile.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .at(&path)?;
        file.write_all(text.as_bytes()).at(&path)?;
        versions.insert(version);
        names.insert(name);
        written.push(path);
    }
    Ok(written)
}

/// An object name usable in a transform file name (`[A-Za-z0-9_-]`).
pub(super) fn file_stem(object: &str) -> String {
    let stem: String = object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.trim_matches('_').is_empty() {
        "object".to_string()
    } else {
        stem
    }
}

/// The column name with the workspace prefix written as the `{{prefix}}`
/// placeholder every transform uses.
pub(super) fn placeholder_name(name: &str, prefix: &str) -> String {
    match name.strip_prefix(&format!("{prefix}_")) {
        Some(rest) => format!("{{{{prefix}}}}_{rest}"),
        None => name.to_string(),
    }
}

/// The SQL expression that turns the raw value into the column's type.
pub(super) fn cast_sql(raw: &str, column: &CustomColumn, choice_alias: &str) -> String {
    match column.column_type() {
        ColumnType::String | ColumnType::Memo => format!("map.clean_text({raw})"),
        ColumnType::Picklist => format!("{choice_alias}.target_value::INTEGER"),
        ColumnType::Boolean => format!("CAST({raw} AS BOOLEAN)"),
        _ => format!("CAST({raw} AS {})", column.to_column().duckdb_type()),
    }
}

/// Appends the custom columns to a SELECT list and returns the joins that
/// translate choice values through `map.optionset`.
pub(super) fn select_custom(
    sql: &mut String,
    columns: &[(&FieldProposal, &CustomColumn)],
    prefix: &str,
    object: &str,
    table: &str,
) -> Vec<String> {
    let mut joins = Vec::new();
    for (i, (field, column)) in columns.iter().enumerate() {
        let alias = format!("choice_{}", i + 1);
        let raw = format!("r.{}", quote_ident(&field.field));
        sql.push_str(&format!(
            ",\n    {} AS {}",
            cast_sql(&raw, column, &alias),
            quote_ident(&placeholder_name(&column.name, prefix))
        ));
        if column.type_name == "Picklist" {
            // Names, not data: the object, field, table and column the
            // translation belongs to, as mapping/optionsets.csv names them.
            joins.push(format!(
                "LEFT JOIN (\n    SELECT source_value, max(target_value) AS target_value\n    FROM map.optionset\n    \
                 WHERE source_object = {} AND source_field = {}\n      AND target_table = {} AND target_column = {}\n    \
                 GROUP BY source_value\n) AS {alias} ON {alias}.source_value = map.clean_text({raw})",
                constant_literal(object),
                constant_literal(&field.field),
                constant_literal(table),
                constant_literal(&column.name),
            ));
        }
    }
    joins
}

pub(super) fn custom_transform_sql(
    object: &ObjectProposal,
    columns: &[(&FieldProposal, &CustomColumn)],
    proposal: &Proposal,
    version: u32,
) -> String {
    let prefix = &proposal.prefix;
    let raw_table = qualified("raw", &format!("{}_current", object.object));
    let mut sql = String::new();
    let tables = object.target_tables.join(", ");
    sql.push_str(&format!(
        "-- V{version:03} — custom columns of ServiceTracker {} on stg.{tables}, proposed by `ferry map propose`.\n",
        one_line(&object.object),
    ));
    sql.push_str("--\n-- Why: these source fields have no standard Dataverse column (see\n");
    sql.push_str("-- reports/mapping-proposal.html), so each gets a custom column that\n");
    sql.push_str("-- `ferry plan --apply` creates:\n");
    for (field, column) in columns {
        let size = match (column.max_length, column.precision) {
            (Some(l), _) => format!("({l})"),
            (None, Some(p)) => format!(", {p} decimal places"),
            _ => String::new(),
        };
        let extra = if column.type_name == "Picklist" {
            " — values translated through mapping/optionsets.csv"
        } else if column.behavior.as_deref() == Some("DateOnly") {
            " — date only"
        } else {
            ""
        };
        sql.push_str(&format!(
            "--   {} → {} {}{size}{extra}\n",
            one_line(&field.field),
            column.name,
            column.type_name
        ));
    }
    sql.push_str("-- This file is yours to review and edit (names, types, casts): `ferry map\n");
    sql.push_str("-- propose` never overwrites it. Every row is kept: the raw record is\n");
    sql.push_str("-- joined by its id (LEFT JOIN), so no row can be lost here.\n");

    if object.custom_table {
        let table = object.target_tables.first().cloned().unwrap_or_default();
        let table_ph = placeholder_name(&table, prefix);
        let has_id = object.fields.iter().any(|f| f.field == "id");
        let has_created = object.fields.iter().any(|f| f.field == "created_at");
        if !has_id {
            sql.push_str(&format!(
                "--\n-- {} has no `id` field, so its records cannot be keyed: write this\n-- transform by hand.\n",
                one_line(&object.object)
            ));
            return sql;
        }
        sql.push_str(&format!(
            "\nCREATE OR REPLACE TABLE stg.{} AS\nSELECT\n    map.record_guid({}, r.id) AS {},\n    r.id AS {},\n    {} AS _source_object,\n    r.id AS {}",
            quote_ident(&table_ph),
            constant_literal(&table_ph),
            quote_ident(&format!("{table_ph}id")),
            quote_ident("{{prefix}}_record_id"),
            constant_literal(&object.object),
            quote_ident("{{prefix}}_name"),
        ));
        if has_created {
            sql.push_str(",\n    r.created_at AS overriddencreatedon");
        }
        let joins = select_custom(&mut sql, columns, prefix, &object.object, &table);
        sql.push_str(&format!("\nFROM {raw_table} AS r"));
        for join in joins {
            sql.push('\n');
            sql.push_str(&join);
        }
        sql.push_str(";\n");
        return sql;
    }

    for table in &object.target_tables {
        let table_ph = placeholder_name(table, prefix);
        sql.push_str(&format!(
            "\nCREATE OR REPLACE TABLE stg.{} AS\nSELECT\n    t.*",
            quote_ident(&table_ph)
        ));
        let joins = select_custom(&mut sql, columns, prefix, &object.object, table);
        sql.push_str(&format!(
            "\nFROM stg.{} AS t\nLEFT JOIN {raw_table} AS r ON r.id = t.{}",
            quote_ident(&table_ph),
            quote_ident("{{prefix}}_record_id")
        ));
        for join in joins {
            sql.push('\n');
            sql.push_str(&join);
        }
        sql.push_str(";\n");
    }
    sql
}
