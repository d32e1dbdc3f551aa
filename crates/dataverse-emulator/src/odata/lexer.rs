//! `$filter` text into tokens: names, literals (strings with doubled
//! quotes, numbers, GUIDs, dates and instants, `null`, booleans),
//! operators and parentheses, each with the character offset
//! Microsoft.OData's error messages count in.

use super::*;

// ---------------------------------------------------------------------------
// $filter: lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Character offset, 0-based, as Microsoft.OData counts in its messages.
    pub(super) pos: usize,
}

pub(super) fn lex(text: &str) -> Result<Vec<Token>, DvError> {
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

pub(super) fn invalid_char(c: char, pos: usize, text: &str) -> DvError {
    DvError::bad_request(format!(
        "Syntax error: character '{c}' is not valid at position {pos} in '{text}'."
    ))
}

/// An unquoted GUID (`00000000-0000-0000-0000-000000000001`) at `i`, not
/// glued to a longer name.
pub(super) fn guid_at(chars: &[char], i: usize) -> Option<String> {
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
pub(super) fn date_at(chars: &[char], i: usize) -> bool {
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
