//! Where each source object goes: its target tables for the profile, the
//! built-in transform file that maps it, and which fields that file already
//! decides (those are confirmed, never scored).

use super::*;

/// Where an object goes, resolved for a profile and prefix.
pub(super) struct ObjectPlan {
    pub(super) tables: Vec<String>,
    pub(super) file: Option<String>,
    pub(super) custom_columns: bool,
    pub(super) how: String,
    pub(super) custom_table: bool,
}

pub(super) fn object_plan(object: &str, profile: Profile, prefix: &str) -> ObjectPlan {
    match synonyms::object_target(object) {
        Some(target) => {
            let Placement {
                tables,
                file,
                custom_columns,
                how,
            } = *target.placement(profile);
            ObjectPlan {
                tables: tables.iter().map(|t| with_prefix(t, prefix)).collect(),
                file: Some(file.to_string()),
                custom_columns,
                how: how.to_string(),
                custom_table: false,
            }
        }
        None => {
            // A ServiceTracker object ferry has never heard of is a custom
            // object, like equipment: it needs a custom table of its own.
            let singular = object
                .strip_suffix('s')
                .filter(|s| s.len() > 2 && !s.ends_with('s'))
                .unwrap_or(object);
            let room = MAX_CUSTOM_NAME.saturating_sub(prefix.len() + 1);
            let table = format!("{prefix}_{}", truncate(&logical_stem(singular), room));
            ObjectPlan {
                tables: vec![table.clone()],
                file: None,
                custom_columns: true,
                how: format!(
                    "an object ferry does not know: proposed as a new custom table {table}"
                ),
                custom_table: true,
            }
        }
    }
}

pub(super) fn with_prefix(text: &str, prefix: &str) -> String {
    text.replace("{prefix}", prefix)
}

/// What a built-in transform does with a field, resolved for the workspace.
pub(super) struct Decided {
    pub(super) table: String,
    pub(super) column: Option<String>,
    pub(super) also: Vec<String>,
    pub(super) file: String,
    pub(super) how: String,
}

/// The built-in decision for a field, if the transforms make one: the
/// listed rows, else the rules every object shares for `id`, `created_at`
/// and `modified_at`, else "not migrated" for objects that are not loaded.
pub(super) fn builtin_decision(
    object: &str,
    field: &str,
    profile: Profile,
    prefix: &str,
    plan: &ObjectPlan,
    schema: &Schema,
) -> Option<Decided> {
    let rows: Vec<&BuiltinMapping> = synonyms::BUILTIN
        .iter()
        .filter(|m| m.object == object && m.field == field && m.only.applies(profile))
        .collect();
    if let Some(first) = rows.first() {
        let column_of =
            |m: &BuiltinMapping| (!m.column.is_empty()).then(|| with_prefix(m.column, prefix));
        let table = with_prefix(first.table, prefix);
        let also = rows[1..]
            .iter()
            .filter_map(|m| column_of(m).map(|c| format!("{}.{c}", with_prefix(m.table, prefix))))
            .collect();
        let how = rows
            .iter()
            .map(|m| m.how)
            .filter(|h| !h.is_empty())
            .fold(Vec::<&str>::new(), |mut acc, h| {
                if !acc.contains(&h) {
                    acc.push(h);
                }
                acc
            })
            .join("; ");
        return Some(Decided {
            table,
            column: column_of(first),
            also,
            file: first.file.to_string(),
            how,
        });
    }
    let file = plan
        .file
        .clone()
        .unwrap_or_else(|| "the proposed custom-table transform".to_string());
    let Some(table) = plan.tables.first() else {
        // Not loaded as rows at all (workflows): every field goes with it.
        return Some(Decided {
            table: String::new(),
            column: None,
            also: Vec::new(),
            file,
            how: plan.how.clone(),
        });
    };
    match field {
        "id" => Some(Decided {
            table: table.clone(),
            column: Some(format!("{prefix}_record_id")),
            also: Vec::new(),
            file,
            how: "the source id: the traceability column and the seed of the record's GUID"
                .to_string(),
        }),
        "created_at"
            if plan.custom_table || schema.column(table, "overriddencreatedon").is_some() =>
        {
            Some(Decided {
                table: table.clone(),
                column: Some("overriddencreatedon".to_string()),
                also: Vec::new(),
                file,
                how: "the original creation time".to_string(),
            })
        }
        "modified_at" => Some(Decided {
            table: table.clone(),
            column: None,
            also: Vec::new(),
            file,
            how: "not migrated: Dataverse sets modifiedon itself".to_string(),
        }),
        _ => None,
    }
}
