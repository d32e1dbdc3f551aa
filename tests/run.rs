//! `ferry run`: the whole pipeline for a configured workspace, stopping
//! before anything is written to the target at the first stage that finds
//! problems, and saying which stage and what to do.

#[path = "support/push_target.rs"]
mod push_target;
#[path = "support/staged.rs"]
mod staged;

use dataverse_emulator::faults::FaultConfig;
use dataverse_emulator::limits::LimitsConfig;
use push_target::{org_with, point_at, run};
use staged::Staged;

#[test]
fn run_stops_before_the_target_at_the_first_stage_with_problems() {
    let ws = Staged::sales();
    let org = org_with(&ws, LimitsConfig::off(), FaultConfig::default());
    point_at(&ws, &org);
    let accounts_before = org.with_store(|s| s.count("account"));

    // The dirty export has work orders pending offline sync: extract finds
    // them and the run stops there.
    let (code, _, err) = run(&ws, &["run"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stopped after `ferry extract`")
            && err.contains("before anything was written to the target"),
        "{err}"
    );
    assert!(!err.contains("ferry run: stage"), "ran past extract: {err}");
    assert_eq!(org.with_store(|s| s.count("account")), accounts_before);
    assert_eq!(
        org.operations()
            .iter()
            .filter(|o| o.method != "GET" && !o.path.contains("token"))
            .count(),
        0,
        "nothing may be written to the target"
    );
}
