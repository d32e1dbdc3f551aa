//! `$batch`: up to [`MAX_BATCH_REQUESTS`] requests in one multipart body,
//! optionally as one all-or-nothing change set, and the multipart answer
//! read back into one response per part.

use super::*;

impl DataverseClient {
    /// `$batch` of up to [`MAX_BATCH_REQUESTS`] requests, for tables
    /// without bulk messages. `atomic`: all parts in one change set (all or
    /// nothing; no GETs). `continue_on_error`: later parts run after one
    /// fails (`Prefer: odata.continue-on-error`). The batch is retried as a
    /// whole on 429/5xx like any request; the answers come back per part,
    /// failures included, in request order.
    pub async fn send_batch(
        &self,
        parts: &[BatchRequest],
        atomic: bool,
        continue_on_error: bool,
    ) -> DvResult<Vec<BatchResponse>> {
        Ok(self
            .send_batch_resent(parts, atomic, continue_on_error)
            .await?
            .answers)
    }

    /// [`send_batch`](Self::send_batch), also saying whether the batch was
    /// sent again after an attempt the org may have applied (a 5xx or a
    /// dropped connection), so the caller can tell "already there because of
    /// our own earlier attempt" from "already there before us".
    pub async fn send_batch_resent(
        &self,
        parts: &[BatchRequest],
        atomic: bool,
        continue_on_error: bool,
    ) -> DvResult<BatchAnswers> {
        if parts.is_empty() {
            return Ok(BatchAnswers::default());
        }
        if parts.len() > MAX_BATCH_REQUESTS {
            return Err(DvClientError::Invalid(format!(
                "a $batch takes at most {MAX_BATCH_REQUESTS} requests; this one has {} — split it",
                parts.len()
            )));
        }
        if atomic && parts.iter().any(|p| p.method == Method::GET) {
            return Err(DvClientError::Invalid(
                "a change set cannot hold GET requests; send reads outside it".into(),
            ));
        }
        let (content_type, body) = self.batch_body(parts, atomic);
        let prefer = if continue_on_error {
            vec![("Prefer", "odata.continue-on-error".to_string())]
        } else {
            Vec::new()
        };
        let spec = Spec {
            method: Method::POST,
            url: self.url("$batch")?,
            what: format!("a $batch of {} requests", parts.len()),
            body: Some((content_type, body.into_bytes())),
            headers: [common_headers(), prefer].concat(),
            multipart_answers: true,
        };
        let (reply, resent_after_possible_write) = self.run_tracked(&spec).await?;
        let content_type = header(&reply.headers, "content-type").unwrap_or_default();
        let boundary = boundary_of(&content_type).ok_or_else(|| {
            DvClientError::Transport(format!(
                "{} was answered with `{content_type}`, not multipart/mixed",
                spec.what
            ))
        })?;
        let text = String::from_utf8_lossy(&reply.body);
        Ok(BatchAnswers {
            answers: parse_batch_response(&text, &boundary),
            resent_after_possible_write,
        })
    }

    pub(super) fn batch_body(&self, parts: &[BatchRequest], atomic: bool) -> (String, String) {
        let batch = format!("batch_{}", Uuid::new_v4().simple());
        let changeset = format!("changeset_{}", Uuid::new_v4().simple());
        let mut out = String::new();
        let write_part = |out: &mut String, part: &BatchRequest, content_id: Option<String>| {
            out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
            if let Some(id) = content_id {
                out.push_str(&format!("Content-ID: {id}\r\n"));
            }
            out.push_str("\r\n");
            // `$1` references stay relative: the server resolves them.
            let target = if part.path.starts_with('$') {
                part.path.clone()
            } else {
                format!("{}{}", self.api, part.path.trim_start_matches('/'))
            };
            out.push_str(&format!("{} {target} HTTP/1.1\r\n", part.method));
            for (name, value) in &part.headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            match &part.body {
                Some(body) => {
                    out.push_str("Content-Type: application/json; type=entry\r\n\r\n");
                    out.push_str(&body.to_string());
                    out.push_str("\r\n");
                }
                None => out.push_str("\r\n"),
            }
        };
        if atomic {
            out.push_str(&format!(
                "--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
            ));
            for (i, part) in parts.iter().enumerate() {
                out.push_str(&format!("--{changeset}\r\n"));
                // OData wants a Content-ID on every change-set member.
                let id = part
                    .content_id
                    .clone()
                    .unwrap_or_else(|| (i + 1).to_string());
                write_part(&mut out, part, Some(id));
            }
            out.push_str(&format!("--{changeset}--\r\n"));
        } else {
            for part in parts {
                out.push_str(&format!("--{batch}\r\n"));
                write_part(&mut out, part, part.content_id.clone());
            }
        }
        out.push_str(&format!("--{batch}--\r\n"));
        (format!("multipart/mixed; boundary={batch}"), out)
    }
}

/// `boundary=` of a multipart content type, unquoted.
pub(super) fn boundary_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    content_type.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts between `--boundary` delimiters, as lines.
pub(super) fn multipart_parts<'a>(lines: &[&'a str], boundary: &str) -> Vec<Vec<&'a str>> {
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for &line in lines {
        let trimmed = line.trim_end();
        if trimmed == close {
            if let Some(part) = current.take() {
                parts.push(part);
            }
            break;
        }
        if trimmed == open {
            if let Some(part) = current.take() {
                parts.push(part);
            }
            current = Some(Vec::new());
        } else if let Some(part) = current.as_mut() {
            part.push(line);
        }
    }
    if let Some(part) = current {
        parts.push(part);
    }
    parts
}

/// Splits header lines from content at the first empty line.
pub(super) fn split_headers<'a>(lines: &'a [&'a str]) -> (Vec<(String, String)>, &'a [&'a str]) {
    let mut headers = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        i += 1;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (headers, &lines[i..])
}

pub(super) fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(super) fn parse_batch_response(text: &str, boundary: &str) -> Vec<BatchResponse> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for part in multipart_parts(&lines, boundary) {
        collect_part(&part, &mut out);
    }
    out
}

pub(super) fn collect_part(lines: &[&str], out: &mut Vec<BatchResponse>) {
    let (mime, content) = split_headers(lines);
    if let Some(inner) = find_header(&mime, "content-type").and_then(boundary_of) {
        for part in multipart_parts(content, &inner) {
            collect_part(&part, out);
        }
        return;
    }
    let content_id = find_header(&mime, "content-id").map(str::to_string);
    let mut rest = content;
    while rest.first().is_some_and(|l| l.trim().is_empty()) {
        rest = &rest[1..];
    }
    let Some((status_line, after)) = rest.split_first() else {
        return;
    };
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let (headers, body) = split_headers(after);
    let body_text = body.join("\n");
    let body_text = body_text.trim();
    let content_id = content_id.or_else(|| find_header(&headers, "content-id").map(str::to_string));
    out.push(BatchResponse {
        status,
        content_id,
        body: (!body_text.is_empty())
            .then(|| serde_json::from_str(body_text).unwrap_or_else(|_| json!(body_text))),
        headers,
    });
}
