//! Writing a file so that a crash or a full disk never leaves half of it:
//! reports, the API extract's spool and checkpoints, and the mapping files
//! an analyst edits are all written this one way.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder
/// (`<name>.tmp`): written, flushed to disk, then renamed over `path`, so a
/// reader sees the old content or the new, never a part. The rename stays on
/// one file system because the temporary file is the target's sibling.
pub fn write_atomically(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let tmp = temporary_sibling(path);
    let mut file = std::fs::File::create(&tmp).at(&tmp)?;
    file.write_all(bytes.as_ref()).at(&tmp)?;
    file.sync_all().at(&tmp)?;
    drop(file);
    std::fs::rename(&tmp, path).at(path)
}

/// `report.html` → `report.html.tmp`: unique per target, so two files with
/// the same stem (`plan.html`, `plan.json`) never share a temporary file.
fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write_atomically(&path, "first, and longer").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["plan.json"]);
    }

    #[test]
    fn a_folder_that_is_missing_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("plan.json");
        let err = write_atomically(&path, "x").unwrap_err().to_string();
        assert!(err.contains("plan.json.tmp"), "{err}");
    }

    #[test]
    fn temporary_files_are_siblings_named_after_the_whole_file_name() {
        assert_eq!(
            temporary_sibling(Path::new("/w/reports/plan.html")),
            Path::new("/w/reports/plan.html.tmp")
        );
        assert_eq!(
            temporary_sibling(Path::new("/w/reports/plan.json")),
            Path::new("/w/reports/plan.json.tmp")
        );
    }
}
