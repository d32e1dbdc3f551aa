//! Synthetic ServiceTracker exports (`ferry generate`, SPEC §8): a CSV export
//! folder shaped like the real one, with realistic content, deterministic
//! for a seed, and — unless `--clean` — carrying every kind of dirt of
//! SPEC §8.4 in exactly planned records, described in `dirt.json` so that
//! each pipeline stage can be tested against ground truth.
//!
//! Layout of an export folder:
//!
//! ```text
//! DIR/manifest.json                 written last (temp name + rename): its presence means complete
//! DIR/dirt.json                     ground truth of the injected dirt (empty list for --clean)
//! DIR/<object>.csv                  one per object of the export contract (model::objects)
//! DIR/files/<attachment id>/<name>  attachment bytes, one file per folder
//! ```
//!
//! Generation streams customer by customer with every CSV writer open, so
//! memory stays flat for any number of customers.

mod attachments;
mod clock;
mod dirt;
mod error;
mod model;
pub mod mutate;
mod names;
mod output;
mod records;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::IoContext;

pub use attachments::sanitize_file_name;
pub use clock::{EXPORTED_AT, EXPORT_TIMEZONE_NAME};
pub use dirt::{minimum_customers, DirtEntry, DirtFile, DirtKind};
pub use error::{Error, Result};
pub use output::custom_fields;

/// The manifest's file name; its presence marks a complete export.
pub const MANIFEST_FILE: &str = "manifest.json";
/// What the manifest names as the exporting system.
pub const SOURCE_SYSTEM: &str = "ServiceTracker";

/// What `ferry generate` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    pub customers: u64,
    pub seed: u64,
    /// No dirt at all.
    pub clean: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSummary {
    /// Records per object (including deliberately malformed ones), as in the
    /// manifest.
    pub rows: BTreeMap<String, u64>,
    /// Total size of the files under `files/`.
    pub attachment_bytes: u64,
    /// The dirt written, as in `dirt.json`.
    pub dirt: Vec<DirtEntry>,
}

/// Technicians in an export: one per 25 customers, at least 5.
pub fn technician_count(customers: u64) -> u64 {
    (customers / 25).max(5)
}

/// Parts in the catalogue: one per 5 customers, between 50 and 5,000.
pub fn part_count(customers: u64) -> u64 {
    (customers / 5).clamp(50, 5_000)
}

/// `DIR/manifest.json` (SPEC §8.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    source_system: String,
    exported_at: String,
    timezone: String,
    objects: BTreeMap<String, ManifestObject>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestObject {
    file: String,
    rows: u64,
}

/// Writes a synthetic export into `dir` (created if missing). Refuses a
/// folder that already holds an export, and a dirty export too small to
/// give every kind of dirt its own customers.
pub fn generate_export(dir: &Path, opts: &GenerateOptions) -> Result<GenerateSummary> {
    generate_export_with_progress(dir, opts, |_| {})
}

/// [`generate_export`], calling `on_customer` with the number of customers
/// written so far after each one (of `opts.customers`), so a caller can
/// draw progress: the generator itself never writes to the terminal.
pub fn generate_export_with_progress(
    dir: &Path,
    opts: &GenerateOptions,
    mut on_customer: impl FnMut(u64),
) -> Result<GenerateSummary> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        return Err(Error::input(
            &manifest_path,
            "this folder already holds a ServiceTracker export",
            "choose a new folder for `ferry generate`, or delete this export first",
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::input(
            dir,
            "exists and is not a folder",
            "choose a folder path for the export",
        ));
    }
    if opts.customers == 0 {
        return Err(Error::Usage("--customers must be at least 1".into()));
    }
    // Plan the dirt before touching the disk: a refusal leaves nothing behind.
    let plan = if opts.clean {
        dirt::DirtPlan::none()
    } else {
        let mut rng = records::rng_for(opts.seed, records::Stream::Plan, 0);
        dirt::DirtPlan::choose(&mut rng, opts.customers, technician_count(opts.customers))?
    };
    std::fs::create_dir_all(dir).at(dir)?;

    let mut generator = records::Generator::new(dir, opts.seed, opts.customers, plan)?;
    generator.write_globals()?;
    for index in 0..opts.customers {
        generator.write_customer(index)?;
        on_customer(index + 1);
    }
    let written = generator.finish()?;

    let dirt_file = DirtFile {
        seed: opts.seed,
        customers: opts.customers,
        clean: opts.clean,
        timezone: EXPORT_TIMEZONE_NAME.to_string(),
        dirt: written.dirt,
    };
    write_json(&dir.join(DirtFile::FILE_NAME), &dirt_file)?;

    let manifest = Manifest {
        source_system: SOURCE_SYSTEM.to_string(),
        exported_at: EXPORTED_AT.to_string(),
        timezone: EXPORT_TIMEZONE_NAME.to_string(),
        objects: model::objects()
            .iter()
            .map(|o| {
                let rows = written.rows.get(&o.name).copied().unwrap_or(0);
                (
                    o.name.to_string(),
                    ManifestObject {
                        file: format!("{}.csv", o.name),
                        rows,
                    },
                )
            })
            .collect(),
    };
    // Last, via a temporary name: a manifest means the export is complete.
    let temp = dir.join(".manifest.json.tmp");
    write_json(&temp, &manifest)?;
    std::fs::rename(&temp, &manifest_path).at(&manifest_path)?;

    Ok(GenerateSummary {
        rows: written.rows,
        attachment_bytes: written.attachment_bytes,
        dirt: dirt_file.dirt,
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    std::fs::write(path, text).at(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions() {
        assert_eq!(technician_count(10), 5);
        assert_eq!(technician_count(100_000), 4_000);
        assert_eq!(part_count(10), 50);
        assert_eq!(part_count(1_000), 200);
        assert_eq!(part_count(100_000), 5_000);
    }

    #[test]
    fn refusing_a_too_small_dirty_export_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("export");
        let opts = GenerateOptions {
            customers: 10,
            seed: 1,
            clean: false,
        };
        let err = generate_export(&dir, &opts).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!dir.exists());
    }

    #[test]
    fn a_clean_export_of_one_customer_works() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            customers: 1,
            seed: 1,
            clean: true,
        };
        let summary = generate_export(tmp.path(), &opts).unwrap();
        assert_eq!(summary.rows["customers"], 1);
        assert_eq!(summary.rows["technicians"], 5);
        assert!(summary.dirt.is_empty());
        assert!(tmp.path().join(MANIFEST_FILE).exists());
    }
}
