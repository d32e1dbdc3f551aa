//! The batch response: each item's HTTP response written as an
//! `application/http` part (a failed change set as one error response), the
//! batch's own status, `Prefer: odata.continue-on-error`, and the reason
//! phrases of the status lines.

use super::*;

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
pub(super) fn write_http_part(out: &mut String, response: &PartResponse) {
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
