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
// $filter: lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Names, keywords and function names; may hold `.` and `/` so that
    /// `Microsoft.Dynamics.CRM.In` and navigation paths arrive whole.
    Ident(String),
    /// `'text'` with `''` unescaped.
    Str(String),
    /// `"text"`, JSON-escaped: only inside `PropertyValues=[…]`, where
    /// Dataverse reads the list as JSON (filter-rows, "Manage single quotes").
    DqStr(String),
    Int(i64),
    Dec(f64),
    Guid(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Alias(String),
    LParen,
    RParen,
    Comma,
    Equals,
    LBracket,
    RBracket,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset, 0-based, as Microsoft.OData counts in its messages.
    pos: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, DvError> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let start = i;
        let punct = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Equals),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if let Some(tok) = punct {
            toks.push(Token { tok, pos: i });
            i += 1;
            continue;
        }
        let tok = if c == '\'' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                if j >= n {
                    // Same text and position as the real service, e.g.
                    // "There is an unterminated literal at position 21 in
                    // 'lastname eq 'O'Bryan''." (filter-rows).
                    return Err(DvError::bad_request(format!(
                        "There is an unterminated literal at position {n} in '{text}'."
                    )));
                }
                if chars[j] == '\'' {
                    if j + 1 < n && chars[j + 1] == '\'' {
                        s.push('\'');
                        j += 2;
                        continue;
                    }
                    break;
                }
                s.push(chars[j]);
                j += 1;
            }
            i = j + 1;
            Tok::Str(s)
        } else if c == '"' {
            let mut j = i + 1;
            while j < n && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            if j >= n {
                return Err(DvError::bad_request(format!(
                    "There is an unterminated literal at position {n} in '{text}'."
                )));
            }
            let raw: String = chars[i..=j].iter().collect();
            let s: String = serde_json::from_str(&raw).map_err(|_| {
                DvError::bad_request(format!(
                    "Invalid JSON string {raw} at position {i} in '{text}'."
                ))
            })?;
            i = j + 1;
            Tok::DqStr(s)
        } else if c == '@' {
            let mut j = i + 1;
            while j < n && is_name_char(chars[j]) {
                j += 1;
            }
            if j == i + 1 {
                return Err(invalid_char(c, i, text));
            }
            let name: String = chars[i + 1..j].iter().collect();
            i = j;
            Tok::Alias(name)
        } else if let Some(guid) = guid_at(&chars, i) {
            i += 36;
            Tok::Guid(guid)
        } else if date_at(&chars, i) {
            let mut j = i;
            while j < n
                && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], ':' | '.' | '+' | '-'))
            {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let tok = if run.len() == 10 {
                NaiveDate::parse_from_str(&run, "%Y-%m-%d")
                    .ok()
                    .map(Tok::Date)
            } else {
                parse_instant(&run).map(Tok::DateTime)
            };
            let kind = if run.len() == 10 {
                "Edm.Date"
            } else {
                "Edm.DateTimeOffset"
            };
            i = j;
            tok.ok_or_else(|| {
                DvError::bad_request(format!(
                    "Unrecognized '{kind}' literal '{run}' at '{start}' in '{text}'."
                ))
            })?
        } else if c.is_ascii_digit() || (c == '-' && i + 1 < n && chars[i + 1].is_ascii_digit()) {
            let mut j = i + 1;
            while j < n && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut is_dec = false;
            if j + 1 < n && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
                is_dec = true;
                j += 1;
                while j < n && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j < n && matches!(chars[j], 'e' | 'E') {
                let mut k = j + 1;
                if k < n && matches!(chars[k], '+' | '-') {
                    k += 1;
                }
                if k < n && chars[k].is_ascii_digit() {
                    is_dec = true;
                    j = k;
                    while j < n && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                }
            }
            let digits: String = chars[i..j].iter().collect();
            // OData type suffixes (`12.5M`, `10L`, `1.5d`, `2f`) are
            // accepted and dropped: the row decides the type.
            if j < n
                && matches!(chars[j], 'm' | 'M' | 'l' | 'L' | 'd' | 'D' | 'f' | 'F')
                && !chars.get(j + 1).is_some_and(|c| is_name_char(*c))
            {
                j += 1;
            }
            if j < n && is_name_char(chars[j]) {
                return Err(invalid_char(chars[j], j, text));
            }
            i = j;
            match (is_dec, digits.parse::<i64>()) {
                (false, Ok(v)) => Tok::Int(v),
                _ => match digits.parse::<f64>() {
                    Ok(v) if v.is_finite() => Tok::Dec(v),
                    _ => {
                        return Err(DvError::bad_request(format!(
                        "Unrecognized 'Edm.Decimal' literal '{digits}' at '{start}' in '{text}'."
                    )))
                    }
                },
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i + 1;
            while j < n && (is_name_char(chars[j]) || matches!(chars[j], '.' | '/')) {
                j += 1;
            }
            let s: String = chars[i..j].iter().collect();
            i = j;
            Tok::Ident(s)
        } else {
            return Err(invalid_char(c, i, text));
        };
        toks.push(Token { tok, pos: start });
    }
    toks.push(Token {
        tok: Tok::End,
        pos: n,
    });
    Ok(toks)
}

fn invalid_char(c: char, pos: usize, text: &str) -> DvError {
    DvError::bad_request(format!(
        "Syntax error: character '{c}' is not valid at position {pos} in '{text}'."
    ))
}

/// An unquoted GUID (`00000000-0000-0000-0000-000000000001`) at `i`, not
/// glued to a longer name.
fn guid_at(chars: &[char], i: usize) -> Option<String> {
    let s: String = chars.get(i..i + 36)?.iter().collect();
    if chars
        .get(i + 36)
        .is_some_and(|c| is_name_char(*c) || *c == '-')
    {
        return None;
    }
    parse_guid(&s)?;
    Some(s.to_ascii_lowercase())
}

/// `YYYY-MM-DD` starts at `i`.
fn date_at(chars: &[char], i: usize) -> bool {
    match chars.get(i..i + 10) {
        Some(w) => w.iter().enumerate().all(|(k, c)| {
            if k == 4 || k == 7 {
                *c == '-'
            } else {
                c.is_ascii_digit()
            }
        }),
        None => false,
    }
}

// ---------------------------------------------------------------------------
// $filter: parser
// ---------------------------------------------------------------------------

/// Parses a `$filter` value (already percent-decoded).
pub fn parse_filter(text: &str) -> Result<Filter, DvError> {
    parse_filter_with_aliases(text, &HashMap::new())
}

/// Parses a `$filter` value whose `@name` parameter aliases are resolved
/// from `aliases` (name without `@` → the alias's raw text).
pub fn parse_filter_with_aliases(
    text: &str,
    aliases: &HashMap<String, String>,
) -> Result<Filter, DvError> {
    let mut p = Parser::new(text, aliases)?;
    let f = p.or_expr()?;
    p.expect_end()?;
    Ok(f)
}

/// What an alias stands for.
enum AliasValue {
    One(Literal),
    List(Vec<Literal>),
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    text: &'a str,
    aliases: &'a HashMap<String, String>,
    depth: usize,
}

const KEYWORDS: [&str; 9] = ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"];

const ODATA_FUNCTIONS: [&str; 27] = [
    "tolower",
    "toupper",
    "trim",
    "length",
    "indexof",
    "substring",
    "concat",
    "substringof",
    "matchespattern",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "date",
    "time",
    "now",
    "fractionalseconds",
    "totaloffsetminutes",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "any",
    "all",
];

impl<'a> Parser<'a> {
    fn new(text: &'a str, aliases: &'a HashMap<String, String>) -> Result<Self, DvError> {
        Ok(Parser {
            toks: lex(text)?,
            i: 0,
            text,
            aliases,
            depth: 0,
        })
    }

    fn peek(&self) -> &Token {
        &self.toks[self.i]
    }

    fn peek_at(&self, k: usize) -> &Tok {
        let idx = (self.i + k).min(self.toks.len() - 1);
        &self.toks[idx].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s == kw)
    }

    // Message texts below follow Microsoft.OData's, which Dataverse passes
    // through ("Syntax error at position …", "Expression expected at …").
    fn syntax_error(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "Syntax error at position {pos} in '{}'.",
            self.text
        ))
    }

    fn expression_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "Expression expected at position {pos} in '{}'.",
            self.text
        ))
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), DvError> {
        let t = self.bump();
        if t.tok == want {
            Ok(())
        } else {
            Err(DvError::bad_request(format!(
                "{what} expected at position {} in '{}'.",
                t.pos, self.text
            )))
        }
    }

    fn expect_end(&self) -> Result<(), DvError> {
        let t = self.peek();
        if t.tok == Tok::End {
            Ok(())
        } else {
            Err(self.syntax_error(t.pos))
        }
    }

    fn enter(&mut self) -> Result<(), DvError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DvError::bad_request(format!(
                "The $filter expression '{}' is nested more than {MAX_DEPTH} levels deep.",
                self.text
            )));
        }
        Ok(())
    }

    /// `or` binds loosest, then `and`, then `not` (filter-rows, "Grouping
    /// operators"; OData operator precedence).
    fn or_expr(&mut self) -> Result<Filter, DvError> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.bump();
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, DvError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.bump();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, DvError> {
        if self.peek_keyword("not") {
            self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, DvError> {
        if self.peek().tok == Tok::LParen {
            self.bump();
            self.enter()?;
            let inner = self.or_expr()?;
            self.depth -= 1;
            let t = self.bump();
            if t.tok != Tok::RParen {
                return Err(DvError::bad_request(format!(
                    "')' or operator expected at position {} in '{}'.",
                    t.pos, self.text
                )));
            }
            return Ok(inner);
        }
        let is_call = matches!(&self.peek().tok, Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()))
            && *self.peek_at(1) == Tok::LParen;
        if is_call {
            let f = self.function_call()?;
            return self.bool_suffix(f);
        }
        self.comparison()
    }

    /// `contains(name,'x') eq true` — the OData v3 habit some clients keep.
    fn bool_suffix(&mut self, f: Filter) -> Result<Filter, DvError> {
        let op = match &self.peek().tok {
            Tok::Ident(s) if s == "eq" || s == "ne" => s.clone(),
            _ => return Ok(f),
        };
        let want = match self.peek_at(1) {
            Tok::Ident(b) if b == "true" => true,
            Tok::Ident(b) if b == "false" => false,
            _ => {
                let pos = self.toks[(self.i + 1).min(self.toks.len() - 1)].pos;
                return Err(DvError::bad_request(format!(
                    "A function result can only be compared with true or false: syntax error at position {pos} in '{}'.",
                    self.text
                )));
            }
        };
        self.bump();
        self.bump();
        Ok(if (op == "eq") == want {
            f
        } else {
            Filter::Not(Box::new(f))
        })
    }

    fn comparison(&mut self) -> Result<Filter, DvError> {
        let start = self.peek().pos;
        let left = self.operand()?;
        let t = self.bump();
        let op = match &t.tok {
            Tok::Ident(s) => CompareOp::from_keyword(s),
            _ => None,
        };
        let Some(op) = op else {
            return Err(DvError::bad_request(format!(
                "Syntax error at position {} in '{}': a comparison operator (eq, ne, gt, ge, lt, le) was expected.",
                t.pos, self.text
            )));
        };
        let right = self.operand()?;
        if matches!((&left, &right), (Operand::Literal(_), Operand::Literal(_))) {
            return Err(DvError::bad_request(format!(
                "The comparison at position {start} in '{}' compares two literals; one side must be a column.",
                self.text
            )));
        }
        Ok(Filter::Compare { left, op, right })
    }

    fn operand(&mut self) -> Result<Operand, DvError> {
        let t = self.bump();
        let lit = match t.tok {
            Tok::Ident(name) => {
                match name.as_str() {
                    "null" => return Ok(Operand::Literal(Literal::Null)),
                    "true" => return Ok(Operand::Literal(Literal::Bool(true))),
                    "false" => return Ok(Operand::Literal(Literal::Bool(false))),
                    kw if KEYWORDS.contains(&kw) => return Err(self.expression_expected(t.pos)),
                    _ => {}
                }
                if self.peek().tok == Tok::LParen {
                    return Err(self.function_refusal(&name, t.pos, true));
                }
                return Ok(Operand::Property(self.property_name(name, t.pos)?));
            }
            Tok::Alias(name) => match self.resolve_alias(&name, t.pos)? {
                AliasValue::One(l) => l,
                AliasValue::List(_) => {
                    return Err(DvError::bad_request(format!(
                        "The parameter alias '@{name}' at position {} in '{}' is a list; a single value was expected.",
                        t.pos, self.text
                    )))
                }
            },
            Tok::End => return Err(self.expression_expected(t.pos)),
            other => match literal_of(other) {
                Some(l) => l,
                None => return Err(self.expression_expected(t.pos)),
            },
        };
        Ok(Operand::Literal(lit))
    }

    fn property_name(&self, name: String, pos: usize) -> Result<String, DvError> {
        if is_plain_name(&name) {
            return Ok(name);
        }
        if name.contains('/') {
            return Err(DvError::bad_request(format!(
                "Filtering on columns of related rows ('{name}' at position {pos} in '{}') is not supported by this emulator.",
                self.text
            )));
        }
        Err(DvError::bad_request(format!(
            "'{name}' at position {pos} in '{}' is not a valid property name.",
            self.text
        )))
    }

    fn function_refusal(&self, name: &str, pos: usize, as_operand: bool) -> DvError {
        let text = self.text;
        if name.contains('/') {
            return DvError::bad_request(format!(
                "Filtering on related rows ('{name}' at position {pos} in '{text}') is not supported by this emulator."
            ));
        }
        if matches!(name, "contains" | "startswith" | "endswith") && as_operand {
            return DvError::bad_request(format!(
                "The function '{name}' at position {pos} in '{text}' returns a boolean and cannot be compared with a value other than true or false."
            ));
        }
        if name.starts_with(CRM_PREFIX) || ODATA_FUNCTIONS.contains(&name) {
            return DvError::bad_request(format!(
                "The function '{name}' at position {pos} in '{text}' is not supported by this emulator."
            ));
        }
        if matches!(name, "In" | "NotIn" | "Between" | "NotBetween") {
            // filter-rows: "You must use the function's fully qualified name".
            return DvError::bad_request(format!(
                "An unknown function with name '{name}' was found at position {pos} in '{text}'. Use its fully qualified name 'Microsoft.Dynamics.CRM.{name}'."
            ));
        }
        DvError::bad_request(format!(
            "An unknown function with name '{name}' was found at position {pos} in '{text}'."
        ))
    }

    fn function_call(&mut self) -> Result<Filter, DvError> {
        let t = self.bump();
        let Tok::Ident(name) = t.tok else {
            return Err(self.syntax_error(t.pos));
        };
        let function = match name.as_str() {
            "contains" => Some(TextFunction::Contains),
            "startswith" => Some(TextFunction::StartsWith),
            "endswith" => Some(TextFunction::EndsWith),
            _ => None,
        };
        if let Some(function) = function {
            return self.text_function(function);
        }
        let supported = name
            .strip_prefix(CRM_PREFIX)
            .filter(|s| matches!(*s, "In" | "NotIn" | "Between" | "NotBetween"));
        if let Some(short) = supported {
            return self.crm_function(short, t.pos);
        }
        Err(self.function_refusal(&name, t.pos, false))
    }

    fn text_function(&mut self, function: TextFunction) -> Result<Filter, DvError> {
        self.expect(Tok::LParen, "'('")?;
        let t = self.bump();
        let property = match t.tok {
            Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()) => {
                self.property_name(name, t.pos)?
            }
            Tok::End => return Err(self.expression_expected(t.pos)),
            _ => {
                return Err(DvError::bad_request(format!(
                    "A column name was expected as the first argument at position {} in '{}'.",
                    t.pos, self.text
                )))
            }
        };
        self.expect(Tok::Comma, "','")?;
        let t = self.bump();
        let value = match t.tok {
            Tok::Str(s) => s,
            Tok::Alias(name) => match self.resolve_alias(&name, t.pos)? {
                AliasValue::One(Literal::Text(s)) => s,
                _ => return Err(self.string_expected(t.pos)),
            },
            Tok::End => return Err(self.expression_expected(t.pos)),
            _ => return Err(self.string_expected(t.pos)),
        };
        self.expect(Tok::RParen, "')'")?;
        Ok(Filter::Text {
            function,
            property,
            value,
        })
    }

    fn string_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "A string literal such as 'text' was expected at position {pos} in '{}'.",
            self.text
        ))
    }

    /// `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b'])`
    /// (In Function reference: PropertyName Edm.String, PropertyValues
    /// Collection(Edm.String)); arguments in any order, aliases allowed.
    fn crm_function(&mut self, short: &str, fpos: usize) -> Result<Filter, DvError> {
        self.expect(Tok::LParen, "'('")?;
        let mut property: Option<String> = None;
        let mut values: Option<Vec<Literal>> = None;
        loop {
            let t = self.bump();
            let pname = match t.tok {
                Tok::Ident(s) => s,
                Tok::RParen if property.is_none() && values.is_none() => break,
                Tok::End => return Err(self.expression_expected(t.pos)),
                _ => return Err(self.syntax_error(t.pos)),
            };
            self.expect(Tok::Equals, "'='")?;
            match pname.as_str() {
                "PropertyName" if property.is_none() => {
                    let v = self.bump();
                    let name = match v.tok {
                        Tok::Str(s) => s,
                        Tok::Alias(a) => match self.resolve_alias(&a, v.pos)? {
                            AliasValue::One(Literal::Text(s)) => s,
                            _ => return Err(self.string_expected(v.pos)),
                        },
                        Tok::End => return Err(self.expression_expected(v.pos)),
                        _ => return Err(self.string_expected(v.pos)),
                    };
                    property = Some(self.property_name(name, v.pos)?);
                }
                "PropertyValues" if values.is_none() => {
                    let v = self.peek().clone();
                    let list = match v.tok {
                        Tok::LBracket => self.list()?,
                        Tok::Alias(a) => {
                            self.bump();
                            match self.resolve_alias(&a, v.pos)? {
                                AliasValue::List(l) => l,
                                AliasValue::One(_) => return Err(self.list_expected(v.pos)),
                            }
                        }
                        Tok::End => return Err(self.expression_expected(v.pos)),
                        _ => return Err(self.list_expected(v.pos)),
                    };
                    values = Some(list);
                }
                "PropertyName" | "PropertyValues" => {
                    return Err(DvError::bad_request(format!(
                        "The parameter '{pname}' is given more than once at position {} in '{}'.",
                        t.pos, self.text
                    )))
                }
                _ => {
                    return Err(DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} has no parameter '{pname}' (position {} in '{}'); it takes PropertyName and PropertyValues.",
                        t.pos, self.text
                    )))
                }
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => {
                    return Err(DvError::bad_request(format!(
                        "')' or ',' expected at position {} in '{}'.",
                        t.pos, self.text
                    )))
                }
            }
        }
        let missing = |p: &str| {
            DvError::bad_request(format!(
                "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' is missing its {p} parameter.",
                self.text
            ))
        };
        let property = property.ok_or_else(|| missing("PropertyName"))?;
        let values = values.ok_or_else(|| missing("PropertyValues"))?;
        match short {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' needs at least one value in PropertyValues.",
                        self.text
                    )));
                }
                Ok(Filter::In {
                    property,
                    values,
                    negated: short == "NotIn",
                })
            }
            _ => {
                let [low, high]: [Literal; 2] = values.try_into().map_err(|_| {
                    DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' needs exactly two values in PropertyValues.",
                        self.text
                    ))
                })?;
                Ok(Filter::Between {
                    property,
                    low,
                    high,
                    negated: short == "NotBetween",
                })
            }
        }
    }

    fn list_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "A list of values such as ['a','b'] was expected at position {pos} in '{}'.",
            self.text
        ))
    }

    /// `[v, …]`: quoted strings (either quote), numbers, GUIDs, dates,
    /// booleans.
    fn list(&mut self) -> Result<Vec<Literal>, DvError> {
        self.expect(Tok::LBracket, "'['")?;
        let mut out = Vec::new();
        if self.peek().tok == Tok::RBracket {
            self.bump();
            return Ok(out);
        }
        loop {
            let t = self.bump();
            let lit = match t.tok {
                Tok::DqStr(s) => Literal::Text(s),
                Tok::Ident(s) if s == "true" => Literal::Bool(true),
                Tok::Ident(s) if s == "false" => Literal::Bool(false),
                Tok::End => return Err(self.expression_expected(t.pos)),
                other => match literal_of(other) {
                    Some(l) => l,
                    None => {
                        return Err(DvError::bad_request(format!(
                            "A value was expected at position {} in '{}'.",
                            t.pos, self.text
                        )))
                    }
                },
            };
            out.push(lit);
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RBracket => return Ok(out),
                _ => {
                    // The real service reads this list as JSON and says so.
                    return Err(DvError::bad_request(format!(
                        "Invalid JSON. A comma character ',' was expected in scope 'Array' at position {} in '{}'.",
                        t.pos, self.text
                    )));
                }
            }
        }
    }

    fn resolve_alias(&self, name: &str, pos: usize) -> Result<AliasValue, DvError> {
        let Some(text) = self.aliases.get(name) else {
            return Err(DvError::bad_request(format!(
                "The parameter alias '@{name}' at position {pos} in '{}' is not given a value in the query string.",
                self.text
            )));
        };
        let none = HashMap::new();
        let mut sub = Parser::new(text, &none)?;
        let value = match sub.peek().tok.clone() {
            Tok::LBracket => AliasValue::List(sub.list()?),
            Tok::Alias(_) => {
                return Err(DvError::bad_request(format!(
                    "The parameter alias '@{name}' refers to another alias ('{text}'), which is not supported."
                )))
            }
            _ => match sub.operand()? {
                Operand::Literal(l) => AliasValue::One(l),
                Operand::Property(p) => {
                    return Err(DvError::bad_request(format!(
                        "The parameter alias '@{name}' must be a literal value, not the column '{p}'."
                    )))
                }
            },
        };
        sub.expect_end()?;
        Ok(value)
    }
}

fn literal_of(tok: Tok) -> Option<Literal> {
    Some(match tok {
        Tok::Str(s) => Literal::Text(s),
        Tok::Int(v) => Literal::Int(v),
        Tok::Dec(v) => Literal::Decimal(v),
        Tok::Guid(g) => Literal::Guid(g),
        Tok::Date(d) => Literal::Date(d),
        Tok::DateTime(d) => Literal::DateTime(d),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// $filter: evaluation
// ---------------------------------------------------------------------------

impl Filter {
    /// Every column the filter names, once each, in order of appearance —
    /// for the caller to check against the table's schema.
    pub fn properties(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_properties(&mut out);
        out
    }

    fn collect_properties(&self, out: &mut Vec<String>) {
        let mut add = |p: &String| {
            if !out.contains(p) {
                out.push(p.clone());
            }
        };
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_properties(out);
                b.collect_properties(out);
            }
            Filter::Not(a) => a.collect_properties(out),
            Filter::Compare { left, right, .. } => {
                for side in [left, right] {
                    if let Operand::Property(p) = side {
                        add(p);
                    }
                }
            }
            Filter::Text { property, .. }
            | Filter::In { property, .. }
            | Filter::Between { property, .. } => add(property),
        }
    }

    /// Whether the row is returned: only when the expression is true, not
    /// when it is false or unknown (filter-rows: "Records aren't returned if
    /// the expression evaluates to false or null").
    pub fn matches(&self, row: &Map<String, Value>) -> bool {
        self.eval(row) == Some(true)
    }

    /// SQL three-valued logic: `None` is UNKNOWN, which is what a
    /// comparison with a null column gives on SQL Server, and which `not`
    /// keeps unknown.
    fn eval(&self, row: &Map<String, Value>) -> Option<bool> {
        match self {
            Filter::And(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Filter::Or(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Filter::Not(a) => a.eval(row).map(|b| !b),
            Filter::Compare { left, op, right } => eval_compare(row, left, *op, right),
            Filter::Text {
                function,
                property,
                value,
            } => {
                let s = column(row, property)?.as_str()?;
                // These become SQL LIKE on the real service, so %, _ and
                // [] in the value are wildcards (filter-rows, "Use wildcard
                // characters"); matching is case-insensitive.
                let pattern = match function {
                    TextFunction::Contains => format!("%{value}%"),
                    TextFunction::StartsWith => format!("{value}%"),
                    TextFunction::EndsWith => format!("%{value}"),
                };
                Some(like(s, &pattern))
            }
            Filter::In {
                property,
                values,
                negated,
            } => {
                let v = column(row, property)?;
                let found = values
                    .iter()
                    .any(|l| compare_literal(v, l) == Some(Ordering::Equal));
                Some(found != *negated)
            }
            Filter::Between {
                property,
                low,
                high,
                negated,
            } => {
                let v = column(row, property)?;
                let above = compare_literal(v, low)? != Ordering::Less;
                let below = compare_literal(v, high)? != Ordering::Greater;
                Some((above && below) != *negated)
            }
        }
    }
}

/// A column's value; a missing key and JSON null are both SQL NULL.
fn column<'r>(row: &'r Map<String, Value>, name: &str) -> Option<&'r Value> {
    row.get(name).filter(|v| !v.is_null())
}

fn eval_compare(
    row: &Map<String, Value>,
    left: &Operand,
    op: CompareOp,
    right: &Operand,
) -> Option<bool> {
    // `x eq null` / `x ne null` are the IS NULL / IS NOT NULL tests; any
    // other operator against null is unknown, as in SQL.
    let null_test = |other: &Operand| -> Option<bool> {
        let is_null = match other {
            Operand::Property(p) => column(row, p).is_none(),
            Operand::Literal(l) => *l == Literal::Null,
        };
        match op {
            CompareOp::Eq => Some(is_null),
            CompareOp::Ne => Some(!is_null),
            _ => None,
        }
    };
    match (left, right) {
        (_, Operand::Literal(Literal::Null)) => null_test(left),
        (Operand::Literal(Literal::Null), _) => null_test(right),
        (Operand::Property(a), Operand::Property(b)) => {
            let ord = compare_json(column(row, a)?, column(row, b)?)?;
            Some(op.holds(ord))
        }
        (Operand::Property(p), Operand::Literal(l)) => {
            Some(op.holds(compare_literal(column(row, p)?, l)?))
        }
        (Operand::Literal(l), Operand::Property(p)) => {
            Some(op.flipped().holds(compare_literal(column(row, p)?, l)?))
        }
        (Operand::Literal(_), Operand::Literal(_)) => None,
    }
}

/// Orders a row's (non-null) value against a literal; `None` when they
/// cannot be compared (the type does not fit), which filters the row out.
fn compare_literal(v: &Value, lit: &Literal) -> Option<Ordering> {
    match lit {
        Literal::Null => None,
        Literal::Bool(b) => v.as_bool().map(|x| x.cmp(b)),
        Literal::Int(i) => compare_number_int(v.as_number()?, *i),
        Literal::Decimal(d) => v.as_f64()?.partial_cmp(d),
        Literal::Text(s) => match v {
            Value::String(vs) => Some(compare_strings(vs, s)),
            // `In` values are strings even for numbers and choices
            // (PropertyValues is Collection(Edm.String)), so a string
            // literal is read as the column's type.
            Value::Number(n) => {
                let t = s.trim();
                match t.parse::<i64>() {
                    Ok(i) => compare_number_int(n, i),
                    Err(_) => n.as_f64()?.partial_cmp(&t.parse::<f64>().ok()?),
                }
            }
            Value::Bool(b) => {
                let want = match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return None,
                };
                Some(b.cmp(&want))
            }
            _ => None,
        },
        Literal::Guid(g) => Some(compare_guids(&parse_guid(v.as_str()?)?, &parse_guid(g)?)),
        Literal::Date(d) => {
            let lit = d.and_hms_opt(0, 0, 0)?.and_utc();
            Some(parse_instant(v.as_str()?)?.cmp(&lit))
        }
        Literal::DateTime(dt) => Some(parse_instant(v.as_str()?)?.cmp(dt)),
    }
}

fn compare_number_int(n: &serde_json::Number, i: i64) -> Option<Ordering> {
    if let Some(x) = n.as_i64() {
        return Some(x.cmp(&i));
    }
    if n.as_u64().is_some() {
        // Only u64 values above i64::MAX fail as_i64.
        return Some(Ordering::Greater);
    }
    n.as_f64()?.partial_cmp(&(i as f64))
}

/// Two JSON values of a row (column comparison, ordering).
fn compare_json(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(compare_strings(x, y)),
        _ => None,
    }
}

/// Text as SQL Server compares it: GUIDs as uniqueidentifiers, ISO dates as
/// instants, anything else case-insensitively ("All filters using string
/// values are case insensitive", filter-rows) and ignoring trailing spaces
/// (SQL Server pads the shorter operand with spaces before comparing).
fn compare_strings(a: &str, b: &str) -> Ordering {
    if let (Some(x), Some(y)) = (parse_guid(a), parse_guid(b)) {
        return compare_guids(&x, &y);
    }
    if let (Some(x), Some(y)) = (parse_instant(a), parse_instant(b)) {
        return x.cmp(&y);
    }
    let a = a.trim_end_matches(' ');
    let b = b.trim_end_matches(' ');
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// The 16 bytes of a hyphenated GUID, in text order.
fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut k = 0;
    let mut i = 0;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return None;
            }
            i += 1;
            continue;
        }
        let hi = (b[i] as char).to_digit(16)?;
        let lo = (b[i + 1] as char).to_digit(16)?;
        out[k] = (hi * 16 + lo) as u8;
        k += 1;
        i += 2;
    }
    Some(out)
}

/// SQL Server's uniqueidentifier order: the last six bytes first, then the
/// groups leftwards, the first three groups byte-swapped as .NET stores
/// them (learn.microsoft.com/dotnet/framework/data/adonet/sql/
/// comparing-guid-and-uniqueidentifier-values).
fn compare_guids(a: &[u8; 16], b: &[u8; 16]) -> Ordering {
    fn key(g: &[u8; 16]) -> [u8; 16] {
        // .NET byte array: first three groups little-endian.
        let d = [
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
            g[14], g[15],
        ];
        [
            d[10], d[11], d[12], d[13], d[14], d[15], d[8], d[9], d[6], d[7], d[4], d[5], d[0],
            d[1], d[2], d[3],
        ]
    }
    key(a).cmp(&key(b))
}

/// An ISO 8601 date or date-time as an instant: date-only is midnight UTC,
/// a date-time without offset is taken as UTC (the Web API's wire form is
/// UTC with `Z`).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() == 10 {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let (body, offset) = split_offset(s);
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(body, f).ok())?;
    match offset {
        None => Some(naive.and_utc()),
        Some(off) => {
            let with = format!("{}{off}", naive.format("%Y-%m-%dT%H:%M:%S"));
            DateTime::parse_from_rfc3339(&with)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        }
    }
}

/// Splits a trailing `Z` / `±hh:mm` off a date-time.
fn split_offset(s: &str) -> (&str, Option<&str>) {
    if let Some(body) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return (body, Some("Z"));
    }
    if s.len() > 16 {
        let (body, tail) = s.split_at(s.len() - 6);
        let t = tail.as_bytes();
        if (t[0] == b'+' || t[0] == b'-') && t[3] == b':' {
            return (body, Some(tail));
        }
    }
    (s, None)
}

/// SQL LIKE, case-insensitive: `%` any run, `_` one character, `[abc]` /
/// `[a-c]` / `[^…]` one character of (not of) the set; a `[` without a
/// closing `]` is literal.
fn like(value: &str, pattern: &str) -> bool {
    enum P {
        Any,
        One,
        Set(Vec<(char, char)>, bool),
        Lit(char),
    }
    let lower = |s: &str| -> Vec<char> { s.chars().flat_map(char::to_lowercase).collect() };
    let pc = lower(pattern);
    let mut pats = Vec::new();
    let mut i = 0;
    while i < pc.len() {
        match pc[i] {
            '%' => pats.push(P::Any),
            '_' => pats.push(P::One),
            '[' => {
                let negated = pc.get(i + 1) == Some(&'^');
                let from = i + 1 + usize::from(negated);
                let close = pc[from..].iter().position(|c| *c == ']').map(|k| from + k);
                match close {
                    Some(end) if end > from => {
                        let body = &pc[from..end];
                        let mut ranges = Vec::new();
                        let mut k = 0;
                        while k < body.len() {
                            if k + 2 < body.len() && body[k + 1] == '-' {
                                ranges.push((body[k], body[k + 2]));
                                k += 3;
                            } else {
                                ranges.push((body[k], body[k]));
                                k += 1;
                            }
                        }
                        pats.push(P::Set(ranges, negated));
                        i = end;
                    }
                    _ => pats.push(P::Lit('[')),
                }
            }
            c => pats.push(P::Lit(c)),
        }
        i += 1;
    }
    let v = lower(value);
    // reach[j]: the first j pattern items can match the value read so far.
    let close_over_any = |r: &mut [bool]| {
        for (j, p) in pats.iter().enumerate() {
            if matches!(p, P::Any) && r[j] {
                r[j + 1] = true;
            }
        }
    };
    let mut reach = vec![false; pats.len() + 1];
    reach[0] = true;
    close_over_any(&mut reach);
    for ch in v {
        let mut next = vec![false; pats.len() + 1];
        for (j, p) in pats.iter().enumerate() {
            next[j + 1] = match p {
                // `%` absorbs this character whether it was just reached
                // or already open.
                P::Any => reach[j] || reach[j + 1],
                P::One => reach[j],
                P::Lit(c) => reach[j] && *c == ch,
                P::Set(ranges, negated) => {
                    reach[j]
                        && (ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&ch)) != *negated)
                }
            };
        }
        close_over_any(&mut next);
        reach = next;
    }
    reach[pats.len()]
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

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    fn f(text: &str) -> Filter {
        parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        match parse_filter(text) {
            Ok(f) => panic!("{text} parsed as {f:?}"),
            Err(e) => {
                assert_eq!(e.status, 400);
                assert_eq!(e.code, crate::error::BAD_REQUEST);
                e.message
            }
        }
    }

    fn opts(q: &str) -> QueryOptions {
        parse_query_options(Some(q)).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    fn opts_err(q: &str) -> String {
        match parse_query_options(Some(q)) {
            Ok(o) => panic!("{q} parsed as {o:?}"),
            Err(e) => {
                assert_eq!(e.status, 400);
                assert_eq!(e.code, crate::error::BAD_REQUEST);
                e.message
            }
        }
    }

    fn m(text: &str, r: &Value) -> bool {
        f(text).matches(&row(r.clone()))
    }

    fn prop(s: &str) -> Operand {
        Operand::Property(s.into())
    }

    fn lit(l: Literal) -> Operand {
        Operand::Literal(l)
    }

    fn cmp(l: Operand, op: CompareOp, r: Operand) -> Filter {
        Filter::Compare {
            left: l,
            op,
            right: r,
        }
    }

    // ---- query options ----

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

    // ---- filter parsing ----

    #[test]
    fn parses_comparison_operators() {
        for (kw, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(
                f(&format!("revenue {kw} 100000")),
                cmp(prop("revenue"), op, lit(Literal::Int(100000)))
            );
        }
    }

    #[test]
    fn parses_literals() {
        let rhs = |text: &str| match f(&format!("x eq {text}")) {
            Filter::Compare {
                right: Operand::Literal(l),
                ..
            } => l,
            other => panic!("{other:?}"),
        };
        assert_eq!(rhs("'text'"), Literal::Text("text".into()));
        assert_eq!(rhs("'O''Bryan'"), Literal::Text("O'Bryan".into()));
        assert_eq!(rhs("''"), Literal::Text(String::new()));
        assert_eq!(rhs("'a (b), c = d'"), Literal::Text("a (b), c = d".into()));
        assert_eq!(rhs("42"), Literal::Int(42));
        assert_eq!(rhs("-7"), Literal::Int(-7));
        assert_eq!(rhs("12.50"), Literal::Decimal(12.5));
        assert_eq!(rhs("-0.25"), Literal::Decimal(-0.25));
        assert_eq!(rhs("1e3"), Literal::Decimal(1000.0));
        assert_eq!(rhs("12.5M"), Literal::Decimal(12.5));
        assert_eq!(rhs("99999999999999999999"), Literal::Decimal(1e20));
        assert_eq!(rhs("true"), Literal::Bool(true));
        assert_eq!(rhs("false"), Literal::Bool(false));
        assert_eq!(rhs("null"), Literal::Null);
        assert_eq!(
            rhs("00000000-0000-0000-0000-000000000001"),
            Literal::Guid("00000000-0000-0000-0000-000000000001".into())
        );
        assert_eq!(
            rhs("ABCDEF01-2345-6789-ABCD-EF0123456789"),
            Literal::Guid("abcdef01-2345-6789-abcd-ef0123456789".into())
        );
        assert_eq!(
            rhs("2024-05-01"),
            Literal::Date(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap())
        );
        let dt = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            rhs("2024-05-01T13:00:00Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00.123Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00.123Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00-05:00"),
            Literal::DateTime(dt("2024-05-01T18:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
    }

    #[test]
    fn parses_lookup_and_column_comparison() {
        assert_eq!(
            f("_parentcustomerid_value eq 00000000-0000-0000-0000-000000000001"),
            cmp(
                prop("_parentcustomerid_value"),
                CompareOp::Eq,
                lit(Literal::Guid("00000000-0000-0000-0000-000000000001".into()))
            )
        );
        assert_eq!(
            f("firstname eq lastname"),
            cmp(prop("firstname"), CompareOp::Eq, prop("lastname"))
        );
        assert_eq!(
            f("5 lt revenue"),
            cmp(lit(Literal::Int(5)), CompareOp::Lt, prop("revenue"))
        );
    }

    #[test]
    fn precedence_not_and_or() {
        let a = || cmp(prop("a"), CompareOp::Eq, lit(Literal::Int(1)));
        let b = || cmp(prop("b"), CompareOp::Eq, lit(Literal::Int(2)));
        let c = || cmp(prop("c"), CompareOp::Eq, lit(Literal::Int(3)));
        let bx = |x: Filter| Box::new(x);
        assert_eq!(
            f("a eq 1 or b eq 2 and c eq 3"),
            Filter::Or(bx(a()), bx(Filter::And(bx(b()), bx(c()))))
        );
        assert_eq!(
            f("a eq 1 and b eq 2 or c eq 3"),
            Filter::Or(bx(Filter::And(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(
            f("(a eq 1 or b eq 2) and c eq 3"),
            Filter::And(bx(Filter::Or(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(
            f("not a eq 1 and b eq 2"),
            Filter::And(bx(Filter::Not(bx(a()))), bx(b()))
        );
        assert_eq!(
            f("not (a eq 1 and b eq 2)"),
            Filter::Not(bx(Filter::And(bx(a()), bx(b()))))
        );
        assert_eq!(f("not not a eq 1"), Filter::Not(bx(Filter::Not(bx(a())))));
        // Left-associative chains.
        assert_eq!(
            f("a eq 1 or b eq 2 or c eq 3"),
            Filter::Or(bx(Filter::Or(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(f("((a eq 1))"), a());
        assert_eq!(f("  a   eq\t1  "), a());
    }

    #[test]
    fn parses_text_functions() {
        assert_eq!(
            f("contains(name,'(sample)')"),
            Filter::Text {
                function: TextFunction::Contains,
                property: "name".into(),
                value: "(sample)".into()
            }
        );
        assert_eq!(
            f("startswith( name , 'a' )"),
            Filter::Text {
                function: TextFunction::StartsWith,
                property: "name".into(),
                value: "a".into()
            }
        );
        assert_eq!(
            f("endswith(name,'Inc.')"),
            Filter::Text {
                function: TextFunction::EndsWith,
                property: "name".into(),
                value: "Inc.".into()
            }
        );
        let c = Filter::Text {
            function: TextFunction::Contains,
            property: "name".into(),
            value: "x".into(),
        };
        assert_eq!(
            f("not contains(name,'x')"),
            Filter::Not(Box::new(c.clone()))
        );
        assert_eq!(f("contains(name,'x') eq true"), c.clone());
        assert_eq!(f("contains(name,'x') ne false"), c.clone());
        assert_eq!(
            f("contains(name,'x') eq false"),
            Filter::Not(Box::new(c.clone()))
        );
        assert!(err("contains(name,'x') eq 'y'").contains("true or false"));
        assert!(err("contains(name,5)").contains("string literal"));
        assert!(err("contains('x',name)").contains("column name was expected"));
        assert!(err("contains(name 'x')").contains("',' expected at position 14"));
    }

    #[test]
    fn parses_in_and_variants() {
        let want = Filter::In {
            property: "statecode".into(),
            values: vec![Literal::Text("0".into()), Literal::Text("1".into())],
            negated: false,
        };
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0','1'])"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In( PropertyName = 'statecode' , PropertyValues = [ '0' , '1' ] )"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyValues=[\"0\",\"1\"],PropertyName='statecode')"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=[0,1])"),
            Filter::In {
                property: "statecode".into(),
                values: vec![Literal::Int(0), Literal::Int(1)],
                negated: false,
            }
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=['a'])"),
            Filter::In {
                property: "name".into(),
                values: vec![Literal::Text("a".into())],
                negated: true
            }
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[\"5\",\"2000\"])"),
            Filter::Between {
                property: "numberofemployees".into(),
                low: Literal::Text("5".into()),
                high: Literal::Text("2000".into()),
                negated: false,
            }
        );
        assert!(matches!(
            f("Microsoft.Dynamics.CRM.NotBetween(PropertyName='n',PropertyValues=[1,2])"),
            Filter::Between { negated: true, .. }
        ));
        // Combined with other conditions.
        assert!(matches!(
            f("name ne null and Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a','b'])"),
            Filter::And(_, _)
        ));
    }

    #[test]
    fn in_errors() {
        assert!(err("Microsoft.Dynamics.CRM.In(PropertyName='x')")
            .contains("missing its PropertyValues"));
        assert!(err("Microsoft.Dynamics.CRM.In(PropertyValues=['a'])")
            .contains("missing its PropertyName"));
        assert!(err("Microsoft.Dynamics.CRM.In()").contains("missing its PropertyName"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[])")
                .contains("at least one value")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.Between(PropertyName='x',PropertyValues=[1])")
                .contains("exactly two")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',Values=['a'])")
                .contains("no parameter 'Values'")
        );
        assert!(err(
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyName='y',PropertyValues=['a'])"
        )
        .contains("more than once"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName=x,PropertyValues=['a'])")
                .contains("string literal")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues='a')")
                .contains("list of values")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='a/b',PropertyValues=['a'])")
                .contains("related rows")
        );
        let msg = err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a' 'b'])");
        assert!(msg.contains("Invalid JSON. A comma character ','"), "{msg}");
        assert!(err("In(PropertyName='x',PropertyValues=['a'])").contains("fully qualified name"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x' PropertyValues=['a'])")
                .contains("')' or ',' expected")
        );
    }

    #[test]
    fn syntax_errors_name_position() {
        assert_eq!(
            err("name eq"),
            "Expression expected at position 7 in 'name eq'."
        );
        assert_eq!(
            err("name eq 'a' foo"),
            "Syntax error at position 12 in 'name eq 'a' foo'."
        );
        // The real service's own example (filter-rows, "Manage single quotes").
        assert_eq!(
            err("lastname eq 'O'Bryan'"),
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
        );
        assert_eq!(
            err("name eq 'a' and (b eq 1"),
            "')' or operator expected at position 23 in 'name eq 'a' and (b eq 1'."
        );
        assert_eq!(
            err("name eq #"),
            "Syntax error: character '#' is not valid at position 8 in 'name eq #'."
        );
        assert!(err("name 'x'").starts_with("Syntax error at position 5 in 'name 'x''"));
        assert!(err("name").contains("comparison operator"));
        assert_eq!(err(""), "Expression expected at position 0 in ''.");
        assert_eq!(
            err("name eq 'a' and"),
            "Expression expected at position 15 in 'name eq 'a' and'."
        );
        assert_eq!(
            err("name eq and"),
            "Expression expected at position 8 in 'name eq and'."
        );
        assert!(err("12abc eq 1").contains("character 'a' is not valid at position 2"));
        assert!(
            err("x eq 2024-13-01").contains("Unrecognized 'Edm.Date' literal '2024-13-01' at '5'")
        );
        assert!(err("x eq 2024-05-01T25:00:00Z").contains("Edm.DateTimeOffset"));
        assert!(err("x eq \"a\"").contains("Expression expected at position 5"));
        assert!(err("1 eq 1").contains("two literals"));
        assert!(err("name eq 'a')").contains("Syntax error at position 11"));
        assert!(err("-name eq 1").contains("character '-' is not valid at position 0"));
    }

    #[test]
    fn unsupported_constructs_refused() {
        assert!(err("tolower(name) eq 'a'").contains("'tolower'"));
        assert!(err("tolower(name) eq 'a'").contains("not supported by this emulator"));
        assert!(
            err("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')")
                .contains("not supported by this emulator")
        );
        assert!(err("frobnicate(name)").contains("unknown function with name 'frobnicate'"));
        assert!(err("primarycontactid/fullname eq 'x'").contains("related rows"));
        assert!(err("contact_customer_accounts/any()").contains("related rows"));
        assert!(err("contact_customer_accounts/any(o:o/fullname eq 'x')")
            .contains("':' is not valid at position 31"));
        assert!(err("contains(name,'x') eq contains(name,'y')").contains("true or false"));
        assert!(err("name eq contains(name,'y')").contains("returns a boolean"));
        assert!(err("na.me eq 1").contains("not a valid property name"));
        assert!(err("x eq @p1").contains("'@p1'"));
    }

    #[test]
    fn deep_nesting_refused_not_overflowing() {
        let deep = format!("{}a eq 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&deep).contains("nested more than"));
        let nots = format!("{}a eq 1", "not ".repeat(10_000));
        assert!(err(&nots).contains("nested more than"));
        let ok = format!("{}a eq 1{}", "(".repeat(50), ")".repeat(50));
        f(&ok);
    }

    #[test]
    fn properties_listed_once() {
        let p = f("name eq 'a' or (revenue gt 5 and not contains(name,'x')) or firstname eq lastname \
                   or Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0']) \
                   or Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[1,2]) \
                   or _parentcustomerid_value eq null")
        .properties();
        assert_eq!(
            p,
            vec![
                "name",
                "revenue",
                "firstname",
                "lastname",
                "statecode",
                "numberofemployees",
                "_parentcustomerid_value"
            ]
        );
    }

    // ---- evaluation ----

    #[test]
    fn text_eq_is_case_insensitive() {
        let r = json!({"name": "Contoso Ltd"});
        assert!(m("name eq 'contoso ltd'", &r));
        assert!(m("name eq 'CONTOSO LTD'", &r));
        assert!(!m("name ne 'contoso ltd'", &r));
        assert!(!m("name eq 'Contoso'", &r));
        // SQL Server ignores trailing spaces in equality.
        assert!(m("name eq 'Contoso Ltd   '", &r));
        assert!(m("name gt 'contoso a'", &r));
        assert!(m("name lt 'CONTOSO Z'", &r));
        assert!(m("name eq 'ÉTÉ'", &json!({"name": "été"})));
    }

    #[test]
    fn null_handling() {
        let r = json!({"name": "A", "phone": null});
        assert!(m("phone eq null", &r));
        assert!(m("fax eq null", &r), "a missing key is null");
        assert!(!m("phone ne null", &r));
        assert!(m("name ne null", &r));
        assert!(!m("name eq null", &r));
        assert!(m("null eq phone", &r));
        // Ordering comparisons against null or with a null column are never true.
        for q in [
            "phone gt null",
            "phone lt 'x'",
            "name ge null",
            "name le null",
            "phone eq 'x'",
            "phone ne 'x'",
        ] {
            assert!(!m(q, &r), "{q}");
        }
        // Three-valued logic: NOT(UNKNOWN) stays unknown.
        assert!(!m("not (phone eq 'x')", &r));
        assert!(!m("not contains(phone,'x')", &r));
        assert!(m("not (phone ne null)", &r));
        assert!(m("phone eq 'x' or name eq 'a'", &r));
        assert!(!m("phone eq 'x' and name eq 'a'", &r));
        assert!(
            m("not (phone eq 'x' and name eq 'b')", &r),
            "UNKNOWN and FALSE is FALSE"
        );
        assert!(!m("not (phone eq 'x' or name eq 'b')", &r));
        // Column comparison with a null side is unknown.
        assert!(!m("phone eq name", &r));
        assert!(!m("phone ne name", &r));
    }

    #[test]
    fn numbers_compare_numerically() {
        let r = json!({"revenue": 100000.0, "employees": 12, "big": 18446744073709551615u64});
        assert!(m("revenue eq 100000", &r));
        assert!(m("revenue eq 100000.00", &r));
        assert!(m("revenue gt 99999.99", &r));
        assert!(m("employees eq 12.0", &r));
        assert!(m("employees lt 13", &r));
        assert!(m("employees ge 12", &r));
        assert!(m("employees le 12", &r));
        assert!(!m("employees gt 12", &r));
        assert!(m("employees gt -1", &r));
        assert!(m("100 gt employees", &r));
        assert!(!m("100 lt employees", &r));
        assert!(m("big gt 5", &r));
        // Type mismatches filter the row out.
        assert!(!m("employees eq 'abc'", &r));
        assert!(!m("employees eq true", &r));
        assert!(!m("revenue eq 2024-05-01", &r));
    }

    #[test]
    fn booleans() {
        let r = json!({"donotemail": true, "donotphone": false});
        assert!(m("donotemail eq true", &r));
        assert!(m("donotphone eq false", &r));
        assert!(m("donotphone ne true", &r));
        assert!(!m("donotemail eq false", &r));
        assert!(!m("donotemail eq 1", &r));
    }

    #[test]
    fn guids_case_insensitive() {
        let r = json!({"_parentcustomerid_value": "abcdef01-2345-6789-abcd-ef0123456789"});
        assert!(m(
            "_parentcustomerid_value eq ABCDEF01-2345-6789-ABCD-EF0123456789",
            &r
        ));
        assert!(m(
            "_parentcustomerid_value eq 'ABCDEF01-2345-6789-ABCD-EF0123456789'",
            &r
        ));
        assert!(!m(
            "_parentcustomerid_value eq 00000000-0000-0000-0000-000000000001",
            &r
        ));
        assert!(m(
            "_parentcustomerid_value ne 00000000-0000-0000-0000-000000000001",
            &r
        ));
        let r = json!({"x": "A0000000-0000-0000-0000-000000000001"});
        assert!(m("x eq a0000000-0000-0000-0000-000000000001", &r));
    }

    #[test]
    fn guid_order_is_sql_servers() {
        let g = |s: &str| parse_guid(s).unwrap();
        // The last group outranks the first.
        assert_eq!(
            compare_guids(
                &g("ffffffff-0000-0000-0000-000000000000"),
                &g("00000000-0000-0000-0000-000000000001")
            ),
            Ordering::Less
        );
        // Within the first group the last byte is the most significant.
        assert_eq!(
            compare_guids(
                &g("01000000-0000-0000-0000-000000000000"),
                &g("00000001-0000-0000-0000-000000000000")
            ),
            Ordering::Less
        );
        assert_eq!(
            compare_guids(
                &g("00000000-0000-0000-0100-000000000000"),
                &g("00000000-0000-0000-0001-000000000000")
            ),
            Ordering::Greater
        );
    }

    #[test]
    fn dates_compare_as_instants() {
        let r = json!({"createdon": "2024-05-01T13:00:00Z", "birthdate": "2024-05-01"});
        assert!(m("createdon gt 2024-05-01", &r));
        assert!(m("createdon lt 2024-05-02", &r));
        assert!(m("createdon eq 2024-05-01T13:00:00Z", &r));
        assert!(m("createdon eq 2024-05-01T15:00:00+02:00", &r));
        assert!(m("createdon eq 2024-05-01T13:00:00.000Z", &r));
        assert!(!m("createdon gt 2024-05-01T13:00:00Z", &r));
        assert!(m("createdon ge 2024-05-01T13:00:00Z", &r));
        assert!(m("birthdate eq 2024-05-01", &r));
        assert!(m("birthdate lt 2024-05-01T00:00:01Z", &r));
        assert!(m("createdon gt birthdate", &r));
        // Quoted dates compare as instants too, when the column holds one.
        assert!(m("createdon eq '2024-05-01T13:00:00Z'", &r));
        assert!(!m("name eq 2024-05-01", &json!({"name": "Contoso"})));
    }

    #[test]
    fn in_semantics() {
        let r = json!({"name": "Contoso", "statecode": 1, "revenue": 5.5, "active": true, "phone": null,
                       "id": "abcdef01-2345-6789-abcd-ef0123456789", "on": "2024-05-01"});
        let q = |prop: &str, vals: &str| {
            format!("Microsoft.Dynamics.CRM.In(PropertyName='{prop}',PropertyValues=[{vals}])")
        };
        assert!(m(&q("name", "'fabrikam','CONTOSO'"), &r));
        assert!(!m(&q("name", "'fabrikam'"), &r));
        assert!(
            m(&q("statecode", "'0','1'"), &r),
            "string values read as the column's type"
        );
        assert!(m(&q("statecode", "\"1\""), &r));
        assert!(m(&q("statecode", "0,1"), &r));
        assert!(!m(&q("statecode", "'2'"), &r));
        assert!(m(&q("revenue", "'5.5'"), &r));
        assert!(m(&q("active", "'true'"), &r));
        assert!(m(&q("id", "'ABCDEF01-2345-6789-ABCD-EF0123456789'"), &r));
        assert!(m(&q("on", "2024-05-01"), &r));
        // NULL IN (…) is unknown; NotIn too.
        assert!(!m(&q("phone", "'x'"), &r));
        assert!(!m(&q("missing", "'x'"), &r));
        let nq = |prop: &str, vals: &str| {
            format!("Microsoft.Dynamics.CRM.NotIn(PropertyName='{prop}',PropertyValues=[{vals}])")
        };
        assert!(m(&nq("name", "'fabrikam'"), &r));
        assert!(!m(&nq("name", "'contoso'"), &r));
        assert!(!m(&nq("phone", "'x'"), &r));
    }

    #[test]
    fn between_semantics() {
        let r = json!({"n": 5, "s": null});
        let b = |vals: &str| {
            format!("Microsoft.Dynamics.CRM.Between(PropertyName='n',PropertyValues=[{vals}])")
        };
        assert!(m(&b("\"5\",\"2000\""), &r));
        assert!(m(&b("1,5"), &r));
        assert!(!m(&b("6,10"), &r));
        assert!(m(
            "Microsoft.Dynamics.CRM.NotBetween(PropertyName='n',PropertyValues=[6,10])",
            &r
        ));
        assert!(!m(
            "Microsoft.Dynamics.CRM.Between(PropertyName='s',PropertyValues=[6,10])",
            &r
        ));
        assert!(!m(
            "Microsoft.Dynamics.CRM.NotBetween(PropertyName='s',PropertyValues=[6,10])",
            &r
        ));
    }

    #[test]
    fn text_functions_case_insensitive_with_wildcards() {
        let r = json!({"name": "Contoso (sample) Inc.", "n": 5});
        assert!(m("contains(name,'(SAMPLE)')", &r));
        assert!(m("startswith(name,'contoso')", &r));
        assert!(m("endswith(name,'inc.')", &r));
        assert!(!m("startswith(name,'inc')", &r));
        assert!(!m("endswith(name,'contoso')", &r));
        assert!(m("not contains(name,'fabrikam')", &r));
        assert!(m("contains(name,'')", &r));
        // SQL LIKE wildcards inside the value (filter-rows, "Use wildcard characters").
        assert!(m("contains(name,'con%inc')", &r));
        assert!(m("startswith(name,'C_ntoso')", &r));
        assert!(m("startswith(name,'[a-c]ontoso')", &r));
        assert!(!m("startswith(name,'[^c]ontoso')", &r));
        assert!(m("contains(name,'[(]sample[)]')", &r));
        assert!(!m("contains(name,'50[%]')", &r));
        assert!(m("contains(x,'50[%]')", &json!({"x": "save 50% now"})));
        assert!(
            m("contains(x,'a[b')", &json!({"x": "a[b"})),
            "an unclosed [ is literal"
        );
        // Non-text columns do not match.
        assert!(!m("contains(n,'5')", &r));
    }

    #[test]
    fn like_matcher() {
        assert!(like("abc", "abc"));
        assert!(like("abc", "%"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("abc", "a%c"));
        assert!(like("abc", "%%c"));
        assert!(like("aXbXc", "a%b%c"));
        assert!(!like("abcd", "a%c"));
        assert!(like("ABC", "a_c"));
        assert!(!like("ac", "a_c"));
        assert!(like("mississippi", "%iss%ppi"));
    }

    #[test]
    fn column_comparison() {
        assert!(m(
            "firstname eq lastname",
            &json!({"firstname": "Ann", "lastname": "ANN"})
        ));
        assert!(!m(
            "firstname eq lastname",
            &json!({"firstname": "Ann", "lastname": "Bob"})
        ));
        assert!(m("a lt b", &json!({"a": 1, "b": 2.5})));
        assert!(!m("a eq b", &json!({"a": 1, "b": "1"})));
    }

    #[test]
    fn logical_operators() {
        let r = json!({"revenue": 50000, "name": "test account"});
        assert!(m("revenue lt 100000 and revenue gt 2000", &r));
        assert!(m("contains(name,'(sample)') or contains(name,'test')", &r));
        assert!(!m(
            "(contains(name,'sample') or contains(name,'test')) and revenue gt 60000",
            &r
        ));
        assert!(m("not (revenue gt 60000)", &r));
    }

    // ---- ordering ----

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

    // ---- select ----

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
