//! `ferry map confirm|status`: sign the map off, and see what changed since
//! (SPEC §5). `status` exits 1 while anything changed, so a script or CI
//! step can gate on it the way `ferry push` does.

use crate::mapping::signoff;
use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn confirm(ws: &Workspace, by: Option<String>, json: bool) -> Result<Outcome> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let signed = signoff::confirm(ws, &by)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"by": signed.by, "at": signed.at, "files": signed.files})
        );
    } else {
        println!(
            "signed off by {} at {}: {} file(s) (sql/transforms/*.sql, mapping/*.csv) recorded in {}",
            signed.by,
            signed.at,
            signed.files.len(),
            signoff::SIGNOFF_FILE
        );
    }
    Ok(Outcome::Ok)
}

pub fn status(ws: &Workspace, json: bool) -> Result<Outcome> {
    let status = signoff::status(ws)?;
    let outcome = if status.is_clean() {
        Outcome::Ok
    } else {
        Outcome::Problems
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("sign-off status serializes")
        );
        return Ok(outcome);
    }
    match &status.signed {
        None => println!(
            "the map has not been signed off ({} file(s) to review)",
            status.files
        ),
        Some(s) => println!("signed off by {} at {} ({} file(s))", s.by, s.at, s.files),
    }
    if status.signed.is_some() {
        for change in &status.changes {
            println!("  {:<9} {}", change.kind, change.file);
        }
    }
    if let Some(refusal) = status.refusal() {
        println!("{refusal}");
    } else {
        println!("nothing changed since the sign-off");
    }
    Ok(outcome)
}
