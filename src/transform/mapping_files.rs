//! The analyst-edited mapping files of a workspace (`mapping/*.csv`, SPEC
//! §2): option-set translations, technician → user overrides and waivers.
//! The transform loads the first two into `map.*`, validate the waivers into
//! `check.waivers`; `map propose` reads the option sets it extends.
//!
//! They ship with defaults inside the binary (`ferry init` writes them), and
//! every command that uses them reads the workspace copy through here, so a
//! bad line is reported once, the same way, with its file and line number —
//! never half-loaded. They reach DuckDB as rows of `map.*` tables through
//! DuckDB's appender, so no value is spliced into SQL text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use duckdb::{params, Connection};

use crate::error::{Error, IoContext, Result};
use crate::workspace::Workspace;

pub const OPTIONSETS_FILE: &str = "optionsets.csv";
pub const USERS_FILE: &str = "users.csv";
pub const WAIVERS_FILE: &str = "waivers.csv";

/// The defaults `ferry init` writes into `mapping/`.
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    (
        OPTIONSETS_FILE,
        include_str!("mapping_defaults/optionsets.csv"),
    ),
    (USERS_FILE, include_str!("mapping_defaults/users.csv")),
    (WAIVERS_FILE, include_str!("mapping_defaults/waivers.csv")),
];

/// One translation of a source picklist value into a target option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionTranslation {
    pub source_object: String,
    pub source_field: String,
    pub source_value: String,
    pub target_table: String,
    pub target_column: String,
    pub target_value: i32,
    pub target_label: String,
    pub line: u64,
}

/// A technician whose records go to a different Dataverse user than the one
/// with their own e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOverride {
    pub technician_id: String,
    pub user_email: String,
    pub note: String,
    pub line: u64,
}

/// An accepted finding: `record_id` `None` waives the rule for the whole
/// object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub rule: String,
    pub object: String,
    pub record_id: Option<String>,
    pub reason: String,
    pub line: u64,
}

/// Reads a mapping CSV: a header naming exactly `columns`, then rows of
/// trimmed fields. Returns each row with its 1-based line number.
fn read_rows(path: &Path, columns: &[&str]) -> Result<Vec<(u64, Vec<String>)>> {
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                path,
                "mapping file is missing",
                format!(
                    "restore it (a new workspace from `ferry init` has the default), with the header `{}`",
                    columns.join(",")
                ),
            )
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(std::io::BufReader::new(file));
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    if header != columns {
        return Err(Error::input(
            path,
            format!("line 1: the header is `{}`", header.join(",")),
            format!("the header must be exactly `{}`", columns.join(",")),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.len() {
            return Err(Error::input(
                path,
                format!(
                    "line {line}: {} field(s) where the header has {}",
                    record.len(),
                    columns.len()
                ),
                "quote fields that contain commas",
            ));
        }
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(rows)
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    let line = err.position().map_or(0, |p| p.line());
    Error::input(
        path,
        format!("line {line}: not readable as CSV: {err}"),
        "fix the line (RFC 4180 quoting, UTF-8)",
    )
}

fn mapping_path(ws: &Workspace, file: &str) -> PathBuf {
    ws.mapping_dir().join(file)
}

/// `mapping/optionsets.csv`, checked: every field present, integer values,
/// and no source value translated twice into the same target column.
pub fn read_optionsets(ws: &Workspace) -> Result<Vec<OptionTranslation>> {
    let path = mapping_path(ws, OPTIONSETS_FILE);
    read_optionsets_at(&path)
}

pub fn read_optionsets_at(path: &Path) -> Result<Vec<OptionTranslation>> {
    const COLUMNS: &[&str] = &[
        "source_object",
        "source_field",
        "source_value",
        "target_table",
        "target_column",
        "target_value",
        "target_label",
    ];
    let mut seen: HashMap<(String, String, String, String, String), u64> = HashMap::new();
    let mut out = Vec::new();
    for (line, f) in read_rows(path, COLUMNS)? {
        if let Some(i) = f[..6].iter().position(String::is_empty) {
            return Err(Error::input(
                path,
                format!("line {line}: `{}` is empty", COLUMNS[i]),
                "every translation needs the source object, field and value, and the target table, column and integer value",
            ));
        }
        let target_value: i32 = f[5].parse().map_err(|_| {
            Error::input(
                path,
                format!("line {line}: target_value `{}` is not an integer", f[5]),
                "option set values are integers (e.g. 1, or 100000000 for a publisher value)",
            )
        })?;
        let key = (
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
            f[4].clone(),
        );
        if let Some(first) = seen.insert(key, line) {
            return Err(Error::input(
                path,
                format!(
                    "line {line}: {}.{} `{}` is already translated into {}.{} on line {first}",
                    f[0], f[1], f[2], f[3], f[4]
                ),
                "keep one translation per source value and target column",
            ));
        }
        out.push(OptionTranslation {
            source_object: f[0].clone(),
            source_field: f[1].clone(),
            source_value: f[2].clone(),
            target_table: f[3].clone(),
            target_column: f[4].clone(),
            target_value,
            target_label: f[6].clone(),
            line,
        });
    }
    Ok(out)
}

/// `mapping/users.csv`.
pub fn read_users(ws: &Workspace) -> Result<Vec<UserOverride>> {
    let path = mapping_path(ws, USERS_FILE);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    for (line, f) in read_rows(&path, &["technician_id", "user_email", "note"])? {
        if f[0].is_empty() || f[1].is_empty() {
            return Err(Error::input(
                &path,
                format!("line {line}: technician_id and user_email are both required"),
                "name the technician (TEC-…) and the Dataverse user's e-mail their records go to",
            ));
        }
        if !f[1].contains('@') {
            return Err(Error::input(
                &path,
                format!(
                    "line {line}: user_email `{}` is not an e-mail address",
                    f[1]
                ),
                "use the user's primary e-mail (systemuser.internalemailaddress)",
            ));
        }
        if let Some(first) = seen.insert(f[0].clone(), line) {
            return Err(Error::input(
                &path,
                format!(
                    "line {line}: technician {} already has an override on line {first}",
                    f[0]
                ),
                "keep one line per technician",
            ));
        }
        out.push(UserOverride {
            technician_id: f[0].clone(),
            user_email: f[1].clone(),
            note: f[2].clone(),
            line,
        });
    }
    Ok(out)
}

/// `mapping/waivers.csv`: a waiver without a reason is refused, because an
/// accepted finding must say why it was accepted.
pub fn read_waivers(ws: &Workspace) -> Result<Vec<Waiver>> {
    let path = mapping_path(ws, WAIVERS_FILE);
    let mut out = Vec::new();
    for (line, f) in read_rows(&path, &["rule", "object", "record_id", "reason"])? {
        if f[0].is_empty() || f[1].is_empty() {
            return Err(Error::input(
                &path,
                format!("line {line}: rule and object are required"),
                "copy rule and object from `ferry validate` (or check.findings)",
            ));
        }
        if f[3].is_empty() {
            return Err(Error::input(
                &path,
                format!(
                    "line {line}: the waiver of {} on {} has no reason",
                    f[0], f[1]
                ),
                "say why the finding is accepted; the reason is shown in every report",
            ));
        }
        out.push(Waiver {
            rule: f[0].clone(),
            object: f[1].clone(),
            record_id: (!f[2].is_empty() && f[2] != "*").then(|| f[2].clone()),
            reason: f[3].clone(),
            line,
        });
    }
    Ok(out)
}

/// Replaces `map.optionset` with `rows`.
pub fn load_optionsets(conn: &Connection, rows: &[OptionTranslation]) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("map", "optionset"))?;
    let mut app = conn.appender_to_db("optionset", "map")?;
    for r in rows {
        app.append_row(params![
            r.source_object,
            r.source_field,
            r.source_value,
            r.target_table,
            r.target_column,
            r.target_value,
            r.target_label,
            r.line as i64
        ])?;
    }
    app.flush()?;
    Ok(())
}

/// Replaces `map.users` with `rows`.
pub fn load_users(conn: &Connection, rows: &[UserOverride]) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("map", "users"))?;
    let mut app = conn.appender_to_db("users", "map")?;
    for r in rows {
        app.append_row(params![
            r.technician_id,
            r.user_email,
            r.note,
            r.line as i64
        ])?;
    }
    app.flush()?;
    Ok(())
}

/// Replaces `check.waivers` with `rows`.
pub fn load_waivers(conn: &Connection, rows: &[Waiver]) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("check", "waivers"))?;
    let mut app = conn.appender_to_db("waivers", "check")?;
    for r in rows {
        app.append_row(params![
            r.rule,
            r.object,
            r.record_id,
            r.reason,
            r.line as i64
        ])?;
    }
    app.flush()?;
    Ok(())
}

/// Writes the default mapping files into `dir`, keeping any that exist.
pub fn write_defaults(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).at(dir)?;
    for (name, text) in DEFAULT_FILES {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text).at(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optionsets.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const HEADER: &str =
        "source_object,source_field,source_value,target_table,target_column,target_value,target_label\n";

    #[test]
    fn the_shipped_defaults_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OPTIONSETS_FILE);
        std::fs::write(&path, DEFAULT_FILES[0].1).unwrap();
        let rows = read_optionsets_at(&path).unwrap();
        assert!(rows.len() > 20, "{}", rows.len());
    }

    #[test]
    fn a_non_integer_value_names_its_line() {
        let (_d, path) = write(&format!(
            "{HEADER}work_orders,priority,High,incident,prioritycode,1,High\nwork_orders,priority,Low,incident,prioritycode,three,Low\n"
        ));
        let err = read_optionsets_at(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("three"), "{err}");
    }

    #[test]
    fn a_value_translated_twice_names_both_lines() {
        let (_d, path) = write(&format!(
            "{HEADER}work_orders,priority,High,incident,prioritycode,1,High\nwork_orders,priority,High,incident,prioritycode,2,Normal\n"
        ));
        let err = read_optionsets_at(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let (_d, path) = write("object,field,value\n");
        let err = read_optionsets_at(&path).unwrap_err().to_string();
        assert!(err.contains("header"), "{err}");
    }
}
