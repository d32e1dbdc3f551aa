//! OData query options for the emulator's collection reads: parsing `$select`,
//! `$filter`, `$orderby`, `$top`, `$count`, `$skiptoken` and parameter
//! aliases (`@p1=…`) from the raw URL query string, evaluating `$filter`
//! against Web API JSON rows, ordering rows and projecting `$select`.
//!
//! It exists so that a client's queries get the answers the real service
//! would give — Dataverse runs them on SQL Server, so text compares
//! case-insensitively, `null` follows three-valued logic and sorts first —
//! and so that a query shape the emulator does not implement (`$expand`,
//! `$apply`, other query functions, related-table paths) is refused with a
//! 400 instead of being silently answered wrong.
//!
//! Sources for the behaviour mimicked here (each repeated where it applies):
//! learn.microsoft.com/power-apps/developer/data-platform/webapi/query/
//! `filter-rows`, `order-rows`, `page-results`; the `In` query function
//! reference; the Microsoft.OData parser's error texts, which Dataverse
//! returns verbatim with code 0x80060888.

use std::cmp::Ordering;
use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::error::DvError;

mod eval;
mod lexer;
mod parser;

use eval::*;
use lexer::*;
pub use parser::*;
#[cfg(test)]
mod test_support;

/// Deeper nesting than this is refused: a hostile `((((…` must not be able
/// to overflow the parser's stack.
const MAX_DEPTH: usize = 100;

/// The annotation that carries a lookup's primary name.
const FORMATTED_VALUE: &str = "@OData.Community.Display.V1.FormattedValue";

const CRM_PREFIX: &str = "Microsoft.Dynamics.CRM.";

// ---------------------------------------------------------------------------
// Query options
// ---------------------------------------------------------------------------

/// The query options of one request, parsed and checked for syntax. Column
/// names are not checked against the schema here: `properties()` and the
/// lists below let the caller do that with the table in hand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `None` when absent: every column. Deduplicated, in request order.
    pub select: Option<Vec<String>>,
    pub filter: Option<Filter>,
    pub orderby: Vec<OrderBy>,
    pub top: Option<usize>,
    pub count: bool,
    /// Checked with `decode_skiptoken` already; kept as sent so the caller
    /// decodes it where it pages.
    pub skiptoken: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub column: String,
    pub descending: bool,
}

/// Parses the raw query string of a request (without the `?`).
pub fn parse_query_options(query: Option<&str>) -> Result<QueryOptions, DvError> {
    let raw = query.unwrap_or("");
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    let mut options: HashMap<String, String> = HashMap::new();
    let mut aliases: HashMap<String, String> = HashMap::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        if let Some(name) = key.strip_prefix('@') {
            // Parameter aliases, as Dataverse documents for `In`:
            // `$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=[…]`
            // (filter-rows, "Manage single quotes").
            if name.is_empty() || !name.chars().all(is_name_char) {
                return Err(DvError::bad_request(format!(
                    "The parameter alias '{key}' is not a valid alias name."
                )));
            }
            if aliases.insert(name.to_string(), value).is_some() {
                return Err(repeated(&key));
            }
            continue;
        }
        if !key.starts_with('$') {
            return Err(DvError::bad_request(format!(
                "The query parameter '{key}' is not supported by this emulator."
            )));
        }
        match key.as_str() {
            "$select" | "$filter" | "$orderby" | "$top" | "$count" | "$skiptoken" => {}
            // page-results: "Dataverse doesn't support the $skip query option".
            "$skip" => {
                return Err(DvError::bad_request(
                    "The query parameter $skip is not supported. Page with the \
                     Prefer: odata.maxpagesize header and @odata.nextLink.",
                ))
            }
            "$expand" | "$apply" | "$search" | "$compute" | "$levels" | "$format" | "$index"
            | "$schemaversion" | "$deltatoken" | "$id" => {
                return Err(DvError::bad_request(format!(
                    "The query option '{key}' is not supported by this emulator."
                )))
            }
            _ => {
                return Err(DvError::bad_request(format!(
                    "The query parameter '{key}' is not supported."
                )))
            }
        }
        if options.insert(key.clone(), value).is_some() {
            return Err(repeated(&key));
        }
    }

    let mut out = QueryOptions::default();
    if let Some(v) = options.get("$select") {
        out.select = Some(parse_select(v)?);
    }
    if let Some(v) = options.get("$filter") {
        out.filter = Some(parse_filter_with_aliases(v, &aliases)?);
    }
    if let Some(v) = options.get("$orderby") {
        out.orderby = parse_orderby(v)?;
    }
    if let Some(v) = options.get("$top") {
        out.top = Some(parse_top(v)?);
    }
    if let Some(v) = options.get("$count") {
        out.count = match v.as_str() {
            "true" => true,
            "false" => false,
            // Microsoft.OData's text for a bad $count.
            _ => {
                return Err(DvError::bad_request(format!(
                    "'{v}' is not a valid count option."
                )))
            }
        };
    }
    if let Some(v) = options.get("$skiptoken") {
        decode_skiptoken(v)?;
        out.skiptoken = Some(v.clone());
    }
    Ok(out)
}

fn repeated(key: &str) -> DvError {
    // Microsoft.OData's text for a repeated system query option.
    DvError::bad_request(format!(
        "Query option '{key}' was specified more than once, but it must be specified at most once."
    ))
}

/// Percent-decodes one query component. `+` stays a plus: the emulator's
/// clients send `%20` for spaces, and datetime offsets (`+02:00`) must
/// survive unencoded.
fn percent_decode(s: &str) -> Result<String, DvError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    return Err(DvError::bad_request(format!(
                        "The query string contains a malformed percent-encoding at position {i} in '{s}'."
                    )))
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        DvError::bad_request(format!(
            "The query string '{s}' does not decode to valid UTF-8."
        ))
    })
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(is_name_char)
}

/// Rejects what is not a plain logical name, naming the unsupported feature
/// when it is recognisable, so the client author knows it is the emulator's
/// limit and not a typo.
fn check_column(name: &str, option: &str) -> Result<(), DvError> {
    if is_plain_name(name) {
        return Ok(());
    }
    if name.contains('/') {
        return Err(DvError::bad_request(format!(
            "Columns of related rows ('{name}' in {option}) are not supported by this emulator."
        )));
    }
    Err(DvError::bad_request(format!(
        "'{name}' in {option} is not a valid column name."
    )))
}

fn parse_select(v: &str) -> Result<Vec<String>, DvError> {
    let mut out: Vec<String> = Vec::new();
    for item in v.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(DvError::bad_request(format!(
                "The $select value '{v}' has an empty column name."
            )));
        }
        check_column(item, "$select")?;
        if !out.iter().any(|c| c == item) {
            out.push(item.to_string());
        }
    }
    Ok(out)
}

fn parse_orderby(v: &str) -> Result<Vec<OrderBy>, DvError> {
    let mut out = Vec::new();
    for item in v.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let (column, descending) = match words.as_slice() {
            [c] => (*c, false),
            [c, "asc"] => (*c, false),
            [c, "desc"] => (*c, true),
            [] => {
                return Err(DvError::bad_request(format!(
                    "The $orderby value '{v}' has an empty item."
                )))
            }
            _ => {
                return Err(DvError::bad_request(format!(
                    "Syntax error in $orderby item '{}': expected a column name optionally followed by 'asc' or 'desc'.",
                    item.trim()
                )))
            }
        };
        check_column(column, "$orderby")?;
        out.push(OrderBy {
            column: column.to_string(),
            descending,
        });
    }
    Ok(out)
}

fn parse_top(v: &str) -> Result<usize, DvError> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(DvError::bad_request(format!(
            "Invalid value '{v}' for $top query option found. The $top query option requires a positive integer value."
        ))),
    }
}

// ---------------------------------------------------------------------------
// $skiptoken
// ---------------------------------------------------------------------------

/// An opaque continuation token for `@odata.nextLink`. Real Dataverse sends
/// a paging cookie (page-results); clients must treat it as opaque, so the
/// emulator's own shape is fine. URL-safe base64 keeps it free of `+`, `/`
/// and `=`, so it goes into a URL unencoded.
pub fn encode_skiptoken(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{{\"offset\":{offset}}}"))
}

pub fn decode_skiptoken(token: &str) -> Result<usize, DvError> {
    let invalid = || DvError::bad_request(format!("The $skiptoken value '{token}' is not valid."));
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let obj = value.as_object().ok_or_else(invalid)?;
    if obj.len() != 1 {
        return Err(invalid());
    }
    obj.get("offset")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(invalid)
}

// ---------------------------------------------------------------------------
// $filter: the AST
// ---------------------------------------------------------------------------

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `a eq b`: at least one side is a property; both may be (column
    /// comparison, filter-rows "Column comparison").
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    /// `contains` / `startswith` / `endswith`.
    Text {
        function: TextFunction,
        property: String,
        value: String,
    },
    /// `Microsoft.Dynamics.CRM.In` / `NotIn`.
    In {
        property: String,
        values: Vec<Literal>,
        negated: bool,
    },
    /// `Microsoft.Dynamics.CRM.Between` / `NotBetween` (inclusive).
    Between {
        property: String,
        low: Literal,
        high: Literal,
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(String),
    Literal(Literal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFunction {
    Contains,
    StartsWith,
    EndsWith,
}

/// A literal as written. Unquoted GUIDs and dates keep their type so they
/// compare as GUIDs and instants, not as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Text(String),
    /// Lowercase, hyphenated.
    Guid(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl CompareOp {
    fn from_keyword(s: &str) -> Option<CompareOp> {
        Some(match s {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CompareOp::Eq => ord == Ordering::Equal,
            CompareOp::Ne => ord != Ordering::Equal,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Ge => ord != Ordering::Less,
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Le => ord != Ordering::Greater,
        }
    }

    /// The same test with the operands swapped (`5 lt x` is `x gt 5`).
    fn flipped(self) -> CompareOp {
        match self {
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------
// $orderby
// ---------------------------------------------------------------------------

/// Orders two rows by `$orderby`. Nulls (and missing keys) come first
/// ascending and last descending, as SQL Server sorts them; lookups
/// (`_x_value`) sort by the related row's primary name, their formatted
/// value (order-rows, "Lookup Columns"). Rows equal on every key compare
/// Equal: the tie-break is the caller's.
pub fn compare_rows(a: &Map<String, Value>, b: &Map<String, Value>, order: &[OrderBy]) -> Ordering {
    for o in order {
        let ord = match (sort_key(a, &o.column), sort_key(b, &o.column)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => {
                compare_json(x, y).unwrap_or_else(|| type_rank(x).cmp(&type_rank(y)))
            }
        };
        let ord = if o.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn sort_key<'r>(row: &'r Map<String, Value>, col: &str) -> Option<&'r Value> {
    let value = column(row, col)?;
    let is_lookup = col.starts_with('_') && col.ends_with("_value");
    if is_lookup {
        if let Some(name) = column(row, &format!("{col}{FORMATTED_VALUE}")) {
            return Some(name);
        }
    }
    Some(value)
}

/// A fixed order between values of different JSON types, so sorting stays a
/// total order even on inconsistent data.
fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

// ---------------------------------------------------------------------------
// $select
// ---------------------------------------------------------------------------

/// Projects a wire-form row onto `$select`: the selected columns with their
/// `column@…` annotations (a lookup's `_x_value@…lookuplogicalname` and
/// formatted values), `@odata.etag`, and the `always` columns (the primary
/// id, which Dataverse returns whatever is selected — page-results example).
pub fn apply_select(
    row: &Map<String, Value>,
    select: &[String],
    always: &[&str],
) -> Map<String, Value> {
    let keep = |k: &str| {
        k == "@odata.etag"
            || always.contains(&k)
            || select.iter().any(|s| {
                k == s
                    || (k.len() > s.len()
                        && k.starts_with(s.as_str())
                        && k[s.len()..].starts_with('@'))
            })
    };
    row.iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::test_support::*;
    use serde_json::json;

    #[test]
    fn no_query_is_default() {
        assert_eq!(parse_query_options(None).unwrap(), QueryOptions::default());
        assert_eq!(opts(""), QueryOptions::default());
        assert_eq!(opts("?"), QueryOptions::default());
    }

    #[test]
    fn all_options_parse() {
        let o = opts("$select=name,accountnumber&$filter=name%20eq%20%27A%27&$orderby=name desc,createdon&$top=10&$count=true");
        assert_eq!(
            o.select,
            Some(vec!["name".to_string(), "accountnumber".to_string()])
        );
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("name"),
                CompareOp::Eq,
                lit(Literal::Text("A".into()))
            ))
        );
        assert_eq!(
            o.orderby,
            vec![
                OrderBy {
                    column: "name".into(),
                    descending: true
                },
                OrderBy {
                    column: "createdon".into(),
                    descending: false
                },
            ]
        );
        assert_eq!(o.top, Some(10));
        assert!(o.count);
        assert_eq!(o.skiptoken, None);
    }

    #[test]
    fn percent_decoding_and_literal_plus() {
        let o = opts("%24filter=name%20eq%20%27a+b%27");
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("name"),
                CompareOp::Eq,
                lit(Literal::Text("a+b".into()))
            ))
        );
        let o = opts("$filter=name eq 'x%2By%26z'");
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("name"),
                CompareOp::Eq,
                lit(Literal::Text("x+y&z".into()))
            ))
        );
        // UTF-8 multi-byte.
        let o = opts("$filter=name eq '%C3%A9t%C3%A9'");
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("name"),
                CompareOp::Eq,
                lit(Literal::Text("été".into()))
            ))
        );
        // An offset with a literal '+'.
        let o = opts("$filter=createdon gt 2024-05-01T13:00:00+02:00");
        let want = DateTime::parse_from_rfc3339("2024-05-01T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("createdon"),
                CompareOp::Gt,
                lit(Literal::DateTime(want))
            ))
        );
        assert!(opts_err("$filter=name eq '%zz'").contains("malformed percent-encoding"));
        assert!(opts_err("$filter=name eq '%E9'").contains("UTF-8"));
        assert!(opts_err("$filter=name eq '%4'").contains("malformed"));
    }

    #[test]
    fn unsupported_options_are_refused() {
        let msg = opts_err("$expand=primarycontactid($select=fullname)");
        assert!(
            msg.contains("'$expand'") && msg.contains("not supported by this emulator"),
            "{msg}"
        );
        let msg = opts_err("$apply=groupby((statecode))");
        assert!(
            msg.contains("'$apply'") && msg.contains("not supported by this emulator"),
            "{msg}"
        );
        assert!(opts_err("$skip=10").contains("$skip is not supported"));
        assert!(opts_err("$search=foo").contains("not supported by this emulator"));
        assert_eq!(
            opts_err("$foo=1"),
            "The query parameter '$foo' is not supported."
        );
        // Option names are case-sensitive, as in OData 4.0.
        assert!(opts_err("$Select=name").contains("'$Select'"));
        let msg = opts_err("foo=bar");
        assert!(
            msg.contains("'foo'") && msg.contains("not supported by this emulator"),
            "{msg}"
        );
        assert!(opts_err("api-version=9.2").contains("'api-version'"));
    }

    #[test]
    fn repeated_option_refused() {
        let msg = opts_err("$top=1&$top=2");
        assert!(msg.contains("'$top' was specified more than once"), "{msg}");
        assert!(opts_err("$filter=a eq 1&%24filter=a eq 2").contains("more than once"));
        assert!(opts_err("@p1='a'&@p1='b'").contains("more than once"));
    }

    #[test]
    fn top_and_count_values() {
        assert_eq!(opts("$top=5000").top, Some(5000));
        for bad in ["0", "-1", "abc", "", "+5", "1.5"] {
            let msg = opts_err(&format!("$top={bad}"));
            assert!(msg.contains("$top"), "{bad}: {msg}");
        }
        assert!(!opts("$count=false").count);
        assert_eq!(opts_err("$count=yes"), "'yes' is not a valid count option.");
        assert!(opts_err("$count").contains("not a valid count option"));
        assert!(opts_err("$count=True").contains("not a valid count option"));
    }

    #[test]
    fn select_values() {
        assert_eq!(
            opts("$select= name , _parentcustomerid_value,name").select,
            Some(vec![
                "name".to_string(),
                "_parentcustomerid_value".to_string()
            ])
        );
        assert!(opts_err("$select=").contains("empty column name"));
        assert!(opts_err("$select=name,,x").contains("empty column name"));
        assert!(opts_err("$select=primarycontactid/fullname")
            .contains("not supported by this emulator"));
        assert!(opts_err("$select=na-me").contains("not a valid column name"));
        assert!(opts_err("$select=*").contains("not a valid column name"));
    }

    #[test]
    fn orderby_values() {
        assert_eq!(
            opts("$orderby=revenue asc,name%20desc").orderby,
            vec![
                OrderBy {
                    column: "revenue".into(),
                    descending: false
                },
                OrderBy {
                    column: "name".into(),
                    descending: true
                },
            ]
        );
        assert!(opts_err("$orderby=name up").contains("'asc' or 'desc'"));
        assert!(opts_err("$orderby=name,").contains("empty item"));
        assert!(opts_err("$orderby=name DESC").contains("'asc' or 'desc'"));
        assert!(opts_err("$orderby=primarycontactid/fullname")
            .contains("not supported by this emulator"));
    }

    #[test]
    fn skiptoken_round_trip_and_garbage() {
        for n in [0usize, 1, 5000, 123_456_789] {
            let t = encode_skiptoken(n);
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{t}"
            );
            assert_eq!(decode_skiptoken(&t).unwrap(), n);
        }
        let t = encode_skiptoken(42);
        assert_eq!(opts(&format!("$skiptoken={t}")).skiptoken, Some(t));
        let bad = [
            "",
            "garbage!",
            "%3Ccookie%20pagenumber",
            &URL_SAFE_NO_PAD.encode("not json"),
            &URL_SAFE_NO_PAD.encode("{\"offset\":-1}"),
            &URL_SAFE_NO_PAD.encode("{\"offset\":1,\"x\":2}"),
            &URL_SAFE_NO_PAD.encode("[1]"),
        ];
        for b in bad {
            let e = decode_skiptoken(b).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains("$skiptoken"), "{}", e.message);
        }
        assert!(opts_err("$skiptoken=nope").contains("$skiptoken value 'nope' is not valid"));
    }

    #[test]
    fn aliases_in_query_options() {
        let o = opts("$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=[\"OBrian\",\"O'Brian\"]");
        assert_eq!(
            o.filter,
            Some(Filter::In {
                property: "lastname".into(),
                values: vec![
                    Literal::Text("OBrian".into()),
                    Literal::Text("O'Brian".into())
                ],
                negated: false,
            })
        );
        let o = opts("@v='Contoso'&$filter=name eq @v");
        assert_eq!(
            o.filter,
            Some(cmp(
                prop("name"),
                CompareOp::Eq,
                lit(Literal::Text("Contoso".into()))
            ))
        );
        assert!(opts_err("$filter=name eq @missing").contains("'@missing'"));
        assert!(opts_err("$filter=name eq @p&@p=[1,2]").contains("is a list"));
        assert!(opts_err("$filter=name eq @p&@p=other").contains("must be a literal"));
        assert!(opts_err("@=1").contains("not a valid alias name"));
        // An alias nobody uses is harmless.
        assert_eq!(opts("@unused=1").filter, None);
    }

    fn sorted(rows: Vec<Value>, order: &str) -> Vec<Value> {
        let order = parse_orderby(order).unwrap();
        let mut rows: Vec<Map<String, Value>> = rows.into_iter().map(row).collect();
        rows.sort_by(|a, b| compare_rows(a, b, &order));
        rows.into_iter().map(Value::Object).collect()
    }

    #[test]
    fn nulls_first_ascending_last_descending() {
        let rows = vec![
            json!({"id": 1, "n": 3}),
            json!({"id": 2, "n": null}),
            json!({"id": 3}),
            json!({"id": 4, "n": 1}),
        ];
        let ids = |v: Vec<Value>| {
            v.iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(sorted(rows.clone(), "n")), vec![2, 3, 4, 1]);
        assert_eq!(ids(sorted(rows, "n desc")), vec![1, 4, 2, 3]);
    }

    #[test]
    fn ordering_values() {
        let ids = |v: Vec<Value>| {
            v.iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        let rows = vec![
            json!({"id": 1, "name": "beta", "rev": 10.5, "on": "2024-05-02T00:00:00Z"}),
            json!({"id": 2, "name": "Alpha", "rev": 2, "on": "2024-05-01T23:00:00-02:00"}),
            json!({"id": 3, "name": "alpha", "rev": 100, "on": "2024-05-01T00:00:00Z"}),
        ];
        assert_eq!(ids(sorted(rows.clone(), "rev")), vec![2, 1, 3]);
        assert_eq!(ids(sorted(rows.clone(), "rev desc")), vec![3, 1, 2]);
        // Case-insensitive: Alpha and alpha tie, the stable sort keeps input order.
        assert_eq!(ids(sorted(rows.clone(), "name")), vec![2, 3, 1]);
        assert_eq!(ids(sorted(rows.clone(), "name,rev desc")), vec![3, 2, 1]);
        // Instants, not text: 23:00-02:00 is 01:00Z on the 2nd.
        assert_eq!(ids(sorted(rows.clone(), "on")), vec![3, 1, 2]);
        let empty: Vec<OrderBy> = Vec::new();
        assert_eq!(
            compare_rows(&row(rows[0].clone()), &row(rows[1].clone()), &empty),
            Ordering::Equal
        );
    }

    #[test]
    fn lookups_sort_by_formatted_value() {
        let fv = "_parentcustomerid_value@OData.Community.Display.V1.FormattedValue";
        let rows = vec![
            json!({"id": 1, "_parentcustomerid_value": "00000000-0000-0000-0000-000000000001", fv: "Zeta"}),
            json!({"id": 2, "_parentcustomerid_value": "00000000-0000-0000-0000-000000000002", fv: "alpha"}),
            json!({"id": 3, "_parentcustomerid_value": null}),
        ];
        let ids: Vec<i64> = sorted(rows, "_parentcustomerid_value")
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![3, 2, 1]);
    }

    #[test]
    fn mixed_types_still_total_order() {
        let rows = vec![
            json!({"id": 1, "x": "a"}),
            json!({"id": 2, "x": 5}),
            json!({"id": 3, "x": true}),
        ];
        let ids: Vec<i64> = sorted(rows, "x")
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![3, 2, 1]);
    }

    #[test]
    fn select_keeps_etag_id_and_annotations() {
        let r = row(json!({
            "@odata.etag": "W/\"1\"",
            "accountid": "00000000-0000-0000-0000-000000000001",
            "name": "Contoso",
            "name2": "other",
            "telephone1": "555",
            "_primarycontactid_value": "00000000-0000-0000-0000-000000000002",
            "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
            "_primarycontactid_value@OData.Community.Display.V1.FormattedValue": "Ann",
            "_primarycontactid_value2": "x",
            "statecode": 0,
            "statecode@OData.Community.Display.V1.FormattedValue": "Active",
        }));
        let out = apply_select(
            &r,
            &["name".to_string(), "_primarycontactid_value".to_string()],
            &["accountid"],
        );
        let mut got: Vec<&str> = out.keys().map(String::as_str).collect();
        let mut want = [
            "@odata.etag",
            "accountid",
            "name",
            "_primarycontactid_value",
            "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
            "_primarycontactid_value@OData.Community.Display.V1.FormattedValue",
        ];
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(out["name"], json!("Contoso"));
        // A selected column that the row lacks is simply absent.
        let out = apply_select(&r, &["fax".to_string()], &["accountid"]);
        assert_eq!(out.len(), 2);
        // Choice formatted values follow their column.
        let out = apply_select(&r, &["statecode".to_string()], &[]);
        assert!(out.contains_key("statecode@OData.Community.Display.V1.FormattedValue"));
    }
}
