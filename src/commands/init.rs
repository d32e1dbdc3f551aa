//! `ferry init DIR`: a new workspace with a documented `ferry.toml`, the
//! folders of SPEC §2 and the built-in SQL copied in for analysts to read and
//! edit.

use std::path::{Path, PathBuf};

use crate::cli::ProfileArg;
use crate::error::{Error, IoContext, Result};
use crate::workspace::{config_template, Profile, SourceSetting, CONFIG_FILE};
use crate::Outcome;

/// The SQL that ships inside the binary; `init` copies it into the workspace,
/// and the workspace copy is what runs (SPEC §4).
pub static BUILTIN_SQL: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/sql");

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
    if json {
        println!(
            "{}",
            serde_json::json!({ "workspace": dir.display().to_string(), "profile": profile.to_string() })
        );
    } else {
        println!("created workspace {} (profile {profile})", dir.display());
        println!(
            "next: edit {} and run `ferry extract`",
            dir.join(CONFIG_FILE).display()
        );
    }
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
    copy_builtin_sql(profile, &dir.join("sql"))?;
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

/// Where profile-specific SQL lives among the built-in files: it is laid
/// over the common files, so a workspace holds one flat `sql/transforms/`.
const PROFILES_DIR: &str = "profiles";

/// Copies the common built-in SQL and then the profile's own files.
pub fn copy_builtin_sql(profile: Profile, to: &Path) -> Result<()> {
    copy_builtin(&BUILTIN_SQL, to)?;
    let overlay = format!("{PROFILES_DIR}/{profile}");
    if let Some(dir) = BUILTIN_SQL.get_dir(&overlay) {
        copy_builtin(dir, to)?;
    }
    Ok(())
}

fn copy_builtin(dir: &include_dir::Dir<'_>, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).at(to)?;
    for file in dir.files() {
        let name = file.path().file_name().expect("embedded files have names");
        let path = to.join(name);
        if !path.exists() {
            std::fs::write(&path, file.contents()).at(&path)?;
        }
    }
    for sub in dir.dirs() {
        if sub.path() == Path::new(PROFILES_DIR) {
            continue;
        }
        let name = sub.path().file_name().expect("embedded folders have names");
        copy_builtin(sub, &to.join(name))?;
    }
    Ok(())
}
