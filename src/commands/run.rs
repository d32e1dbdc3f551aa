//! `ferry run`: the whole pipeline for a configured workspace, in the order
//! of SPEC §1 — extract, stage, transform, validate, plan, push, verify,
//! reconcile, report — so a rehearsal is one command and never skips a
//! step.
//!
//! It stops at the first stage that finds problems before anything is
//! written to the target (pending records, validation errors, a schema the
//! target lacks), because pushing past them would load what the analyst
//! has not accepted. Once the push has run, verify, reconcile and the
//! reports always run too: a push with failed records is exactly when the
//! evidence is needed. Schema changes are never made here: `ferry plan
//! --apply` stays a deliberate act.

use crate::workspace::Workspace;
use crate::{Outcome, Result};

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let before_push: [(&str, &str, Stage); 5] = [
        (
            "extract",
            "work orders wait for offline sync or the source needs attention; see above, then `ferry run` again (or `ferry extract --allow-pending` to land them anyway)",
            |ws, json| super::extract::run(ws, false, None, json),
        ),
        ("stage", "see above", super::stage::run),
        ("transform", "see above", super::transform::run),
        (
            "validate",
            "fix the records or waive the findings in mapping/waivers.csv, then `ferry run` again",
            super::validate::run,
        ),
        (
            "plan",
            "the target lacks tables, columns or option values the staged rows need: review reports/plan.html and run `ferry plan --apply`, then `ferry run` again",
            |ws, json| super::plan::run(ws, false, json),
        ),
    ];
    for (name, what_to_do, stage) in before_push {
        eprintln!("ferry run: {name} …");
        if stage(ws, json)? == Outcome::Problems {
            eprintln!("ferry run: stopped after `ferry {name}`, before anything was written to the target: {what_to_do}");
            return Ok(Outcome::Problems);
        }
    }
    let mut outcome = Outcome::Ok;
    let after_push: [(&str, Stage); 4] = [
        ("push", |ws, json| {
            crate::push::run(ws, &crate::push::PushOptions::default(), json)
        }),
        ("verify", super::verify::run),
        ("reconcile", super::reconcile::run),
        ("report", |ws, json| super::report::run(ws, "all", json)),
    ];
    for (name, stage) in after_push {
        eprintln!("ferry run: {name} …");
        if stage(ws, json)? == Outcome::Problems {
            eprintln!("ferry run: `ferry {name}` found problems (above); the next stages still run so the reports show them");
            outcome = Outcome::Problems;
        }
    }
    Ok(outcome)
}

type Stage = fn(&Workspace, bool) -> Result<Outcome>;
