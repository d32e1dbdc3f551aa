//! Report SQL files: several named queries in one file, each introduced by a
//! `-- name: <key>` line, run against the staging database into plain JSON
//! rows that a template can walk.
//!
//! The rows go through arrow's JSON writer (explicit nulls, so a template
//! can test `is none` for every column it names) rather than a hand-written
//! type mapping; nested DuckDB lists and structs arrive as JSON arrays and
//! objects, which lets a query hand a template a whole tree (objects →
//! fields → values) in one go.
//!
//! A file may also say what it needs before its first query, one line per
//! command that makes it:
//!
//! ```sql
//! -- requires: audit.runs, audit.records by ferry push
//! ```
//!
//! Each relation must exist and hold at least one row; when one does not,
//! the report is "not available yet" and names the command to run, instead
//! of failing on a missing table (a workspace is reported on long before it
//! has pushed anything).

use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::error::{Error, Result};
use crate::stage::db::{query_json, relation_exists};

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
const RESERVED_NAMES: &[&str] = &["header", "template", "waiting", "page_title"];

const NAME_MARKER: &str = "-- name:";

const REQUIRES_MARKER: &str = "-- requires:";

/// One `-- requires:` line: relations some command makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Requirement {
    /// `schema.table` names.
    pub relations: Vec<String>,
    /// What makes them, e.g. `ferry push`.
    pub command: Option<String>,
    /// Line of the marker (1-based).
    pub line: usize,
}

/// A requirement that is not met, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmet {
    pub relation: String,
    /// `does not exist` or `is empty`.
    pub problem: String,
    pub command: Option<String>,
}

/// The `-- requires:` lines before a file's first query.
pub fn parse_requirements(text: &str, path: &Path) -> Result<Vec<Requirement>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(NAME_MARKER) {
            break;
        }
        let Some(rest) = trimmed.strip_prefix(REQUIRES_MARKER) else {
            continue;
        };
        let line_number = index + 1;
        let (list, command) = match rest.split_once(" by ") {
            Some((list, command)) => (list, Some(command.trim().to_string())),
            None => (rest, None),
        };
        let mut relations = Vec::new();
        for relation in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let valid = relation.split_once('.').is_some_and(|(schema, table)| {
                [schema, table].iter().all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
            });
            if !valid {
                return Err(Error::input(
                    path,
                    format!("line {line_number}: `{relation}` is not a schema.table name"),
                    format!(
                        "write e.g. `{REQUIRES_MARKER} audit.runs, audit.records by ferry push`"
                    ),
                ));
            }
            relations.push(relation.to_string());
        }
        if relations.is_empty() {
            return Err(Error::input(
                path,
                format!("line {line_number}: `{REQUIRES_MARKER}` names no table"),
                format!("write e.g. `{REQUIRES_MARKER} audit.runs, audit.records by ferry push`"),
            ));
        }
        out.push(Requirement {
            relations,
            command: command.filter(|c| !c.is_empty()),
            line: line_number,
        });
    }
    Ok(out)
}

/// The requirements that the database does not meet yet.
pub fn unmet_requirements(conn: &Connection, requirements: &[Requirement]) -> Result<Vec<Unmet>> {
    let mut out = Vec::new();
    for requirement in requirements {
        for relation in &requirement.relations {
            let (schema, table) = relation.split_once('.').expect("checked when parsed");
            let problem = if !relation_exists(conn, schema, table)? {
                Some("does not exist")
            } else {
                // Identifiers were checked to be [a-z0-9_] when parsed.
                let rows: i64 = conn.query_row(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM \"{schema}\".\"{table}\" LIMIT 1)"
                    ),
                    [],
                    |row| row.get(0),
                )?;
                (rows == 0).then_some("is empty")
            };
            if let Some(problem) = problem {
                out.push(Unmet {
                    relation: relation.clone(),
                    problem: problem.to_string(),
                    command: requirement.command.clone(),
                });
            }
        }
    }
    Ok(out)
}

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
            format!(
                "line {line}: the query name `{name}` is reserved (ferry puts its own data there)"
            ),
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
    query_json(conn, &query.sql).map_err(fail)
}

/// How to get the built-in report SQL back after editing it into a corner.
pub fn restore_hint(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "fix the workspace copy, or restore the built-in one: run `ferry init /tmp/ferry-fresh` and copy reports/{name} from there into {}",
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
    fn requirements_name_tables_and_the_command_that_makes_them() {
        let text = "-- The push report.\n-- requires: audit.runs, audit.records by ferry push\n-- requires: check.runs\n-- name: a\n-- requires: not.read\nSELECT 1";
        let found = parse_requirements(text, Path::new("r.sql")).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].relations, vec!["audit.runs", "audit.records"]);
        assert_eq!(found[0].command.as_deref(), Some("ferry push"));
        assert_eq!(found[0].line, 2);
        assert_eq!(found[1].relations, vec!["check.runs"]);
        assert_eq!(found[1].command, None);
        let err =
            parse_requirements("-- requires: runs by ferry push", Path::new("r.sql")).unwrap_err();
        assert!(err.to_string().contains("not a schema.table"), "{err}");
        let err = parse_requirements("-- requires: by ferry push", Path::new("r.sql")).unwrap_err();
        assert!(err.to_string().contains("names no table"), "{err}");
    }

    #[test]
    fn unmet_requirements_tell_missing_from_empty() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE SCHEMA audit; CREATE TABLE audit.runs (x INT); CREATE TABLE audit.records (x INT); INSERT INTO audit.records VALUES (1);",
        )
        .unwrap();
        let requirements = parse_requirements(
            "-- requires: audit.runs, audit.records, verify.diff by ferry push",
            Path::new("r.sql"),
        )
        .unwrap();
        let unmet = unmet_requirements(&conn, &requirements).unwrap();
        let found: Vec<(&str, &str)> = unmet
            .iter()
            .map(|u| (u.relation.as_str(), u.problem.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("audit.runs", "is empty"),
                ("verify.diff", "does not exist")
            ]
        );
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
