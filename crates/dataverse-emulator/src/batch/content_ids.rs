//! `$<Content-ID>` references between the parts of a change set: found as
//! whole tokens at the start of a URL and in `@odata.bind` / `@odata.id`
//! values, and replaced with the URL of the record the earlier part
//! created ([batch doc], Reference URIs in an operation).

use super::*;

/// Replaces `$<Content-ID>` references with the URL of the entity the part
/// with that Content-ID created: at the start of a URL (`$1`, `$1/lastname`)
/// and as the value of an `@odata.bind` or `@odata.id` property (a string, or
/// strings in an array). [batch doc] (Reference URIs in an operation) shows
/// exactly these positions; other JSON values, such as a name that happens to
/// be `"$1"`, are data and stay as they are.
///
/// `locations` maps a Content-ID (as written, without `$`; a `$`-prefixed key
/// is accepted too) to the created entity's URL, absolute or relative.
/// References are whole tokens, so `$1` never matches inside `$10`; unknown
/// references are left unchanged.
pub fn resolve_content_ids(text: &str, locations: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, token) in content_id_refs(text) {
        let found = locations
            .get(token)
            .or_else(|| locations.get(&format!("${token}")));
        if let Some(location) = found {
            out.push_str(&text[copied..range.start]);
            out.push_str(location);
            copied = range.end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Byte ranges (the `$` included) and ids of the `$<id>` references in a URL
/// or a JSON body, in text order.
pub(super) fn content_id_refs(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut refs = Vec::new();
    if let Some(found) = token_at(text, 0) {
        refs.push(found);
    }
    for key in ["@odata.bind\"", "@odata.id\""] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(key) {
            from += pos + key.len();
            value_refs(text, from, &mut refs);
        }
    }
    refs.sort_by_key(|(range, _)| range.start);
    refs
}

/// The reference starting at `start`, if `text[start..]` is `$<id>`. The id
/// runs as far as it can, which is what makes matches whole-token.
pub(super) fn token_at(text: &str, start: usize) -> Option<(Range<usize>, &str)> {
    let rest = text.get(start..)?.strip_prefix('$')?;
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    if len == 0 {
        return None;
    }
    Some((start..start + 1 + len, &rest[..len]))
}

/// Looks at the JSON value after a property name that ended at `at` and
/// records references in it (a string, or an array of strings).
pub(super) fn value_refs<'t>(text: &'t str, at: usize, refs: &mut Vec<(Range<usize>, &'t str)>) {
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(at);
    if bytes.get(i) != Some(&b':') {
        return;
    }
    i = skip_ws(i + 1);
    match bytes.get(i) {
        Some(b'"') => string_ref(text, i + 1, refs),
        Some(b'[') => {
            i += 1;
            loop {
                i = skip_ws(i);
                if bytes.get(i) != Some(&b'"') {
                    return;
                }
                string_ref(text, i + 1, refs);
                let Some(end) = string_end(bytes, i + 1) else {
                    return;
                };
                i = skip_ws(end + 1);
                if bytes.get(i) != Some(&b',') {
                    return;
                }
                i += 1;
            }
        }
        _ => {}
    }
}

/// A reference at the start of a JSON string whose content begins at `start`:
/// `"$1"` or `"$1/..."`.
pub(super) fn string_ref<'t>(text: &'t str, start: usize, refs: &mut Vec<(Range<usize>, &'t str)>) {
    if let Some((range, token)) = token_at(text, start) {
        if matches!(text.as_bytes().get(range.end), Some(b'"' | b'/')) {
            refs.push((range, token));
        }
    }
}

/// Index of the closing quote of a JSON string whose content begins at `start`.
pub(super) fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::test_support::*;

    #[test]
    fn dollar_segments_that_are_not_references_pass() {
        let items = parse_batch(
            "multipart/mixed; boundary=b",
            one_part(
                "Content-Type: application/http\nContent-Transfer-Encoding: binary",
                "GET $metadata HTTP/1.1",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(singles(&items)[0].url, "$metadata");
    }

    #[test]
    fn resolves_urls_and_bind_values_as_whole_tokens() {
        let locations = HashMap::from([
            ("1".to_string(), "accounts(one)".to_string()),
            ("10".to_string(), "accounts(ten)".to_string()),
            ("$2".to_string(), "/contacts(two)".to_string()),
        ]);
        assert_eq!(resolve_content_ids("$1", &locations), "accounts(one)");
        assert_eq!(resolve_content_ids("$10", &locations), "accounts(ten)");
        assert_eq!(
            resolve_content_ids("$1/lastname", &locations),
            "accounts(one)/lastname"
        );
        assert_eq!(resolve_content_ids("$2", &locations), "/contacts(two)");
        // Unknown references, and tokens that merely start like one, stay.
        assert_eq!(resolve_content_ids("$11", &locations), "$11");
        assert_eq!(resolve_content_ids("$1x/name", &locations), "$1x/name");
        assert_eq!(resolve_content_ids("accounts", &locations), "accounts");

        let body = r#"{"name":"$1","a@odata.bind" : "$10","b@odata.bind":"$1",
            "c@odata.bind":["$1", "$2"],"d@odata.bind":"/accounts($1)","@odata.id":"$2/x"}"#;
        let resolved: serde_json::Value =
            serde_json::from_str(&resolve_content_ids(body, &locations)).unwrap();
        assert_eq!(resolved["name"], "$1", "plain values are data");
        assert_eq!(resolved["a@odata.bind"], "accounts(ten)");
        assert_eq!(resolved["b@odata.bind"], "accounts(one)");
        assert_eq!(
            resolved["c@odata.bind"],
            serde_json::json!(["accounts(one)", "/contacts(two)"])
        );
        assert_eq!(resolved["d@odata.bind"], "/accounts($1)");
        assert_eq!(resolved["@odata.id"], "/contacts(two)/x");
    }

    #[test]
    fn relative_path_forms() {
        let part = |url: &str| Part {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: None,
            content_id: None,
        };
        assert_eq!(
            part("https://org.crm.dynamics.com/api/data/v9.2/accounts(1)?$select=name")
                .relative_path(),
            "accounts(1)?$select=name"
        );
        assert_eq!(
            part("[Organization URI]/api/data/v9.2/leads").relative_path(),
            "leads"
        );
        assert_eq!(part("/api/data/v9.2/accounts").relative_path(), "accounts");
        assert_eq!(part("/API/DATA/v9.1/accounts").relative_path(), "accounts");
        assert_eq!(part("accounts").relative_path(), "accounts");
        assert_eq!(part("$1/lastname").relative_path(), "$1/lastname");
        let quoting = "accounts?$filter=websiteurl eq 'https://x/api/data/v9.2/y'";
        assert_eq!(part(quoting).relative_path(), quoting);
        assert_eq!(
            part("http://127.0.0.1:8080/WhoAmI").relative_path(),
            "WhoAmI"
        );
        let mut with_headers = part("accounts");
        with_headers.headers = vec![("If-Match".into(), "*".into())];
        assert_eq!(with_headers.header("if-match"), Some("*"));
        assert_eq!(with_headers.header("Prefer"), None);
    }
}
