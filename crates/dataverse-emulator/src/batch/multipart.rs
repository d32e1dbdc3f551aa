//! The `multipart/mixed` wire format of a batch request ([RFC 2046],
//! OData 11.7): the boundary from the `Content-Type`, delimiter lines, MIME
//! parts with their headers, and the embedded HTTP request of each
//! `application/http` part — read as strictly as the real service reads
//! them, with [OData lib]'s messages.

use super::*;

/// The boundary from the batch request's `Content-Type`.
pub(super) fn batch_boundary(content_type: &str) -> Result<String, DvError> {
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

pub(super) fn boundary_param(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .find(|(name, _)| name == "boundary")
        .map(|(_, value)| value.clone())
        .filter(|b| !b.is_empty())
}

/// `type/subtype; name=value; name="quoted value"` → lower-case media type
/// and parameters (names lower-case, values unquoted).
pub(super) fn parse_media_type(value: &str) -> (String, Vec<(String, String)>) {
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
pub(super) fn split_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect()
}

pub(super) enum Delimiter {
    Open,
    Close,
}

/// [RFC 2046]: a delimiter line is `--boundary`, the closing one
/// `--boundary--`, either possibly followed by linear whitespace (transport
/// padding). The line break before a delimiter belongs to it, so a part's
/// content is exactly the lines between two delimiters.
pub(super) fn delimiter(line: &str, boundary: &str) -> Option<Delimiter> {
    let rest = line.strip_prefix("--")?.strip_prefix(boundary)?;
    match rest.trim_end_matches([' ', '\t']) {
        "" => Some(Delimiter::Open),
        "--" => Some(Delimiter::Close),
        _ => None,
    }
}

/// The bodies of the parts of a multipart entity; `what` names it in errors.
pub(super) fn split_multipart<'a, 'l>(
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
pub(super) struct MimePart<'a, 'l> {
    headers: Vec<(String, String)>,
    pub(super) content: &'a [&'l str],
}

pub(super) enum PartKind {
    Http,
    /// A change set, with its boundary.
    ChangeSet(String),
}

impl<'a, 'l> MimePart<'a, 'l> {
    pub(super) fn parse(lines: &'a [&'l str]) -> Result<Self, DvError> {
        let end = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or(lines.len());
        Ok(MimePart {
            headers: parse_headers(&lines[..end])?,
            content: lines.get(end + 1..).unwrap_or(&[]),
        })
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What the part holds. [OData 11.7]: each part is `application/http`
    /// (one request) or `multipart/mixed` (a change set, at top level only).
    pub(super) fn kind(&self, in_changeset: bool) -> Result<PartKind, DvError> {
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
pub(super) fn parse_headers(lines: &[&str]) -> Result<Vec<(String, String)>, DvError> {
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
pub(super) const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

/// The embedded request of an `application/http` part: request line,
/// headers, blank line, optional body.
pub(super) fn parse_request(mime: &MimePart<'_, '_>) -> Result<Part, DvError> {
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

#[cfg(test)]
mod tests {
    use crate::batch::test_support::*;

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
}
