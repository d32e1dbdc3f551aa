//! `$batch` for the Dataverse emulator: reading a `multipart/mixed` batch
//! request into its parts (single requests and atomic change sets with
//! `Content-ID`s) and writing the `multipart/mixed` batch response.
//!
//! A batch body is a text document with rules of its own — boundaries,
//! embedded HTTP request lines, `$n` references between parts — that a client
//! can get subtly wrong. Reading it as strictly as the real service does, with
//! the same messages, makes those mistakes show up offline rather than
//! against a real org. Running the parts (and the change-set transaction) is
//! `api::batch_parts`'s job; this module only reads and writes the wire format.
//!
//! Sources, cited next to each behaviour below:
//!
//! - "batch doc": Microsoft, "Execute batch operations using the Web API"
//!   (learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
//! - "OData 11.7": OData v4.0 Part 1: Protocol, §11.7 Batch Requests.
//! - [RFC 2046]: RFC 2046 §5.1.1, the multipart body syntax.
//! - [OData lib]: the resource strings of Microsoft.OData.Core (OData/odata.net),
//!   the OData library behind the Web API; error texts follow them where the
//!   library raises the error.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use uuid::Uuid;

use crate::error::DvError;

mod content_ids;
mod multipart;
mod response;

pub use content_ids::*;
use multipart::*;
pub use response::*;
#[cfg(test)]
mod test_support;

/// [batch doc]: "Batch requests can contain up to 1000 individual requests".
pub const MAX_REQUESTS: usize = 1000;

const CRLF: &str = "\r\n";

/// One HTTP request inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Upper case, as the request line has it (`POST`, `GET`, ...).
    pub method: String,
    /// As written in the request line: absolute, relative, or `$1...`.
    pub url: String,
    /// The embedded request's own headers (not the MIME part's).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub content_id: Option<String>,
}

impl Part {
    /// The URL below the service root (`accounts(…)?$select=name`), so the
    /// part can be routed like a top-level request. URLs that are already
    /// relative (`accounts`, `$1/lastname`) come back as written.
    pub fn relative_path(&self) -> String {
        let url = self.url.as_str();
        // Only the path decides: a query may quote URLs of its own.
        let path_end = url.find('?').unwrap_or(url.len());
        // ASCII lower-casing keeps byte offsets, so the index maps back.
        let lower = url[..path_end].to_ascii_lowercase();
        if let Some(at) = lower.find("/api/data/") {
            let rest = &url[at + "/api/data/".len()..];
            // Skip the version segment (`v9.2`), whatever its number.
            return match rest.find('/') {
                Some(slash) if rest.starts_with(['v', 'V']) => rest[slash + 1..].to_string(),
                None if rest.starts_with(['v', 'V']) => String::new(),
                _ => rest.to_string(),
            };
        }
        if let Some(scheme) = lower.find("://").filter(|&at| !lower[..at].contains('/')) {
            let after_host = &url[scheme + 3..];
            return match after_host.find('/') {
                Some(slash) => after_host[slash + 1..].to_string(),
                None => String::new(),
            };
        }
        url.to_string()
    }

    /// The embedded request's header `name`, matched case-insensitively as
    /// HTTP header names are.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A copy with `$<Content-ID>` references in the URL and in
    /// `@odata.bind` / `@odata.id` values replaced (see [`resolve_content_ids`]).
    pub fn with_content_ids(&self, locations: &HashMap<String, String>) -> Part {
        Part {
            url: resolve_content_ids(&self.url, locations),
            body: self
                .body
                .as_deref()
                .map(|b| resolve_content_ids(b, locations)),
            ..self.clone()
        }
    }
}

/// A top-level item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchItem {
    Single(Part),
    /// Runs as one transaction ([batch doc]: change sets are atomic).
    ChangeSet(Vec<Part>),
}

/// Reads a `$batch` request body.
///
/// `content_type` is the request's `Content-Type` header:
/// `multipart/mixed; boundary=batch_…` (quoted or not). CRLF and bare LF
/// line ends are both accepted; a preamble before the first delimiter and an
/// epilogue after the closing one are ignored ([RFC 2046]).
pub fn parse_batch(content_type: &str, body: &[u8]) -> Result<Vec<BatchItem>, DvError> {
    let boundary = batch_boundary(content_type)?;
    let text = std::str::from_utf8(body)
        .map_err(|_| DvError::bad_request("The batch request body is not valid UTF-8."))?;
    let lines = split_lines(text);
    let mut items = Vec::new();
    let mut total = 0usize;
    for block in split_multipart(&lines, &boundary, "batch")? {
        let mime = MimePart::parse(block)?;
        match mime.kind(false)? {
            PartKind::Http => {
                let part = parse_request(&mime)?;
                total += 1;
                check_total(total)?;
                check_references(std::slice::from_ref(&part))?;
                items.push(BatchItem::Single(part));
            }
            PartKind::ChangeSet(cs_boundary) => {
                let blocks = split_multipart(mime.content, &cs_boundary, "change set")?;
                if blocks.len() > MAX_REQUESTS {
                    // Text as reported by Dataverse for a 1001-operation change
                    // set (AleksandrRogov/DynamicsWebApi PR #71); it is
                    // [OData lib]'s ODataBatchReader_MaxChangeSetSizeExceeded.
                    return Err(DvError::bad_request(format!(
                        "The current change set contains too many operations. A maximum \
                         number of '{MAX_REQUESTS}' operations are allowed in a change set."
                    )));
                }
                total += blocks.len();
                check_total(total)?;
                items.push(BatchItem::ChangeSet(parse_changeset(&blocks)?));
            }
        }
    }
    Ok(items)
}

fn check_total(total: usize) -> Result<(), DvError> {
    // [batch doc]: at most 1000 individual requests, change-set members
    // counted one by one.
    if total > MAX_REQUESTS {
        return Err(DvError::bad_request(format!(
            "The number of requests in the batch exceeds the maximum of {MAX_REQUESTS}."
        )));
    }
    Ok(())
}

fn parse_changeset(blocks: &[&[&str]]) -> Result<Vec<Part>, DvError> {
    let mut parts = Vec::with_capacity(blocks.len());
    let mut ids = HashSet::new();
    for block in blocks {
        let mime = MimePart::parse(block)?;
        // `kind(true)` refuses a multipart part here: no nested change sets.
        let PartKind::Http = mime.kind(true)? else {
            unreachable!("kind(true) never yields a change set");
        };
        let part = parse_request(&mime)?;
        // [batch doc] (Change sets, note): "GET request are not allowed
        // within change sets."
        if part.method == "GET" {
            return Err(DvError::bad_request(format!(
                "GET requests are not allowed within a change set; move 'GET {}' out \
                 of the change set.",
                part.url
            )));
        }
        if let Some(id) = &part.content_id {
            // [OData lib] ODataBatchReader_DuplicateContentIDsNotAllowed.
            if !ids.insert(id.clone()) {
                return Err(DvError::bad_request(format!(
                    "The content ID '{id}' was found more than once in the same change set. \
                     Content IDs have to be unique across all operations of a change set."
                )));
            }
        }
        parts.push(part);
    }
    check_references(&parts)?;
    Ok(parts)
}

/// A `$n` reference must name a Content-ID declared by an earlier part of
/// the same change set. [batch doc] (Reference URIs, note): referencing one
/// before it is declared is a 400 "Content-ID Reference: '$1' does not exist
/// in the batch context." Tokens that are not declared anywhere and are not
/// numeric are left alone: they may be OData segments such as `$metadata`.
fn check_references(parts: &[Part]) -> Result<(), DvError> {
    let declared: HashMap<&str, usize> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.content_id.as_deref().map(|id| (id, i)))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let texts = std::iter::once(part.url.as_str()).chain(part.body.as_deref());
        for text in texts {
            for (_, token) in content_id_refs(text) {
                let known = match declared.get(token) {
                    Some(&at) => at < i,
                    None => !token.bytes().all(|b| b.is_ascii_digit()),
                };
                if !known {
                    return Err(DvError::bad_request(format!(
                        "Content-ID Reference: '${token}' does not exist in the batch context."
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::test_support::*;

    #[test]
    fn documented_example_parses() {
        let items = parse_batch(
            "multipart/mixed; boundary=\"batch_80dd1615\"",
            documented_batch().as_bytes(),
        )
        .unwrap();
        let parts = singles(&items);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].method, "POST");
        assert_eq!(parts[0].url, "/api/data/v9.2/tasks");
        assert_eq!(parts[0].relative_path(), "tasks");
        assert_eq!(
            parts[0].header("content-type"),
            Some("application/json; type=entry")
        );
        let body: serde_json::Value =
            serde_json::from_str(parts[2].body.as_deref().unwrap()).unwrap();
        assert_eq!(body["subject"], "Task 3 in batch");
        assert_eq!(parts[3].method, "GET");
        assert_eq!(parts[3].body, None);
        assert_eq!(
            parts[3].relative_path(),
            format!("accounts({ACCOUNT})/Account_Tasks?$select=subject")
        );
        assert!(parts.iter().all(|p| p.content_id.is_none()));
    }

    #[test]
    fn changeset_with_content_ids_parses_and_resolves() {
        let items = parse_batch(
            "multipart/mixed;boundary=batch_AAA123",
            changeset_batch().as_bytes(),
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        let BatchItem::ChangeSet(parts) = &items[0] else {
            panic!("expected a change set");
        };
        assert_eq!(parts.len(), 3);
        let ids: Vec<_> = parts.iter().map(|p| p.content_id.as_deref()).collect();
        assert_eq!(ids, [Some("1"), Some("2"), Some("3")]);
        assert_eq!(parts[0].relative_path(), "accounts");
        assert_eq!(parts[2].url, "$1");
        assert_eq!(parts[2].relative_path(), "$1");

        let locations = HashMap::from([
            (
                "1".to_string(),
                "https://org.crm.dynamics.com/api/data/v9.2/accounts(aaaa)".to_string(),
            ),
            ("2".to_string(), "contacts(bbbb)".to_string()),
        ]);
        let resolved = parts[2].with_content_ids(&locations);
        assert_eq!(resolved.relative_path(), "accounts(aaaa)");
        let body: serde_json::Value =
            serde_json::from_str(resolved.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["primarycontactid@odata.bind"], "contacts(bbbb)");

        let BatchItem::Single(get) = &items[1] else {
            panic!("expected a single request");
        };
        assert_eq!(get.relative_path(), "accounts?$select=name");
    }

    #[test]
    fn lf_only_body_preamble_and_epilogue() {
        let body = "This is a preamble.\n\
                    --b1\n\
                    Content-Type: application/http\n\
                    Content-Transfer-Encoding: binary\n\
                    \n\
                    POST accounts HTTP/1.1\n\
                    Content-Type: application/json\n\
                    \n\
                    {\"name\":\"A\"}\n\
                    --b1--   \n\
                    epilogue --b1\n";
        let items = parse_batch("multipart/mixed; boundary=b1", body.as_bytes()).unwrap();
        let parts = singles(&items);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body.as_deref(), Some("{\"name\":\"A\"}"));
        assert_eq!(parts[0].relative_path(), "accounts");
    }

    #[test]
    fn content_id_in_inner_headers_and_padding_after_delimiter() {
        let body = crlf(
            "--b\t\n\
             Content-Type: multipart/mixed; boundary=\"cs\"\n\
             \n\
             --cs \n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: BINARY\n\
             \n\
             POST accounts HTTP/1.1\n\
             Content-ID: a-1\n\
             \n\
             {}\n\
             --cs--\n\
             --b--\n",
        );
        let items = parse_batch("Multipart/Mixed; Boundary=b", body.as_bytes()).unwrap();
        let BatchItem::ChangeSet(parts) = &items[0] else {
            panic!("expected a change set");
        };
        assert_eq!(parts[0].content_id.as_deref(), Some("a-1"));
    }

    #[test]
    fn empty_batch_is_no_items() {
        assert!(parse_batch("multipart/mixed; boundary=b", b"--b--\r\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_get_inside_changeset() {
        let body = changeset_of(&[
            ("POST accounts", Some("1"), "{}"),
            ("GET accounts", None, ""),
        ]);
        let e = err("multipart/mixed; boundary=b", &body);
        assert!(e.message.contains("GET requests are not allowed"), "{e}");
    }

    #[test]
    fn refuses_nested_changesets() {
        let body = crlf(
            "--b\n\
             Content-Type: multipart/mixed; boundary=cs\n\
             \n\
             --cs\n\
             Content-Type: multipart/mixed; boundary=inner\n\
             \n\
             --inner\n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: binary\n\
             \n\
             POST accounts HTTP/1.1\n\
             \n\
             {}\n\
             --inner--\n\
             --cs--\n\
             --b--\n",
        );
        let e = err("multipart/mixed; boundary=b", &body);
        assert!(e.message.contains("Nested change sets"), "{e}");
    }

    #[test]
    fn refuses_duplicate_content_id_in_changeset() {
        let body = changeset_of(&[
            ("POST accounts", Some("1"), "{}"),
            ("POST contacts", Some("1"), "{}"),
        ]);
        let e = err("multipart/mixed; boundary=b", &body);
        assert!(e.message.contains("content ID '1'"), "{e}");
    }

    #[test]
    fn same_content_id_in_two_changesets_is_allowed() {
        let one = changeset_of(&[("POST accounts", Some("1"), "{}")]);
        let body = one.replace("--b--\r\n", "") + &one;
        let items = parse_batch("multipart/mixed; boundary=b", body.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn refuses_reference_to_undeclared_or_later_content_id() {
        // [batch doc]'s example of the error: `$1` used by part 2 before part 1.
        let body = changeset_of(&[
            (
                "POST phonecalls",
                Some("2"),
                "{\"regardingobjectid_account_phonecall@odata.bind\":\"$1\"}",
            ),
            ("POST accounts", Some("1"), "{\"name\":\"QQQQ\"}"),
        ]);
        let e = err("multipart/mixed; boundary=b", &body);
        assert_eq!(
            e.message,
            "Content-ID Reference: '$1' does not exist in the batch context."
        );
        let body = changeset_of(&[("PATCH $7", Some("1"), "{}")]);
        let e = err("multipart/mixed; boundary=b", &body);
        assert!(e.message.contains("'$7'"), "{e}");
        // Outside a change set there is nothing to refer to.
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(
                "Content-Type: application/http\nContent-Transfer-Encoding: binary",
                "PATCH $1 HTTP/1.1\n\n{}",
            ),
        );
        assert!(e.message.contains("'$1'"), "{e}");
    }

    #[test]
    fn thousand_requests_pass_and_1001_are_refused() {
        let items = parse_batch("multipart/mixed; boundary=b", many_gets(1000).as_bytes()).unwrap();
        assert_eq!(items.len(), 1000);
        let e = err("multipart/mixed; boundary=b", &many_gets(1001));
        assert_eq!(
            e.message,
            "The number of requests in the batch exceeds the maximum of 1000."
        );
    }

    #[test]
    fn changeset_members_count_towards_the_limit() {
        let big: [(&str, Option<&str>, &str); 1001] = [("POST accounts", None, "{}"); 1001];
        let e = err("multipart/mixed; boundary=b", &changeset_of(&big));
        assert!(
            e.message
                .contains("change set contains too many operations"),
            "{e}"
        );

        let cs = changeset_of(&[("POST accounts", None, "{}"); 401]);
        let body = many_gets(600).replace("--b--\r\n", "") + &cs;
        let e = err("multipart/mixed; boundary=b", &body);
        assert!(e.message.contains("maximum of 1000"), "{e}");
    }
}
