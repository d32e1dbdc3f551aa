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

/// The generator's errors read the same as ferry's and keep their exit code.
impl From<servicetracker_generator::Error> for Error {
    fn from(e: servicetracker_generator::Error) -> Self {
        use servicetracker_generator::Error as Generator;
        match e {
            Generator::Usage(message) => Error::Usage(message),
            Generator::Input {
                path,
                message,
                what_to_do,
            } => Error::Input {
                path,
                message,
                what_to_do,
            },
            Generator::Io { path, source } => Error::Io { path, source },
        }
    }
}

/// The ServiceTracker emulator's errors read the same as ferry's and keep
/// their exit code (a failure while serving is a remote failure).
impl From<servicetracker_emulator::Error> for Error {
    fn from(e: servicetracker_emulator::Error) -> Self {
        use servicetracker_emulator::Error as Emulator;
        match e {
            Emulator::Usage(message) => Error::Usage(message),
            Emulator::Input {
                path,
                message,
                what_to_do,
            } => Error::Input {
                path,
                message,
                what_to_do,
            },
            Emulator::Io { path, source } => Error::Io { path, source },
            Emulator::Serve(message) => Error::Remote(message),
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

/// The Dataverse emulator's own errors keep their message and their exit
/// code: bad input and usage stay 2, a server that stopped failing is 3.
impl From<dataverse_emulator::Error> for Error {
    fn from(error: dataverse_emulator::Error) -> Self {
        use dataverse_emulator::Error as Emulator;
        match error {
            Emulator::Usage(message) => Error::Usage(message),
            Emulator::Input {
                path,
                message,
                what_to_do,
            } => Error::Input {
                path,
                message,
                what_to_do,
            },
            Emulator::Io { path, source } => Error::Io { path, source },
            Emulator::Serve(message) => Error::Remote(message),
        }
    }
}
