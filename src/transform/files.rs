//! Finding the versioned SQL files of a workspace folder
//! (`V<NNN>__<name>.sql`, SPEC §4), verified as a set before any runs.
//!
//! A name that does not follow the pattern is reported, not skipped in
//! silence (a file called `V7_accounts.sql` is almost always a typo that
//! would otherwise never run); two files with one version are an error,
//! because their order would be a coin toss.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

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

/// `V<digits>__<name>.sql` → (version, name).
pub fn parse_name(file_name: &str) -> Option<(u32, String)> {
    let stem = file_name.strip_suffix(".sql")?;
    let rest = stem.strip_prefix('V')?;
    let (digits, name) = rest.split_once("__")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    Some((digits.parse().ok()?, name.to_string()))
}

/// Reads `dir`: every file checked and hashed before anything runs.
pub fn read_folder(dir: &Path) -> Result<SqlFolder> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                dir,
                "the transforms folder does not exist",
                "restore sql/transforms (a new workspace from `ferry init` has the built-in transforms)",
            )
        } else {
            Error::Io {
                path: dir.to_path_buf(),
                source: e,
            }
        }
    })?;
    let mut by_version: BTreeMap<u32, SqlFile> = BTreeMap::new();
    let mut stray = Vec::new();
    for entry in entries {
        let entry = entry.at(dir)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let Some((version, name)) = parse_name(&file_name) else {
            stray.push(file_name);
            continue;
        };
        let path = entry.path();
        let bytes = std::fs::read(&path).at(&path)?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::input(&path, "is not UTF-8 text", "save the file as UTF-8"))?;
        let file = SqlFile {
            version,
            name,
            sha256: hex::encode(Sha256::digest(&bytes)),
            path,
            text,
        };
        if let Some(other) = by_version.get(&version) {
            return Err(Error::input(
                &file.path,
                format!("version {version} is also used by {}", other.file_name()),
                "give each file its own version number; files run in version order",
            ));
        }
        by_version.insert(version, file);
    }
    stray.sort();
    Ok(SqlFolder {
        files: by_version.into_values().collect(),
        stray,
    })
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
