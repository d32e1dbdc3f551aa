//! Finding the extracts in the landing zone that `stage` may read (and a
//! delta extract compares against), and proving that their files are the
//! ones the extractor wrote.
//!
//! Only complete extracts are staged: a folder still named `.partial` was
//! interrupted and a `.failed` one failed a conservation check, so both are
//! skipped with a warning rather than half-loaded. Every file the manifest
//! lists is checked against its SHA-256 and size before any row is read, so a
//! truncated copy or a hand-edited Parquet file never reaches `raw.*`.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::manifest::{FileEntry, Manifest};
use super::{FAILED_SUFFIX, MANIFEST_FILE, PARTIAL_SUFFIX};
use crate::error::{Error, IoContext, Result};

/// A complete extract folder.
#[derive(Debug, Clone)]
pub struct LandedExtract {
    pub extract_id: String,
    pub dir: PathBuf,
}

/// A landing entry that `stage` did not read, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedEntry {
    pub name: String,
    pub reason: String,
}

/// What the landing zone holds.
#[derive(Debug, Default)]
pub struct LandingScan {
    /// Whether `landing/` exists at all.
    pub landing_exists: bool,
    /// Complete extracts in id (= chronological) order.
    pub complete: Vec<LandedExtract>,
    pub skipped: Vec<SkippedEntry>,
}

/// Lists the landing folder. Extract ids start with a zero-padded sequence
/// number and a UTC timestamp, so sorting them as strings sorts them in the
/// order they were taken.
pub fn scan_landing(landing_dir: &Path) -> Result<LandingScan> {
    let mut scan = LandingScan::default();
    let entries = match std::fs::read_dir(landing_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
        Err(e) => return Err(e).at(landing_dir),
    };
    scan.landing_exists = true;
    for entry in entries {
        let entry = entry.at(landing_dir)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // editor and OS droppings (.DS_Store) are not worth a warning
        }
        let skip = |reason: &str| SkippedEntry {
            name: name.clone(),
            reason: reason.to_string(),
        };
        if !path.is_dir() {
            scan.skipped.push(skip("not an extract folder"));
        } else if name.ends_with(PARTIAL_SUFFIX) {
            scan.skipped.push(skip(
                "interrupted extract: run `ferry extract` to resume it",
            ));
        } else if name.ends_with(FAILED_SUFFIX) {
            scan.skipped.push(skip(
                "failed extract, kept for diagnosis: see its _manifest.json or the extract log",
            ));
        } else if !path.join(MANIFEST_FILE).is_file() {
            scan.skipped
                .push(skip("no _manifest.json: not a complete extract"));
        } else {
            scan.complete.push(LandedExtract {
                extract_id: name,
                dir: path,
            });
        }
    }
    scan.complete
        .sort_by(|a, b| a.extract_id.cmp(&b.extract_id));
    scan.skipped.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scan)
}

/// Reads an extract's manifest and checks that it describes this folder.
pub fn read_manifest(extract: &LandedExtract) -> Result<Manifest> {
    let path = extract.dir.join(MANIFEST_FILE);
    let manifest = Manifest::read(&path)?;
    if manifest.extract_id != extract.extract_id {
        return Err(Error::input(
            &path,
            format!(
                "the manifest is for extract `{}` but sits in folder `{}`",
                manifest.extract_id, extract.extract_id
            ),
            "extract folders must not be renamed: restore the original name, or run `ferry extract` again",
        ));
    }
    Ok(manifest)
}

/// Every file the manifest lists, with the entry that describes it.
pub fn listed_files(manifest: &Manifest) -> Vec<&FileEntry> {
    let mut files: Vec<&FileEntry> = manifest.objects.values().map(|o| &o.file).collect();
    files.push(&manifest.quarantine);
    files.push(&manifest.attachments.file);
    if let Some(deleted) = &manifest.deleted {
        files.push(&deleted.file);
    }
    files
}

/// Resolves a file named by the manifest inside the extract folder. Names
/// with path separators are refused so a manifest can never point outside
/// its own folder.
pub fn resolve_file(extract: &LandedExtract, entry: &FileEntry) -> Result<PathBuf> {
    let name = entry.file.as_str();
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\');
    if !plain {
        return Err(Error::input(
            extract.dir.join(MANIFEST_FILE),
            format!("the manifest lists a file named `{name}`, which is not a plain file name"),
            "the extract is damaged: delete its folder and run `ferry extract` again",
        ));
    }
    Ok(extract.dir.join(name))
}

/// Checks size and SHA-256 of every listed file, streaming each file so
/// memory stays flat however large the extract is.
pub fn verify_files(extract: &LandedExtract, manifest: &Manifest) -> Result<()> {
    for entry in listed_files(manifest) {
        let path = resolve_file(extract, entry)?;
        verify_file(&path, entry, &extract.extract_id)?;
    }
    Ok(())
}

fn verify_file(path: &Path, entry: &FileEntry, extract_id: &str) -> Result<()> {
    let re_extract = format!(
        "the extract is damaged or was changed after it was written: delete landing/{extract_id} and run `ferry extract` again"
    );
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::input(
                path,
                "listed in _manifest.json but missing",
                re_extract,
            ))
        }
        Err(e) => return Err(e).at(path),
    };
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).at(path)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    let sha256 = hex::encode(hasher.finalize());
    if bytes != entry.bytes || !sha256.eq_ignore_ascii_case(&entry.sha256) {
        return Err(Error::input(
            path,
            format!(
                "checksum mismatch: _manifest.json says {} bytes with sha256 {}, the file has {} bytes with sha256 {}",
                entry.bytes, entry.sha256, bytes, sha256
            ),
            re_extract,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn scan_sorts_complete_extracts_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "0002-20261126T080000Z",
            "0001-20261125T191800Z",
            "0003-20261126T090000Z.partial",
            "0004-20261126T100000Z.failed",
            "0005-20261126T110000Z",
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        for name in ["0001-20261125T191800Z", "0002-20261126T080000Z"] {
            std::fs::write(dir.path().join(name).join(MANIFEST_FILE), "{}").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        let scan = scan_landing(dir.path()).unwrap();
        assert!(scan.landing_exists);
        let ids: Vec<_> = scan
            .complete
            .iter()
            .map(|e| e.extract_id.as_str())
            .collect();
        assert_eq!(ids, ["0001-20261125T191800Z", "0002-20261126T080000Z"]);
        let skipped: Vec<_> = scan.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "0003-20261126T090000Z.partial",
                "0004-20261126T100000Z.failed",
                "0005-20261126T110000Z",
                "notes.txt"
            ]
        );
    }

    #[test]
    fn a_missing_landing_folder_is_not_an_error_here() {
        let dir = tempfile::tempdir().unwrap();
        let scan = scan_landing(&dir.path().join("landing")).unwrap();
        assert!(!scan.landing_exists);
        assert!(scan.complete.is_empty());
    }

    #[test]
    fn verification_names_the_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customers.parquet");
        std::fs::write(&path, b"hello").unwrap();
        let good = FileEntry {
            file: "customers.parquet".into(),
            sha256: sha256_hex(b"hello"),
            bytes: 5,
            rows: 0,
        };
        verify_file(&path, &good, "0001").unwrap();
        let bad = FileEntry {
            sha256: sha256_hex(b"hellO"),
            ..good
        };
        let err = verify_file(&path, &bad, "0001").unwrap_err().to_string();
        assert!(err.contains("customers.parquet"), "{err}");
        assert!(err.contains("checksum mismatch"), "{err}");
        assert!(err.contains("ferry extract"), "{err}");
    }
}
