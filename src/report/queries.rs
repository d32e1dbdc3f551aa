//! Report SQL files: several named queries in one file, each introduced by a
//! `-- name: <key>` line, run against the staging database into plain JSON
//! rows that a template can walk.
//!
//! The rows go through arrow's JSON writer (explicit nulls, so a template
//! can test `is none` for every column it names) rather than a hand-written
//! type mapping; nested DuckDB lists and structs arrive as JSON arrays and
//! objects, which lets a query hand a template a whole tree (objects →
//! fields → values) in one go.

use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::error::{Error, Result};
use crate::stage::db::printable_batch;

/// One `-- name:` section of a report SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    /// The key its rows appear under in the template context.
    pub name: String,
    /// Line of the `-- name:` marker (1-based), for error messages.
    pub line: usize,
    pub sql: String,
}

/// Keys the template context uses itself.
const RESERVED_NAMES: &[&str] = &["header"];

const NAME_MARKER: &str = "-- name:";

/// Splits a report SQL file into its named queries. Text before the first
/// marker may only be comments (the file's description).
pub fn parse_named_queries(text: &str, path: &Path) -> Result<Vec<NamedQuery>> {
    let mut queries: Vec<NamedQuery> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if let Some(rest) = line.trim_start().strip_prefix(NAME_MARKER) {
            let name = rest.trim().to_string();
            check_name(&name, line_number, path, &queries)?;
            queries.push(NamedQuery {
                name,
                line: line_number,
                sql: String::new(),
            });
            continue;
        }
        match queries.last_mut() {
            Some(query) => {
                query.sql.push_str(line);
                query.sql.push('\n');
            }
            None => {
                let trimmed = line.trim();
                if !trimmed.is_empty() && !trimmed.starts_with("--") {
                    return Err(Error::input(
                        path,
                        format!("line {line_number}: SQL before the first `{NAME_MARKER} <key>` line"),
                        format!("start every query with a line `{NAME_MARKER} <key>`; its rows appear under <key> in the template"),
                    ));
                }
            }
        }
    }
    for query in &mut queries {
        let trimmed = query
            .sql
            .trim()
            .trim_end_matches(';')
            .trim_end()
            .to_string();
        if trimmed.is_empty()
            || trimmed
                .lines()
                .all(|l| l.trim().is_empty() || l.trim().starts_with("--"))
        {
            return Err(Error::input(
                path,
                format!("line {}: query `{}` is empty", query.line, query.name),
                "write the query under its `-- name:` line, or remove the line",
            ));
        }
        query.sql = trimmed;
    }
    if queries.is_empty() {
        return Err(Error::input(
            path,
            "no named queries in this file",
            format!("introduce each query with a line `{NAME_MARKER} <key>`"),
        ));
    }
    Ok(queries)
}

fn check_name(name: &str, line: usize, path: &Path, seen: &[NamedQuery]) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(Error::input(
            path,
            format!("line {line}: `{name}` is not a valid query name"),
            "use lowercase letters, digits and underscores, e.g. `-- name: fields`",
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(Error::input(
            path,
            format!("line {line}: the query name `{name}` is reserved for the report header"),
            "choose another name",
        ));
    }
    if let Some(first) = seen.iter().find(|q| q.name == name) {
        return Err(Error::input(
            path,
            format!(
                "line {line}: query `{name}` is already defined on line {}",
                first.line
            ),
            "give every query its own name",
        ));
    }
    Ok(())
}

/// Runs one named query and returns its rows as JSON objects.
pub fn run_query(
    conn: &Connection,
    query: &NamedQuery,
    path: &Path,
) -> Result<Vec<serde_json::Value>> {
    let fail = |message: String| {
        Error::input(
            path,
            format!(
                "query `{}` (line {}) failed: {message}",
                query.name, query.line
            ),
            restore_hint(path),
        )
    };
    let mut stmt = conn.prepare(&query.sql).map_err(|e| fail(e.to_string()))?;
    let batches = stmt.stream_arrow([]).map_err(|e| fail(e.to_string()))?;
    let mut buffer = Vec::new();
    {
        let mut writer = duckdb::arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, duckdb::arrow::json::writer::JsonArray>(&mut buffer);
        for batch in batches {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            let batch = printable_batch(&batch).map_err(|e| fail(e.to_string()))?;
            writer.write(&batch).map_err(|e| fail(e.to_string()))?;
        }
        writer.finish().map_err(|e| fail(e.to_string()))?;
    }
    if buffer.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buffer).map_err(|e| fail(format!("result is not valid JSON: {e}")))
}

/// How to get the built-in report SQL back after editing it into a corner.
pub fn restore_hint(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "fix the workspace copy, or restore the built-in one: run `ferry init /tmp/ferry-fresh` and copy sql/reports/{name} from there into {}",
        path.parent().map(PathBuf::from).unwrap_or_default().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_named_queries_and_strips_semicolons() {
        let text = "-- The inventory report.\n\n-- name: objects\nSELECT 1 AS a;\n\n-- name: fields\n-- a comment\nSELECT 2 AS b\n";
        let queries = parse_named_queries(text, Path::new("r.sql")).unwrap();
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[0].name, "objects");
        assert_eq!(queries[0].line, 3);
        assert_eq!(queries[0].sql, "SELECT 1 AS a");
        assert_eq!(queries[1].name, "fields");
        assert_eq!(queries[1].sql, "-- a comment\nSELECT 2 AS b");
    }

    #[test]
    fn rejects_sql_before_the_first_name_duplicates_and_bad_names() {
        let err =
            parse_named_queries("SELECT 1;\n-- name: a\nSELECT 2", Path::new("r.sql")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_named_queries(
            "-- name: a\nSELECT 1\n-- name: a\nSELECT 2",
            Path::new("r.sql"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("already defined on line 1"),
            "{err}"
        );
        let err =
            parse_named_queries("-- name: Bad-Name\nSELECT 1", Path::new("r.sql")).unwrap_err();
        assert!(err.to_string().contains("not a valid query name"), "{err}");
        let err = parse_named_queries("-- name: header\nSELECT 1", Path::new("r.sql")).unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
        let err = parse_named_queries("-- name: a\n\n-- name: b\nSELECT 1", Path::new("r.sql"))
            .unwrap_err();
        assert!(err.to_string().contains("`a` is empty"), "{err}");
    }
}
