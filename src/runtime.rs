//! The one tokio runtime of a ferry process. The HTTP clients, the API
//! extract, `ferry plan`'s target reads, `ferry push` and `ferry serve` all
//! run their async work on it instead of each building a runtime of its
//! own: one set of worker threads, one connection pool's home, and one place
//! that says how the runtime is configured.
//!
//! It is built on first use and lives until the process ends. Callers drive
//! it from ordinary (non-async) code with [`block_on`] or through [`get`];
//! calling either from inside the runtime's own tasks would block a worker,
//! and tokio refuses it.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::error::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The process's runtime, built on first use: multi-threaded, with timers
/// and I/O enabled.
pub fn get() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// Runs `future` to completion on the process's runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(get()?.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_caller_gets_the_same_runtime() {
        let first = get().unwrap() as *const Runtime;
        let second = get().unwrap() as *const Runtime;
        assert_eq!(first, second);
        assert_eq!(block_on(async { 6 * 7 }).unwrap(), 42);
    }

    #[test]
    fn threads_may_block_on_it_at_the_same_time() {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    block_on(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        i
                    })
                    .unwrap()
                })
            })
            .collect();
        let results: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, [0, 1, 2, 3]);
    }
}
