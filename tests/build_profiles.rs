//! The DuckDB inside ferry must be DuckDB's release build in every profile.
//!
//! libduckdb-sys's build script compiles DuckDB with `-DDEBUG` (assertions
//! and debug-only verification: `ferry validate` ran 50× slower, the binary
//! weighed 1.8 GB) whenever cargo's `DEBUG` variable is anything but
//! `false`/`0`, and cargo derives `DEBUG` from the profile's `debug` setting
//! for that package. A profile-wide `debug = "line-tables-only"` for
//! ferry's own backtraces is enough to reach it. Two guards:
//!
//! - `Cargo.toml` is read the way cargo merges profiles (built-in defaults,
//!   `inherits`, `package."*"` and per-package overrides) and every profile
//!   a user, CI or a benchmark builds must give libduckdb-sys no debug info;
//! - every `libduckdb.a` this target directory holds as the newest DuckDB of
//!   its profile must have been compiled without `DEBUG`: a symbol that only
//!   DuckDB's debug build defines must be absent from it.

use std::path::{Path, PathBuf};

use toml::Value;

const PACKAGE: &str = "libduckdb-sys";

/// The profiles cargo itself defines, with what each inherits.
const BUILT_IN: &[(&str, Option<&str>)] = &[
    ("dev", None),
    ("release", None),
    ("test", Some("dev")),
    ("bench", Some("release")),
];

fn manifest() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("read Cargo.toml");
    text.parse::<toml::Table>()
        .map(Value::Table)
        .expect("Cargo.toml parses")
}

/// `debug = …` as cargo reads it: on unless false, 0 or "none".
fn debug_is_on(value: &Value) -> bool {
    match value {
        Value::Boolean(on) => *on,
        Value::Integer(level) => *level != 0,
        Value::String(level) => level != "none",
        other => panic!("Cargo.toml: `debug = {other}` is not a value cargo accepts"),
    }
}

/// The chain of profiles cargo merges for `name`, the profile itself first.
fn inheritance_chain<'a>(profiles: &'a toml::Table, name: &'a str) -> Vec<&'a str> {
    let mut chain = vec![name];
    let mut current = name;
    loop {
        let declared = profiles
            .get(current)
            .and_then(|p| p.get("inherits"))
            .and_then(Value::as_str);
        let built_in = BUILT_IN
            .iter()
            .find(|(n, _)| *n == current)
            .and_then(|(_, parent)| *parent);
        match declared.or(built_in) {
            Some(parent) if !chain.contains(&parent) => {
                chain.push(parent);
                current = parent;
            }
            Some(parent) => panic!("profile `{name}` inherits in a circle through `{parent}`"),
            None => return chain,
        }
    }
}

/// The `debug` setting libduckdb-sys gets under `profile`, and where it
/// comes from. Cargo merges the chain (child over parent, package tables
/// included), then lets a per-package override beat `package."*"`, which
/// beats the profile-wide value, which beats the built-in default.
fn duckdb_debug(manifest: &Value, profile: &str) -> (bool, String) {
    let empty = toml::Table::new();
    let profiles = manifest
        .get("profile")
        .and_then(Value::as_table)
        .unwrap_or(&empty);
    let chain = inheritance_chain(profiles, profile);
    // Where a profile can set libduckdb-sys's debug, most specific first.
    type Lookup<'a> = &'a dyn Fn(&Value) -> Option<&Value>;
    let lookups: [(Lookup, &str); 3] = [
        (
            &|p: &Value| p.get("package")?.get(PACKAGE)?.get("debug"),
            "package.libduckdb-sys",
        ),
        (
            &|p: &Value| p.get("package")?.get("*")?.get("debug"),
            "package.\"*\"",
        ),
        (&|p: &Value| p.get("debug"), "profile-wide"),
    ];
    for (lookup, what) in lookups {
        for name in &chain {
            if let Some(value) = profiles.get(*name).and_then(lookup) {
                return (
                    debug_is_on(value),
                    format!("[profile.{name}] {what} debug = {value}"),
                );
            }
        }
    }
    let root = chain.last().expect("chain has the profile itself");
    match *root {
        "dev" => (true, "cargo's default for dev (debug = true)".into()),
        "release" => (false, "cargo's default for release (debug = false)".into()),
        other => panic!("profile `{profile}` inherits from `{other}`, which cargo does not define"),
    }
}

#[test]
fn every_profile_builds_duckdb_without_debug_info() {
    let manifest = manifest();
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(profiles) = manifest.get("profile").and_then(Value::as_table) {
        for name in profiles.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let offenders: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let (on, source) = duckdb_debug(&manifest, name);
            on.then(|| format!("profile `{name}`: {source}"))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "these profiles would build DuckDB as a debug build (-DDEBUG, full C++ debug info):\n  {}\n\
         add `[profile.<name>.package.libduckdb-sys] debug = false` to Cargo.toml",
        offenders.join("\n  ")
    );
}

#[test]
fn the_guard_sees_what_cargo_would_do() {
    let parse = |text: &str| Value::Table(text.parse::<toml::Table>().unwrap());
    // The setting that caused it: a profile-wide debug level for backtraces.
    let m = parse("[profile.release]\ndebug = \"line-tables-only\"\n");
    assert!(duckdb_debug(&m, "release").0);
    assert!(duckdb_debug(&m, "bench").0, "bench inherits release");
    // cargo's own defaults.
    let m = parse("");
    assert!(duckdb_debug(&m, "dev").0);
    assert!(duckdb_debug(&m, "test").0);
    assert!(!duckdb_debug(&m, "release").0);
    // A per-package override beats the profile and is inherited.
    let m = parse(
        "[profile.release]\ndebug = 1\n[profile.release.package.libduckdb-sys]\ndebug = false\n\
         [profile.bench]\ndebug = 2\n",
    );
    assert!(!duckdb_debug(&m, "release").0);
    assert!(!duckdb_debug(&m, "bench").0);
    // `package."*"` reaches every dependency, and a custom profile inherits.
    let m = parse(
        "[profile.dev.package.\"*\"]\ndebug = false\n[profile.profiling]\ninherits = \"release\"\ndebug = true\n",
    );
    assert!(!duckdb_debug(&m, "dev").0);
    assert!(!duckdb_debug(&m, "test").0);
    assert!(duckdb_debug(&m, "profiling").0);
    let m = parse("[profile.dev.package.libduckdb-sys]\ndebug = \"none\"\n");
    assert!(!duckdb_debug(&m, "test").0);
}

/// Only DuckDB's debug build defines this (src/main/config.cpp, under
/// `#ifdef DEBUG`); nothing else in DuckDB 2.0 spells it.
const DEBUG_ONLY_SYMBOL: &[u8] = b"debug_print_bindings";

/// `<target>/<profile>/build/libduckdb-sys-*/out/libduckdb.a`, the newest
/// within each profile directory (older ones are stale builds).
fn built_duckdb_libraries(target: &Path) -> Vec<PathBuf> {
    let mut newest = Vec::new();
    let Ok(profiles) = std::fs::read_dir(target) else {
        return newest;
    };
    for profile in profiles.flatten() {
        let Ok(builds) = std::fs::read_dir(profile.path().join("build")) else {
            continue;
        };
        let latest = builds
            .flatten()
            .filter(|b| {
                b.file_name()
                    .to_string_lossy()
                    .starts_with("libduckdb-sys-")
            })
            .map(|b| b.path().join("out").join("libduckdb.a"))
            .filter_map(|lib| Some((std::fs::metadata(&lib).ok()?.modified().ok()?, lib)))
            .max();
        if let Some((_, lib)) = latest {
            newest.push(lib);
        }
    }
    newest
}

/// The symbol index of a GNU `ar` archive: its first member, named `/`
/// (or `/SYM64/`), lists every global symbol the archive defines. Reading
/// it alone spares reading the archive's hundreds of megabytes.
fn archive_symbol_index(library: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut file = std::fs::File::open(library).expect("open libduckdb.a");
    let mut head = [0u8; 8 + 60];
    file.read_exact(&mut head).expect("read the archive header");
    assert_eq!(
        &head[..8],
        b"!<arch>\n",
        "{} is not an ar archive",
        library.display()
    );
    let member = &head[8..];
    let name = String::from_utf8_lossy(&member[..16]);
    assert!(
        name.trim_end() == "/" || name.trim_end() == "/SYM64/",
        "{}: the first member is `{}`, not a symbol index",
        library.display(),
        name.trim_end()
    );
    let size: u64 = String::from_utf8_lossy(&member[48..58])
        .trim()
        .parse()
        .expect("the symbol index's size");
    let mut index = Vec::new();
    file.take(size)
        .read_to_end(&mut index)
        .expect("read the symbol index");
    index
}

#[test]
fn the_duckdb_in_this_target_directory_is_a_release_build() {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp` for integration tests.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let libraries = built_duckdb_libraries(&target);
    assert!(
        !libraries.is_empty(),
        "no libduckdb.a under {}/*/build/libduckdb-sys-*/out, though cargo built one for ferry's library before this test: has cargo's build layout changed?",
        target.display()
    );
    for library in libraries {
        let index = archive_symbol_index(&library);
        assert!(
            index.len() > 100_000,
            "{}: a symbol index of {} bytes is not DuckDB's",
            library.display(),
            index.len()
        );
        let debug_build = index
            .windows(DEBUG_ONLY_SYMBOL.len())
            .any(|w| w == DEBUG_ONLY_SYMBOL);
        assert!(
            !debug_build,
            "{} is DuckDB's debug build (it defines {}): the profile that built it gave libduckdb-sys debug info; see the profiles in Cargo.toml",
            library.display(),
            String::from_utf8_lossy(DEBUG_ONLY_SYMBOL)
        );
        eprintln!("DuckDB release build: {}", library.display());
    }
}
