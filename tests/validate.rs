//! `ferry validate` over generated exports: every kind of dirt the
//! generator plants for the checks (`dirt.json`, caught_by "check") is found
//! by its rule, record for record, and by nothing else; a clean export gives
//! no finding at all; conservation holds in both profiles (and catches a
//! record a transform dropped or counted twice); waivers turn errors into
//! waived ones and let validate pass; `--json` has the documented shape.

#[path = "support/staged.rs"]
mod staged;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use servicetracker_generator::{DirtFile, DirtKind};
use staged::Staged;

/// Which rule (sql/checks/<rule>.sql) must find each kind of dirt, and with
/// which severity. Several kinds may share a rule; every kind whose
/// `caught_by` contains "check" must be listed.
const DIRT_RULES: &[(DirtKind, &str, &str)] = &[
    (DirtKind::InvalidEmail, "invalid_email", "error"),
    (DirtKind::NoEmailDomain, "no_email_domain", "review"),
    (DirtKind::FreeMailDomain, "free_mail_domain", "review"),
    (DirtKind::DuplicateCustomer, "duplicate_customers", "review"),
    (DirtKind::OrphanContact, "orphan_contact", "warning"),
    (
        DirtKind::OrphanWorkOrderSite,
        "orphan_work_order_site",
        "warning",
    ),
    (
        DirtKind::UndocumentedStatus,
        "unmapped_option_values",
        "error",
    ),
    (
        DirtKind::UndocumentedPriority,
        "unmapped_option_values",
        "error",
    ),
    (
        DirtKind::CriticalPriority,
        "publisher_option_values",
        "warning",
    ),
    (DirtKind::NameTooLong, "max_length", "error"),
    (DirtKind::TitleTooLong, "max_length", "error"),
    (DirtKind::DateBefore1753, "date_before_1753", "error"),
    (DirtKind::DateInFuture, "date_in_future", "warning"),
    (DirtKind::StateNameNotCode, "state_name_not_code", "review"),
    (
        DirtKind::InactiveTechnicianOwnsActivities,
        "inactive_technician_owner",
        "warning",
    ),
    (
        DirtKind::TechnicianWithoutUser,
        "technician_without_user",
        "warning",
    ),
    (
        DirtKind::AttachmentOverLimit,
        "attachment_too_large",
        "error",
    ),
    (
        DirtKind::AttachmentPathChars,
        "file_name_path_chars",
        "warning",
    ),
    // caught_by "pending_sync" (extract refuses to start), but once the
    // extract ran with --allow-pending the check must keep push blocked.
    (DirtKind::PendingSync, "pending_sync", "error"),
];

/// Rules that no planted dirt triggers: on a dirty export they stay silent.
const SILENT_RULES: &[&str] = &["conservation", "excluded_records", "required_columns"];

/// One Dataverse user per technician at the service company's domain (the
/// domain most technicians share); technicians with another address (the
/// `technician_without_user` dirt) get none.
const COMPANY_USERS: &str =
    "INSERT INTO dv.systemuser (systemuserid, internalemailaddress, fullname, isdisabled)
     SELECT uuid(), email, concat_ws(' ', first_name, last_name), false
     FROM raw.technicians_current
     WHERE split_part(email, '@', 2) = (
         SELECT split_part(email, '@', 2) FROM raw.technicians_current
         WHERE email IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)";

/// Every user of every technician.
const ALL_USERS: &str =
    "INSERT INTO dv.systemuser (systemuserid, internalemailaddress, fullname, isdisabled)
     SELECT uuid(), email, concat_ws(' ', first_name, last_name), false
     FROM raw.technicians_current WHERE email IS NOT NULL";

/// A finding as `"check".findings` holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    rule: String,
    severity: String,
    object: Option<String>,
    record_id: Option<String>,
    message: String,
    waived: bool,
}

fn text(row: &Value, key: &str) -> Option<String> {
    match &row[key] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn flag(row: &Value, key: &str) -> bool {
    match &row[key] {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true",
        _ => false,
    }
}

/// Runs `ferry <args>` (with --workspace) through `sql` JSON rows.
fn query_rows(ferry: Command, sql: &str) -> Vec<Value> {
    let mut ferry = ferry;
    let out = ferry
        .args(["sql", "--format", "json", sql])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    if text.trim().is_empty() {
        return Vec::new();
    }
    match serde_json::from_str(&text) {
        Ok(Value::Array(rows)) => rows,
        _ => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Array(rows)) => rows,
                Ok(row) => vec![row],
                Err(e) => panic!("not JSON: {e}: {l}"),
            })
            .collect(),
    }
}

fn findings_of(ferry: Command) -> Vec<Finding> {
    query_rows(
        ferry,
        "SELECT rule, severity, object, record_id, message, waived FROM \"check\".findings
         ORDER BY rule, object, record_id",
    )
    .iter()
    .map(|row| Finding {
        rule: text(row, "rule").expect("rule"),
        severity: text(row, "severity").expect("severity"),
        object: text(row, "object"),
        record_id: text(row, "record_id"),
        message: text(row, "message").unwrap_or_default(),
        waived: flag(row, "waived"),
    })
    .collect()
}

/// `ferry validate --json`, asserting its exit code; returns the summary.
fn validate_json(mut ferry: Command, code: i32) -> Value {
    let out = ferry.args(["validate", "--json"]).assert().code(code);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("validate --json printed no JSON ({e}):\n{stdout}"))
}

fn number(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {summary}"))
}

fn describe(findings: &[&Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "  {} {} {}/{}: {}",
                f.severity,
                f.rule,
                f.object.as_deref().unwrap_or("-"),
                f.record_id.as_deref().unwrap_or("-"),
                f.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The (object, record id) pairs of `rule`'s findings.
fn found_by(findings: &[Finding], rule: &str) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| {
            (
                f.object.clone().unwrap_or_default(),
                f.record_id.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Asserts set equality with a message that lists what is missing and
/// what is unexpected.
fn assert_same_records(
    rule: &str,
    expected: &BTreeSet<(String, String)>,
    found: &BTreeSet<(String, String)>,
    findings: &[Finding],
) {
    if expected == found {
        return;
    }
    let missing: Vec<_> = expected.difference(found).collect();
    let unexpected: Vec<_> = found.difference(expected).collect();
    let unexpected_findings: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.rule == rule
                && unexpected.contains(&&(
                    f.object.clone().unwrap_or_default(),
                    f.record_id.clone().unwrap_or_default(),
                ))
        })
        .collect();
    panic!(
        "rule `{rule}` does not find exactly the planted records\n\
         missing (planted, not found): {missing:?}\n\
         unexpected (found, not planted): {unexpected:?}\n{}",
        describe(&unexpected_findings)
    );
}

/// The technician a test gives a disabled user: active, at the company
/// domain, so no planted dirt is about them.
fn a_clean_technician(ws: &Staged) -> String {
    ws.scalar(
        "SELECT min(id) FROM raw.technicians_current
         WHERE active AND split_part(email, '@', 2) = (
             SELECT split_part(email, '@', 2) FROM raw.technicians_current
             WHERE email IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)",
    )
}

#[test]
fn every_planted_dirt_is_found_by_its_rule_and_nothing_else() {
    let ws = Staged::sales();
    let dirt = DirtFile::read(ws.export().join("dirt.json")).unwrap();
    assert!(!dirt.clean);
    ws.ferry().arg("transform").assert().success();

    // Before the target's users are read, technician matching cannot run:
    // one review finding says so instead of flagging every technician.
    validate_json(ws.ferry(), 1);
    let before = findings_of(ws.ferry());
    let unread: Vec<&Finding> = before
        .iter()
        .filter(|f| f.rule == "technician_without_user")
        .collect();
    assert_eq!(unread.len(), 1, "{}", describe(&unread));
    assert_eq!(unread[0].severity, "review");
    assert_eq!(unread[0].record_id, None);
    assert!(
        unread[0].message.contains("dv.systemuser"),
        "{}",
        unread[0].message
    );

    // The target's users: everyone at the company domain, one of them
    // disabled.
    let disabled = a_clean_technician(&ws);
    ws.ferry().args(["sql", COMPANY_USERS]).assert().success();
    ws.ferry()
        .args([
            "sql",
            &format!(
                "UPDATE dv.systemuser SET isdisabled = true WHERE internalemailaddress =
                 (SELECT email FROM raw.technicians_current WHERE id = '{disabled}')"
            ),
        ])
        .assert()
        .success();
    let summary = validate_json(ws.ferry(), 1);
    assert!(number(&summary, "errors") > 0);
    let findings = findings_of(ws.ferry());

    // Every kind the checks must catch has a rule in the table above.
    let mut expected: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    for entry in &dirt.dirt {
        let by_check = entry.caught_by.iter().any(|c| c == "check");
        let rule = DIRT_RULES.iter().find(|(kind, _, _)| *kind == entry.kind);
        match rule {
            Some((_, rule, _)) => expected.entry(*rule).or_default().extend(
                entry
                    .ids
                    .iter()
                    .map(|id| (entry.object.clone(), id.clone())),
            ),
            None => assert!(
                !by_check,
                "dirt kind {} is caught_by check but has no rule in DIRT_RULES",
                entry.kind
            ),
        }
    }
    for (_, rule, _) in DIRT_RULES {
        expected.entry(*rule).or_default();
    }
    for (rule, records) in &expected {
        assert!(
            !records.is_empty(),
            "the export plants no dirt for `{rule}`: the test proves nothing for it"
        );
        assert_same_records(rule, records, &found_by(&findings, rule), &findings);
    }

    // Severities as designed.
    for (_, rule, severity) in DIRT_RULES {
        let wrong: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule == *rule && f.severity != *severity)
            .collect();
        assert!(
            wrong.is_empty(),
            "`{rule}` must report as {severity}:\n{}",
            describe(&wrong)
        );
    }

    // The disabled user is reported, and nothing else is in the rules no
    // dirt triggers.
    let expected_disabled: BTreeSet<(String, String)> =
        [("technicians".to_string(), disabled.clone())].into();
    assert_same_records(
        "disabled_user_owner",
        &expected_disabled,
        &found_by(&findings, "disabled_user_owner"),
        &findings,
    );
    for rule in SILENT_RULES {
        let stray: Vec<&Finding> = findings.iter().filter(|f| f.rule == *rule).collect();
        assert!(
            stray.is_empty(),
            "`{rule}` has findings on the dirty export:\n{}",
            describe(&stray)
        );
    }

    // A duplicate names its original.
    for entry in dirt.entries(DirtKind::DuplicateCustomer) {
        for [duplicate, original] in &entry.pairs {
            let finding = findings
                .iter()
                .find(|f| {
                    f.rule == "duplicate_customers"
                        && f.record_id.as_deref() == Some(duplicate.as_str())
                })
                .unwrap();
            assert!(
                finding.message.contains(original.as_str()),
                "{duplicate} must name {original}: {}",
                finding.message
            );
        }
    }
    // An inactive technician's finding counts the activities they own (when
    // one technician is planted, `related` holds exactly theirs).
    for entry in dirt.entries(DirtKind::InactiveTechnicianOwnsActivities) {
        if let ([technician], Some(activities)) =
            (entry.ids.as_slice(), entry.related.get("activities"))
        {
            let finding = findings
                .iter()
                .find(|f| {
                    f.rule == "inactive_technician_owner"
                        && f.record_id.as_deref() == Some(technician.as_str())
                })
                .unwrap();
            assert!(
                finding
                    .message
                    .contains(&format!("{} activities", activities.len())),
                "{technician} owns {} activities: {}",
                activities.len(),
                finding.message
            );
        }
    }

    // Every finding says something, and the summary adds up.
    let silent: Vec<&Finding> = findings.iter().filter(|f| f.message.is_empty()).collect();
    assert!(silent.is_empty(), "{}", describe(&silent));
    let open_errors = findings
        .iter()
        .filter(|f| f.severity == "error" && !f.waived)
        .count() as u64;
    assert_eq!(number(&summary, "errors"), open_errors);
}

#[test]
fn json_summary_has_the_documented_shape() {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    ws.ferry().args(["sql", COMPANY_USERS]).assert().success();
    let summary = validate_json(ws.ferry(), 1);
    let findings = findings_of(ws.ferry());
    let rules = summary["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("`findings` is not a list: {summary}"));
    let mut per_severity: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for rule in rules {
        let name = rule["rule"].as_str().expect("rule");
        let severity = rule["severity"].as_str().expect("severity");
        let count = rule["count"].as_u64().expect("count");
        let waived = rule["waived"].as_u64().expect("waived");
        assert!(["error", "warning", "review"].contains(&severity), "{rule}");
        let in_table = findings
            .iter()
            .filter(|f| f.rule == name && f.severity == severity)
            .count() as u64;
        assert_eq!(count, in_table, "{name}/{severity}");
        let e = per_severity.entry(severity.to_string()).or_default();
        e.0 += count;
        e.1 += waived;
    }
    let open = |s: &str| per_severity.get(s).map_or(0, |(c, w)| c - w);
    assert_eq!(number(&summary, "errors"), open("error"));
    assert_eq!(number(&summary, "warnings"), open("warning"));
    assert_eq!(number(&summary, "reviews"), open("review"));
    assert_eq!(
        number(&summary, "waived"),
        per_severity.values().map(|(_, w)| w).sum::<u64>()
    );
    assert_eq!(
        rules.len(),
        findings
            .iter()
            .map(|f| (&f.rule, &f.severity))
            .collect::<BTreeSet<_>>()
            .len()
    );
}

#[test]
fn waivers_turn_errors_into_waived_ones_and_let_validate_pass() {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    ws.ferry().args(["sql", COMPANY_USERS]).assert().success();
    validate_json(ws.ferry(), 1);
    let errors: Vec<Finding> = findings_of(ws.ferry())
        .into_iter()
        .filter(|f| f.severity == "error")
        .collect();
    assert!(
        errors.len() >= 3,
        "{}",
        describe(&errors.iter().collect::<Vec<_>>())
    );

    // Waive all errors but one, record by record, except one rule waived
    // for its whole object with an empty record_id.
    let whole_rule = ("pending_sync".to_string(), "work_orders".to_string());
    let kept = errors
        .iter()
        .find(|f| (f.rule.clone(), f.object.clone().unwrap_or_default()) != whole_rule)
        .expect("an error of another rule")
        .clone();
    let mut csv = String::from("rule,object,record_id,reason\n");
    csv.push_str(&format!(
        "{},{},,pending work orders were synced by hand after the export\n",
        whole_rule.0, whole_rule.1
    ));
    for f in errors.iter().filter(|f| {
        **f != kept && (f.rule.clone(), f.object.clone().unwrap_or_default()) != whole_rule
    }) {
        csv.push_str(&format!(
            "{},{},{},\"accepted for the test, with a comma\"\n",
            f.rule,
            f.object.as_deref().unwrap_or(""),
            f.record_id.as_deref().unwrap_or("")
        ));
    }
    let waivers = ws.root().join("mapping/waivers.csv");
    std::fs::write(&waivers, &csv).unwrap();
    let summary = validate_json(ws.ferry(), 1);
    assert_eq!(number(&summary, "errors"), 1, "only {kept:?} stays open");
    assert_eq!(number(&summary, "waived"), errors.len() as u64 - 1);
    let after = findings_of(ws.ferry());
    let open: Vec<&Finding> = after
        .iter()
        .filter(|f| f.severity == "error" && !f.waived)
        .collect();
    assert_eq!(open.len(), 1, "{}", describe(&open));
    assert_eq!(
        (&open[0].rule, &open[0].record_id),
        (&kept.rule, &kept.record_id)
    );
    let reasons = query_rows(
        ws.ferry(),
        "SELECT DISTINCT waiver_reason FROM \"check\".findings WHERE waived ORDER BY 1",
    );
    assert!(
        reasons
            .iter()
            .any(|r| text(r, "waiver_reason").as_deref()
                == Some("accepted for the test, with a comma")),
        "{reasons:?}"
    );

    // Waiving the last one lets validate pass; warnings and reviews stay.
    csv.push_str(&format!(
        "{},{},{},the last one\n",
        kept.rule,
        kept.object.as_deref().unwrap_or(""),
        kept.record_id.as_deref().unwrap_or("")
    ));
    std::fs::write(&waivers, &csv).unwrap();
    let summary = validate_json(ws.ferry(), 0);
    assert_eq!(number(&summary, "errors"), 0);
    assert_eq!(number(&summary, "waived"), errors.len() as u64);
    assert!(number(&summary, "warnings") > 0 && number(&summary, "reviews") > 0);
    ws.ferry().arg("validate").assert().success();
}

#[test]
fn conservation_holds_in_both_profiles() {
    for ws in [Staged::sales(), Staged::field_service()] {
        ws.ferry().arg("transform").assert().success();
        ws.ferry().args(["sql", ALL_USERS]).assert().success();
        validate_json(ws.ferry(), 1);
        let findings = findings_of(ws.ferry());
        let profile = ws.scalar("SELECT profile FROM map.settings");
        let broken: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule == "conservation")
            .collect();
        assert!(
            broken.is_empty(),
            "profile {profile}: records not accounted for exactly once:\n{}",
            describe(&broken)
        );
        // Every current source record is somewhere: the check is not
        // vacuous (stg_rows sees every object).
        let objects = ws.scalar(
            "SELECT string_agg(DISTINCT object, ',' ORDER BY object) FROM (
                 SELECT source_object AS object FROM meta.stg_rows
                 UNION ALL SELECT object FROM map.folded
                 UNION ALL SELECT object FROM map.excluded)",
        );
        assert_eq!(
            objects,
            "activities,attachments,billing_history,contacts,contracts,customers,dispatches,\
             equipment,equipment_sites,notes,parts,sites,technicians,work_order_parts,\
             work_orders,workflows",
            "profile {profile}: every object of SPEC §8.1 is staged, folded or excluded"
        );
    }
}

#[test]
fn conservation_catches_a_dropped_and_a_doubly_counted_record() {
    let ws = Staged::sales();
    ws.ferry().arg("transform").assert().success();
    let dropped = ws.scalar("SELECT min(st_record_id) FROM stg.contact");
    let doubled = ws.scalar("SELECT min(st_record_id) FROM stg.account");
    ws.ferry()
        .args([
            "sql",
            &format!("DELETE FROM stg.contact WHERE st_record_id = '{dropped}'"),
        ])
        .assert()
        .success();
    ws.ferry()
        .args([
            "sql",
            &format!(
                "INSERT INTO map.excluded VALUES ('customers', '{doubled}', 'test_rule', 'excluded by the test')"
            ),
        ])
        .assert()
        .success();
    validate_json(ws.ferry(), 1);
    let findings = findings_of(ws.ferry());
    let expected: BTreeSet<(String, String)> = [
        ("contacts".to_string(), dropped.clone()),
        ("customers".to_string(), doubled.clone()),
    ]
    .into();
    assert_same_records(
        "conservation",
        &expected,
        &found_by(&findings, "conservation"),
        &findings,
    );
    // The exclusion itself is an error finding carrying the transform's reason.
    let excluded: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "excluded_records")
        .collect();
    assert_eq!(excluded.len(), 1, "{}", describe(&excluded));
    assert_eq!(excluded[0].severity, "error");
    assert_eq!(excluded[0].record_id.as_deref(), Some(doubled.as_str()));
    assert!(
        excluded[0].message.contains("test_rule")
            && excluded[0].message.contains("excluded by the test"),
        "{}",
        excluded[0].message
    );
}

fn ferry() -> Command {
    Command::cargo_bin("ferry").expect("ferry binary")
}

fn ferry_in(ws: &Path) -> Command {
    let mut cmd = ferry();
    cmd.arg("--workspace").arg(ws);
    cmd
}

#[test]
fn a_clean_export_has_no_findings_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    ferry()
        .args(["generate", export.to_str().unwrap()])
        .args(["--customers", "400", "--seed", "23", "--clean"])
        .assert()
        .success();
    for profile in ["sales", "field-service"] {
        let ws = dir.path().join(profile);
        ferry()
            .args(["init", ws.to_str().unwrap(), "--profile", profile])
            .arg("--source")
            .arg(format!("csv:{}", export.display()))
            .assert()
            .success();
        for step in ["extract", "stage", "transform"] {
            ferry_in(&ws).arg(step).assert().success();
        }
        ferry_in(&ws).args(["sql", ALL_USERS]).assert().success();
        let summary = validate_json(ferry_in(&ws), 0);
        let findings = findings_of(ferry_in(&ws));
        assert!(
            findings.is_empty(),
            "profile {profile}: a clean export must give no finding:\n{}",
            describe(&findings.iter().collect::<Vec<_>>())
        );
        assert_eq!(number(&summary, "errors"), 0);
        ferry_in(&ws).arg("validate").assert().success();
    }
}

#[test]
fn a_mistyped_option_translation_is_an_error_naming_its_line() {
    let ws = Staged::sales();
    let path = ws.root().join("mapping/optionsets.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("work_orders,status,Cancelled,incident,statuscode,6"))
        .expect("the shipped translation of Cancelled");
    let typo = line.replace(",statuscode,6,", ",statuscode,66,");
    std::fs::write(&path, text.replace(line, &typo)).unwrap();
    ws.ferry().arg("transform").assert().success();
    ws.ferry().arg("validate").assert().code(1);
    let findings = findings_of(ws.ferry());
    let bad: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "invalid_option_translation")
        .collect();
    assert_eq!(bad.len(), 1, "{}", describe(&bad));
    assert_eq!(bad[0].severity, "error");
    assert!(
        bad[0].message.contains(&format!("line {}", line_no + 1)) && bad[0].message.contains("66"),
        "{}",
        bad[0].message
    );
}
