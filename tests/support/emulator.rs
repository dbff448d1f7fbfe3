//! Starts the IdC emulator over real HTTP and builds a SCIM client for it with test-sized
//! backoff, so retry paths run in milliseconds instead of seconds.
#![allow(dead_code)]

use std::time::Duration;

use idc_emulator::{Behaviour, Emulator, EmulatorConfig, Faults, RunningEmulator};
use scim_sync::identity_center::{ScimClient, ScimClientConfig};
use scim_sync::plan::UserAttributes;
use scim_sync::secret::Secret;

/// The token every test emulator starts with. Long and distinctive so a leak is easy to spot.
pub const TOKEN: &str = "tok-7f3a9c1e5b2d8f4a6c0e9b7d5f3a1c8e-ENDOFTOKEN";
/// The secret id the client names in its 401 message.
pub const TOKEN_SECRET_ID: &str = "IAM-IDC/SCIM-API-Token";

/// An emulator with the given switches, no faults, deterministic seed.
pub async fn start(behaviour: Behaviour) -> RunningEmulator {
    start_with(behaviour, Faults::default()).await
}

pub async fn start_with(behaviour: Behaviour, faults: Faults) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        behaviour,
        faults,
        seed: Some(7),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// Client settings for tests: fast backoff, a generous rate limit, the secret id set.
pub fn fast_config(emu: &RunningEmulator) -> ScimClientConfig {
    ScimClientConfig {
        token_secret_id: Some(TOKEN_SECRET_ID.to_string()),
        concurrency: 8,
        rate_limit_per_sec: 2000,
        rate_limit_burst: 100,
        max_attempts: 10,
        max_retry_time: Duration::from_secs(60),
        backoff_base: Duration::from_millis(2),
        backoff_cap: Duration::from_millis(50),
        request_timeout: Duration::from_secs(10),
        read_after_write_grace: Duration::from_secs(3),
        ..ScimClientConfig::new(&emu.base_url(), Secret::new(TOKEN)).expect("a loopback URL")
    }
}

pub fn client(emu: &RunningEmulator) -> ScimClient {
    ScimClient::new(fast_config(emu)).expect("client builds")
}

/// The i-th test user: userName `user{i}@example.com`, externalId a SID-like anchor.
pub fn user(i: usize) -> UserAttributes {
    UserAttributes {
        external_id: sid(i),
        user_name: format!("user{i}@example.com"),
        display_name: format!("User {i}"),
        given_name: "User".to_string(),
        family_name: format!("Number{i}"),
        email: Some(format!("user{i}@example.com")),
        active: true,
        attributes: Default::default(),
    }
}

pub fn sid(i: usize) -> String {
    format!("S-1-5-21-1004336348-1177238915-682003330-{}", 10_000 + i)
}

/// A GUID-like group anchor.
pub fn guid(i: usize) -> String {
    format!("0f1e2d3c-4b5a-6978-8796-{i:012x}")
}

/// Every emulator behaviour switch combination the membership tests run under.
pub fn member_switches() -> Vec<Behaviour> {
    let mut out = Vec::new();
    for dup in [false, true] {
        for non in [false, true] {
            out.push(Behaviour {
                duplicate_member_add_is_error: dup,
                remove_non_member_is_error: non,
                ..Behaviour::default()
            });
        }
    }
    out
}
