//! The reports a full pipeline run (`ferry demo`) leaves in `reports/`:
//! every test that checks "all of them" uses this one list.

pub const ALL_REPORTS: &[&str] = &[
    "index",
    "inventory",
    "findings",
    "mapping-proposal",
    "plan",
    "push",
    "diff",
    "reconcile",
    "workflows",
];
