//! What the OData unit tests share: rows, and short ways to parse a filter or query.

use super::*;

pub(super) fn row(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

pub(super) fn f(text: &str) -> Filter {
    parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn err(text: &str) -> String {
    match parse_filter(text) {
        Ok(f) => panic!("{text} parsed as {f:?}"),
        Err(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.code, crate::error::BAD_REQUEST);
            e.message
        }
    }
}

pub(super) fn opts(q: &str) -> QueryOptions {
    parse_query_options(Some(q)).unwrap_or_else(|e| panic!("{q}: {e}"))
}

pub(super) fn opts_err(q: &str) -> String {
    match parse_query_options(Some(q)) {
        Ok(o) => panic!("{q} parsed as {o:?}"),
        Err(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.code, crate::error::BAD_REQUEST);
            e.message
        }
    }
}

pub(super) fn m(text: &str, r: &Value) -> bool {
    f(text).matches(&row(r.clone()))
}

pub(super) fn prop(s: &str) -> Operand {
    Operand::Property(s.into())
}

pub(super) fn lit(l: Literal) -> Operand {
    Operand::Literal(l)
}

pub(super) fn cmp(l: Operand, op: CompareOp, r: Operand) -> Filter {
    Filter::Compare {
        left: l,
        op,
        right: r,
    }
}
