//! The HTML templates, embedded in the binary, and the one minijinja
//! [`Environment`] that renders them — for the reports, the plan and the
//! mapping proposal alike, so it sits below all of them.
//!
//! Strict undefined behaviour makes a misspelt column in a template an error
//! instead of an empty cell; `.html.j2` names get HTML auto-escaping, so every
//! value from the data is escaped unless a template says otherwise (none
//! does). The few filters registered here format numbers for people.
//!
//! A workspace may change how a report looks without rebuilding ferry: a
//! file `<workspace>/templates/<name>` replaces the built-in template of that
//! name, for the report itself and for everything that extends or imports it
//! (`base.html.j2`, `charts.html.j2`), so restyling every page is one copied
//! file. [`Templates::for_workspace`] looks there first; [`Templates::new`]
//! uses the built-in set only. Templates load lazily through one loader, so
//! an override is read (and its syntax checked) when a report first uses it,
//! and its errors name the workspace file.

use std::path::{Path, PathBuf};

use minijinja::{Environment, Error as TemplateError, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;

use crate::error::{Error, Result};

/// The layout every report extends.
pub const BASE_TEMPLATE: &str = "base.html.j2";

/// Every template under `templates/`, embedded at build time, so adding a
/// report is adding files (`reports/<name>.sql` + `templates/<name>.html.j2`).
static EMBEDDED_TEMPLATES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Rendered by its own command (`ferry plan`) from data it computes, not
/// from a `reports/*.sql` query, so `ferry report` does not list it.
pub const PLAN_TEMPLATE: &str = "plan.html.j2";

/// The folder of a workspace whose templates replace the built-in ones.
pub const OVERRIDE_DIR: &str = "templates";

/// Where a template's text comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateSource {
    /// Shipped inside the binary.
    BuiltIn,
    /// A workspace file that replaces the built-in template.
    Workspace { path: String },
}

/// Owns the template environment; build it once, render many reports.
pub struct Templates {
    env: Environment<'static>,
    overrides: Option<PathBuf>,
}

impl Templates {
    /// The built-in templates only.
    pub fn new() -> Result<Self> {
        Ok(Self::with_overrides(None))
    }

    /// The built-in templates, each replaced by `<workspace>/templates/<name>`
    /// when that file exists.
    pub fn for_workspace(workspace_root: &Path) -> Result<Self> {
        Ok(Self::with_overrides(Some(
            workspace_root.join(OVERRIDE_DIR),
        )))
    }

    fn with_overrides(overrides: Option<PathBuf>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let dir = overrides.clone();
        env.set_loader(move |name| load_template(dir.as_deref(), name));
        env.add_filter("num", format_number);
        env.add_filter("pct", format_percent);
        env.add_filter("clip", clip);
        Templates { env, overrides }
    }

    /// Whether `name` comes from the workspace or from the binary.
    pub fn source_of(&self, name: &str) -> TemplateSource {
        match override_path(self.overrides.as_deref(), name) {
            Some(path) => TemplateSource::Workspace {
                path: path.display().to_string(),
            },
            None => TemplateSource::BuiltIn,
        }
    }

    /// Whether a built-in template of this name exists.
    pub fn is_builtin(name: &str) -> bool {
        EMBEDDED_TEMPLATES.get_file(name).is_some()
    }

    /// The template file name of a report.
    pub fn template_name(report: &str) -> String {
        format!("{report}.html.j2")
    }

    pub fn render(&self, template: &str, context: impl Serialize) -> Result<String> {
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|e| self.template_error(template, &e))?;
        tmpl.render(context)
            .map_err(|e| self.template_error(template, &e))
    }

    /// Compiles every built-in template (and its workspace override), so a
    /// syntax error shows up in a test rather than in a user's report.
    pub fn check_all(&self) -> Result<()> {
        for file in EMBEDDED_TEMPLATES.files() {
            let name = file.path().to_str().expect("template names are UTF-8");
            self.env
                .get_template(name)
                .map_err(|e| self.template_error(name, &e))?;
        }
        Ok(())
    }

    fn template_error(&self, name: &str, err: &TemplateError) -> Error {
        let failing = err.name().unwrap_or(name);
        let overridden = override_path(self.overrides.as_deref(), failing);
        let mut error = template_error(name, err);
        if let (Some(path), Error::Usage(message)) = (overridden, &mut error) {
            message.push_str(&format!(
                "\n  note: {failing} is the workspace's own copy, {}; delete it to go back to the built-in one",
                path.display()
            ));
        }
        error
    }
}

/// The workspace file that replaces `name`, if there is one. Names with a
/// path in them never reach outside the override folder.
fn override_path(dir: Option<&Path>, name: &str) -> Option<PathBuf> {
    let dir = dir?;
    let plain = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split(['/', '\\'])
            .all(|part| part != ".." && !part.is_empty());
    let path = dir.join(name);
    (plain && path.is_file()).then_some(path)
}

fn load_template(
    dir: Option<&Path>,
    name: &str,
) -> std::result::Result<Option<String>, TemplateError> {
    if let Some(path) = override_path(dir, name) {
        return std::fs::read_to_string(&path).map(Some).map_err(|e| {
            TemplateError::new(
                ErrorKind::InvalidOperation,
                format!("cannot read the workspace template {}: {e}", path.display()),
            )
        });
    }
    match EMBEDDED_TEMPLATES.get_file(name) {
        Some(file) => file
            .contents_utf8()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| {
                TemplateError::new(
                    ErrorKind::InvalidOperation,
                    format!("embedded template {name} is not UTF-8"),
                )
            }),
        None => Ok(None),
    }
}

fn template_error(name: &str, err: &TemplateError) -> Error {
    // Not `{:#}`: its debug dump of every variable can run to megabytes.
    let place = match (err.name(), err.line()) {
        (Some(template), Some(line)) => format!("{template} line {line}"),
        _ => name.to_string(),
    };
    let hint = if err.kind() == ErrorKind::UndefinedError {
        "\n  what to do: the report SQL in the workspace does not return a column the template needs; \
         restore the built-in SQL (run `ferry init /tmp/ferry-fresh` and copy its reports/ file) or add the column"
    } else {
        ""
    };
    Error::Usage(format!("template {place}: {err}{hint}"))
}

/// Filters receive undefined values even in strict mode: refuse them, so a
/// misspelt column is an error rather than a quiet dash.
fn defined(value: &Value, filter: &str) -> std::result::Result<(), TemplateError> {
    if value.is_undefined() {
        return Err(TemplateError::new(
            ErrorKind::UndefinedError,
            format!("`{filter}` was given an undefined value (is the column missing from the report SQL?)"),
        ));
    }
    Ok(())
}

/// `1234567` → `1,234,567`; floats keep up to two decimals; none → `—`.
fn format_number(value: Value) -> std::result::Result<String, TemplateError> {
    defined(&value, "num")?;
    if value.is_none() {
        return Ok("—".into());
    }
    if let Ok(int) = i64::try_from(value.clone()) {
        return Ok(group_thousands(int));
    }
    if let Ok(float) = f64::try_from(value.clone()) {
        let rounded = format!("{float:.2}");
        let (whole, fraction) = rounded.split_once('.').unwrap_or((&rounded, ""));
        let whole: i64 = whole.parse().unwrap_or(0);
        let fraction = fraction.trim_end_matches('0');
        let sign = if float < 0.0 && whole == 0 { "-" } else { "" };
        return Ok(if fraction.is_empty() {
            format!("{sign}{}", group_thousands(whole))
        } else {
            format!("{sign}{}.{fraction}", group_thousands(whole))
        });
    }
    Ok(value.to_string())
}

/// A JSON number as the `num` filter shows it, so a test or the index can
/// look for exactly the text a page carries.
pub fn format_json_number(value: &serde_json::Value) -> String {
    format_number(Value::from_serialize(value)).unwrap_or_else(|_| value.to_string())
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A ratio 0..1 as a percentage: `0.125` → `12.5%`; small non-zero ratios
/// never round to a misleading `0%`.
fn format_percent(value: Value) -> std::result::Result<String, TemplateError> {
    defined(&value, "pct")?;
    if value.is_none() {
        return Ok("—".into());
    }
    let ratio = f64::try_from(value)
        .map_err(|_| TemplateError::new(ErrorKind::InvalidOperation, "pct expects a number"))?;
    let percent = ratio * 100.0;
    Ok(if percent > 0.0 && percent < 0.1 {
        "<0.1%".into()
    } else if percent < 100.0 && percent > 99.9 {
        ">99.9%".into()
    } else {
        let text = format!("{percent:.1}");
        format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
    })
}

/// Shortens text to `limit` characters with an ellipsis, for table cells.
fn clip(value: Value, limit: Option<usize>) -> std::result::Result<String, TemplateError> {
    defined(&value, "clip")?;
    let limit = limit.unwrap_or(60);
    let text = if value.is_none() {
        String::new()
    } else {
        value.to_string()
    };
    Ok(if text.chars().count() > limit {
        let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
        format!("{kept}…")
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_for_reading() {
        assert_eq!(format_number(Value::from(1234567)).unwrap(), "1,234,567");
        assert_eq!(format_number(Value::from(-1000)).unwrap(), "-1,000");
        assert_eq!(format_number(Value::from(12.5)).unwrap(), "12.5");
        assert_eq!(format_number(Value::from(())).unwrap(), "—");
    }

    #[test]
    fn percentages_never_hide_small_counts() {
        assert_eq!(format_percent(Value::from(0.125)).unwrap(), "12.5%");
        assert_eq!(format_percent(Value::from(0.0)).unwrap(), "0%");
        assert_eq!(format_percent(Value::from(1.0)).unwrap(), "100%");
        assert_eq!(format_percent(Value::from(0.0001)).unwrap(), "<0.1%");
        assert_eq!(format_percent(Value::from(0.99999)).unwrap(), ">99.9%");
    }

    #[test]
    fn clip_shortens_long_text() {
        assert_eq!(clip(Value::from("abcdef"), Some(4)).unwrap(), "abc…");
        assert_eq!(clip(Value::from("abc"), Some(4)).unwrap(), "abc");
        assert!(clip(Value::UNDEFINED, None).is_err());
        assert!(format_number(Value::UNDEFINED).is_err());
    }

    #[test]
    fn a_workspace_template_replaces_the_built_in_one_and_what_extends_it() {
        let ws = tempfile::tempdir().unwrap();
        let dir = ws.path().join(OVERRIDE_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(BASE_TEMPLATE),
            "<main>ours {{ header.report }}: {% block content %}{% endblock %}</main>",
        )
        .unwrap();
        std::fs::write(
            dir.join("mine.html.j2"),
            "{% extends \"base.html.j2\" %}{% block content %}{{ v }}{% endblock %}",
        )
        .unwrap();
        let templates = Templates::for_workspace(ws.path()).unwrap();
        let context =
            minijinja::context! { header => minijinja::context! { report => "x" }, v => "<b>" };
        assert_eq!(
            templates.render("mine.html.j2", &context).unwrap(),
            "<main>ours x: &lt;b&gt;</main>"
        );
        assert!(matches!(
            templates.source_of(BASE_TEMPLATE),
            TemplateSource::Workspace { .. }
        ));
        assert_eq!(
            templates.source_of("charts.html.j2"),
            TemplateSource::BuiltIn
        );
        // Without the workspace, the built-in layout.
        let built_in = Templates::new().unwrap();
        assert!(built_in.render("mine.html.j2", &context).is_err());
        // A name never reaches outside the folder.
        std::fs::write(ws.path().join("outside.html.j2"), "secret").unwrap();
        assert!(override_path(Some(&dir), "../outside.html.j2").is_none());
        assert!(templates.render("../outside.html.j2", &context).is_err());
    }

    #[test]
    fn every_template_parses_and_values_are_escaped() {
        let templates = Templates::new().unwrap();
        templates.check_all().unwrap();
        let mut env = Environment::new();
        env.add_template("x.html.j2", "{{ v }}").unwrap();
        let out = env
            .get_template("x.html.j2")
            .unwrap()
            .render(minijinja::context! { v => "<script>" })
            .unwrap();
        assert_eq!(out, "&lt;script&gt;");
        drop(templates);
    }
}
