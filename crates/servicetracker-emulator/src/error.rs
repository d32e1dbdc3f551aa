//! The emulator's errors. They read like ferry's (`path: message`, then
//! what to do) and carry the same exit codes, so `ferry serve
//! servicetracker` reports them unchanged; ferry converts them into its own
//! error type.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings are wrong (a bad flag, a port that cannot be bound).
    #[error("{0}")]
    Usage(String),

    /// The export is missing, unreadable or malformed.
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

    /// Serving failed after start-up.
    #[error("{0}")]
    Serve(String),
}

impl Error {
    /// 2 for usage and input problems, 3 when serving itself failed, as
    /// ferry's exit codes say.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Serve(_) => 3,
            _ => 2,
        }
    }

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

/// Attaches the path to an I/O error, so no message says only "No such file".
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}
