//! `ferry report [NAME|all]`: render reports into `reports/` and print
//! where they are.

use crate::report::render_reports;
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, name: &str, json: bool) -> Result<Outcome> {
    let rendered = render_reports(ws, name)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rendered).expect("report paths serialize")
        );
    } else {
        for report in &rendered {
            println!("{}", report.html.display());
            println!("{}", report.json.display());
        }
    }
    Ok(Outcome::Ok)
}
