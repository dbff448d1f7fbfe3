//! Token rotation: the token in Secrets Manager (moto) is rotated while a session is warm; the
//! next pass meets a 401, re-reads the secret once and succeeds, as a warm Lambda must.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;

use std::path::Path;

use idc_emulator::{Emulator, EmulatorConfig};
use scim_sync::config;
use scim_sync::pass::{PassOptions, Session};

const OLD: &str = "rotation-old-token-1a2b3c";
const NEW: &str = "rotation-new-token-4d5e6f";
const SECRET: &str = "rotation-test/SCIM-API-Token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_is_reread_once_and_the_pass_goes_on() {
    let moto = moto::Moto::start().await;
    moto.create_secret(SECRET, OLD).await;
    let emulator = Emulator::start(EmulatorConfig::new(OLD)).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let path = dir.path().join("rotation.toml");
    std::fs::write(
        &path,
        format!(
            "[directory]\nsource = \"ldif\"\npath = \"{}\"\n\n[scope]\nsyncGroup = \"aws-sync-users\"\n\
             groupPrefix = \"aws-\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\n[scim]\n\
             url = \"{}\"\ntokenSecretId = \"{SECRET}\"\n",
            ldif.display(),
            emulator.base_url()
        ),
    )
    .unwrap();
    let settings = config::load_from_file(&path, Some(moto.sdk()))
        .await
        .unwrap();
    let mut session = Session::new(settings, Some(moto.sdk().clone())).unwrap();
    let first = session.run(&PassOptions::default()).await.unwrap();
    assert!(first.summary.users_created > 0);

    // The operator rotates: a new token in Identity Center and in the secret, the old one revoked.
    emulator.rotate_token(NEW);
    emulator.revoke_token(OLD);
    moto.put_secret_value(SECRET, NEW).await;

    let second = session.run(&PassOptions::default()).await.unwrap();
    assert!(!second.summary.token_rejected, "{:#?}", second.summary);
    assert_eq!(second.summary.scim_writes, 0);
    assert!(
        emulator.counters().unauthorized >= 1,
        "the old token was never rejected"
    );

    // A token that is rejected and not fixed in the secret fails the pass, naming the secret.
    emulator.revoke_token(NEW);
    let err = session.run(&PassOptions::default()).await.unwrap_err();
    assert!(err.is_token_rejected());
    let message = err.to_string();
    assert!(message.contains(SECRET), "{message}");
    assert!(
        !message.contains(NEW) && !message.contains(OLD),
        "a token reached the error"
    );
}
