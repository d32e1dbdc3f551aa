//! `ferry init DIR`: a new workspace with a documented `ferry.toml`, the
//! folders of SPEC §2 and the built-in SQL (from the [`crate::sql_catalog`])
//! copied in for analysts to read and edit.

use std::path::{Path, PathBuf};

use crate::cli::ProfileArg;
use crate::error::{Error, IoContext, Result};
use crate::workspace::{config_template, Profile, SourceSetting, CONFIG_FILE};
use crate::Outcome;

pub fn run(
    dir: &Path,
    profile: ProfileArg,
    source: Option<&str>,
    target: Option<&str>,
    json: bool,
) -> Result<Outcome> {
    let profile = match profile {
        ProfileArg::Sales => Profile::Sales,
        ProfileArg::FieldService => Profile::FieldService,
    };
    let source = parse_source(source)?;
    create_workspace(dir, profile, &source, target)?;
    super::output::emit_line(
        json,
        &serde_json::json!({ "workspace": dir.display().to_string(), "profile": profile.to_string() }),
        |_| {
            println!("created workspace {} (profile {profile})", dir.display());
            println!(
                "next: edit {} and run `ferry extract`",
                dir.join(CONFIG_FILE).display()
            );
        },
    );
    Ok(Outcome::Ok)
}

/// `csv:EXPORT_DIR` or `api:URL`.
pub fn parse_source(source: Option<&str>) -> Result<SourceSetting> {
    let Some(source) = source else {
        return Ok(SourceSetting::Unset);
    };
    match source.split_once(':') {
        Some(("csv", path)) if !path.is_empty() => Ok(SourceSetting::Csv(PathBuf::from(path))),
        Some(("api", url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(SourceSetting::Api(url.to_string()))
        }
        _ => Err(Error::Usage(format!(
            "--source `{source}` is not understood: use csv:EXPORT_DIR or api:http(s)://HOST"
        ))),
    }
}

/// Creates the workspace; `ferry.toml` is written last, so a failed init
/// never leaves something that looks like a workspace.
pub fn create_workspace(
    dir: &Path,
    profile: Profile,
    source: &SourceSetting,
    target: Option<&str>,
) -> Result<()> {
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() {
        return Err(Error::input(
            &config_path,
            "a workspace already exists here",
            "choose another folder, or delete ferry.toml if you really mean to start over",
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::input(
            dir,
            "exists and is not a folder",
            "choose a folder path for the workspace",
        ));
    }
    for sub in ["landing", "reports", "mapping"] {
        std::fs::create_dir_all(dir.join(sub)).at(dir.join(sub))?;
    }
    crate::sql_catalog::copy_into_workspace(profile, dir)?;
    crate::transform::mapping_files::write_defaults(&dir.join("mapping"))?;
    let tmp = dir.join(".ferry.toml.tmp");
    let namespace = uuid::Uuid::new_v4();
    std::fs::write(&tmp, config_template(profile, source, target, namespace)).at(&tmp)?;
    // hard_link fails if ferry.toml appeared meanwhile: never overwrite one.
    std::fs::hard_link(&tmp, &config_path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::input(
                &config_path,
                "a workspace already exists here",
                "choose another folder",
            )
        } else {
            Error::Io {
                path: config_path.clone(),
                source: e,
            }
        }
    })?;
    std::fs::remove_file(&tmp).at(&tmp)
}
