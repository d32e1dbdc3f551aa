//! `$batch` for the Dataverse emulator: reading a `multipart/mixed` batch
//! request into its parts (single requests and atomic change sets with
//! `Content-ID`s) and writing the `multipart/mixed` batch response.
//!
//! A batch body is a text document with rules of its own — boundaries,
//! embedded HTTP request lines, `$n` references between parts — that a client
//! can get subtly wrong. Reading it as strictly as the real service does, with
//! the same messages, makes those mistakes show up offline rather than
//! against a real org. Running the parts (and the change-set transaction) is
//! `api.rs`'s job; this module only reads and writes the wire format.
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

use super::error::DvError;

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
fn content_id_refs(text: &str) -> Vec<(Range<usize>, &str)> {
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
fn token_at(text: &str, start: usize) -> Option<(Range<usize>, &str)> {
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
fn value_refs<'t>(text: &'t str, at: usize, refs: &mut Vec<(Range<usize>, &'t str)>) {
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
fn string_ref<'t>(text: &'t str, start: usize, refs: &mut Vec<(Range<usize>, &'t str)>) {
    if let Some((range, token)) = token_at(text, start) {
        if matches!(text.as_bytes().get(range.end), Some(b'"' | b'/')) {
            refs.push((range, token));
        }
    }
}

/// Index of the closing quote of a JSON string whose content begins at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
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

/// The boundary from the batch request's `Content-Type`.
fn batch_boundary(content_type: &str) -> Result<String, DvError> {
    let (media, params) = parse_media_type(content_type);
    // [batch doc]: the POST "must have a Content-Type header with a value set
    // to multipart/mixed with a boundary".
    if media != "multipart/mixed" {
        return Err(DvError::bad_request(format!(
            "The batch request's Content-Type must be 'multipart/mixed; boundary=batch_<id>', \
             not '{}'.",
            content_type.trim()
        )));
    }
    boundary_param(&params).ok_or_else(|| {
        DvError::bad_request(format!(
            "The batch request's Content-Type '{}' has no boundary parameter; expected \
             'multipart/mixed; boundary=batch_<id>'.",
            content_type.trim()
        ))
    })
}

fn boundary_param(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .find(|(name, _)| name == "boundary")
        .map(|(_, value)| value.clone())
        .filter(|b| !b.is_empty())
}

/// `type/subtype; name=value; name="quoted value"` → lower-case media type
/// and parameters (names lower-case, values unquoted).
fn parse_media_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            '\\' if quoted => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ';' if !quoted => segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    segments.push(current);
    let media = segments[0].trim().to_ascii_lowercase();
    let params = segments[1..]
        .iter()
        .filter_map(|segment| {
            let (name, value) = segment.split_once('=')?;
            let value = value.trim();
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => value.to_string(),
            };
            Some((name.trim().to_ascii_lowercase(), value))
        })
        .collect();
    (media, params)
}

/// Lines without their terminators; bare LF is accepted alongside CRLF
/// because hand-written and Unix-tool-built batches use it.
fn split_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect()
}

enum Delimiter {
    Open,
    Close,
}

/// [RFC 2046]: a delimiter line is `--boundary`, the closing one
/// `--boundary--`, either possibly followed by linear whitespace (transport
/// padding). The line break before a delimiter belongs to it, so a part's
/// content is exactly the lines between two delimiters.
fn delimiter(line: &str, boundary: &str) -> Option<Delimiter> {
    let rest = line.strip_prefix("--")?.strip_prefix(boundary)?;
    match rest.trim_end_matches([' ', '\t']) {
        "" => Some(Delimiter::Open),
        "--" => Some(Delimiter::Close),
        _ => None,
    }
}

/// The bodies of the parts of a multipart entity; `what` names it in errors.
fn split_multipart<'a, 'l>(
    lines: &'a [&'l str],
    boundary: &str,
    what: &str,
) -> Result<Vec<&'a [&'l str]>, DvError> {
    let mut delimiters = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| delimiter(line, boundary).map(|d| (i, d)));
    let start = match delimiters.next() {
        Some((i, Delimiter::Open)) => i + 1,
        // Only a closing delimiter: an empty multipart, nothing to run.
        Some((_, Delimiter::Close)) => return Ok(Vec::new()),
        None => {
            return Err(DvError::bad_request(format!(
                "The {what} body does not contain the boundary delimiter '--{boundary}'."
            )))
        }
    };
    let mut parts = Vec::new();
    let mut from = start;
    for (i, kind) in delimiters {
        parts.push(&lines[from..i]);
        match kind {
            Delimiter::Open => from = i + 1,
            // Whatever follows is the epilogue, which [RFC 2046] says to ignore.
            Delimiter::Close => return Ok(parts),
        }
    }
    // [batch doc]: "The end of the batch request must contain a termination
    // indicator"; text of [OData lib] ODataBatchReaderStream_UnexpectedEndOfInput.
    Err(DvError::bad_request(format!(
        "Encountered an unexpected end of input while reading the batch payload: the {what} \
         is missing its closing delimiter '--{boundary}--'."
    )))
}

/// A MIME part: its headers, and the lines after the blank line.
struct MimePart<'a, 'l> {
    headers: Vec<(String, String)>,
    content: &'a [&'l str],
}

enum PartKind {
    Http,
    /// A change set, with its boundary.
    ChangeSet(String),
}

impl<'a, 'l> MimePart<'a, 'l> {
    fn parse(lines: &'a [&'l str]) -> Result<Self, DvError> {
        let end = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or(lines.len());
        Ok(MimePart {
            headers: parse_headers(&lines[..end])?,
            content: lines.get(end + 1..).unwrap_or(&[]),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What the part holds. [OData 11.7]: each part is `application/http`
    /// (one request) or `multipart/mixed` (a change set, at top level only).
    fn kind(&self, in_changeset: bool) -> Result<PartKind, DvError> {
        // [OData lib] ODataBatchReaderStream_MissingContentTypeHeader.
        let Some(content_type) = self.header("Content-Type") else {
            return Err(DvError::bad_request(
                "The 'Content-Type' header is missing. The 'Content-Type' header must be \
                 specified for each MIME part of a batch message.",
            ));
        };
        let (media, params) = parse_media_type(content_type);
        match media.as_str() {
            "application/http" => {
                // [batch doc]: each item carries `Content-Transfer-Encoding:
                // binary`; [OData lib] refuses the part without it
                // (ODataBatchReaderStream_MissingOrInvalidContentEncodingHeader).
                let binary = self
                    .header("Content-Transfer-Encoding")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("binary"));
                if !binary {
                    return Err(DvError::bad_request(
                        "A missing or invalid 'Content-Transfer-Encoding' header was found. The \
                         'Content-Transfer-Encoding' header must be specified for each batch \
                         operation, and its value must be 'binary'.",
                    ));
                }
                Ok(PartKind::Http)
            }
            // [batch doc]: batches "can't contain other batch requests", and
            // [OData lib] ODataBatchReaderStream_NestedChangesetsAreNotSupported.
            m if m.starts_with("multipart/") && in_changeset => Err(DvError::bad_request(
                "Nested change sets in a batch payload are not supported.",
            )),
            "multipart/mixed" => {
                boundary_param(&params)
                    .map(PartKind::ChangeSet)
                    .ok_or_else(|| {
                        DvError::bad_request(format!(
                            "The change set's Content-Type '{}' has no boundary parameter; \
                         expected 'multipart/mixed; boundary=changeset_<id>'.",
                            content_type.trim()
                        ))
                    })
            }
            // [OData lib] ODataBatchReaderStream_InvalidContentTypeSpecified.
            _ => Err(DvError::bad_request(format!(
                "The 'Content-Type' header value '{}' is invalid. When this is the start of \
                 the change set, the value must be 'multipart/mixed'; otherwise it must be \
                 'application/http'.",
                content_type.trim()
            ))),
        }
    }
}

/// `Name: value` lines; a line starting with whitespace continues the one
/// before (header folding).
fn parse_headers(lines: &[&str]) -> Result<Vec<(String, String)>, DvError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
        }
        match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() && !name.contains(' ') => {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
            // [OData lib] ODataBatchReaderStream_InvalidHeaderSpecified.
            _ => {
                return Err(DvError::bad_request(format!(
                    "The message header '{line}' is invalid. The header value must be of the \
                     format '<header name>: <header value>'."
                )))
            }
        }
    }
    Ok(headers)
}

/// Methods a Web API batch operation may use ([batch doc] examples use
/// POST, PATCH, PUT, DELETE and GET).
const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

/// The embedded request of an `application/http` part: request line,
/// headers, blank line, optional body.
fn parse_request(mime: &MimePart<'_, '_>) -> Result<Part, DvError> {
    let lines = mime.content;
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(lines.len());
    let request_line = lines.get(first).copied().unwrap_or("");
    let fields: Vec<&str> = request_line.split_whitespace().collect();
    // [OData lib] ODataBatchReaderStream_InvalidRequestLine.
    let [method, url, version] = fields[..] else {
        return Err(DvError::bad_request(format!(
            "The request line '{request_line}' is invalid. The request line at the start of \
             each operation must be of the format 'HttpMethod RequestUrl HttpVersion'."
        )));
    };
    // [OData lib] ODataBatchReaderStream_InvalidHttpVersionSpecified.
    if version != "HTTP/1.1" {
        return Err(DvError::bad_request(format!(
            "The HTTP version '{version}' used in a batch operation request or response is not \
             valid. The value must be 'HTTP/1.1'."
        )));
    }
    if !METHODS.contains(&method) {
        return Err(DvError::bad_request(format!(
            "The HTTP method '{method}' is not valid in a batch operation; use one of GET, \
             POST, PATCH, PUT or DELETE."
        )));
    }
    let rest = &lines[first + 1..];
    let header_end = rest.iter().position(|l| l.is_empty()).unwrap_or(rest.len());
    let headers = parse_headers(&rest[..header_end])?;
    let body = rest
        .get(header_end + 1..)
        .map(|body_lines| body_lines.join("\n").trim_end().to_string())
        .filter(|b| !b.is_empty());
    // [batch doc] puts Content-ID among the MIME part headers; some clients
    // write it among the embedded request's headers, which [OData 11.7]
    // (OData 4.0) also allowed, so both are read.
    let content_id = mime
        .header("Content-ID")
        .or_else(|| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("Content-ID"))
                .map(|(_, v)| v.as_str())
        })
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty());
    Ok(Part {
        method: method.to_string(),
        url: url.to_string(),
        headers,
        body,
        content_id,
    })
}

/// The response to one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Echoed from the request part ([batch doc] change-set responses).
    pub content_id: Option<String>,
}

impl PartResponse {
    /// The response for a part that failed with `err`.
    pub fn from_error(err: &DvError, content_id: Option<String>) -> Self {
        PartResponse {
            status: err.status,
            headers: Vec::new(),
            body: Some(err.body().to_string()),
            content_id,
        }
    }
}

/// The response to one top-level item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResponse {
    Single(PartResponse),
    ChangeSet(Vec<PartResponse>),
}

/// Whether a `Prefer` header asks the batch to go on after a failed item.
/// [batch doc] (Handling errors) names `odata.continue-on-error`; OData 4.01
/// also spells it `continue-on-error`. A value of `false` turns it off.
pub fn prefers_continue_on_error(prefer: &str) -> bool {
    prefer.split(',').any(|pref| {
        let (name, value) = match pref.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (pref.trim(), None),
        };
        let name = name.to_ascii_lowercase();
        (name == "odata.continue-on-error" || name == "continue-on-error")
            && !value.is_some_and(|v| v.eq_ignore_ascii_case("false"))
    })
}

/// The status of the `$batch` response itself. [batch doc] (Handling
/// errors): without `odata.continue-on-error` "the batch error represents
/// the error of the first failing request" (its example answers
/// `400 BadRequest` around a 400 part); with it the batch is `200 OK`.
pub fn batch_status(responses: &[ItemResponse], continue_on_error: bool) -> u16 {
    if continue_on_error {
        return 200;
    }
    responses
        .iter()
        .flat_map(|item| match item {
            ItemResponse::Single(r) => std::slice::from_ref(r),
            ItemResponse::ChangeSet(parts) => parts.as_slice(),
        })
        .map(|r| r.status)
        .find(|&s| s >= 400)
        .unwrap_or(200)
}

/// Writes the batch response: the `Content-Type` to send (with its
/// boundary) and the body.
///
/// Boundaries are `batchresponse_<uuid>` and `changesetresponse_<uuid>`, new
/// for every response ([batch doc]: separated by a GUID "that isn't the same
/// as the batch request value"). Lines end in CRLF as [RFC 2046] requires.
/// A change set with a failed member is written as that single error
/// response, not as a change set: [OData 11.7] (§11.7.4) and the change-set
/// behaviour of the Web API, where a failed change set answers with one
/// error and nothing of it was applied.
pub fn render_batch(responses: &[ItemResponse]) -> (String, String) {
    let boundary = format!("batchresponse_{}", Uuid::new_v4());
    let mut out = String::new();
    for item in responses {
        out.push_str(&format!("--{boundary}{CRLF}"));
        match item {
            ItemResponse::Single(response) => write_http_part(&mut out, response),
            ItemResponse::ChangeSet(parts) => match parts.iter().find(|r| r.status >= 400) {
                Some(failed) => write_http_part(&mut out, failed),
                None => {
                    let cs = format!("changesetresponse_{}", Uuid::new_v4());
                    out.push_str(&format!(
                        "Content-Type: multipart/mixed; boundary={cs}{CRLF}{CRLF}"
                    ));
                    for response in parts {
                        out.push_str(&format!("--{cs}{CRLF}"));
                        write_http_part(&mut out, response);
                    }
                    out.push_str(&format!("--{cs}--{CRLF}"));
                }
            },
        }
    }
    out.push_str(&format!("--{boundary}--{CRLF}"));
    (format!("multipart/mixed; boundary={boundary}"), out)
}

/// One `application/http` part of a response, ending with the line break
/// that belongs to the next delimiter.
fn write_http_part(out: &mut String, response: &PartResponse) {
    out.push_str(&format!("Content-Type: application/http{CRLF}"));
    out.push_str(&format!("Content-Transfer-Encoding: binary{CRLF}"));
    if let Some(id) = &response.content_id {
        out.push_str(&format!("Content-ID: {id}{CRLF}"));
    }
    out.push_str(CRLF);
    out.push_str(&format!(
        "HTTP/1.1 {} {}{CRLF}",
        response.status,
        reason_phrase(response.status)
    ));
    let has = |name: &str| {
        response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    // [batch doc]: every part response carries `OData-Version: 4.0`, and JSON
    // bodies `Content-Type: application/json; odata.metadata=minimal`.
    if !has("OData-Version") {
        out.push_str(&format!("OData-Version: 4.0{CRLF}"));
    }
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}{CRLF}"));
    }
    if response.body.is_some() && !has("Content-Type") {
        out.push_str(&format!(
            "Content-Type: application/json; odata.metadata=minimal{CRLF}"
        ));
    }
    out.push_str(CRLF);
    if let Some(body) = &response.body {
        out.push_str(body);
    }
    out.push_str(CRLF);
}

/// The reason phrase of a status line, as the service (IIS/.NET) writes
/// them: `204 No Content`, `400 Bad Request`, `429 Too Many Requests`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BAD_REQUEST;

    const ACCOUNT: &str = "00000000-0000-0000-0000-000000000001";

    fn crlf(text: &str) -> String {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    }

    fn err(content_type: &str, body: &str) -> DvError {
        let e = parse_batch(content_type, body.as_bytes()).expect_err("should be refused");
        assert_eq!(e.status, 400, "{e}");
        assert_eq!(e.code, BAD_REQUEST);
        e
    }

    fn singles(parts: &[BatchItem]) -> Vec<&Part> {
        parts
            .iter()
            .map(|item| match item {
                BatchItem::Single(p) => p,
                BatchItem::ChangeSet(_) => panic!("expected a single request"),
            })
            .collect()
    }

    /// The shape of [batch doc]'s first example: quoted boundary, three
    /// creates and a GET, `type=entry` bodies, two blank lines before the end.
    fn documented_batch() -> String {
        let mut body = String::new();
        for n in 1..=3 {
            body.push_str(&format!(
                "--batch_80dd1615\n\
                 Content-Type: application/http\n\
                 Content-Transfer-Encoding: binary\n\
                 \n\
                 POST /api/data/v9.2/tasks HTTP/1.1\n\
                 Content-Type: application/json; type=entry\n\
                 \n\
                 {{\n  \"subject\": \"Task {n} in batch\",\n  \
                 \"regardingobjectid_account_task@odata.bind\": \"accounts({ACCOUNT})\"\n}}\n"
            ));
        }
        body.push_str(&format!(
            "--batch_80dd1615\n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: binary\n\
             \n\
             GET /api/data/v9.2/accounts({ACCOUNT})/Account_Tasks?$select=subject HTTP/1.1\n\
             \n\
             \n\
             --batch_80dd1615--\n"
        ));
        crlf(&body)
    }

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

    /// [batch doc] "Reference URIs in URL and navigation properties" shape:
    /// unquoted boundary without a space, `Content-ID:1` without a space,
    /// absolute URLs, `$1` as a URL and `$2` as a bind value.
    fn changeset_batch() -> String {
        crlf(
            "--batch_AAA123\n\
             Content-Type: multipart/mixed; boundary=changeset_dd81\n\
             \n\
             --changeset_dd81\n\
             Content-Type:application/http\n\
             Content-Transfer-Encoding:binary\n\
             Content-ID:1\n\
             \n\
             POST https://org.crm.dynamics.com/api/data/v9.2/accounts HTTP/1.1\n\
             Content-Type: application/json\n\
             \n\
             { \"name\":\"Account name\"}\n\
             \n\
             --changeset_dd81\n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: binary\n\
             Content-ID: 2\n\
             \n\
             POST https://org.crm.dynamics.com/api/data/v9.2/contacts HTTP/1.1\n\
             Content-Type: application/json\n\
             \n\
             {\"firstname\":\"Contact first name\"}\n\
             \n\
             --changeset_dd81\n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: binary\n\
             Content-ID: 3\n\
             \n\
             PATCH $1 HTTP/1.1\n\
             Content-Type: application/json\n\
             \n\
             {\n  \"primarycontactid@odata.bind\":\"$2\"\n}\n\
             \n\
             --changeset_dd81--\n\
             --batch_AAA123\n\
             Content-Type: application/http\n\
             Content-Transfer-Encoding: binary\n\
             \n\
             GET accounts?$select=name HTTP/1.1\n\
             \n\
             --batch_AAA123--\n",
        )
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
    fn refuses_wrong_or_boundaryless_content_type() {
        let body = documented_batch();
        let e = err("multipart/mixed", &body);
        assert!(e.message.contains("no boundary"), "{e}");
        let e = err("multipart/mixed; boundary=\"\"", &body);
        assert!(e.message.contains("no boundary"), "{e}");
        let e = err("application/json", &body);
        assert!(e.message.contains("multipart/mixed"), "{e}");
    }

    #[test]
    fn refuses_missing_delimiters() {
        let body = documented_batch();
        let truncated = body.replace("--batch_80dd1615--", "");
        let e = err("multipart/mixed; boundary=batch_80dd1615", &truncated);
        assert!(e.message.contains("'--batch_80dd1615--'"), "{e}");
        let e = err("multipart/mixed; boundary=other", &body);
        assert!(e.message.contains("'--other'"), "{e}");

        let unclosed_changeset = changeset_batch().replace("--changeset_dd81--", "");
        let e = err(
            "multipart/mixed; boundary=batch_AAA123",
            &unclosed_changeset,
        );
        assert!(e.message.contains("'--changeset_dd81--'"), "{e}");
    }

    fn one_part(mime_headers: &str, request: &str) -> String {
        crlf(&format!("--b\n{mime_headers}\n\n{request}\n--b--\n"))
    }

    #[test]
    fn refuses_parts_that_are_not_application_http() {
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(
                "Content-Type: text/plain\nContent-Transfer-Encoding: binary",
                "GET accounts HTTP/1.1",
            ),
        );
        assert!(e.message.contains("'text/plain' is invalid"), "{e}");
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part("Content-Transfer-Encoding: binary", "GET accounts HTTP/1.1"),
        );
        assert!(
            e.message.contains("'Content-Type' header is missing"),
            "{e}"
        );
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part("Content-Type: application/http", "GET accounts HTTP/1.1"),
        );
        assert!(e.message.contains("Content-Transfer-Encoding"), "{e}");
    }

    #[test]
    fn refuses_bad_request_lines_and_headers() {
        let mime = "Content-Type: application/http\nContent-Transfer-Encoding: binary";
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(mime, "GET accounts"),
        );
        assert!(e.message.contains("request line 'GET accounts'"), "{e}");
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(mime, "GET accounts HTTP/2"),
        );
        assert!(e.message.contains("'HTTP/2'"), "{e}");
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(mime, "FETCH accounts HTTP/1.1"),
        );
        assert!(e.message.contains("'FETCH'"), "{e}");
        let e = err("multipart/mixed; boundary=b", &one_part(mime, ""));
        assert!(e.message.contains("request line ''"), "{e}");
        let e = err(
            "multipart/mixed; boundary=b",
            &one_part(mime, "GET accounts HTTP/1.1\nno colon here"),
        );
        assert!(e.message.contains("'no colon here'"), "{e}");
    }

    fn changeset_of(parts: &[(&str, Option<&str>, &str)]) -> String {
        let mut body = String::from("--b\nContent-Type: multipart/mixed; boundary=cs\n\n");
        for (request, id, json) in parts {
            body.push_str(
                "--cs\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n",
            );
            if let Some(id) = id {
                body.push_str(&format!("Content-ID: {id}\n"));
            }
            body.push_str(&format!("\n{request} HTTP/1.1\n\n{json}\n"));
        }
        body.push_str("--cs--\n--b--\n");
        crlf(&body)
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

    fn many_gets(n: usize) -> String {
        let mut body = String::new();
        for _ in 0..n {
            body.push_str(
                "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET accounts HTTP/1.1\r\n\r\n",
            );
        }
        body.push_str("--b--\r\n");
        body
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

    /// Splits a multipart body on its boundary the way a client does:
    /// the parts between delimiters, without the CRLF owned by the delimiter.
    fn split_response<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
        let open = format!("--{boundary}\r\n");
        // A nested multipart's last line break belongs to the outer delimiter.
        let body = body.strip_suffix("\r\n").unwrap_or(body);
        let close = format!("--{boundary}--");
        assert!(
            body.ends_with(&close),
            "closing delimiter missing: {body:?}"
        );
        let inner = &body[..body.len() - close.len()];
        let mut chunks = inner.split(&open);
        assert_eq!(
            chunks.next(),
            Some(""),
            "nothing before the first delimiter"
        );
        chunks
            .map(|c| c.strip_suffix("\r\n").unwrap_or(c))
            .collect()
    }

    fn boundary_of(content_type: &str) -> String {
        let (_, params) = parse_media_type(content_type);
        boundary_param(&params).unwrap()
    }

    #[test]
    fn rendered_response_parses_back() {
        let created = |id: &str, cid: &str| PartResponse {
            status: 204,
            headers: vec![
                (
                    "Location".into(),
                    format!("https://h/api/data/v9.2/tasks({id})"),
                ),
                (
                    "OData-EntityId".into(),
                    format!("https://h/api/data/v9.2/tasks({id})"),
                ),
            ],
            body: None,
            content_id: Some(cid.into()),
        };
        let responses = vec![
            ItemResponse::ChangeSet(vec![created("a", "1"), created("b", "2")]),
            ItemResponse::Single(PartResponse {
                status: 200,
                headers: vec![],
                body: Some("{\"value\":[]}".into()),
                content_id: None,
            }),
        ];
        let (content_type, body) = render_batch(&responses);
        assert!(content_type.starts_with("multipart/mixed; boundary=batchresponse_"));
        let boundary = boundary_of(&content_type);
        assert!(Uuid::parse_str(boundary.trim_start_matches("batchresponse_")).is_ok());
        assert!(
            !body.replace("\r\n", "").contains('\n'),
            "CRLF line ends only"
        );

        let parts = split_response(&body, &boundary);
        assert_eq!(parts.len(), 2);

        let (cs_headers, cs_body) = parts[0].split_once("\r\n\r\n").unwrap();
        assert!(
            cs_headers.starts_with("Content-Type: multipart/mixed; boundary=changesetresponse_")
        );
        let cs_boundary = boundary_of(cs_headers.trim_start_matches("Content-Type: "));
        let members = split_response(cs_body, &cs_boundary);
        assert_eq!(members.len(), 2);
        assert_eq!(
            members[0],
            "Content-Type: application/http\r\n\
             Content-Transfer-Encoding: binary\r\n\
             Content-ID: 1\r\n\
             \r\n\
             HTTP/1.1 204 No Content\r\n\
             OData-Version: 4.0\r\n\
             Location: https://h/api/data/v9.2/tasks(a)\r\n\
             OData-EntityId: https://h/api/data/v9.2/tasks(a)\r\n\
             \r\n"
        );
        assert!(members[1].contains("Content-ID: 2\r\n"));

        let (mime, http) = parts[1].split_once("\r\n\r\n").unwrap();
        assert_eq!(
            mime,
            "Content-Type: application/http\r\nContent-Transfer-Encoding: binary"
        );
        let (head, json) = http.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("Content-Type: application/json; odata.metadata=minimal"));
        assert_eq!(json, "{\"value\":[]}");
    }

    #[test]
    fn failed_changeset_renders_as_one_error_response() {
        let error = DvError::validation("A validation error occurred.");
        let responses = vec![ItemResponse::ChangeSet(vec![
            PartResponse {
                status: 204,
                headers: vec![],
                body: None,
                content_id: Some("1".into()),
            },
            PartResponse::from_error(&error, Some("2".into())),
        ])];
        let (content_type, body) = render_batch(&responses);
        assert!(!body.contains("changesetresponse_"));
        let parts = split_response(&body, &boundary_of(&content_type));
        assert_eq!(parts.len(), 1);
        assert!(parts[0].starts_with("Content-Type: application/http\r\n"));
        assert!(parts[0].contains("HTTP/1.1 400 Bad Request\r\n"));
        assert!(parts[0].ends_with(&error.body().to_string()));
        assert_eq!(batch_status(&responses, false), 400);
        assert_eq!(batch_status(&responses, true), 200);
    }

    #[test]
    fn empty_response_still_has_closing_delimiter() {
        let (content_type, body) = render_batch(&[]);
        let boundary = boundary_of(&content_type);
        assert_eq!(body, format!("--{boundary}--\r\n"));
        assert_eq!(batch_status(&[], false), 200);
    }

    #[test]
    fn given_headers_are_not_duplicated() {
        let (_, body) = render_batch(&[ItemResponse::Single(PartResponse {
            status: 201,
            headers: vec![
                ("odata-version".into(), "4.0".into()),
                (
                    "content-type".into(),
                    "application/json; odata.metadata=full".into(),
                ),
            ],
            body: Some("{}".into()),
            content_id: None,
        })]);
        assert_eq!(
            body.to_ascii_lowercase().matches("odata-version").count(),
            1
        );
        assert_eq!(body.matches("application/json").count(), 1);
        assert!(body.contains("HTTP/1.1 201 Created\r\n"));
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(201), "Created");
        assert_eq!(reason_phrase(204), "No Content");
        assert_eq!(reason_phrase(400), "Bad Request");
        assert_eq!(reason_phrase(404), "Not Found");
        assert_eq!(reason_phrase(412), "Precondition Failed");
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(500), "Internal Server Error");
        assert_eq!(reason_phrase(503), "Service Unavailable");
        assert_eq!(reason_phrase(418), "Client Error");
    }

    #[test]
    fn continue_on_error_preference() {
        assert!(prefers_continue_on_error("odata.continue-on-error"));
        assert!(prefers_continue_on_error(
            "return=representation, odata.continue-on-error"
        ));
        assert!(prefers_continue_on_error("continue-on-error=true"));
        assert!(!prefers_continue_on_error("odata.continue-on-error=false"));
        assert!(!prefers_continue_on_error("odata.maxpagesize=10"));
        assert!(!prefers_continue_on_error(""));
    }
}
