//! A Web API path taken apart into its segments (`accounts(guid)`,
//! `EntityDefinitions(LogicalName='x')`, `$ref`), splitting outside quotes
//! and parentheses, with the Web API's 400 for a broken one.

use super::*;

/// One path segment: `name` and the text inside its parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    pub(super) name: String,
    pub(super) key: Option<String>,
}

/// Splits `accounts(name='a/b')/contact_customer_accounts/$ref` at `/`
/// outside quotes and parentheses, and each piece into name and key.
pub(super) fn segments(path: &str) -> Result<Vec<Segment>, DvError> {
    let decoded = percent_decode(path)?;
    let mut pieces = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = decoded.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b'/' if !quoted && depth == 0 => {
                pieces.push(&decoded[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&decoded[start..]);
    pieces
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('(') {
            Some(open) if p.ends_with(')') => Ok(Segment {
                name: p[..open].to_string(),
                key: Some(p[open + 1..p.len() - 1].to_string()),
            }),
            Some(_) => Err(DvError::bad_request(format!(
                "Bad Request - Error in query syntax: unbalanced parentheses in '{p}'."
            ))),
            None => Ok(Segment {
                name: p.to_string(),
                key: None,
            }),
        })
        .collect()
}

/// Decodes the `%XX` escapes of a path or query, with the Web API's 400
/// when one is broken (`percent_encoding` alone would pass `%zz` through).
/// A `+` stays a plus sign: it is a space only in HTML form encoding.
pub(super) fn percent_decode(text: &str) -> Result<String, DvError> {
    let broken = text.match_indices('%').any(|(i, _)| {
        !text
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if broken {
        return Err(DvError::bad_request(format!(
            "broken percent-encoding in `{text}`"
        )));
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| DvError::bad_request(format!("`{text}` does not decode to UTF-8")))
}

/// `LogicalName='account'` → `account`.
pub(super) fn logical_name_key(key: &str) -> Result<String, DvError> {
    key.trim()
        .strip_prefix("LogicalName=")
        .map(|v| v.trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            DvError::bad_request(format!(
                "Metadata is addressed by LogicalName='…' in this emulator, not '{key}'."
            ))
        })
}

pub(super) fn unsupported(method: &str, path: &str) -> DvError {
    DvError::new(
        405,
        crate::error::BAD_REQUEST,
        format!("The HTTP method '{method}' is not allowed for '{path}'."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_outside_quotes_and_parentheses() {
        let segs = segments("accounts(name='a/b')/contact_customer_accounts/$ref").unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0].name, "accounts");
        assert_eq!(segs[0].key.as_deref(), Some("name='a/b'"));
        assert_eq!(segs[2].name, "$ref");
        let segs = segments(
            "EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='prioritycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        )
        .unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            logical_name_key(segs[1].key.as_deref().unwrap()).unwrap(),
            "prioritycode"
        );
        assert!(segments("accounts(").is_err());
    }
}
