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

use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::error::{Error, Result};
use crate::sql_catalog::{record_runs, Folder, RanFile, SqlCatalog};
use crate::workspace::{Profile, Workspace};

pub use diff::{diff, DiffSummary, TableDiff};
pub use readback::{read_back, ReadBack, TableRead};

/// The files verify runs, by their name in `sql/verify/`.
const NORMALISE: &str = "normalise";
const PARTIES: &str = "parties";

/// One SQL file `verify` runs.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub text: String,
    /// The file it came from, for error messages (None: built in).
    pub path: Option<PathBuf>,
    /// Its name under `sql/`, for the way back to the built-in copy.
    pub name: String,
    /// Of the file's bytes, as `meta.sql_runs` records it.
    pub sha256: String,
}

impl SqlFile {
    fn load(catalog: &SqlCatalog, name: &str) -> Result<SqlFile> {
        let file = catalog
            .file(Folder::Verify, name)?
            .unwrap_or_else(|| panic!("built-in sql/verify/{name}.sql is missing"));
        Ok(SqlFile {
            path: file.path().map(Path::to_path_buf),
            name: format!("{}/{}", Folder::Verify.name(), file.file_name),
            sha256: file.sha256,
            text: file.text,
        })
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

impl<'a> From<&'a SqlFile> for RanFile<'a> {
    fn from(file: &'a SqlFile) -> RanFile<'a> {
        RanFile {
            folder: Folder::Verify,
            file_name: file.name.rsplit('/').next().unwrap_or(&file.name),
            path: file.path.as_deref(),
            sha256: &file.sha256,
        }
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
        // The verify SQL is one set for every profile.
        VerifySql::from_catalog(&SqlCatalog::builtin(Profile::Sales))
            .expect("built-in SQL needs no file")
    }

    pub fn load(ws: Option<&Workspace>) -> Result<VerifySql> {
        match ws {
            Some(ws) => VerifySql::from_catalog(&SqlCatalog::for_workspace(ws)),
            None => Ok(VerifySql::builtin()),
        }
    }

    fn from_catalog(catalog: &SqlCatalog) -> Result<VerifySql> {
        Ok(VerifySql {
            normalise: SqlFile::load(catalog, NORMALISE)?,
            parties: SqlFile::load(catalog, PARTIES)?,
        })
    }

    /// Creates `verify.rules` and the normalisation macros on `conn`.
    pub fn prepare(&self, conn: &Connection) -> Result<()> {
        self.normalise.run(conn)
    }

    /// Records both files in the ledger of SQL that ran.
    pub fn record(&self, conn: &Connection) -> Result<()> {
        record_runs(conn, "verify", [&self.normalise, &self.parties])
    }
}
