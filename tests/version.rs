//! The release number a person or a ticket sees: `scim-sync --version` and the `version` of
//! every pass summary both carry the version in Cargo.toml.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::path::Path;
use std::process::Command;

use idc_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const TOKEN: &str = "version-test-token-0c44e1";

/// The `version = "…"` of the `[package]` section, read from the manifest itself.
fn manifest_version() -> String {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let package = manifest.split("[package]").nth(1).unwrap();
    let line = package
        .lines()
        .find(|l| l.starts_with("version = "))
        .unwrap();
    line.trim_start_matches("version = ")
        .trim_matches('"')
        .to_string()
}

#[test]
fn version_flag_prints_the_manifest_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("scim-sync {}", manifest_version())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pass_summary_names_the_version_that_ran_it() {
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let config = dir.path().join("scim-sync.toml");
    std::fs::write(
        &config,
        format!(
            "[directory]\nsource = \"ldif\"\npath = \"{}\"\n\n[scope]\nsyncGroup = \"aws-sync-users\"\ngroupPrefix = \"aws-\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\n[scim]\nurl = \"{}\"\ntokenEnv = \"VERSION_TEST_TOKEN\"\n",
            ldif.display(),
            emulator.base_url()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scim-sync"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("VERSION_TEST_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("SCIM_SYNC_LEASE_TABLE")
            .output()
            .unwrap()
    };
    let want = manifest_version();
    for args in [
        &["--output", "json", "plan"][..],
        &["--output", "json", "apply"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["summary"]["version"],
            Value::from(want.clone()),
            "{args:?}"
        );
    }
    let text = String::from_utf8_lossy(&run(&["plan"]).stdout).into_owned();
    assert!(text.contains(&format!("(scim-sync {want})")), "{text}");
}
