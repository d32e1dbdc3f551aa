//! A [`Filter`] evaluated against a Web API JSON row as SQL Server would:
//! text compares case-insensitively, `null` follows three-valued logic,
//! GUIDs order as SQL Server orders them, instants compare across offsets
//! and `like` patterns follow T-SQL.

use super::*;

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

    pub(super) fn collect_properties(&self, out: &mut Vec<String>) {
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
    pub(super) fn eval(&self, row: &Map<String, Value>) -> Option<bool> {
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
pub(super) fn column<'r>(row: &'r Map<String, Value>, name: &str) -> Option<&'r Value> {
    row.get(name).filter(|v| !v.is_null())
}

pub(super) fn eval_compare(
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
pub(super) fn compare_literal(v: &Value, lit: &Literal) -> Option<Ordering> {
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

pub(super) fn compare_number_int(n: &serde_json::Number, i: i64) -> Option<Ordering> {
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
pub(super) fn compare_json(a: &Value, b: &Value) -> Option<Ordering> {
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
pub(super) fn compare_strings(a: &str, b: &str) -> Ordering {
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
pub(super) fn parse_guid(s: &str) -> Option<[u8; 16]> {
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
pub(super) fn compare_guids(a: &[u8; 16], b: &[u8; 16]) -> Ordering {
    pub(super) fn key(g: &[u8; 16]) -> [u8; 16] {
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
pub(super) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
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
pub(super) fn split_offset(s: &str) -> (&str, Option<&str>) {
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
pub(super) fn like(value: &str, pattern: &str) -> bool {
    pub(super) enum P {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::test_support::*;
    use serde_json::json;

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
}
