//! `ferry map propose|confirm|status`: propose the map, sign it off, and see
//! what changed since (SPEC §5). `status` exits 1 while anything changed, so
//! a script or CI step can gate on it the way `ferry push` does; `propose`
//! exits 1 while any field or value needs a person's decision.

use super::output;
use crate::error::{Error, IoContext};
use crate::mapping::{propose as proposer, signoff};
use crate::stage::db::relation_exists;
use crate::workspace::Workspace;
use crate::{Outcome, Result};

/// The first version number proposed custom-field transforms use.
const CUSTOM_TRANSFORM_VERSION: u32 = 200;

pub fn propose(ws: &Workspace, json: bool) -> Result<Outcome> {
    let conn = crate::stage::open_database(ws)?;
    if !relation_exists(&conn, "meta", "inventory_fields")? {
        return Err(Error::input(
            ws.database_path(),
            "there is no source inventory yet",
            "run `ferry extract` and `ferry stage` first",
        ));
    }
    let existing = crate::transform::mapping_files::read_optionsets(ws)?;
    let basis = crate::plan::target::proposal_basis(ws)?;
    eprintln!("proposing against {}", basis.label);
    let proposal = proposer::propose(
        &conn,
        &basis.schema,
        ws.config.profile,
        &ws.config.prefix,
        &existing,
    )?;
    drop(conn);
    let optionsets = ws
        .mapping_dir()
        .join(crate::transform::mapping_files::OPTIONSETS_FILE);
    let added = proposer::write_optionsets(&optionsets, &proposal, &existing)?;
    let transforms = proposer::write_custom_transforms(
        &crate::transform::transforms_dir(ws),
        &proposal,
        CUSTOM_TRANSFORM_VERSION,
    )?;
    let dir = ws.reports_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let html = dir.join("mapping-proposal.html");
    crate::atomic_write::write_atomically(
        &html,
        proposer::render_html(&proposal, &ws.root).as_bytes(),
    )?;
    crate::atomic_write::write_atomically(
        &dir.join("mapping-proposal.json"),
        serde_json::to_string_pretty(&proposal)
            .expect("proposal serializes")
            .as_bytes(),
    )?;
    let outcome = if proposal.needs_decisions() {
        Outcome::Problems
    } else {
        Outcome::Ok
    };
    output::emit(json, &proposal, |proposal| {
        let (fields, options) = proposal.counts();
        let show = |counts: &std::collections::BTreeMap<proposer::Status, usize>| {
            counts
                .iter()
                .map(|(status, n)| format!("{n} {}", format!("{status:?}").to_lowercase()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("fields: {}", show(&fields));
        println!("picklist values: {}", show(&options));
        println!(
            "{added} translation line(s) appended to {}; {} custom-field transform(s) written{}",
            optionsets.display(),
            transforms.len(),
            transforms
                .iter()
                .map(|p| format!(" {}", p.display()))
                .collect::<String>()
        );
        println!("proposal: {}", html.display());
        if proposal.needs_decisions() {
            println!("some fields or values need a decision: see the proposal, edit mapping/optionsets.csv or the transforms, then `ferry map confirm`");
        } else {
            println!("review the proposal, then `ferry map confirm --by NAME`");
        }
    });
    Ok(outcome)
}

pub fn confirm(ws: &Workspace, by: Option<String>, json: bool) -> Result<Outcome> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let signed = signoff::confirm(ws, &by)?;
    let answer = serde_json::json!({"by": signed.by, "at": signed.at, "files": signed.files});
    output::emit_line(json, &answer, |_| {
        println!(
            "signed off by {} at {}: {} file(s) (sql/transforms/*.sql, mapping/*.csv) recorded in {}",
            signed.by,
            signed.at,
            signed.files.len(),
            signoff::SIGNOFF_FILE
        );
    });
    Ok(Outcome::Ok)
}

pub fn status(ws: &Workspace, json: bool) -> Result<Outcome> {
    let status = signoff::status(ws)?;
    let outcome = if status.is_clean() {
        Outcome::Ok
    } else {
        Outcome::Problems
    };
    output::emit(json, &status, print_status);
    Ok(outcome)
}

/// The sign-off and what changed since, for a person.
fn print_status(status: &signoff::SignOffStatus) {
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
}
