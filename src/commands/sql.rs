//! `ferry sql [QUERY]`: the analyst's console on `ferry.duckdb`.
//!
//! Results stream out of DuckDB as Arrow batches and are printed by arrow's
//! own formatters (display for tables, the CSV and JSON writers), so every
//! DuckDB type prints the way arrow prints it instead of through hand-made
//! formatting. Without QUERY the statements come from stdin, `;`-separated;
//! each statement that returns columns prints its result. Results go to
//! stdout only; a DuckDB error is reported as such and exits 2.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Attribute, Cell, CellAlignment, Table};
use duckdb::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use duckdb::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
use duckdb::Connection;

use crate::cli::SqlFormat;
use crate::error::Error;
use crate::stage::db::printable_batch;
use crate::stage::open_database;
use crate::workspace::Workspace;
use crate::{Outcome, Result};

/// What NULL looks like in table output.
const NULL_TEXT: &str = "NULL";

pub fn run(ws: &Workspace, query: Option<String>, format: SqlFormat) -> Result<Outcome> {
    // Open first: a locked or unreadable database is reported before anyone
    // types a statement.
    let conn = open_database(ws)?;
    let text = match query {
        Some(q) => q,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::Usage(format!("cannot read SQL from stdin: {e}")))?;
            text
        }
    };
    let statements = split_statements(&text);
    if statements.is_empty() {
        return Err(Error::Usage(
            "no SQL given: pass a query (`ferry sql \"SELECT ...\"`) or pipe statements on stdin"
                .into(),
        ));
    }
    let mut out = std::io::stdout().lock();
    let many = statements.len() > 1;
    let mut printed = 0usize;
    for (index, statement) in statements.iter().enumerate() {
        let result = run_statement(&conn, statement, format, &mut out, printed > 0);
        match result {
            Ok(true) => printed += 1,
            Ok(false) => {}
            Err(StatementError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return Ok(Outcome::Ok); // `ferry sql ... | head` closed the pipe: not an error
            }
            Err(StatementError::Output(e)) => {
                return Err(Error::Usage(format!("cannot write the result: {e}")))
            }
            Err(StatementError::Format(e)) => {
                return Err(Error::Usage(format!(
                    "cannot print the result as {}: {e} (cast the column to VARCHAR in the query)",
                    format_name(format)
                )))
            }
            Err(StatementError::Database(e)) if many => {
                return Err(Error::Usage(format!(
                    "statement {} of {} failed: {}\n  the statement: {}",
                    index + 1,
                    statements.len(),
                    e,
                    preview(statement)
                )))
            }
            Err(StatementError::Database(e)) => return Err(Error::Database(e)),
        }
    }
    Ok(Outcome::Ok)
}

fn format_name(format: SqlFormat) -> &'static str {
    match format {
        SqlFormat::Table => "a table",
        SqlFormat::Csv => "CSV",
        SqlFormat::Json => "JSON",
    }
}

fn preview(statement: &str) -> String {
    let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(80).collect::<String>())
    } else {
        one_line
    }
}

enum StatementError {
    Database(duckdb::Error),
    Format(ArrowError),
    Output(std::io::Error),
}

impl From<duckdb::Error> for StatementError {
    fn from(e: duckdb::Error) -> Self {
        StatementError::Database(e)
    }
}
impl From<ArrowError> for StatementError {
    fn from(e: ArrowError) -> Self {
        // The writers wrap I/O failures (a closed pipe) in ArrowError.
        match e {
            ArrowError::IoError(_, io) => StatementError::Output(io),
            ArrowError::CsvError(ref message) if message.contains("Broken pipe") => {
                StatementError::Output(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    message.clone(),
                ))
            }
            other => StatementError::Format(other),
        }
    }
}
impl From<std::io::Error> for StatementError {
    fn from(e: std::io::Error) -> Self {
        StatementError::Output(e)
    }
}

/// Runs one statement and prints its result if it has columns. Returns
/// whether something was printed.
fn run_statement(
    conn: &Connection,
    sql: &str,
    format: SqlFormat,
    out: &mut impl Write,
    separate: bool,
) -> std::result::Result<bool, StatementError> {
    let mut stmt = conn.prepare(sql)?;
    let stream = stmt.stream_arrow([])?;
    let schema = stream.get_schema();
    let batches = stream;
    // DDL and DML (CREATE, INSERT, DROP, ...) answer with no columns, a
    // `Success` flag or a `Count` of changed rows: a status, not a result,
    // so the count goes to stderr and stdout stays clean for data.
    let status_only = schema.fields().is_empty()
        || (!returns_rows(sql)
            && schema.fields().len() == 1
            && matches!(schema.field(0).name().as_str(), "Count" | "Success"));
    if status_only {
        let counting = schema.fields().len() == 1 && schema.field(0).name() == "Count";
        let mut changed = 0i64;
        for batch in batches {
            let batch = batch?;
            if counting && batch.num_rows() > 0 {
                if let Some(counts) = batch.column(0).as_primitive_opt::<Int64Type>() {
                    changed += counts.iter().flatten().sum::<i64>();
                }
            }
        }
        if counting {
            eprintln!("{changed} row(s) affected");
        }
        return Ok(false);
    }
    if separate {
        writeln!(out)?;
    }
    let printable =
        |batch: duckdb::Result<RecordBatch>| -> std::result::Result<RecordBatch, StatementError> {
            Ok(printable_batch(&batch?)?)
        };
    match format {
        SqlFormat::Table => {
            let mut table = TablePrinter::new(&schema);
            for batch in batches {
                table.add(&printable(batch)?)?;
            }
            writeln!(out, "{}", table.finish())?;
        }
        SqlFormat::Csv => {
            let mut writer = duckdb::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .with_line_terminator(duckdb::arrow::csv::writer::Terminator::CRLF)
                .build(&mut *out);
            let mut wrote = false;
            for batch in batches {
                writer.write(&flatten_for_csv(&printable(batch)?)?)?;
                wrote = true;
            }
            if !wrote {
                // Still print the header of an empty result.
                writer.write(&flatten_for_csv(&RecordBatch::new_empty(schema.clone()))?)?;
            }
        }
        SqlFormat::Json => {
            let mut writer = duckdb::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, duckdb::arrow::json::writer::JsonArray>(&mut *out);
            for batch in batches {
                writer.write(&printable(batch)?)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(true)
}

/// Whether a statement is a query (its result is data even when it is a
/// single `Count` column), judged by its first keyword.
fn returns_rows(sql: &str) -> bool {
    const QUERIES: &[&str] = &[
        "select",
        "with",
        "from",
        "values",
        "table",
        "describe",
        "show",
        "summarize",
        "pragma",
        "explain",
        "call",
        "pivot",
        "unpivot",
        "(",
    ];
    let keyword = first_keyword(sql).to_ascii_lowercase();
    QUERIES.contains(&keyword.as_str()) || sql.to_ascii_lowercase().contains("returning")
}

/// The statement's first word, after leading comments.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    if rest.starts_with('(') {
        return "(";
    }
    let end = rest
        .find(|c: char| !c.is_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Collects rows for a comfy-table, formatting each cell with arrow's
/// display formatter.
struct TablePrinter {
    table: Table,
    dim_nulls: bool,
}

impl TablePrinter {
    fn new(schema: &SchemaRef) -> Self {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_header(schema.fields().iter().map(|f| f.name().as_str()));
        for (index, field) in schema.fields().iter().enumerate() {
            if field.data_type().is_numeric() {
                if let Some(column) = table.column_mut(index) {
                    column.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        TablePrinter {
            table,
            dim_nulls: std::io::stdout().is_terminal(),
        }
    }

    fn add(&mut self, batch: &RecordBatch) -> std::result::Result<(), ArrowError> {
        let options = FormatOptions::default().with_null(NULL_TEXT);
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| {
                    if column.is_null(row) {
                        let cell = Cell::new(NULL_TEXT);
                        if self.dim_nulls {
                            cell.add_attribute(Attribute::Dim)
                        } else {
                            cell
                        }
                    } else {
                        Cell::new(formatter.value(row).to_string())
                    }
                });
            self.table.add_row(cells.collect::<Vec<_>>());
        }
        Ok(())
    }

    fn finish(self) -> Table {
        self.table
    }
}

/// CSV has no nested values: lists, structs and maps are written as their
/// display text (`[a, b]`, `{k: v}`) instead of failing.
fn flatten_for_csv(batch: &RecordBatch) -> std::result::Result<RecordBatch, ArrowError> {
    if !batch.columns().iter().any(|c| c.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default().with_null("");
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if column.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let text: StringArray = (0..column.len())
                .map(|row| (!column.is_null(row)).then(|| formatter.value(row).to_string()))
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Splits SQL text into statements at `;`, ignoring semicolons inside
/// quotes, dollar-quoted strings and comments. Statements holding only
/// whitespace and comments are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut has_code = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' => {
                let end = find_closing_quote(&chars, i + 1, c);
                current.extend(&chars[i..end]);
                has_code = true;
                i = end;
            }
            '-' if next == Some('-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&ch| ch == '\n')
                    .map_or(chars.len(), |p| i + p);
                current.extend(&chars[i..end]);
                i = end;
            }
            '/' if next == Some('*') => {
                let end = find_sequence(&chars, i + 2, &['*', '/']).map_or(chars.len(), |p| p + 2);
                current.extend(&chars[i..end]);
                i = end;
            }
            '$' => match dollar_tag(&chars, i) {
                Some(tag) => {
                    let body = i + tag.len();
                    let end =
                        find_sequence(&chars, body, &tag).map_or(chars.len(), |p| p + tag.len());
                    current.extend(&chars[i..end]);
                    has_code = true;
                    i = end;
                }
                None => {
                    current.push(c);
                    has_code = true;
                    i += 1;
                }
            },
            ';' => {
                if has_code {
                    statements.push(current.trim().to_string());
                }
                current.clear();
                has_code = false;
                i += 1;
            }
            _ => {
                if !c.is_whitespace() {
                    has_code = true;
                }
                current.push(c);
                i += 1;
            }
        }
    }
    if has_code {
        statements.push(current.trim().to_string());
    }
    statements
}

/// Index just past the closing quote (a doubled quote is an escaped one).
fn find_closing_quote(chars: &[char], mut i: usize, quote: char) -> usize {
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn find_sequence(chars: &[char], from: usize, sequence: &[char]) -> Option<usize> {
    if sequence.is_empty() || from > chars.len() {
        return None;
    }
    (from..=chars.len().saturating_sub(sequence.len())).find(|&p| chars[p..].starts_with(sequence))
}

/// `$$` or `$tag$` starting at `i`, as its characters.
fn dollar_tag(chars: &[char], i: usize) -> Option<Vec<char>> {
    let mut j = i + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    // `$1` is a parameter, not a tag.
    if j < chars.len() && chars[j] == '$' && !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        Some(chars[i..=j].to_vec())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_at_semicolons_outside_quotes_and_comments() {
        let sql = "SELECT 'a;b' AS x; -- a comment; still comment\nSELECT \"c;d\" FROM t;\n/* block; */ SELECT $$e;f$$;";
        assert_eq!(
            split_statements(sql),
            vec![
                "SELECT 'a;b' AS x",
                "-- a comment; still comment\nSELECT \"c;d\" FROM t",
                "/* block; */ SELECT $$e;f$$",
            ]
        );
    }

    #[test]
    fn drops_empty_and_comment_only_statements() {
        assert_eq!(
            split_statements(" ; -- nothing\n ;SELECT 1"),
            vec!["SELECT 1"]
        );
        assert!(split_statements("  \n-- only a comment\n").is_empty());
    }

    #[test]
    fn doubled_quotes_do_not_end_a_string() {
        assert_eq!(
            split_statements("SELECT 'it''s; fine'; SELECT 2"),
            vec!["SELECT 'it''s; fine'", "SELECT 2"]
        );
    }

    #[test]
    fn queries_are_told_from_statements_by_their_first_keyword() {
        assert!(super::returns_rows(
            "-- note\n/* c */ SELECT count(*) AS \"Count\" FROM t"
        ));
        assert!(super::returns_rows("with x as (select 1) select * from x"));
        assert!(super::returns_rows("INSERT INTO t VALUES (1) RETURNING *"));
        assert!(!super::returns_rows("CREATE TABLE t AS SELECT 1"));
        assert!(!super::returns_rows("update t set a = 1"));
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(
            split_statements("SELECT $1; SELECT 2"),
            vec!["SELECT $1", "SELECT 2"]
        );
    }
}
