//! `ferry verify`: the evidence that what arrived is what was sent. The
//! target's copy of every pushed record is read back into `dv.*`
//! ([`readback`]) and compared with `stg.*` field by field in SQL
//! ([`diff`]), with Dataverse's own normalisation applied to both sides,
//! into `verify.*` tables an analyst can query and the `diff` report
//! renders (SPEC §1, §3; issue 8).
//!
//! The comparison rules are SQL the workspace owns
//! (`sql/verify/normalise.sql`: per-kind macros and `verify.rules`), so an
//! analyst can see, and change, why two values count as equal.

pub mod diff;
pub mod readback;

use std::path::PathBuf;

use duckdb::Connection;

use crate::error::{Error, IoContext, Result};
use crate::workspace::Workspace;

pub use diff::{diff, DiffSummary, TableDiff};
pub use readback::{read_back, ReadBack, TableRead};

/// The built-in copies of the comparison SQL, for a workspace made before
/// they shipped (and for the benchmark, which has no workspace).
const BUILTIN_NORMALISE: &str = include_str!("../../sql/verify/normalise.sql");
const BUILTIN_PARTIES: &str = include_str!("../../sql/verify/parties.sql");

/// Where they live inside a workspace's `sql/` folder.
const NORMALISE_FILE: &str = "verify/normalise.sql";
const PARTIES_FILE: &str = "verify/parties.sql";

/// One SQL file `verify` runs.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub text: String,
    /// The file it came from, for error messages (None: built in).
    pub path: Option<PathBuf>,
    /// Its name under `sql/`, for the way back to the built-in copy.
    pub name: &'static str,
}

impl SqlFile {
    fn load(ws: Option<&Workspace>, name: &'static str, builtin: &str) -> Result<SqlFile> {
        let builtin = SqlFile {
            text: builtin.to_string(),
            path: None,
            name,
        };
        let Some(ws) = ws else {
            return Ok(builtin);
        };
        let path = ws.sql_dir().join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(SqlFile {
                text,
                path: Some(path),
                name,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(builtin),
            Err(e) => Err(e).at(&path),
        }
    }

    /// Runs the file on `conn`; a failure in a workspace copy names it.
    pub fn run(&self, conn: &Connection) -> Result<()> {
        conn.execute_batch(&self.text).map_err(|e| match &self.path {
            Some(path) => Error::input(
                path,
                format!("this verify SQL does not run: {e}"),
                format!(
                    "fix the file, or delete it to use the built-in one (run `ferry init /tmp/ferry-fresh` to see it in sql/{})",
                    self.name
                ),
            ),
            None => Error::Database(e),
        })
    }
}

/// The comparison SQL `verify` runs: the workspace copies when there are
/// some (SPEC §4: the workspace copy is what runs), else the built-in ones.
#[derive(Debug, Clone)]
pub struct VerifySql {
    /// `verify.rules` and the per-kind normalisation macros.
    pub normalise: SqlFile,
    /// The activity-party comparison.
    pub parties: SqlFile,
}

impl VerifySql {
    pub fn builtin() -> VerifySql {
        VerifySql::load(None).expect("built-in SQL needs no file")
    }

    pub fn load(ws: Option<&Workspace>) -> Result<VerifySql> {
        Ok(VerifySql {
            normalise: SqlFile::load(ws, NORMALISE_FILE, BUILTIN_NORMALISE)?,
            parties: SqlFile::load(ws, PARTIES_FILE, BUILTIN_PARTIES)?,
        })
    }

    /// Creates `verify.rules` and the normalisation macros on `conn`.
    pub fn prepare(&self, conn: &Connection) -> Result<()> {
        self.normalise.run(conn)
    }
}
