//! Why the emulator itself could not start, load, serve or save — as
//! opposed to [`crate::error::DvError`], the Web API error a *client* gets.
//!
//! The kinds mirror those of the program embedding the emulator (ferry's
//! CLI maps each to its exit code: bad input and usage 2, a failed server
//! 3), so converting keeps both the message and the meaning.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The emulator was asked for something it cannot do (an address it
    /// cannot listen on, a thread it cannot start).
    #[error("{0}")]
    Usage(String),

    /// An input file (metadata, technicians, state) is missing, unreadable
    /// or malformed. `what_to_do` tells the user how to fix it.
    #[error("{path}: {message}\n  what to do: {what_to_do}", path = path.display())]
    Input {
        path: PathBuf,
        message: String,
        what_to_do: String,
    },

    /// A file-system operation failed.
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The server stopped with an error.
    #[error("{0}")]
    Serve(String),
}

impl Error {
    pub fn input(
        path: impl AsRef<Path>,
        message: impl Into<String>,
        what_to_do: impl Into<String>,
    ) -> Self {
        Error::Input {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
            what_to_do: what_to_do.into(),
        }
    }
}
