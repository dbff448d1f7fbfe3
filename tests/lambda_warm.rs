//! The Lambda handler in process, across warm invocations of one execution environment:
//! settings read from moto on every invocation, against the Samba AD DC and the Identity
//! Center emulator. DC address 127.0.0.27 (see tests/support/samba.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;
#[path = "support/samba.rs"]
mod samba;

use idc_emulator::{Emulator, EmulatorConfig};
use lambda_runtime::{Context, LambdaEvent};
use std::time::Duration;

use scim_sync::config::{AwsNames, LeaseConfig};
use scim_sync::lambda::App;
use serde_json::{json, Value};

const TOKEN: &str = "lambda-warm-token-7c1d93";
const ROTATED: &str = "lambda-warm-token-rotated-2e84f0";

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn names() -> AwsNames {
    AwsNames {
        parameter_path: "/t-warm/IAM-IDC/".into(),
        token_secret_id: "t-warm/SCIM-API-Token".into(),
        ldap_secret_id: "t-warm/AD-RO-UserCreds".into(),
    }
}

async fn seed(moto: &moto::Moto, n: &AwsNames, dc: &samba::SambaDc, scim_url: &str) {
    let p = |leaf: &str| n.parameter(leaf);
    moto.put_parameter(&p("AD-Group-Name"), samba::SYNC_GROUP)
        .await;
    moto.put_parameter(&p("AD-Group-Prefix"), samba::GROUP_PREFIX)
        .await;
    moto.put_parameter(&p("AD-Search-Base"), samba::GROUP_BASE)
        .await;
    moto.put_parameter(&p("SCIM-URI"), scim_url).await;
    moto.put_parameter(&p("Domain-Controller"), &dc.ldaps_url())
        .await;
    moto.put_parameter(&p("AD-CA-Bundle"), &dc.ca_pem()).await;
    moto.create_secret(
        &n.token_secret_id,
        &json!({"SCIM-API-Token": TOKEN}).to_string(),
    )
    .await;
    let creds = json!({"userName": samba::BIND_DN, "userPassword": samba::BIND_PASSWORD});
    moto.create_secret(&n.ldap_secret_id, &creds.to_string())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_between_warm_invocations_take_effect_on_the_next_one() {
    let dc = samba::SambaDc::start("127.0.0.27");
    let moto = moto::Moto::start().await;
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let n = names();
    seed(&moto, &n, &dc, &emulator.base_url()).await;
    let settings = n.parameter("Sync-Settings");
    moto.create_table("lease-warm", scim_sync::lease::KEY_ATTRIBUTE)
        .await;
    let lease = LeaseConfig {
        table: "lease-warm".into(),
        duration: Duration::from_secs(600),
    };
    let app = App::with_config(moto.sdk().clone(), n.clone(), Ok(Some(lease)));

    // Set "for one run": the first invocation is a dry run because Sync-Settings says so.
    moto.put_parameter(&settings, r#"{"run": {"dryRun": true}}"#)
        .await;
    let first = app.handle(event(json!({}))).await.unwrap();
    assert_eq!(first["summary"]["dryRun"], json!(true), "{first}");
    assert_eq!(first["summary"]["version"], json!(scim_sync::VERSION));
    assert!(first["plan"]["operations"].as_array().unwrap().len() > 40);
    assert_eq!(emulator.counters().writes, 0);

    // Unset: the very next (warm) invocation writes.
    moto.delete_parameter(&settings).await;
    let second = app.handle(event(json!({}))).await.unwrap();
    let summary = &second["summary"];
    assert_eq!(summary["dryRun"], json!(false), "{second}");
    assert!(summary["usersCreated"].as_u64().unwrap() > 30, "{second}");
    assert_eq!(summary["failures"], json!([]), "{second}");
    assert!(emulator.counters().writes > 0);
    // What stays in the table is the watermark the full pass left (issue 19), not the lease.
    let items = moto.table_items("lease-warm").await;
    let is_watermark = |i: &std::collections::HashMap<String, String>| {
        i.get("lease").is_some_and(|k| k.starts_with("watermark|"))
    };
    assert!(
        items.iter().all(is_watermark),
        "the pass gave its lease back: {items:?}"
    );
    assert_eq!(items.len(), 1, "the pass left one watermark: {items:?}");

    // A token rotated in Secrets Manager is used from the first request of the next
    // invocation: no 401 first, although the old token is revoked.
    emulator.rotate_token(ROTATED);
    emulator.revoke_token(TOKEN);
    moto.put_secret_value(
        &n.token_secret_id,
        &json!({"SCIM-API-Token": ROTATED}).to_string(),
    )
    .await;
    let third = app.handle(event(json!({}))).await.unwrap();
    assert_eq!(third["summary"]["scimWrites"], json!(0), "{third}");
    assert_eq!(third["summary"]["tokenRejected"], json!(false), "{third}");
    assert_eq!(emulator.counters().by_status.get("401"), None);
    // So far one client, kept warm through three invocations with different settings.
    assert_eq!(app.clients_built().await, 1);

    // A setting the client is built from (its concurrency) gets a client built for it.
    moto.put_parameter(&settings, r#"{"scim": {"concurrency": 2}}"#)
        .await;
    let fourth = app.handle(event(json!({}))).await.unwrap();
    assert_eq!(fourth["summary"]["scimWrites"], json!(0), "{fourth}");
    assert_eq!(app.clients_built().await, 2);

    // An invalid setting fails that invocation, and the fix works on the next one.
    moto.put_parameter(&settings, r#"{"guard": {"maxDestructiveShare": 7}}"#)
        .await;
    let err = app.handle(event(json!({}))).await.unwrap_err();
    assert!(err.to_string().contains("maxDestructiveShare"), "{err}");
    moto.delete_parameter(&settings).await;
    let sixth = app.handle(event(json!({}))).await.unwrap();
    assert_eq!(sixth["summary"]["scimWrites"], json!(0), "{sixth}");
}
