//! Runs the emulators of the systems ferry talks to (`ferry serve …`), so
//! every path that reaches a remote API can run and be tested offline on
//! loopback, with the remote side's limits and failures reproducible. The
//! emulators themselves are crates of their own (`crates/dataverse-emulator`,
//! `crates/servicetracker-emulator`): ferry runs them, it does not define them.
//!
//! Each emulator is a library type that runs in-process (tests, `ferry
//! demo`) or behind its CLI command, which prints `listening on
//! http://HOST:PORT` first on stdout and stops on SIGINT/SIGTERM.

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
