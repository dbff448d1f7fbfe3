//! The pass lease against moto's DynamoDB: a held lease turns other passes, the Lambda and the
//! CLI away cleanly, an expired one (a crashed holder) can be taken over, and a pass gives it
//! back only while it still holds it.
//!
//! Not tested here: that of two writes racing, exactly one wins. That is DynamoDB's guarantee for
//! a conditional write; moto serves requests on threads without making the condition check and
//! the write one step, so two concurrent takes can both succeed against it (seen under load).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use idc_emulator::{Emulator, EmulatorConfig};
use lambda_runtime::{Context, LambdaEvent};
use scim_sync::config::{AwsNames, LeaseConfig};
use scim_sync::lambda::App;
use scim_sync::lease::{Acquired, Lease, LeaseTable, KEY_ATTRIBUTE};
use serde_json::{json, Value};

const TOKEN: &str = "lease-test-token-51f0c2";
const KEY: &str = "https://scim.eu-west-1.amazonaws.com/tenant-a/scim/v2/";

fn in_secs(s: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(s)
}

fn held(a: Acquired) -> Lease {
    match a {
        Acquired::Held(lease) => lease,
        Acquired::Busy(by) => panic!("expected the lease, {by}"),
    }
}

async fn table(moto: &moto::Moto, name: &str) -> LeaseTable {
    moto.create_table(name, KEY_ATTRIBUTE).await;
    LeaseTable::new(moto.sdk(), name)
}

#[tokio::test]
async fn one_holder_at_a_time_and_a_release_frees_it() {
    let moto = moto::Moto::start().await;
    let t = table(&moto, "lease-basic").await;

    let first = held(t.acquire(KEY, "pass one", in_secs(600)).await.unwrap());
    match t.acquire(KEY, "pass two", in_secs(600)).await.unwrap() {
        Acquired::Busy(by) => {
            assert_eq!(by.owner, "pass one");
            let text = by.to_string();
            assert!(
                text.contains("another pass holds the lease") && text.contains("pass one"),
                "{text}"
            );
        }
        Acquired::Held(_) => panic!("two passes held the lease at once"),
    }
    // Another Identity Center is another lease.
    let other = held(
        t.acquire("https://scim.example/other/", "other", in_secs(600))
            .await
            .unwrap(),
    );
    first.release().await.unwrap();
    let again = held(t.acquire(KEY, "pass three", in_secs(600)).await.unwrap());
    again.release().await.unwrap();
    other.release().await.unwrap();
    assert!(moto.table_items("lease-basic").await.is_empty());
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_late_release_frees_nothing() {
    let moto = moto::Moto::start().await;
    let t = table(&moto, "lease-expiry").await;
    // A holder that crashed: its lease ended a second ago.
    let crashed = held(
        t.acquire(KEY, "crashed", SystemTime::now() - Duration::from_secs(1))
            .await
            .unwrap(),
    );
    let next = held(t.acquire(KEY, "next", in_secs(600)).await.unwrap());
    // The crashed holder coming back must not free the lease it lost.
    crashed.release().await.unwrap();
    assert!(matches!(
        t.acquire(KEY, "third", in_secs(600)).await.unwrap(),
        Acquired::Busy(by) if by.owner == "next"
    ));
    next.release().await.unwrap();
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_names_it() {
    let moto = moto::Moto::start().await;
    let t = LeaseTable::new(moto.sdk(), "no-such-lease-table");
    let err = t.acquire(KEY, "x", in_secs(60)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no-such-lease-table") && text.contains("SCIM_SYNC_LEASE_TABLE"),
        "{text}"
    );
}

/// The configuration of a deployment whose SCIM endpoint is `scim_url`; the directory is never
/// reached in these tests (a pass turned away reads nothing).
async fn seed(moto: &moto::Moto, n: &AwsNames, scim_url: &str) {
    let p = |leaf: &str| n.parameter(leaf);
    moto.put_parameter(&p("AD-Group-Name"), "aws-sync-users")
        .await;
    moto.put_parameter(&p("AD-Group-Prefix"), "aws-").await;
    moto.put_parameter(&p("AD-Search-Base"), "OU=AWS,DC=example,DC=test")
        .await;
    moto.put_parameter(&p("SCIM-URI"), scim_url).await;
    moto.put_parameter(&p("Domain-Controller"), "ldaps://127.0.0.1:1")
        .await;
    moto.create_secret(&n.token_secret_id, TOKEN).await;
    moto.create_secret(
        &n.ldap_secret_id,
        &json!({"username": "svc@example.test", "password": "pw-1"}).to_string(),
    )
    .await;
}

#[tokio::test]
async fn a_lambda_invocation_finding_the_lease_held_exits_cleanly_without_reading() {
    let moto = moto::Moto::start().await;
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let t = table(&moto, "lease-lambda").await;
    let n = AwsNames {
        parameter_path: "/t-lease/IAM-IDC/".into(),
        token_secret_id: "t-lease/SCIM-API-Token".into(),
        ldap_secret_id: "t-lease/AD-RO-UserCreds".into(),
    };
    seed(&moto, &n, &emulator.base_url()).await;
    let lease = LeaseConfig {
        table: "lease-lambda".into(),
        duration: Duration::from_secs(600),
    };
    let app = App::with_config(moto.sdk().clone(), n.clone(), Ok(Some(lease)));

    // The key is the endpoint as the settings normalise it (one trailing slash).
    let url = format!("{}/", emulator.base_url().trim_end_matches('/'));
    let other = held(
        t.acquire(&url, "the CLI on ops-1", in_secs(600))
            .await
            .unwrap(),
    );
    let out: Value = app
        .handle(LambdaEvent::new(json!({}), Context::default()))
        .await
        .unwrap();
    let skipped = out["skipped"].as_str().unwrap_or_default();
    assert!(
        skipped.contains("another pass holds the lease") && skipped.contains("the CLI on ops-1"),
        "{out}"
    );
    assert_eq!(emulator.counters().total, 0, "a skipped pass reads nothing");

    // A dry run writes nothing and needs no lease.
    let dry = app
        .handle(LambdaEvent::new(
            json!({"dryRun": true}),
            Context::default(),
        ))
        .await;
    assert!(
        dry.is_err(),
        "the directory is unreachable in this test, so the dry run fails reading it"
    );
    assert!(
        dry.unwrap_err().to_string().contains("directory"),
        "the dry run got past the lease to the directory"
    );
    other.release().await.unwrap();

    // A lease table that does not exist fails the invocation, naming the table.
    let broken = App::with_config(
        moto.sdk().clone(),
        n,
        Ok(Some(LeaseConfig {
            table: "lease-missing".into(),
            duration: Duration::from_secs(600),
        })),
    );
    let err = broken
        .handle(LambdaEvent::new(json!({}), Context::default()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lease-missing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shares_the_lease_exits_4_while_it_is_held_and_releases_it_after_a_pass() {
    let moto = moto::Moto::start().await;
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let t = table(&moto, "lease-cli").await;
    let dir = tempfile::tempdir().unwrap();
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let config = dir.path().join("scim-sync.toml");
    std::fs::write(
        &config,
        format!(
            "[directory]\nsource = \"ldif\"\npath = \"{}\"\n\n[scope]\nsyncGroup = \"aws-sync-users\"\ngroupPrefix = \"aws-\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\n[scim]\nurl = \"{}\"\ntokenEnv = \"LEASE_TEST_TOKEN\"\n",
            ldif.display(),
            emulator.base_url()
        ),
    )
    .unwrap();
    let apply = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-sync"));
        cmd.arg("--config")
            .arg(&config)
            .arg("apply")
            .env("LEASE_TEST_TOKEN", TOKEN)
            .env("SCIM_SYNC_LEASE_TABLE", "lease-cli")
            .env_remove("RUST_LOG");
        for (k, v) in moto.standard_env() {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let url = format!("{}/", emulator.base_url().trim_end_matches('/'));
    let lambda = held(
        t.acquire(&url, "Lambda scim-sync, request r-1", in_secs(600))
            .await
            .unwrap(),
    );
    let busy = apply();
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert_eq!(busy.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("another pass holds the lease") && stderr.contains("request r-1"),
        "{stderr}"
    );
    assert_eq!(emulator.counters().total, 0);

    lambda.release().await.unwrap();
    let ran = apply();
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(emulator.counters().applied_writes > 0);
    assert!(
        moto.table_items("lease-cli").await.is_empty(),
        "the CLI gives the lease back"
    );
}
