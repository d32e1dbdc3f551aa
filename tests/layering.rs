//! Imports flow one way (ARCHITECTURE.md): each of ferry's top-level modules
//! may import its own layer and the layers below it, never one above it,
//! and nothing below `commands` imports `commands` or `cli`.
//!
//! The check reads every `src/**/*.rs` as text: comments and string literals
//! are blanked, then every path that leaves its own top-level module is an
//! import of another one — `use crate::x…` (grouped or not), `crate::x::…`
//! anywhere in code, and `super::…` that climbs to the crate root. Each file
//! belongs to the top-level module its path starts with; a module's unit
//! tests are part of it. The crate root (`lib.rs`) and the binary
//! (`main.rs`) sit above everything and are not checked. Paths into the
//! workspace's member crates (the emulators, the generator) count too: only
//! `commands` and `cli` may name them.
//!
//! Reading text rather than compiling keeps the test fast and free of
//! dependencies; the unit tests at the bottom prove it catches what it must.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// ferry's top-level modules, lowest layer first. Modules on one line form
/// one layer and may import each other. `mapping` sits below `plan`: the
/// plan may use the signed-off mapping, the mapping never needs the plan.
/// A submodule belongs to its top-level module's layer (`commands::output`
/// is top, `landing::finish` is landing, `dataverse::org_metadata` is
/// dataverse).
const LAYERS: &[&[&str]] = &[
    &["error"],
    // Shared plumbing that knows no pipeline step: record ids, DuckDB
    // connections, progress bars, the template environment, what both HTTP
    // clients share (secrets, retry rules), the one tokio runtime, and
    // writing a file through a temporary sibling.
    &[
        "identity",
        "duck",
        "progress",
        "templates",
        "http",
        "runtime",
        "atomic_write",
    ],
    // The workspace reads its API key through `http`'s secret rule.
    &["workspace"],
    // One catalogue of every SQL file: the workspace's copy first, then the
    // built-in one; it needs the workspace's folders and profile.
    &["sql_catalog"],
    // ferry's Dataverse client and its table model: below the pipeline,
    // because transform already needs the target's table names.
    &["dataverse"],
    &["source"],
    &["landing"],
    &["stage"],
    &["transform"],
    &["validate"],
    &["mapping"],
    &["plan"],
    &["push"],
    &["verify"],
    &["reconcile"],
    &["report"],
    &["commands", "cli"],
];

/// The workspace's member crates (as Rust names them): the emulators and the
/// generator. They sit outside the layering: only [`MAY_IMPORT_OUTSIDE`] may
/// name them (to run `serve`, `generate` and `demo`), so nothing in the
/// product depends on its own stand-ins.
const OUTSIDE_CRATES: &[&str] = &[
    "dataverse_emulator",
    "servicetracker_emulator",
    "servicetracker_generator",
];
const MAY_IMPORT_OUTSIDE: &[&str] = &["commands", "cli"];

/// Items defined (or re-exported) by `lib.rs`, with the module they belong
/// to. Any other `crate::name` that is not a module is the crate root
/// itself, which sits on top.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("Outcome", "error"),
];

/// Upward imports that are known and on their way out: (file, imported path).
/// A listed import that no longer occurs fails the test, so the list only
/// shrinks. Each one says why it is still here.
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[];

#[test]
fn every_import_flows_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_sources(&src);
    assert!(
        files.len() > 50,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let report = check(&files);

    let unplaced: Vec<String> = report
        .unplaced
        .iter()
        .map(|m| format!("top-level module `{m}` is in no layer: add it to LAYERS here and to ARCHITECTURE.md"))
        .collect();
    let mut seen_exceptions = BTreeSet::new();
    let mut violations = Vec::new();
    for v in &report.violations {
        match KNOWN_EXCEPTIONS
            .iter()
            .position(|(file, path)| *file == v.file && *path == v.path)
        {
            Some(i) => {
                seen_exceptions.insert(i);
            }
            None => violations.push(v.to_string()),
        }
    }
    let stale: Vec<String> = KNOWN_EXCEPTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| !seen_exceptions.contains(i))
        .map(|(_, (file, path))| {
            format!("{file} no longer imports {path}: remove it from KNOWN_EXCEPTIONS")
        })
        .collect();
    let problems: Vec<String> = unplaced
        .into_iter()
        .chain(violations)
        .chain(stale)
        .collect();
    assert!(
        problems.is_empty(),
        "{} layering problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every `.rs` file under `src`, as (path relative to the package, text).
fn read_sources(src: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(src, &mut paths);
    paths.sort();
    let package = src.parent().unwrap();
    paths
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(package).unwrap();
            let rel = rel.to_str().unwrap().replace('\\', "/");
            (rel, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// One import that breaks the layering.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
    path: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: `{}` ({}) imports `{}` ({}) through {}",
            self.file,
            self.line,
            self.from,
            describe(&self.from),
            self.to,
            describe(&self.to),
            self.path
        )
    }
}

fn describe(module: &str) -> String {
    match layer_of(module) {
        Some(layer) => format!("layer {} of {}", layer + 1, LAYERS.len()),
        None if OUTSIDE_CRATES.contains(&module) => {
            "a member crate outside the layering".to_string()
        }
        None if module == ROOT => "the crate root, above every layer".to_string(),
        None => "in no layer".to_string(),
    }
}

const ROOT: &str = "crate root";

#[derive(Debug, Default)]
struct Report {
    violations: Vec<Violation>,
    unplaced: BTreeSet<String>,
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Checks files given as (path like `src/a/b.rs`, text).
fn check(files: &[(String, String)]) -> Report {
    let mut report = Report::default();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(path, _)| module_path(path).first().cloned())
        .collect();
    for module in &modules {
        if layer_of(module).is_none() {
            report.unplaced.insert(module.clone());
        }
    }
    for (file, text) in files {
        let path = module_path(file);
        let Some(from) = path.first() else { continue };
        for import in imports(&path, text) {
            let to = resolve(&import.first, &modules);
            if &to == from {
                continue;
            }
            let allowed = if to == ROOT {
                false
            } else if OUTSIDE_CRATES.contains(&to.as_str()) {
                MAY_IMPORT_OUTSIDE.contains(&from.as_str())
            } else {
                match (layer_of(from), layer_of(&to)) {
                    (Some(a), Some(b)) => b <= a,
                    // An unplaced module is already reported.
                    _ => true,
                }
            };
            if !allowed {
                report.violations.push(Violation {
                    file: file.clone(),
                    line: import.line,
                    from: from.clone(),
                    to,
                    path: import.path,
                });
            }
        }
    }
    report
}

/// The top-level module a `crate::<first>` path lands in (or the member
/// crate a path starting with its name names).
fn resolve(first: &str, modules: &BTreeSet<String>) -> String {
    if modules.contains(first) || OUTSIDE_CRATES.contains(&first) {
        return first.to_string();
    }
    ROOT_ITEMS
        .iter()
        .find(|(item, _)| *item == first)
        .map(|(_, module)| module.to_string())
        .unwrap_or_else(|| ROOT.to_string())
}

/// `src/a/b.rs` → `[a, b]`, `src/a/mod.rs` → `[a]`; the crate roots
/// (`src/lib.rs`, `src/main.rs`) → `[]`.
fn module_path(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    if rel == "lib" || rel == "main" {
        return Vec::new();
    }
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// A path that reaches the crate root: its first segment below the root and
/// the path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    line: usize,
    first: String,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other(char),
}

/// Every path in `text` that reaches the crate root, for a file whose module
/// path is `module` (inline `mod name { … }` blocks deepen it), and every
/// path into one of the [`OUTSIDE_CRATES`].
fn imports(module: &[String], text: &str) -> Vec<Import> {
    let toks = tokenize(&blank_comments_and_strings(text));
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
            }
            Tok::Ident(word)
                if OUTSIDE_CRATES.contains(&word.as_str()) && starts_path(&toks, i) =>
            {
                if let Some((first, path)) = chain(&toks, i) {
                    found.push(Import {
                        line: toks[i].1,
                        first,
                        path,
                    });
                }
            }
            Tok::Ident(word) if (word == "crate" || word == "super") && starts_path(&toks, i) => {
                let line = toks[i].1;
                let mut j = i;
                let mut written = String::new();
                if word == "crate" {
                    j += 2;
                    written.push_str("crate::");
                } else {
                    let mut climbs = 0;
                    while matches!(&toks.get(j), Some((Tok::Ident(w), _)) if w == "super")
                        && toks.get(j + 1).is_some_and(|t| t.0 == Tok::PathSep)
                    {
                        climbs += 1;
                        j += 2;
                        written.push_str("super::");
                    }
                    let here = module.len() + inline.len();
                    if climbs != here {
                        // Stays inside the file's own top-level module (or
                        // is not valid Rust at all).
                        i = j;
                        continue;
                    }
                }
                for (first, rest) in targets(&toks, j) {
                    found.push(Import {
                        line,
                        first,
                        path: format!("{written}{rest}"),
                    });
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Whether `crate`/`super` at `i` begins a path (`crate::x`, not
/// `pub(crate)`, not `$crate::`, not the middle of `a::super::b`).
fn starts_path(toks: &[(Tok, usize)], i: usize) -> bool {
    let next_is_sep = toks.get(i + 1).is_some_and(|t| t.0 == Tok::PathSep);
    let prev = i.checked_sub(1).map(|p| &toks[p].0);
    next_is_sep && !matches!(prev, Some(Tok::PathSep) | Some(Tok::Other('$')))
}

/// What the path continuing at `j` names below the root: one chain
/// `a::b::c`, or each member of a group `{a::b, c}`.
fn targets(toks: &[(Tok, usize)], j: usize) -> Vec<(String, String)> {
    match toks.get(j).map(|t| &t.0) {
        Some(Tok::Ident(_)) => chain(toks, j).into_iter().collect(),
        Some(Tok::Open) => {
            let mut out = Vec::new();
            let mut depth = 0;
            let mut k = j;
            let mut at_member_start = true;
            while let Some((tok, _)) = toks.get(k) {
                match tok {
                    Tok::Open => {
                        depth += 1;
                        if depth == 1 {
                            at_member_start = true;
                        }
                    }
                    Tok::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::Comma if depth == 1 => at_member_start = true,
                    Tok::Ident(_) if depth == 1 && at_member_start => {
                        at_member_start = false;
                        out.extend(chain(toks, k));
                    }
                    _ => {}
                }
                k += 1;
            }
            out
        }
        _ => Vec::new(),
    }
}

/// `a::b::c` from `j`: (`a`, `"a::b::c"`); `self` names the root itself.
fn chain(toks: &[(Tok, usize)], j: usize) -> Option<(String, String)> {
    let Some((Tok::Ident(first), _)) = toks.get(j) else {
        return None;
    };
    if first == "self" {
        return None;
    }
    let mut written = first.clone();
    let mut k = j + 1;
    while toks.get(k).is_some_and(|t| t.0 == Tok::PathSep) {
        match toks.get(k + 1) {
            Some((Tok::Ident(next), _)) => {
                written.push_str("::");
                written.push_str(next);
                k += 2;
            }
            _ => break,
        }
    }
    Some((first.clone(), written))
}

fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push((Tok::Ident(chars[start..i].iter().collect()), line));
            continue;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            toks.push((Tok::PathSep, line));
            i += 2;
            continue;
        } else if c == '{' {
            toks.push((Tok::Open, line));
        } else if c == '}' {
            toks.push((Tok::Close, line));
        } else if c == ',' {
            toks.push((Tok::Comma, line));
        } else if !c.is_whitespace() && !c.is_ascii_digit() {
            toks.push((Tok::Other(c), line));
        }
        i += 1;
    }
    toks
}

/// `text` with every comment, string and character literal replaced by
/// spaces (newlines kept, so line numbers hold).
fn blank_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    out.push_str("  ");
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…".
        let raw_start = c == 'r'
            && match prev {
                None => true,
                Some('b') => i < 2 || !is_ident(chars[i - 2]),
                Some(p) => !is_ident(p),
            };
        if raw_start {
            let mut k = i + 1;
            while chars.get(k) == Some(&'#') {
                k += 1;
            }
            if chars.get(k) == Some(&'"') {
                let hashes = k - i - 1;
                for _ in i..=k {
                    out.push(' ');
                }
                i = k + 1;
                while i < chars.len() {
                    let closes =
                        chars[i] == '"' && (1..=hashes).all(|h| chars.get(i + h) == Some(&'#'));
                    if closes {
                        for _ in 0..=hashes {
                            out.push(' ');
                        }
                        i += hashes + 1;
                        break;
                    }
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                continue;
            }
        }
        if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    if let Some(&escaped) = chars.get(i + 1) {
                        blank(&mut out, escaped);
                    }
                    i += 2;
                    continue;
                }
                let end = chars[i] == '"';
                blank(&mut out, chars[i]);
                i += 1;
                if end {
                    break;
                }
            }
            continue;
        }
        if c == '\'' {
            // A character literal ('x', '\n', '\''), or else a lifetime.
            if next == Some('\\') {
                out.push(' ');
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\\' {
                        out.push_str("  ");
                        i += 2;
                        continue;
                    }
                    let end = chars[i] == '\'';
                    out.push(' ');
                    i += 1;
                    if end {
                        break;
                    }
                }
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Checks a small in-memory tree.
fn check_tree(files: &[(&str, &str)]) -> Report {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    check(&files)
}

fn lines_of(report: &Report) -> Vec<(String, usize, String, String)> {
    report
        .violations
        .iter()
        .map(|v| (v.file.clone(), v.line, v.from.clone(), v.to.clone()))
        .collect()
}

#[test]
fn checker_flags_an_upward_use_with_its_file_line_and_layers() {
    let report = check_tree(&[
        (
            "src/stage/mod.rs",
            "//! stage\nuse crate::landing::Manifest;\n",
        ),
        (
            "src/landing/delta.rs",
            "//! delta\n\nuse crate::error::Result;\nuse crate::stage::discover::scan;\n",
        ),
        ("src/error.rs", ""),
    ]);
    assert_eq!(
        lines_of(&report),
        vec![(
            "src/landing/delta.rs".to_string(),
            4,
            "landing".to_string(),
            "stage".to_string()
        )]
    );
    let message = report.violations[0].to_string();
    assert!(
        message.starts_with(
            "src/landing/delta.rs:4: `landing` (layer 7 of 17) imports `stage` (layer 8 of 17)"
        ),
        "{message}"
    );
    assert!(
        message.ends_with("through crate::stage::discover::scan"),
        "{message}"
    );
}

#[test]
fn checker_reads_grouped_uses_inline_paths_and_root_items() {
    let report = check_tree(&[
        (
            "src/push/mod.rs",
            "use crate::{\n    error::Result,\n    stage::{db, open},\n    verify::diff,\n};\nfn f() -> crate::Result<()> {\n    let x = crate::commands::plan::planned_schema(ws);\n    crate::run(cli)\n}\n",
        ),
        ("src/verify/mod.rs", ""),
        ("src/stage/mod.rs", ""),
        ("src/error.rs", ""),
        ("src/commands/mod.rs", ""),
    ]);
    let found: Vec<(usize, String, String)> = report
        .violations
        .iter()
        .map(|v| (v.line, v.to.clone(), v.path.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "verify".to_string(), "crate::verify::diff".to_string()),
            (
                7,
                "commands".to_string(),
                "crate::commands::plan::planned_schema".to_string()
            ),
            (8, ROOT.to_string(), "crate::run".to_string()),
        ]
    );
}

#[test]
fn checker_follows_super_to_the_crate_root_through_inline_modules() {
    let text = "use super::delta::X;\n\
                #[cfg(test)]\n\
                mod tests {\n\
                    use super::super::manifest::Y;\n\
                    use super::super::super::stage::Z;\n\
                    fn f() { super::super::super::source::g(); }\n\
                }\n\
                fn h() { super::super::stage::W; }\n";
    let report = check_tree(&[
        ("src/landing/extract.rs", text),
        ("src/stage/mod.rs", ""),
        ("src/source/mod.rs", ""),
    ]);
    let found: Vec<(usize, String)> = report
        .violations
        .iter()
        .map(|v| (v.line, v.path.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (5, "super::super::super::stage::Z".to_string()),
            (8, "super::super::stage::W".to_string()),
        ]
    );
}

#[test]
fn checker_ignores_comments_strings_and_same_or_lower_layers() {
    let text = "//! Unlike [`crate::report`], this …\n\
                /* crate::commands::x /* nested */ crate::push::y */\n\
                const SQL: &str = \"SELECT 'crate::report::z'\";\n\
                const RAW: &str = r#\"crate::commands::\"q\"\"#;\n\
                fn f<'a>(c: char) -> bool { c == '\"' || c == '\\'' }\n\
                pub(crate) fn g() { crate::plan::needs(); crate::mapping::signoff::status(); crate::stage::x(); }\n";
    let report = check_tree(&[
        ("src/plan/mod.rs", text),
        ("src/mapping/mod.rs", ""),
        ("src/stage/mod.rs", ""),
    ]);
    assert_eq!(lines_of(&report), Vec::new());
}

#[test]
fn checker_keeps_the_emulators_for_commands_and_names_unplaced_modules() {
    let report = check_tree(&[
        (
            "src/commands/serve.rs",
            "use servicetracker_emulator::{Emulator, EmulatorConfig};\n",
        ),
        (
            "src/dataverse/client.rs",
            "\n\nlet t = servicetracker_generator::generate_export(d, &o);\n",
        ),
        ("src/sql_catalogue.rs", "use crate::error::Result;\n"),
        (
            "src/error.rs",
            "impl From<dataverse_emulator::Error> for Error {}\n",
        ),
        (
            "src/commands/demo.rs",
            "use dataverse_emulator::{DataverseConfig, DataverseEmulator};\n",
        ),
        (
            "src/cli.rs",
            "struct S { l: dataverse_emulator::limits::LimitsConfig }\n",
        ),
    ]);
    assert_eq!(
        lines_of(&report),
        vec![
            (
                "src/dataverse/client.rs".to_string(),
                3,
                "dataverse".to_string(),
                "servicetracker_generator".to_string()
            ),
            (
                "src/error.rs".to_string(),
                1,
                "error".to_string(),
                "dataverse_emulator".to_string()
            ),
        ]
    );
    assert!(
        report.violations[1]
            .to_string()
            .contains("(a member crate outside the layering)"),
        "{}",
        report.violations[1]
    );
    assert_eq!(
        report.unplaced.iter().collect::<Vec<_>>(),
        vec!["sql_catalogue"]
    );
}

#[test]
fn module_paths_follow_the_file_tree() {
    assert_eq!(module_path("src/lib.rs"), Vec::<String>::new());
    assert_eq!(module_path("src/duck.rs"), vec!["duck"]);
    assert_eq!(module_path("src/push/mod.rs"), vec!["push"]);
    assert_eq!(module_path("src/push/steps.rs"), vec!["push", "steps"]);
    let found: BTreeMap<String, usize> =
        imports(&module_path("src/duck.rs"), "use super::error::E;")
            .into_iter()
            .map(|i| (i.first, i.line))
            .collect();
    assert_eq!(found, BTreeMap::from([("error".to_string(), 1)]));
}
