//! ferry's error type and how each kind maps to an exit code.
//!
//! Exit codes are part of the CLI contract (SPEC §3): 2 for usage,
//! configuration and bad-input errors, 3 when the remote side failed. "The
//! command ran and found problems" (exit 1) is not an error: commands return
//! [`crate::Outcome::Problems`] for it.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or the workspace settings are wrong.
    #[error("{0}")]
    Usage(String),

    /// An input file is missing, unreadable or malformed. `what_to_do` tells
    /// the analyst how to fix it.
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

    /// DuckDB refused a statement.
    #[error("DuckDB: {0}")]
    Database(#[from] duckdb::Error),

    /// Arrow or Parquet failed while writing or reading landed data.
    #[error("{path}: {message}", path = path.display())]
    Parquet { path: PathBuf, message: String },

    /// The remote side (ServiceTracker API, Dataverse) failed.
    #[error("{0}")]
    Remote(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Remote(_) => 3,
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

    pub fn parquet(path: impl AsRef<Path>, err: impl std::fmt::Display) -> Self {
        Error::Parquet {
            path: path.as_ref().to_path_buf(),
            message: err.to_string(),
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
