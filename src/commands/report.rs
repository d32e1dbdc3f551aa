//! `ferry report [NAME|all]`: render reports into `reports/` and print
//! where they are, which ones wait for a later command, and which failed.
//! A report that waits is not a problem (exit 0); one that failed is, and
//! the failure is returned after everything else was written.

use super::output;
use crate::report::{render_reports_keep_going, ReportStatus};
use crate::workspace::Workspace;
use crate::{Error, Outcome, Result};

pub fn run(ws: &Workspace, name: &str, json: bool) -> Result<Outcome> {
    let (rendered, first_error) = render_reports_keep_going(ws, name)?;
    let failed: Vec<&str> = rendered
        .iter()
        .filter(|r| r.status == ReportStatus::Failed)
        .map(|r| r.name.as_str())
        .collect();
    output::emit(json, &rendered, |rendered| {
        for report in rendered {
            match report.status {
                ReportStatus::Rendered => {
                    println!("{}", report.html.display());
                    println!("{}", report.json.display());
                }
                ReportStatus::Waiting if report.waits_for.is_empty() => {
                    println!("{}  (not available yet)", report.html.display())
                }
                ReportStatus::Waiting => println!(
                    "{}  (not available yet: run `{}`)",
                    report.html.display(),
                    report.waits_for.join("`, then `")
                ),
                // A single failure is the error returned below.
                ReportStatus::Failed if failed.len() > 1 => eprintln!(
                    "error: report {} failed: {}",
                    report.name,
                    report.problem.as_deref().unwrap_or("")
                ),
                ReportStatus::Failed => {}
            }
        }
    });
    match first_error {
        Some(_) if failed.len() > 1 => Err(Error::Usage(format!(
            "{} reports failed ({}); the others were written — fix what each error above names and run `ferry report all` again",
            failed.len(),
            failed.join(", ")
        ))),
        Some(err) => Err(err),
        None => Ok(Outcome::Ok),
    }
}
