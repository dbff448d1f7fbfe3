//! The `scim-sync` binary end to end: settings from a TOML file, the bundled sample LDIF as the
//! directory, the emulator as Identity Center; output formats and exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::path::Path;
use std::process::{Command, Output};

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use serde_json::Value;

const TOKEN: &str = "cli-test-token-93be1f";

fn write_config(dir: &Path, emulator: &RunningEmulator) -> std::path::PathBuf {
    write_config_with(dir, emulator, "")
}

fn write_config_with(dir: &Path, emulator: &RunningEmulator, extra: &str) -> std::path::PathBuf {
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let path = dir.join("scim-sync.toml");
    let text = format!(
        r#"
[directory]
source = "ldif"
path = "{}"

[scope]
syncGroup = "aws-sync-users"
groupPrefix = "aws-"
groupSearchBase = "OU=AWS,DC=example,DC=test"

[scim]
url = "{}"
tokenEnv = "CLI_TEST_SCIM_TOKEN"
{extra}
"#,
        ldif.display(),
        emulator.base_url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn scim_sync(config: &Path, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("CLI_TEST_SCIM_TOKEN", token)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_and_a_second_apply_with_their_exit_codes() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emulator);

    let plan = scim_sync(&config, TOKEN, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let out = text(&plan.stdout);
    assert!(
        out.contains("+ create user alice.jones@example.test"),
        "{out}"
    );
    assert!(out.contains("Dry run finished"), "{out}");
    assert_eq!(emulator.counters().writes, 0, "plan must not write");

    let apply = scim_sync(&config, TOKEN, &["--output", "json", "apply"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let report: Value = serde_json::from_slice(&apply.stdout).unwrap();
    let created = report["summary"]["usersCreated"].as_u64().unwrap();
    assert_eq!(created as usize, emulator.dump().users.len());
    assert!(report["plan"]["operations"]
        .as_array()
        .is_some_and(|ops| !ops.is_empty()));

    let again = scim_sync(&config, TOKEN, &["apply"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        text(&again.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_exit_1_and_the_token_is_never_printed() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emulator);
    let wrong = "wrong-token-5c8d2a7e";
    let out = scim_sync(&config, wrong, &["-vvv", "apply"]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("401"), "{all}");
    assert!(
        all.contains("put a new token in environment variable CLI_TEST_SCIM_TOKEN"),
        "the message names where the token comes from: {all}"
    );
    assert!(
        !all.contains(wrong) && !all.contains(TOKEN),
        "a token was printed"
    );
}

#[test]
fn configuration_errors_are_exit_2() {
    let missing = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .args(["--config", "/nonexistent/scim-sync.toml", "plan"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("/nonexistent/scim-sync.toml"));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[scope]\nsyncGroup = \"x\"\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(&config)
        .arg("plan")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_originals_email_and_sync_group_behaviour_can_be_chosen() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan_json = |config: &Path| -> Value {
        let out = scim_sync(config, TOKEN, &["--output", "json", "plan"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let creates_sync_group = |plan: &Value| {
        plan["plan"]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["op"] == "createGroup" && op["display_name"] == "aws-sync-users")
    };

    let default = plan_json(&write_config(dir.path(), &emulator));
    assert!(creates_sync_group(&default), "{default}");

    // Both of the original's behaviours are accepted settings (an unknown key would be exit 2);
    // the email choice itself is covered by the planner's unit tests.
    let original = write_config_with(
        dir.path(),
        &emulator,
        "\n[policy]\nexcludeSyncGroup = true\nemailSource = \"userPrincipalName\"\n",
    );
    let like_original = plan_json(&original);
    assert!(!creates_sync_group(&like_original), "{like_original}");
}

/// Without a `--config` file the CLI loads the AWS SDK configuration, which warns about every
/// missing AWS config or credentials file. Those lines are noise for an operator: not shown at
/// the default verbosity, shown again with `-v` (which also proves the files were looked for).
#[test]
fn missing_aws_config_files_are_not_warned_about_at_the_default_verbosity() {
    let run = |verbose: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-sync"));
        if verbose {
            cmd.arg("-v");
        }
        cmd.arg("plan")
            .env_remove("RUST_LOG")
            .env("AWS_CONFIG_FILE", "/nonexistent/scim-sync-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/scim-sync-test/credentials",
            )
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
            // A closed loopback port: the SSM read fails at once, after the files were read.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .unwrap()
    };
    let quiet = run(false);
    assert_eq!(quiet.status.code(), Some(2), "{}", text(&quiet.stderr));
    let stderr = text(&quiet.stderr);
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert!(stderr.contains("cannot read SSM parameters"), "{stderr}");
    let verbose = text(&run(true).stderr);
    assert!(
        verbose.contains("/nonexistent/scim-sync-test/config"),
        "with -v the SDK's warning is shown: {verbose}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_only_writes_one_users_changes_with_an_audit_trail_and_explain_answers() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emulator);
    let log = dir.path().join("audit.jsonl");

    // The text plan gives every line its reason and code.
    let plan = scim_sync(&config, TOKEN, &["plan"]);
    let out = text(&plan.stdout);
    let op_lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Plan:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(!op_lines.is_empty(), "{out}");
    assert!(
        op_lines
            .iter()
            .all(|l| l.contains(" — ") && l.ends_with(']')),
        "{out}"
    );
    assert!(out.contains("pass id: "), "{out}");
    // The JSON plan names the users its member changes refer to by userName.
    let json_plan = scim_sync(&config, TOKEN, &["--output", "json", "plan"]);
    let doc: Value = serde_json::from_slice(&json_plan.stdout).unwrap();
    let names: Vec<&str> = doc["userNames"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"alice.jones@example.test"), "{doc}");

    let only = scim_sync(
        &config,
        TOKEN,
        &[
            "--output",
            "json",
            "--audit-log",
            log.to_str().unwrap(),
            "apply",
            "--only",
            "alice.jones",
        ],
    );
    assert_eq!(only.status.code(), Some(0), "{}", text(&only.stderr));
    let users = emulator.dump().users;
    assert_eq!(users.len(), 1, "only alice is written: {users:?}");
    let records: Vec<Value> = text(&only.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "change")
        .collect();
    let created: Vec<&Value> = records.iter().filter(|r| r["result"] == "ok").collect();
    assert_eq!(created.len(), 1, "{records:#?}");
    assert_eq!(created[0]["action"], "createUser");
    assert_eq!(created[0]["reason"]["code"], "newInScope");
    assert_eq!(created[0]["object"]["userName"], "alice.jones@example.test");
    assert!(created[0]["object"]["id"].is_string());
    assert!(created[0]["passId"].is_string());
    // Alice's memberships wait for groups that are not created by this on-demand run.
    assert!(records
        .iter()
        .filter(|r| r["result"] != "ok")
        .all(|r| r["result"] == "notStarted" && r["action"] == "changeMembers"));
    let file: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(file, records, "the audit log holds the same records");
    assert!(!text(&only.stderr).contains(TOKEN));

    let explain = scim_sync(
        &config,
        TOKEN,
        &["--output", "json", "explain", "bob.smith"],
    );
    assert_eq!(explain.status.code(), Some(0), "{}", text(&explain.stderr));
    let doc: Value = serde_json::from_slice(&explain.stdout).unwrap();
    for key in ["source", "scope", "mapping", "match", "actions"] {
        assert!(doc.get(key).is_some(), "{key} missing: {doc}");
    }
    assert_eq!(doc["scope"]["chain"]["text"], "aws-sync-users → Bob Smith");
    assert_eq!(
        doc["actions"]["operations"][0]["reason"]["code"],
        "newInScope"
    );

    let readable = text(&scim_sync(&config, TOKEN, &["explain", "bob.smith"]).stdout);
    for step in [
        "1. source",
        "2. scope",
        "3. mapping",
        "4. match",
        "5. actions",
    ] {
        assert!(readable.contains(step), "{readable}");
    }
    assert!(
        readable.contains("chain: aws-sync-users → Bob Smith"),
        "{readable}"
    );
    assert!(readable.contains("[newInScope]"), "{readable}");

    let unknown = scim_sync(&config, TOKEN, &["explain", "nobody-at-all"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = text(&unknown.stderr);
    assert!(
        err.contains("nobody-at-all") && err.contains("sAMAccountName"),
        "{err}"
    );
}

#[tokio::test]
async fn apply_incremental_needs_an_ldap_source_and_a_state_file() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An LDIF source is refused with a reason, with or without a state file; nothing sent.
    let config = write_config(dir.path(), &emulator);
    let out = scim_sync(&config, TOKEN, &["apply", "--incremental"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("LDIF"), "{}", text(&out.stderr));
    let config = write_config_with(dir.path(), &emulator, "[run]\nstateFile = \"state.json\"\n");
    let out = scim_sync(&config, TOKEN, &["apply", "--incremental"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("LDIF export has no update sequence numbers"),
        "{err}"
    );
    assert!(!dir.path().join("state.json").exists());
    // --incremental and --only do not go together.
    let out = scim_sync(
        &config,
        TOKEN,
        &["apply", "--incremental", "--only", "jdoe"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(emulator.counters().total, 0);
}
