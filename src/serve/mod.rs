//! In-tree emulators of the systems ferry talks to (`ferry serve …`), so
//! every path that reaches a remote API can run and be tested offline on
//! loopback, with the remote side's limits and failures reproducible.
//!
//! Each emulator is a library type that runs in-process (tests, `ferry
//! demo`) or behind its CLI command, which prints `listening on
//! http://HOST:PORT` first on stdout and stops on SIGINT/SIGTERM.

pub mod servicetracker;

use std::collections::BTreeMap;

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Parses a URL query string (`a=1&b=x%20y`) into its parameters, refusing
/// names outside `allowed`, repeated names and broken percent-encoding, with
/// a message fit for a 400 response.
pub fn parse_query(
    query: Option<&str>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name)?;
        let value = percent_decode(value)?;
        if !allowed.contains(&name.as_str()) {
            return Err(if allowed.is_empty() {
                format!("unknown query parameter `{name}`: this endpoint takes none")
            } else {
                format!(
                    "unknown query parameter `{name}`: this endpoint takes {}",
                    allowed.join(", ")
                )
            });
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(format!("query parameter `{name}` is given twice"));
        }
    }
    Ok(params)
}

/// Decodes `%XX` escapes. A `+` stays a plus sign (it is a space only in
/// HTML form encoding), so `modified_since=2026-10-01T07:00:00+02:00` works
/// even unescaped; no parameter here can hold a space anyway.
pub(crate) fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("broken percent-encoding in `{text}`"))?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{text}` does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_unknown_names_are_refused() {
        let p = parse_query(
            Some("limit=7&modified_since=2026-10-01T07%3A00%3A00%2B00%3A00"),
            &["limit", "modified_since"],
        )
        .unwrap();
        assert_eq!(p["limit"], "7");
        assert_eq!(p["modified_since"], "2026-10-01T07:00:00+00:00");
        assert_eq!(parse_query(Some("a=x+y"), &["a"]).unwrap()["a"], "x+y");
        assert!(parse_query(None, &[]).unwrap().is_empty());
        assert!(parse_query(Some("since=1"), &["modified_since"])
            .unwrap_err()
            .contains("unknown query parameter `since`"));
        assert!(parse_query(Some("a=1&a=2"), &["a"]).is_err());
        assert!(parse_query(Some("a=%zz"), &["a"]).is_err());
        assert!(parse_query(Some("a=%ff"), &["a"]).is_err());
    }
}
