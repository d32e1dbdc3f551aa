//! The source inventory as the proposer reads it: the fields, inferred types,
//! sample and picklist values `ferry stage` recorded in `meta.inventory_*`.

use super::*;

/// One row of `meta.inventory_fields`, the columns the proposer uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryField {
    pub object: String,
    pub field: String,
    pub inferred_type: String,
    pub duckdb_type: String,
    pub origin: String,
    pub rows: i64,
    pub non_null: i64,
    pub distinct_count: i64,
    pub min_value: Option<String>,
    pub max_value: Option<String>,
    pub max_length: Option<i64>,
    pub sample_values: Vec<String>,
    pub picklist_like: bool,
    pub documented_values: Vec<String>,
    pub references: Vec<String>,
    pub multiline: Option<i64>,
    pub leading_zero: Option<i64>,
}

/// One row of `meta.inventory_values`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryValue {
    pub object: String,
    pub field: String,
    pub value: String,
    pub count: i64,
    pub documented: Option<bool>,
}

/// Everything the proposer reads from the staging database.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Objects in SPEC order, fields in export order.
    pub fields: Vec<InventoryField>,
    pub values: Vec<InventoryValue>,
    pub workspace: String,
    /// Columns of every `stg.*` table, when transforms have run: a built-in
    /// mapping whose column is missing there was edited away.
    pub staged_columns: BTreeMap<String, BTreeSet<String>>,
}

/// Reads the inventory `ferry stage` built.
pub fn read_inventory(conn: &Connection) -> Result<Inventory> {
    let has_inventory: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' \
         AND table_name IN ('inventory_fields', 'inventory_values', 'inventory_objects') \
         AND database_name = current_database()",
        [],
        |r| r.get(0),
    )?;
    if has_inventory < 3 {
        return Err(Error::Usage(
            "there is no source inventory yet (meta.inventory_*)\n  what to do: run `ferry extract` and `ferry stage` first"
                .to_string(),
        ));
    }
    let list = |text: Option<String>| -> Vec<String> {
        text.and_then(|t| serde_json::from_str::<Vec<Option<String>>>(&t).ok())
            .map(|v| v.into_iter().flatten().collect())
            .unwrap_or_default()
    };
    let mut stmt = conn.prepare(
        "SELECT f.object, f.field, f.inferred_type, f.duckdb_type, f.origin,
                f.\"rows\", f.non_null, f.distinct_count, f.min_value, f.max_value, f.max_length,
                CAST(to_json(f.sample_values) AS VARCHAR), f.picklist_like,
                CAST(to_json(f.documented_values) AS VARCHAR),
                CAST(to_json(f.\"references\") AS VARCHAR), f.multiline, f.leading_zero
         FROM meta.inventory_fields AS f
         LEFT JOIN meta.inventory_objects AS o ON o.object = f.object
         ORDER BY coalesce(o.position, 1000000), f.object, f.position",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            InventoryField {
                object: r.get(0)?,
                field: r.get(1)?,
                inferred_type: r.get(2)?,
                duckdb_type: r.get(3)?,
                origin: r.get(4)?,
                rows: r.get(5)?,
                non_null: r.get(6)?,
                distinct_count: r.get(7)?,
                min_value: r.get(8)?,
                max_value: r.get(9)?,
                max_length: r.get(10)?,
                picklist_like: r.get(12)?,
                multiline: r.get(15)?,
                leading_zero: r.get(16)?,
                ..InventoryField::default()
            },
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<String>>(13)?,
            r.get::<_, Option<String>>(14)?,
        ))
    })?;
    let mut fields = Vec::new();
    for row in rows {
        let (mut field, samples, documented, references) = row?;
        field.sample_values = list(samples);
        field.documented_values = list(documented);
        field.references = list(references);
        fields.push(field);
    }

    let mut stmt = conn.prepare(
        "SELECT object, field, value, count, documented FROM meta.inventory_values
         ORDER BY object, field, count DESC, value",
    )?;
    let values = stmt
        .query_map([], |r| {
            Ok(InventoryValue {
                object: r.get(0)?,
                field: r.get(1)?,
                value: r.get(2)?,
                count: r.get(3)?,
                documented: r.get(4)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;

    let mut staged_columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name FROM duckdb_columns() \
         WHERE schema_name = 'stg' AND database_name = current_database()",
    )?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (table, column) = row?;
        staged_columns.entry(table).or_default().insert(column);
    }

    let database: Option<String> = conn
        .query_row(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
            [],
            |r| r.get(0),
        )
        .unwrap_or(None);
    let workspace = database
        .as_deref()
        .and_then(|p| Path::new(p).parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default();

    Ok(Inventory {
        fields,
        values,
        workspace,
        staged_columns,
    })
}
