//! Sign-off of the map (SPEC §5, §6 gates): `ferry map confirm` records the
//! checksum of every transform and mapping file as approved by a named
//! person; `ferry map status` — and `ferry push` before it writes anything —
//! compare the files on disk with that record and name every file changed,
//! added or removed since.
//!
//! The record lives in the workspace as `signoff.json` (not in
//! `ferry.duckdb`, which can be rebuilt from the landing zone at any time),
//! so it can be reviewed and versioned with the SQL it approves. Each
//! confirmation is appended to its history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::workspace::Workspace;

pub const SIGNOFF_FILE: &str = "signoff.json";

/// One confirmation: who, when, and the checksum of every file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// Workspace-relative path (`/`-separated) → hex SHA-256.
    pub files: BTreeMap<String, String>,
}

/// `signoff.json`: the current sign-off and the earlier ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOffRecord {
    pub current: Option<SignOff>,
    #[serde(default)]
    pub history: Vec<SignOff>,
}

/// How a file differs from the sign-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Modified,
    Added,
    Removed,
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so `{:<9}` lines the file names up.
        f.pad(match self {
            ChangeKind::Modified => "modified",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub file: String,
    pub kind: ChangeKind,
}

/// Where the map stands against its sign-off.
#[derive(Debug, Clone, Serialize)]
pub struct SignOffStatus {
    /// `None` when the map was never confirmed.
    pub signed: Option<SignOffSummary>,
    pub changes: Vec<Change>,
    /// Files covered by a sign-off right now.
    pub files: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignOffSummary {
    pub by: String,
    pub at: String,
    pub files: usize,
}

impl SignOffStatus {
    /// Whether `push` may write: confirmed, and nothing changed since.
    pub fn is_clean(&self) -> bool {
        self.signed.is_some() && self.changes.is_empty()
    }

    /// The sentence `push` refuses with.
    pub fn refusal(&self) -> Option<String> {
        if self.signed.is_none() {
            return Some(
                "the map has not been signed off: review the transforms and mapping files, then run `ferry map confirm --by NAME`".into(),
            );
        }
        if self.changes.is_empty() {
            return None;
        }
        let listed: Vec<String> = self
            .changes
            .iter()
            .map(|c| format!("{} ({})", c.file, c.kind))
            .collect();
        Some(format!(
            "{} file(s) changed since the map was signed off: {}; review them and run `ferry map confirm` again",
            self.changes.len(),
            listed.join(", ")
        ))
    }
}

/// The files a sign-off covers: every transform (`sql/transforms/*.sql`)
/// and every mapping file (`mapping/*.csv`), by workspace-relative path.
pub fn covered_files(ws: &Workspace) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for (folder, extension) in [("sql/transforms", "sql"), ("mapping", "csv")] {
        let dir = ws.root.join(folder);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).at(&dir),
        };
        for entry in entries {
            let path = entry.at(&dir)?.path();
            if !path.is_file() || path.extension().and_then(|e| e.to_str()) != Some(extension) {
                continue;
            }
            let bytes = std::fs::read(&path).at(&path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(
                format!("{folder}/{name}"),
                hex::encode(Sha256::digest(&bytes)),
            );
        }
    }
    Ok(files)
}

fn record_path(ws: &Workspace) -> PathBuf {
    ws.root.join(SIGNOFF_FILE)
}

pub fn read_record(ws: &Workspace) -> Result<SignOffRecord> {
    read_record_at(&record_path(ws))
}

fn read_record_at(path: &Path) -> Result<SignOffRecord> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!("not a sign-off record: {e}"),
                "restore it from version control, or delete it and run `ferry map confirm` again",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SignOffRecord::default()),
        Err(e) => Err(e).at(path),
    }
}

/// Compares the files on disk with the current sign-off.
pub fn status(ws: &Workspace) -> Result<SignOffStatus> {
    let record = read_record(ws)?;
    let now = covered_files(ws)?;
    let Some(signed) = record.current else {
        return Ok(SignOffStatus {
            signed: None,
            changes: now
                .keys()
                .map(|f| Change {
                    file: f.clone(),
                    kind: ChangeKind::Added,
                })
                .collect(),
            files: now.len(),
        });
    };
    let mut changes = Vec::new();
    for (file, sha) in &now {
        match signed.files.get(file) {
            Some(old) if old == sha => {}
            Some(_) => changes.push(Change {
                file: file.clone(),
                kind: ChangeKind::Modified,
            }),
            None => changes.push(Change {
                file: file.clone(),
                kind: ChangeKind::Added,
            }),
        }
    }
    for file in signed.files.keys().filter(|f| !now.contains_key(*f)) {
        changes.push(Change {
            file: file.clone(),
            kind: ChangeKind::Removed,
        });
    }
    changes.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(SignOffStatus {
        signed: Some(SignOffSummary {
            by: signed.by.clone(),
            at: signed.at.clone(),
            files: signed.files.len(),
        }),
        changes,
        files: now.len(),
    })
}

/// Records the files as they are now as signed off by `by`.
pub fn confirm(ws: &Workspace, by: &str) -> Result<SignOff> {
    let by = by.trim();
    if by.is_empty() {
        return Err(Error::Usage(
            "say who signs the map off: `ferry map confirm --by NAME`".into(),
        ));
    }
    let path = record_path(ws);
    let mut record = read_record_at(&path)?;
    let signoff = SignOff {
        by: by.to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        files: covered_files(ws)?,
    };
    if let Some(previous) = record.current.take() {
        record.history.push(previous);
    }
    record.current = Some(signoff.clone());
    let text = serde_json::to_string_pretty(&record).expect("sign-off serializes");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").at(&tmp)?;
    std::fs::rename(&tmp, &path).at(&path)?;
    Ok(signoff)
}
