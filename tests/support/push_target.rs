#![allow(dead_code)]

//! What the push tests share: an emulated org seeded with the
//! technicians' users, a workspace pointed at it, ferry run with the
//! client secret, and a dirty workspace made pushable.

use dataverse_emulator::faults::FaultConfig;
use dataverse_emulator::limits::LimitsConfig;
use dataverse_emulator::{DataverseConfig, DataverseEmulator, RunningDataverse};

use crate::staged::Staged;

pub const SECRET_ENV: &str = "FERRY_PUSH_TEST_SECRET";

/// An org on loopback, seeded with the technicians' users.
pub fn org_with(ws: &Staged, limits: LimitsConfig, faults: FaultConfig) -> RunningDataverse {
    let mut config = DataverseConfig::new("st")
        .with_technician_users(&ws.export().join("technicians.csv"))
        .unwrap();
    config.limits = limits;
    config.faults = faults;
    DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap()
}

/// `ferry.toml` pointed at `org`, the secret read from [`SECRET_ENV`].
pub fn point_at(ws: &Staged, org: &RunningDataverse) {
    let path = ws.root().join("ferry.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "# url = \"https://contoso.crm.dynamics.com\"",
            &format!("url = \"{}\"", org.url()),
        )
        .replace(
            "client_secret_env = \"FERRY_CLIENT_SECRET\"",
            &format!("client_secret_env = \"{SECRET_ENV}\""),
        );
    std::fs::write(path, text).unwrap();
}

/// Runs ferry in the workspace: exit code, stdout, stderr.
pub fn run(ws: &Staged, args: &[&str]) -> (i32, String, String) {
    let out = ws.ferry().env(SECRET_ENV, "s").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs ferry with `--json` and the arguments: exit code, the JSON it
/// printed on stdout, and stderr.
pub fn run_json(ws: &Staged, args: &[&str]) -> (i32, serde_json::Value, String) {
    let args: Vec<&str> = std::iter::once("--json")
        .chain(args.iter().copied())
        .collect();
    let (code, stdout, stderr) = run(ws, &args);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: exit {code}\n{stdout}\n{stderr}"));
    (code, json, stderr)
}

/// Waives every open error (with a reason), so the gate opens on the
/// dirty dataset, and cuts values longer than their column in stg (push's
/// preflight refuses them) — what `ferry demo` does, through its own code.
pub fn waive_errors(ws: &Staged) {
    let (code, out, err) = run(ws, &["transform"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(ws, &["validate"]);
    assert!(code <= 1, "{out}{err}");
    let workspace = ferry::workspace::Workspace::open(&ws.root()).unwrap();
    ferry::commands::demo::waive_every_error(
        &workspace,
        "push test: loaded as is to see what Dataverse says",
    )
    .unwrap();
    let (code, out, err) = run(ws, &["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    ferry::commands::demo::shorten_values_that_do_not_fit(&workspace).unwrap();
}
