//! What an invocation returns, kept under Lambda's 6 MB response limit.
//!
//! A dry run at 100k users plans hundreds of thousands of operations; the full plan is tens
//! of MB of JSON. Beyond [`RESPONSE_BUDGET_BYTES`] the response carries the summary, the
//! counts by action and the first operations, and says where the rest is: one JSON line per
//! operation in the invocation's log (`event: "plannedOperation"`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::action;
use crate::model::{Finding, Summary};
use crate::pass::PassReport;
use crate::plan::Operation;

/// Largest response sent whole: well under Lambda's 6 MB (6,291,556 bytes) limit.
pub const RESPONSE_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// Operations included in a shortened response.
pub const FIRST_OPERATIONS: usize = 200;
/// Findings of each kind included in a shortened response's summary.
pub const FIRST_FINDINGS: usize = 50;

/// The response body of a pass; the log lines written when it had to be shortened.
pub fn pass_body(report: &PassReport) -> Value {
    if !report.summary.dry_run {
        return capped_summary(&report.summary, false);
    }
    let full = json!({
        "summary": report.summary,
        "plan": report.plan,
        "userNames": report.user_names,
    });
    let size = serde_json::to_vec(&full).map_or(usize::MAX, |b| b.len());
    if size <= RESPONSE_BUDGET_BYTES {
        return full;
    }
    log_plan(report);
    shortened(report, size)
}

/// A summary whose finding lists fit the response: beyond [`FIRST_FINDINGS`] of a kind, the
/// rest is counted and logged.
fn capped_summary(summary: &Summary, force: bool) -> Value {
    let long = [&summary.conflicts, &summary.skipped, &summary.withheld]
        .iter()
        .any(|l| l.len() > FIRST_FINDINGS);
    if !long && !force {
        return json!({ "summary": summary });
    }
    let mut short = summary.clone();
    let mut totals = BTreeMap::new();
    for (name, list) in [
        ("conflicts", &mut short.conflicts),
        ("skipped", &mut short.skipped),
        ("withheld", &mut short.withheld),
    ] {
        totals.insert(name, list.len());
        if list.len() > FIRST_FINDINGS {
            for f in list.iter() {
                log_line("planFinding", &summary.pass_id, "finding", f);
            }
            list.truncate(FIRST_FINDINGS);
        }
    }
    json!({ "summary": short, "findingsTotal": totals })
}

fn shortened(report: &PassReport, full_size: usize) -> Value {
    let mut counts: BTreeMap<&str, Value> = BTreeMap::new();
    for op in &report.plan.operations {
        let entry = counts
            .entry(action(op))
            .or_insert_with(|| json!({"operations": 0, "members": 0}));
        entry["operations"] = json!(entry["operations"].as_u64().unwrap_or(0) + 1);
        let members = match op {
            Operation::AddMembers { users, .. } => users.len(),
            Operation::RemoveMembers { user_ids, .. } => user_ids.len(),
            _ => 0,
        };
        entry["members"] = json!(entry["members"].as_u64().unwrap_or(0) + members as u64);
    }
    let mut body = capped_summary(&report.summary, true);
    body["truncated"] = json!(true);
    body["fullSizeBytes"] = json!(full_size);
    body["countsByAction"] = json!(counts);
    body["operationsTotal"] = json!(report.plan.operations.len());
    body["firstOperations"] = json!(report
        .plan
        .operations
        .iter()
        .take(FIRST_OPERATIONS)
        .collect::<Vec<_>>());
    body["rest"] = json!(format!(
        "the full plan is in this invocation's CloudWatch log: one JSON line per operation \
         (event \"plannedOperation\") and per finding (event \"planFinding\"), passId {}",
        report.summary.pass_id
    ));
    body
}

/// The whole plan as JSON lines in the log.
fn log_plan(report: &PassReport) {
    let pass_id = &report.summary.pass_id;
    for op in &report.plan.operations {
        log_line("plannedOperation", pass_id, "operation", op);
    }
    let plan = &report.plan;
    for f in plan
        .conflicts
        .iter()
        .chain(&plan.skipped)
        .chain(&plan.notes)
    {
        log_finding(pass_id, f);
    }
}

fn log_finding(pass_id: &str, f: &Finding) {
    log_line("planFinding", pass_id, "finding", f);
}

fn log_line<T: Serialize>(event: &str, pass_id: &str, key: &str, value: &T) {
    let line = json!({ "event": event, "passId": pass_id, key: value });
    println!("{line}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::{DirectoryGroup, DirectorySnapshot, DirectoryUser, IdcSnapshot};
    use crate::plan::{plan, Policy};

    fn initial_load(users: u32) -> PassReport {
        let dir = DirectorySnapshot {
            users: (0..users)
                .map(|n| DirectoryUser {
                    object_sid: format!("S-1-5-21-1-2-3-{}", 10_000 + n).into(),
                    object_guid: format!("00000000-0000-4000-8000-{n:012}"),
                    dn: format!("CN=User {n},OU=People,DC=corp,DC=example"),
                    sam_account_name: format!("user{n}"),
                    user_principal_name: Some(format!("user{n}@corp.example")),
                    given_name: Some("Given".into()),
                    surname: Some(format!("Family{n}")),
                    display_name: Some(format!("Given Family{n}")),
                    mail: Some(format!("user{n}@corp.example")),
                    enabled: true,
                    account_expires: None,
                    attributes: Default::default(),
                })
                .collect(),
            groups: (0..10)
                .map(|g| DirectoryGroup {
                    object_guid: format!("10000000-0000-4000-8000-{g:012}"),
                    object_sid: None,
                    dn: format!("CN=aws-{g},OU=Groups,DC=corp,DC=example"),
                    name: format!("aws-{g}"),
                    account_name: None,
                    description: None,
                    member_sids: (0..users)
                        .filter(|n| n % 10 == g)
                        .map(|n| format!("S-1-5-21-1-2-3-{}", 10_000 + n).into())
                        .collect(),
                    members_partial: None,
                })
                .collect(),
            skipped: vec![],
            domain_sids: vec!["S-1-5-21-1-2-3".into()],
            ..DirectorySnapshot::default()
        };
        let planned = plan(&dir, &IdcSnapshot::default(), &Policy::default());
        let mut summary = Summary {
            dry_run: true,
            pass_id: "p".into(),
            ..Summary::default()
        };
        crate::apply::count_planned(&planned, &mut summary);
        PassReport {
            summary,
            plan: planned,
            user_names: HashMap::new(),
        }
    }

    #[test]
    fn a_small_dry_run_returns_the_whole_plan() {
        let body = pass_body(&initial_load(20));
        assert_eq!(
            body["plan"]["operations"].as_array().map(Vec::len),
            Some(40)
        );
        assert!(body.get("truncated").is_none());
    }

    #[test]
    fn a_dry_run_at_100k_users_stays_under_the_response_limit() {
        let report = initial_load(100_000);
        let body = pass_body(&report);
        let size = serde_json::to_vec(&body).unwrap().len();
        assert!(size < 6 * 1024 * 1024, "{size} bytes");
        assert_eq!(body["truncated"], json!(true));
        assert_eq!(body["operationsTotal"], json!(100_020));
        assert_eq!(
            body["countsByAction"]["createUser"]["operations"],
            json!(100_000)
        );
        assert_eq!(
            body["countsByAction"]["addMembers"]["members"],
            json!(100_000)
        );
        assert_eq!(
            body["firstOperations"].as_array().map(Vec::len),
            Some(FIRST_OPERATIONS)
        );
        assert_eq!(body["summary"]["usersCreated"], json!(100_000));
        assert!(body["rest"]
            .as_str()
            .is_some_and(|r| r.contains("plannedOperation")));
    }
}
