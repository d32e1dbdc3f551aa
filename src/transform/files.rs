//! The versioned SQL files of `sql/transforms/` (`V<NNN>__<name>.sql`,
//! SPEC §4) as the transform runner and its ledger see them, read through
//! the [`crate::sql_catalog`] and verified as a set before any runs.
//!
//! A name that does not follow the pattern is reported, not skipped in
//! silence (a file called `V7_accounts.sql` is almost always a typo that
//! would otherwise never run); two files with one version are an error,
//! because their order would be a coin toss.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::sql_catalog::{read_dir, CatalogFile, Folder, Listing};

/// One versioned SQL file with the checksum of its bytes.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub version: u32,
    pub name: String,
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes, as stored in the ledger.
    pub sha256: String,
    pub text: String,
}

impl SqlFile {
    /// The file name, `V010__account.sql`.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The first 12 hex digits of the checksum, enough to tell versions apart
    /// at a glance.
    pub fn short_sha(&self) -> &str {
        short_sha(&self.sha256)
    }
}

pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The files of a folder: runnable ones in version order, and stray names.
#[derive(Debug, Clone, Default)]
pub struct SqlFolder {
    pub files: Vec<SqlFile>,
    /// Names in the folder that are not `V<NNN>__<name>.sql`.
    pub stray: Vec<String>,
}

pub use crate::sql_catalog::parse_transform_name as parse_name;

/// Reads `dir`: every file checked and hashed before anything runs.
pub fn read_folder(dir: &Path) -> Result<SqlFolder> {
    Ok(SqlFolder::from(read_dir(Folder::Transforms, dir)?))
}

impl From<Listing> for SqlFolder {
    fn from(listing: Listing) -> SqlFolder {
        SqlFolder {
            files: listing.files.into_iter().map(SqlFile::from).collect(),
            stray: listing.stray,
        }
    }
}

impl From<CatalogFile> for SqlFile {
    fn from(file: CatalogFile) -> SqlFile {
        SqlFile {
            version: file.order,
            path: file.shown_path(),
            name: file.name,
            sha256: file.sha256,
            text: file.text,
        }
    }
}

/// The text DuckDB runs: `{{prefix}}` replaced by the publisher prefix (which
/// `ferry.toml` validation limits to lowercase letters and digits). Nothing
/// else is substituted.
pub fn render(text: &str, prefix: &str) -> String {
    text.replace("{{prefix}}", prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        assert_eq!(
            parse_name("V010__account.sql"),
            Some((10, "account".into()))
        );
        assert_eq!(parse_name("V1__a_b.sql"), Some((1, "a_b".into())));
        for bad in [
            "V010_account.sql",
            "v010__account.sql",
            "V__account.sql",
            "V010__.sql",
            "V010__account.SQL",
            "V01a__account.sql",
            "README.md",
            "V010__acc ount.sql",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn duplicate_versions_are_an_error_and_strays_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V001__a.sql"), "select 1").unwrap();
        std::fs::write(dir.path().join("V2_b.sql"), "select 2").unwrap();
        std::fs::write(dir.path().join(".hidden"), "").unwrap();
        let folder = read_folder(dir.path()).unwrap();
        assert_eq!(folder.files.len(), 1);
        assert_eq!(folder.stray, vec!["V2_b.sql".to_string()]);
        assert_eq!(folder.files[0].short_sha().len(), 12);

        std::fs::write(dir.path().join("V1__again.sql"), "select 3").unwrap();
        let err = read_folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 1 is also used by"), "{err}");
    }

    #[test]
    fn only_the_prefix_placeholder_is_replaced() {
        assert_eq!(
            render("select {{prefix}}_record_id, '{{other}}'", "zz"),
            "select zz_record_id, '{{other}}'"
        );
    }
}
