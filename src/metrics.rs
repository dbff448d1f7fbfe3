//! CloudWatch metrics for every pass, in the Embedded Metric Format (EMF).
//!
//! Why EMF: a Lambda's stdout lines go to CloudWatch Logs, which turns an EMF line into metrics
//! on its own. No `PutMetricData` call, no extra IAM permission, no network path from the VPC
//! to the CloudWatch API, and no SDK crate. One line per pass keeps the log readable and the
//! metric cost fixed.
//!
//! The template's alarms (`template.yaml`) use these metric names and the
//! `FunctionName` + `Mode` dimensions. Rename one here and you must rename it there too (a
//! unit test reads the template to catch a mismatch).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::model::Summary;

/// The environment variable the template sets to choose the metrics namespace. It is a
/// variable so that two deployments in one account can keep their metrics apart.
pub const NAMESPACE_ENV: &str = "SCIM_SYNC_METRICS_NAMESPACE";
/// The namespace when [`NAMESPACE_ENV`] is unset (the template's default too).
pub const DEFAULT_NAMESPACE: &str = "ScimSync";
/// The name reported when the process is not a Lambda (the CLI).
pub const DEFAULT_FUNCTION_NAME: &str = "scim-sync";

/// Dimension that tells deployments apart (the Lambda function's name).
pub const FUNCTION_NAME_DIMENSION: &str = "FunctionName";
/// Dimension that keeps dry runs apart: their counts are planned changes, not changes made,
/// and the alarms must only watch passes that write (`Mode` = [`MODE_APPLY`]).
pub const MODE_DIMENSION: &str = "Mode";
/// `Mode` value of a pass that writes.
pub const MODE_APPLY: &str = "apply";
/// `Mode` value of a dry run.
pub const MODE_DRY_RUN: &str = "dry-run";

/// CloudWatch units used here; `Count` for counts and 0/1 flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// The metrics a pass that could not run reports. It knows nothing of failed writes, withheld
/// changes or whether the work is complete: a 0 there would turn those alarms OK while the
/// problem may persist (they keep their state on missing data).
const FAILED_PASS_METRICS: [&str; 2] = ["TokenRejected", "PassFailed"];

/// Every metric of one pass: its name, unit and value. A single table, so the directive and the
/// values can never disagree.
fn metric_values(summary: &Summary, pass_failed: bool) -> Vec<(&'static str, Unit, u64)> {
    let len = |items: usize| u64::try_from(items).unwrap_or(u64::MAX);
    let flag = |b: bool| u64::from(b);
    let all = vec![
        ("UsersCreated", Unit::Count, summary.users_created),
        ("UsersUpdated", Unit::Count, summary.users_updated),
        ("UsersDisabled", Unit::Count, summary.users_disabled),
        ("UsersDeleted", Unit::Count, summary.users_deleted),
        ("GroupsCreated", Unit::Count, summary.groups_created),
        ("GroupsUpdated", Unit::Count, summary.groups_updated),
        ("GroupsDeleted", Unit::Count, summary.groups_deleted),
        ("MembersAdded", Unit::Count, summary.members_added),
        ("MembersRemoved", Unit::Count, summary.members_removed),
        ("Conflicts", Unit::Count, len(summary.conflicts.len())),
        ("SkippedEntries", Unit::Count, len(summary.skipped.len())),
        ("Failures", Unit::Count, len(summary.failures.len())),
        ("Withheld", Unit::Count, len(summary.withheld.len())),
        ("Incomplete", Unit::Count, flag(summary.incomplete)),
        ("ScimReads", Unit::Count, summary.scim_reads),
        ("ScimWrites", Unit::Count, summary.scim_writes),
        ("DurationMs", Unit::Milliseconds, summary.duration_ms),
        ("TokenRejected", Unit::Count, flag(summary.token_rejected)),
        ("PassFailed", Unit::Count, flag(pass_failed)),
    ];
    if pass_failed {
        all.into_iter()
            .filter(|(name, _, _)| FAILED_PASS_METRICS.contains(name))
            .collect()
    } else {
        all
    }
}

/// The EMF document for one pass, as CloudWatch Logs expects it on one log line.
///
/// `pass_failed` is true when the pass ended in an error (configuration, directory or Identity
/// Center unreachable): pass the partial summary, or `Summary { dry_run, ..Default::default() }`
/// when there is none, so the alarm on `PassFailed` still gets its data point. Only counts go in:
/// names of conflicting objects and failure messages stay in the regular log lines.
///
/// Pure (the caller supplies the clock) so tests can compare whole documents.
pub fn emf_record(
    summary: &Summary,
    namespace: &str,
    function_name: &str,
    timestamp_ms: u64,
    pass_failed: bool,
) -> Value {
    let values = metric_values(summary, pass_failed);
    let mode = if summary.dry_run {
        MODE_DRY_RUN
    } else {
        MODE_APPLY
    };
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
        .collect();

    let mut record = Map::new();
    record.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[FUNCTION_NAME_DIMENSION, MODE_DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    record.insert(FUNCTION_NAME_DIMENSION.into(), json!(function_name));
    record.insert(MODE_DIMENSION.into(), json!(mode));
    for (name, _, value) in values {
        record.insert(name.into(), json!(value));
    }
    Value::Object(record)
}

/// Prints the pass's EMF record as one line on stdout, where the Lambda runtime hands it to
/// CloudWatch Logs. Call it once per pass, also when the pass failed (`pass_failed`).
///
/// Never fails the pass: metrics are a report, so a closed stdout only produces a warning.
pub fn emit(summary: &Summary, namespace: &str, function_name: &str, pass_failed: bool) {
    let record = emf_record(summary, namespace, function_name, now_ms(), pass_failed);
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{record}").and_then(|()| out.flush()) {
        tracing::warn!(%error, "could not write the metrics line to stdout; this pass has no metrics");
    }
}

/// The namespace chosen by the deployment ([`NAMESPACE_ENV`]), or [`DEFAULT_NAMESPACE`].
pub fn namespace_from_env() -> String {
    non_empty_env(NAMESPACE_ENV).unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`, set by the Lambda runtime), which
/// the template's alarms use as the dimension, or [`DEFAULT_FUNCTION_NAME`] outside Lambda.
pub fn function_name_from_env() -> String {
    non_empty_env("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| DEFAULT_FUNCTION_NAME.to_string())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::Failure;

    /// Every metric name the directive must carry (the alarms in template.yaml depend on them).
    const EXPECTED: &[&str] = &[
        "UsersCreated",
        "UsersUpdated",
        "UsersDisabled",
        "UsersDeleted",
        "GroupsCreated",
        "GroupsUpdated",
        "GroupsDeleted",
        "MembersAdded",
        "MembersRemoved",
        "Conflicts",
        "SkippedEntries",
        "Failures",
        "Withheld",
        "Incomplete",
        "ScimReads",
        "ScimWrites",
        "DurationMs",
        "TokenRejected",
        "PassFailed",
    ];

    /// The units CloudWatch accepts in an EMF directive.
    const CLOUDWATCH_UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    /// A summary whose every count is different, so a metric wired to the wrong field shows.
    fn distinct_summary() -> Summary {
        let f = |code, text: &str| crate::model::Finding::new(code, text);
        use crate::model::ReasonCode;
        Summary {
            pass_id: "p".into(),
            dry_run: false,
            users_created: 1,
            users_updated: 2,
            users_disabled: 3,
            users_deleted: 4,
            groups_created: 5,
            groups_updated: 6,
            groups_deleted: 7,
            members_added: 8,
            members_removed: 9,
            conflicts: vec![f(ReasonCode::NameTakenByForeignObject, "c1"); 10],
            skipped: vec![f(ReasonCode::MissingGivenName, "s1"); 11],
            failures: (0..12)
                .map(|i| Failure {
                    operation: "create user".into(),
                    target: format!("user{i}@example.com (S-1-5-21-1-2-3-{i})"),
                    error: "HTTP 500 from Identity Center: retry later".into(),
                })
                .collect(),
            withheld: vec![f(ReasonCode::HeldBackByGuard, "w1"); 13],
            incomplete: true,
            unfinished: Vec::new(),
            scim_reads: 14,
            scim_writes: 15,
            duration_ms: 16,
            token_rejected: true,
            version: "9.9.9".into(),
            incremental: None,
        }
    }

    /// Checks the structure CloudWatch requires of an EMF document and returns the directive's
    /// metric names with their units.
    fn assert_valid_emf(doc: &Value) -> Vec<(String, String)> {
        let top = doc.as_object().expect("an EMF document is a JSON object");
        let aws = top["_aws"].as_object().expect("_aws is an object");
        assert!(
            aws["Timestamp"].is_u64(),
            "_aws.Timestamp is an integer (ms)"
        );
        let directives = aws["CloudWatchMetrics"].as_array().expect("array");
        assert!(!directives.is_empty());
        let mut all = Vec::new();
        for directive in directives {
            let namespace = directive["Namespace"].as_str().expect("Namespace string");
            assert!(!namespace.is_empty() && namespace.len() <= 255);
            let dimension_sets = directive["Dimensions"].as_array().expect("Dimensions");
            for set in dimension_sets {
                let set = set.as_array().expect("a dimension set is an array");
                assert!(!set.is_empty() && set.len() <= 30);
                for dimension in set {
                    let key = dimension.as_str().expect("dimension names are strings");
                    let value = top.get(key).unwrap_or_else(|| panic!("no value for {key}"));
                    let value = value.as_str().expect("dimension values are strings");
                    assert!(!value.is_empty(), "dimension {key} is empty");
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name string");
                let unit = metric["Unit"].as_str().expect("Unit string");
                assert!(CLOUDWATCH_UNITS.contains(&unit), "{name}: unit {unit}");
                let value = top
                    .get(name)
                    .unwrap_or_else(|| panic!("no value for {name}"));
                assert!(value.is_number(), "{name} has a numeric value");
                all.push((name.to_string(), unit.to_string()));
            }
        }
        all
    }

    fn value_of(doc: &Value, name: &str) -> u64 {
        doc[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} not a u64"))
    }

    #[test]
    fn document_is_valid_emf_with_every_expected_metric_once() {
        let doc = emf_record(
            &distinct_summary(),
            "ScimSync",
            "scim-sync-fn",
            1_700_000_000_123,
            false,
        );
        let metrics = assert_valid_emf(&doc);
        let names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names, EXPECTED,
            "directive lists exactly the expected metrics, in order"
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ScimSync");
        assert_eq!(doc[FUNCTION_NAME_DIMENSION], "scim-sync-fn");
    }

    #[test]
    fn every_metric_carries_its_own_field() {
        let doc = emf_record(&distinct_summary(), "N", "f", 0, false);
        let expected: Vec<(&str, u64)> = vec![
            ("UsersCreated", 1),
            ("UsersUpdated", 2),
            ("UsersDisabled", 3),
            ("UsersDeleted", 4),
            ("GroupsCreated", 5),
            ("GroupsUpdated", 6),
            ("GroupsDeleted", 7),
            ("MembersAdded", 8),
            ("MembersRemoved", 9),
            ("Conflicts", 10),
            ("SkippedEntries", 11),
            ("Failures", 12),
            ("Withheld", 13),
            ("Incomplete", 1),
            ("ScimReads", 14),
            ("ScimWrites", 15),
            ("DurationMs", 16),
            ("TokenRejected", 1),
            ("PassFailed", 0),
        ];
        for (name, value) in expected {
            assert_eq!(value_of(&doc, name), value, "{name}");
        }
    }

    /// A pass that could not run must not report `Failures = 0`, `Withheld = 0` or
    /// `Incomplete = 0`: those alarms would turn OK without any pass having done the work.
    #[test]
    fn a_failed_pass_reports_only_pass_failed_and_token_rejected() {
        let doc = emf_record(&distinct_summary(), "N", "f", 0, true);
        let metrics = assert_valid_emf(&doc);
        let names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["TokenRejected", "PassFailed"]);
        assert_eq!(value_of(&doc, "PassFailed"), 1);
        assert_eq!(value_of(&doc, "TokenRejected"), 1);
        for absent in ["Failures", "Withheld", "Incomplete", "UsersCreated"] {
            assert!(
                doc.get(absent).is_none(),
                "{absent} reported by a failed pass"
            );
        }
    }

    #[test]
    fn a_clean_pass_reports_zero_flags_and_apply_mode() {
        let doc = emf_record(&Summary::default(), "N", "f", 5, false);
        assert_valid_emf(&doc);
        for name in EXPECTED {
            assert_eq!(value_of(&doc, name), 0, "{name}");
        }
        assert_eq!(doc[MODE_DIMENSION], MODE_APPLY);
    }

    #[test]
    fn dry_runs_get_their_own_mode_so_alarms_ignore_planned_counts() {
        let summary = Summary {
            dry_run: true,
            users_created: 40,
            ..Summary::default()
        };
        let doc = emf_record(&summary, "N", "f", 5, false);
        assert_valid_emf(&doc);
        assert_eq!(doc[MODE_DIMENSION], MODE_DRY_RUN);
        assert_eq!(value_of(&doc, "UsersCreated"), 40);
    }

    #[test]
    fn units_are_count_except_duration() {
        let doc = emf_record(&distinct_summary(), "N", "f", 0, false);
        for (name, unit) in assert_valid_emf(&doc) {
            let want = if name == "DurationMs" {
                "Milliseconds"
            } else {
                "Count"
            };
            assert_eq!(unit, want, "{name}");
        }
    }

    /// The template's alarms watch these metrics by name; a rename on one side only would leave
    /// an alarm that can never fire.
    #[test]
    fn the_templates_alarms_use_metrics_this_module_emits() {
        let template = include_str!("../template.yaml");
        assert!(
            template.contains(NAMESPACE_ENV),
            "template sets {NAMESPACE_ENV}"
        );
        let lines: Vec<&str> = template.lines().map(str::trim).collect();
        let mut watched = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if *line == "Namespace: !Ref MetricsNamespace" {
                let name = lines[i + 1]
                    .strip_prefix("MetricName: ")
                    .expect("MetricName follows Namespace");
                assert!(EXPECTED.contains(&name), "alarm on unknown metric {name}");
                let dimensions = lines[i + 2..i + 7].join("\n");
                assert!(
                    dimensions.contains(&format!("Name: {FUNCTION_NAME_DIMENSION}"))
                        && dimensions.contains(&format!("Name: {MODE_DIMENSION}"))
                        && dimensions.contains(&format!("Value: {MODE_APPLY}")),
                    "alarm on {name} must use the FunctionName and Mode=apply dimensions"
                );
                watched.push(name);
            }
        }
        for name in [
            "Failures",
            "PassFailed",
            "TokenRejected",
            "Withheld",
            "Incomplete",
        ] {
            assert!(watched.contains(&name), "no alarm on {name}");
        }
    }

    #[test]
    fn the_line_is_single_and_carries_no_object_names_or_messages() {
        let doc = emf_record(&distinct_summary(), "N", "f", 0, false);
        let line = doc.to_string();
        assert!(!line.contains('\n'));
        for detail in [
            "user0@example.com",
            "S-1-5-21",
            "HTTP 500",
            "c1",
            "s1",
            "w1",
        ] {
            assert!(
                !line.contains(detail),
                "{detail} leaked into the metrics line"
            );
        }
        // Only _aws, the two dimensions and the metric values.
        assert_eq!(doc.as_object().unwrap().len(), 1 + 2 + EXPECTED.len());
    }
}
