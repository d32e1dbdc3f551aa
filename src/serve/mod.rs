//! In-tree emulators of the systems ferry talks to (`ferry serve …`), so
//! every path that reaches a remote API can run and be tested offline on
//! loopback, with the remote side's limits and failures reproducible.
//!
//! Each emulator is a library type that runs in-process (tests, `ferry
//! demo`) or behind its CLI command, which prints `listening on
//! http://HOST:PORT` first on stdout and stops on SIGINT/SIGTERM.

pub mod dataverse;

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
