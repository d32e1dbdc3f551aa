//! What the `$batch` unit tests share: batch bodies as the docs write them, and ways to read the results.

use super::*;
use crate::error::BAD_REQUEST;

pub(super) const ACCOUNT: &str = "00000000-0000-0000-0000-000000000001";

pub(super) fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

pub(super) fn err(content_type: &str, body: &str) -> DvError {
    let e = parse_batch(content_type, body.as_bytes()).expect_err("should be refused");
    assert_eq!(e.status, 400, "{e}");
    assert_eq!(e.code, BAD_REQUEST);
    e
}

pub(super) fn singles(parts: &[BatchItem]) -> Vec<&Part> {
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
pub(super) fn documented_batch() -> String {
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

/// [batch doc] "Reference URIs in URL and navigation properties" shape:
/// unquoted boundary without a space, `Content-ID:1` without a space,
/// absolute URLs, `$1` as a URL and `$2` as a bind value.
pub(super) fn changeset_batch() -> String {
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

pub(super) fn one_part(mime_headers: &str, request: &str) -> String {
    crlf(&format!("--b\n{mime_headers}\n\n{request}\n--b--\n"))
}

pub(super) fn changeset_of(parts: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::from("--b\nContent-Type: multipart/mixed; boundary=cs\n\n");
    for (request, id, json) in parts {
        body.push_str("--cs\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n");
        if let Some(id) = id {
            body.push_str(&format!("Content-ID: {id}\n"));
        }
        body.push_str(&format!("\n{request} HTTP/1.1\n\n{json}\n"));
    }
    body.push_str("--cs--\n--b--\n");
    crlf(&body)
}

pub(super) fn many_gets(n: usize) -> String {
    let mut body = String::new();
    for _ in 0..n {
        body.push_str(
            "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET accounts HTTP/1.1\r\n\r\n",
        );
    }
    body.push_str("--b--\r\n");
    body
}
