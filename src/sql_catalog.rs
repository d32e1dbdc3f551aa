//! Every SQL file ferry runs, found by one rule (SPEC §4): the workspace's
//! copy first, then the copy built into the binary.
//!
//! A folder the workspace has is the set that runs: a file deleted from it
//! stays deleted (an analyst who removes a check means it), and a name that
//! does not follow the folder's pattern is reported as stray, never run in
//! silence. A folder the workspace lacks (made by a ferry that predates it)
//! runs the built-in set. `verify/` is the one folder whose files are each
//! required by the Rust that runs them, so each missing file falls back to
//! its built-in copy on its own.
//!
//! The DDL of the schemas ferry owns (`sql/schema/<schema>.sql`) is a
//! contract with the Rust that reads and writes those tables, so it is
//! always the built-in copy ([`schema_sql`]); `ferry init` leaves it out of
//! the workspace. What ran, from where and with which checksum is recorded
//! in one ledger, `meta.sql_runs` ([`record_runs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use duckdb::{params, Connection};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::workspace::{Profile, Workspace};

/// The SQL folders that ship inside the binary (`sql/`); `ferry init` copies
/// them into the workspace's `sql/`.
pub static BUILTIN_SQL: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/sql");

/// The report definitions that ship inside the binary (`reports/<name>.sql`,
/// each rendered by `templates/<name>.html.j2`).
pub static BUILTIN_REPORTS: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/reports");

/// Where profile-specific SQL lives among the built-in files: it is laid
/// over the common files, so a workspace holds one flat `sql/transforms/`.
pub const PROFILES_DIR: &str = "profiles";

/// Where the schema DDL lives among the built-in files.
pub const SCHEMA_DIR: &str = "schema";

/// A folder of SQL files, each with its naming pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// `sql/transforms/V<NNN>__<name>.sql`, run in version order.
    Transforms,
    /// `sql/checks/<name>.sql`, run in name order.
    Checks,
    /// `sql/reconcile/<NNN>_<name>.sql`, run in name order.
    Reconcile,
    /// `sql/verify/<name>.sql`, each run where verify needs it.
    Verify,
    /// `reports/<name>.sql` (a workspace made before may keep them in
    /// `sql/reports/`).
    Reports,
    /// `sql/schema/<schema>.sql`: built in only.
    Schema,
}

impl Folder {
    /// The folder's name, as it appears under `sql/` (or at the top level
    /// for reports).
    pub fn name(self) -> &'static str {
        match self {
            Folder::Transforms => "transforms",
            Folder::Checks => "checks",
            Folder::Reconcile => "reconcile",
            Folder::Verify => "verify",
            Folder::Reports => "reports",
            Folder::Schema => SCHEMA_DIR,
        }
    }

    /// The naming pattern, for messages.
    pub fn pattern(self) -> &'static str {
        match self {
            Folder::Transforms => "V<NNN>__<name>.sql",
            Folder::Reconcile => "<NNN>_<name>.sql",
            _ => "<name>.sql",
        }
    }

    /// Where the folder is shown to people: `sql/checks`, `reports`.
    pub fn display_path(self) -> String {
        match self {
            Folder::Reports => "reports".to_string(),
            other => format!("sql/{}", other.name()),
        }
    }

    /// `file_name` → (order, name) when it follows the pattern.
    pub fn parse(self, file_name: &str) -> Option<(u32, String)> {
        match self {
            Folder::Transforms => parse_transform_name(file_name),
            Folder::Reconcile => {
                let stem = file_name.strip_suffix(".sql")?;
                let (digits, name) = stem.split_once('_')?;
                if digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || name.is_empty()
                {
                    return None;
                }
                Some((digits.parse().ok()?, name.to_string()))
            }
            _ => {
                let stem = file_name.strip_suffix(".sql")?;
                (!stem.is_empty() && !stem.starts_with('.')).then(|| (0, stem.to_string()))
            }
        }
    }

    /// The workspace folders that may hold this folder's files, newest
    /// layout first.
    fn workspace_dirs(self, ws: &Workspace) -> Vec<PathBuf> {
        match self {
            // Before reports moved to the top level, init wrote them to
            // sql/reports; such a workspace keeps working.
            Folder::Reports => vec![ws.reports_dir(), ws.sql_dir().join("reports")],
            Folder::Schema => Vec::new(),
            other => vec![ws.sql_dir().join(other.name())],
        }
    }

    /// Whether a workspace folder counts as this folder's copy. The
    /// top-level `reports/` also holds the rendered reports, so it counts
    /// only once it holds report definitions.
    fn workspace_has(self, dir: &Path) -> bool {
        match self {
            Folder::Reports => std::fs::read_dir(dir)
                .map(|entries| {
                    entries.flatten().any(|e| {
                        e.path().is_file() && e.file_name().to_string_lossy().ends_with(".sql")
                    })
                })
                .unwrap_or(false),
            _ => dir.is_dir(),
        }
    }

    /// Whether names that do not follow the pattern are reported: the
    /// workspace's `reports/` also holds the HTML and JSON ferry wrote.
    fn reports_strays(self) -> bool {
        self != Folder::Reports
    }
}

/// `V<digits>__<name>.sql` → (version, name).
pub fn parse_transform_name(file_name: &str) -> Option<(u32, String)> {
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

/// Where a file's text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The workspace's copy, which is what runs when there is one.
    Workspace(PathBuf),
    /// Shipped inside the binary.
    BuiltIn,
}

/// One SQL file, read and hashed.
#[derive(Debug, Clone)]
pub struct CatalogFile {
    pub folder: Folder,
    /// `V010__account.sql`, `010_records.sql`, `inventory.sql`.
    pub file_name: String,
    /// The pattern's name part: `account`, `records`, `inventory`.
    pub name: String,
    /// The version or number (0 for folders without one).
    pub order: u32,
    pub origin: Origin,
    pub text: String,
    /// Hex SHA-256 of the file's bytes, as the ledger records it.
    pub sha256: String,
}

impl CatalogFile {
    fn new(folder: Folder, file_name: &str, origin: Origin, bytes: &[u8]) -> Result<CatalogFile> {
        let (order, name) = folder
            .parse(file_name)
            .expect("only files that follow the pattern are read");
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| match &origin {
            Origin::Workspace(path) => {
                Error::input(path, "is not UTF-8 text", "save the file as UTF-8")
            }
            Origin::BuiltIn => Error::Usage(format!("built-in {file_name} is not UTF-8")),
        })?;
        Ok(CatalogFile {
            folder,
            file_name: file_name.to_string(),
            name,
            order,
            origin,
            text,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// The workspace file, None for a built-in one.
    pub fn path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::Workspace(path) => Some(path),
            Origin::BuiltIn => None,
        }
    }

    /// The path to name in messages: the workspace file, or
    /// `(built-in) sql/<folder>/<file>`.
    pub fn shown_path(&self) -> PathBuf {
        match &self.origin {
            Origin::Workspace(path) => path.clone(),
            Origin::BuiltIn => PathBuf::from(format!(
                "(built-in) {}/{}",
                self.folder.display_path(),
                self.file_name
            )),
        }
    }
}

/// The files of one folder in run order, and the names that were not run.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub files: Vec<CatalogFile>,
    /// Names that do not follow the folder's pattern.
    pub stray: Vec<String>,
    /// The workspace folder read; None when the built-in set runs.
    pub dir: Option<PathBuf>,
}

impl Listing {
    /// The file called `<name>` by the folder's pattern.
    pub fn get(&self, name: &str) -> Option<&CatalogFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Prints a warning on stderr for each stray name: it is not run.
    pub fn warn_strays(&self, folder: Folder) {
        for name in &self.stray {
            eprintln!(
                "warning: {}/{name} is not run: its name does not follow {}",
                folder.display_path(),
                folder.pattern()
            );
        }
    }
}

/// The SQL a workspace (or the binary alone) runs.
#[derive(Debug, Clone)]
pub struct SqlCatalog {
    workspace: Option<Workspace>,
    profile: Profile,
}

impl SqlCatalog {
    /// The workspace's copies first, then the built-in ones.
    pub fn for_workspace(ws: &Workspace) -> SqlCatalog {
        SqlCatalog {
            workspace: Some(ws.clone()),
            profile: ws.config.profile,
        }
    }

    /// The built-in files only (benchmarks, tests, a command without a
    /// workspace).
    pub fn builtin(profile: Profile) -> SqlCatalog {
        SqlCatalog {
            workspace: None,
            profile,
        }
    }

    /// The files of `folder` that run: the workspace folder when it has
    /// one, else the built-in set.
    pub fn folder(&self, folder: Folder) -> Result<Listing> {
        if let Some(ws) = &self.workspace {
            for dir in folder.workspace_dirs(ws) {
                if folder.workspace_has(&dir) {
                    return read_dir(folder, &dir);
                }
            }
        }
        Ok(builtin_folder(folder, self.profile))
    }

    /// The file `<name>` of `folder`, by the same rule; for `verify/` a file
    /// missing from the workspace's folder is the built-in one. None when
    /// the set that runs has no such file.
    pub fn file(&self, folder: Folder, name: &str) -> Result<Option<CatalogFile>> {
        let listing = self.folder(folder)?;
        if let Some(file) = listing.get(name) {
            return Ok(Some(file.clone()));
        }
        if folder == Folder::Verify && listing.dir.is_some() {
            return Ok(builtin_folder(folder, self.profile).get(name).cloned());
        }
        Ok(None)
    }
}

/// Reads one folder on disk: every file checked and hashed before anything
/// runs. A missing folder is an error here; [`SqlCatalog::folder`] decides
/// when the built-in set stands in.
pub fn read_dir(folder: Folder, dir: &Path) -> Result<Listing> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                dir,
                format!("the {} folder does not exist", folder.name()),
                format!(
                    "restore {} (a new workspace from `ferry init` has the built-in {})",
                    folder.display_path(),
                    folder.name()
                ),
            )
        } else {
            Error::Io {
                path: dir.to_path_buf(),
                source: e,
            }
        }
    })?;
    let mut files: Vec<CatalogFile> = Vec::new();
    let mut stray = Vec::new();
    for entry in entries {
        let entry = entry.at(dir)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        if folder.parse(&file_name).is_none() {
            if folder.reports_strays() {
                stray.push(file_name);
            }
            continue;
        }
        let path = entry.path();
        let bytes = std::fs::read(&path).at(&path)?;
        files.push(CatalogFile::new(
            folder,
            &file_name,
            Origin::Workspace(path),
            &bytes,
        )?);
    }
    stray.sort();
    let files = in_run_order(folder, files)?;
    Ok(Listing {
        files,
        stray,
        dir: Some(dir.to_path_buf()),
    })
}

/// The built-in files of `folder`, with the profile's own files laid over
/// the common ones.
pub fn builtin_folder(folder: Folder, profile: Profile) -> Listing {
    let mut by_name: BTreeMap<String, &include_dir::File<'static>> = BTreeMap::new();
    let mut add = |dir: Option<&'static include_dir::Dir<'static>>| {
        for file in dir.into_iter().flat_map(|d| d.files()) {
            let name = file
                .path()
                .file_name()
                .expect("embedded files have names")
                .to_string_lossy()
                .into_owned();
            if folder.parse(&name).is_some() {
                by_name.insert(name, file);
            }
        }
    };
    match folder {
        Folder::Reports => add(Some(&BUILTIN_REPORTS)),
        other => {
            add(BUILTIN_SQL.get_dir(other.name()));
            add(BUILTIN_SQL.get_dir(format!("{PROFILES_DIR}/{profile}/{}", other.name())));
        }
    }
    let files = by_name
        .into_iter()
        .map(|(name, file)| {
            CatalogFile::new(folder, &name, Origin::BuiltIn, file.contents())
                .expect("built-in SQL is UTF-8")
        })
        .collect();
    Listing {
        files: in_run_order(folder, files).expect("built-in versions are unique"),
        stray: Vec::new(),
        dir: None,
    }
}

/// Sorts by version (transforms) or name; two transforms with one version
/// are an error, because their order would be a coin toss.
fn in_run_order(folder: Folder, mut files: Vec<CatalogFile>) -> Result<Vec<CatalogFile>> {
    files.sort_by(|a, b| (a.order, &a.file_name).cmp(&(b.order, &b.file_name)));
    if folder == Folder::Transforms {
        for pair in files.windows(2) {
            if pair[0].order == pair[1].order {
                return Err(Error::input(
                    pair[1].shown_path(),
                    format!(
                        "version {} is also used by {}",
                        pair[1].order, pair[0].file_name
                    ),
                    "give each file its own version number; files run in version order",
                ));
            }
        }
    }
    Ok(files)
}

/// Names of the built-in reports (`reports/<name>.sql`), sorted.
pub fn builtin_report_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BUILTIN_REPORTS
        .files()
        .filter_map(|file| file.path().file_name()?.to_str()?.strip_suffix(".sql"))
        .collect();
    names.sort_unstable();
    names
}

/// One section of a schema's built-in DDL: the text after the line
/// `-- section: <section>` of `sql/schema/<schema>.sql`, up to the next
/// section. Sections let one file per schema hold DDL that runs at
/// different moments (the extract ledger at stage, the inventory after it).
pub fn schema_sql(schema: &str, section: &str) -> &'static str {
    let path = format!("{SCHEMA_DIR}/{schema}.sql");
    let text = BUILTIN_SQL
        .get_file(&path)
        .and_then(|f| f.contents_utf8())
        .unwrap_or_else(|| panic!("built-in sql/{path} is missing"));
    section_of(text, section).unwrap_or_else(|| panic!("sql/{path} has no section `{section}`"))
}

const SECTION_MARK: &str = "-- section:";

fn section_of<'a>(text: &'a str, section: &str) -> Option<&'a str> {
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.trim_end().strip_prefix(SECTION_MARK) {
            if let Some(start) = start {
                return Some(&text[start..offset]);
            }
            if name.trim() == section {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map(|start| &text[start..])
}

/// One file as the ledger records it.
#[derive(Debug, Clone, Copy)]
pub struct RanFile<'a> {
    pub folder: Folder,
    pub file_name: &'a str,
    /// The workspace file; None for a built-in one.
    pub path: Option<&'a Path>,
    pub sha256: &'a str,
}

impl<'a> From<&'a CatalogFile> for RanFile<'a> {
    fn from(file: &'a CatalogFile) -> RanFile<'a> {
        RanFile {
            folder: file.folder,
            file_name: &file.file_name,
            path: file.path(),
            sha256: &file.sha256,
        }
    }
}

/// The one ledger of SQL that ran (`meta.sql_runs`): which file, from
/// where, its checksum.
pub fn record_runs<'a, F>(
    conn: &Connection,
    command: &str,
    files: impl IntoIterator<Item = F>,
) -> Result<()>
where
    F: Into<RanFile<'a>>,
{
    conn.execute_batch(schema_sql("meta", "sql_runs"))?;
    let mut stmt = conn.prepare("INSERT INTO meta.sql_runs VALUES (?, now(), ?, ?, ?, ?, ?)")?;
    for file in files {
        let file: RanFile<'a> = file.into();
        let origin = if file.path.is_some() {
            "workspace"
        } else {
            "built-in"
        };
        stmt.execute(params![
            command,
            file.folder.name(),
            file.file_name,
            origin,
            file.path.map(|p| p.display().to_string()),
            file.sha256
        ])?;
    }
    Ok(())
}

/// Copies the built-in SQL a workspace runs into it: `sql/` (common files,
/// then the profile's) and the report definitions into `reports/`. The
/// schema DDL stays in the binary. Files already there are kept.
pub fn copy_into_workspace(profile: Profile, root: &Path) -> Result<()> {
    let sql = root.join("sql");
    copy_dir(&BUILTIN_SQL, &sql)?;
    if let Some(dir) = BUILTIN_SQL.get_dir(format!("{PROFILES_DIR}/{profile}")) {
        copy_dir(dir, &sql)?;
    }
    copy_dir(&BUILTIN_REPORTS, &root.join("reports"))
}

fn copy_dir(dir: &include_dir::Dir<'_>, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).at(to)?;
    for file in dir.files() {
        let name = file.path().file_name().expect("embedded files have names");
        let path = to.join(name);
        if !path.exists() {
            std::fs::write(&path, file.contents()).at(&path)?;
        }
    }
    for sub in dir.dirs() {
        if sub.path() == Path::new(PROFILES_DIR) || sub.path() == Path::new(SCHEMA_DIR) {
            continue;
        }
        let name = sub.path().file_name().expect("embedded folders have names");
        copy_dir(sub, &to.join(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_folder_has_its_pattern() {
        assert_eq!(
            Folder::Transforms.parse("V010__account.sql"),
            Some((10, "account".into()))
        );
        assert_eq!(Folder::Transforms.parse("V7_typo.sql"), None);
        assert_eq!(
            Folder::Reconcile.parse("010_records.sql"),
            Some((10, "records".into()))
        );
        assert_eq!(Folder::Reconcile.parse("records.sql"), None);
        assert_eq!(
            Folder::Checks.parse("max_length.sql"),
            Some((0, "max_length".into()))
        );
        assert_eq!(Folder::Checks.parse("README.md"), None);
        assert_eq!(Folder::Reports.parse("inventory.html"), None);
    }

    #[test]
    fn a_workspace_folder_wins_and_a_missing_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let checks = dir.path().join("checks");
        std::fs::create_dir(&checks).unwrap();
        std::fs::write(checks.join("mine.sql"), "select 1").unwrap();
        std::fs::write(checks.join("notes.txt"), "").unwrap();
        let listing = read_dir(Folder::Checks, &checks).unwrap();
        assert_eq!(listing.files.len(), 1);
        assert_eq!(listing.files[0].name, "mine");
        assert_eq!(listing.stray, vec!["notes.txt".to_string()]);
        assert!(read_dir(Folder::Checks, &dir.path().join("nope"))
            .unwrap_err()
            .to_string()
            .contains("the checks folder does not exist"));
        let builtin = builtin_folder(Folder::Checks, Profile::Sales);
        assert!(builtin.get("conservation").is_some());
        assert!(builtin.files.iter().all(|f| f.origin == Origin::BuiltIn));
    }

    #[test]
    fn profiles_lay_their_transforms_over_the_common_ones() {
        let sales = builtin_folder(Folder::Transforms, Profile::Sales);
        let versions: Vec<u32> = sales.files.iter().map(|f| f.order).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert!(sales.get("functions").is_some());
    }

    #[test]
    fn every_schema_section_the_code_names_exists() {
        for (schema, section) in [
            ("meta", "extracts"),
            ("meta", "inventory"),
            ("meta", "transform_ledger"),
            ("meta", "sql_runs"),
            ("audit", "tables"),
            ("audit", "sample"),
            ("dv", "users"),
            ("dv", "read_backs"),
            ("verify", "tables"),
            ("audit", "target runs"),
            ("reconcile", "schema"),
            ("reconcile", "target"),
            ("reconcile", "option_mappings"),
            ("demo", "findings_before_fixes"),
            ("demo", "planted"),
            ("check", "schema"),
            ("check", "findings"),
            ("check", "waivers"),
            ("map", "settings"),
            ("map", "target_columns"),
            ("map", "target_options"),
            ("map", "optionset"),
            ("map", "users"),
        ] {
            let sql = schema_sql(schema, section);
            assert!(sql.contains("CREATE"), "{schema}.{section}");
            assert!(!sql.contains(SECTION_MARK), "{schema}.{section}");
            let conn = crate::duck::open_in_memory().unwrap();
            conn.execute_batch("CREATE SCHEMA IF NOT EXISTS map; CREATE SCHEMA IF NOT EXISTS meta; CREATE SCHEMA IF NOT EXISTS \"check\"; CREATE SCHEMA IF NOT EXISTS demo; CREATE SCHEMA IF NOT EXISTS reconcile; CREATE SCHEMA IF NOT EXISTS dv;")
                .unwrap();
            if (schema, section) == ("reconcile", "option_mappings") {
                conn.execute_batch(schema_sql("map", "optionset")).unwrap();
            }
            if (schema, section) == ("audit", "target runs")
                || (schema, section) == ("reconcile", "target")
            {
                conn.execute_batch(schema_sql("audit", "tables")).unwrap();
                conn.execute_batch("SET VARIABLE ferry_target = 'default'")
                    .unwrap();
            }
            if (schema, section) == ("reconcile", "target") {
                conn.execute_batch(schema_sql("audit", "target runs"))
                    .unwrap();
            }
            if (schema, section) == ("demo", "findings_before_fixes") {
                conn.execute_batch(schema_sql("check", "findings")).unwrap();
            }
            conn.execute_batch(sql)
                .unwrap_or_else(|e| panic!("{schema}.{section}: {e}"));
        }
    }

    #[test]
    fn sections_end_at_the_next_one() {
        let text = "-- header\n-- section: a\nA1;\n-- section: b\nB1;\n";
        assert_eq!(section_of(text, "a"), Some("A1;\n"));
        assert_eq!(section_of(text, "b"), Some("B1;\n"));
        assert_eq!(section_of(text, "c"), None);
    }

    #[test]
    fn the_ledger_records_file_origin_and_checksum() {
        let conn = crate::duck::open_in_memory().unwrap();
        let listing = builtin_folder(Folder::Reconcile, Profile::Sales);
        record_runs(&conn, "reconcile", &listing.files).unwrap();
        let (n, built_in): (i64, i64) = conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE origin = 'built-in' AND length(sha256) = 64) FROM meta.sql_runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(n as usize, listing.files.len());
        assert_eq!(n, built_in);
    }
}
