//! The SCIM client against the IdC emulator under injected faults: throttling with and without
//! `Retry-After`, server errors, latency, dropped connections, lost responses and malformed
//! bodies. Every operation must take effect exactly once: no duplicate, no lost change.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/emulator.rs"]
mod emulator;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use emulator::{fast_config, guid, start_with, user};
use futures::future::try_join_all;
use idc_emulator::{Behaviour, Faults, RunningEmulator};
use scim_sync::identity_center::{ScimClient, ScimClientConfig, ScimError};
use scim_sync::plan::{UserAttributes, UserField};

const USERS: usize = 30;
const GROUPS: usize = 6;

/// A client that never gives up within the test (many attempts, generous time).
fn patient_client(emu: &RunningEmulator) -> ScimClient {
    ScimClient::new(ScimClientConfig {
        max_attempts: 40,
        max_retry_time: Duration::from_secs(120),
        ..fast_config(emu)
    })
    .unwrap()
}

/// Runs a full workload concurrently: create users and groups, update users, rename groups,
/// add members, remove some, disable and delete a few users. Returns the expected state:
/// userName -> active, and group name -> member userNames.
async fn workload(c: &ScimClient) -> (BTreeMap<String, bool>, BTreeMap<String, BTreeSet<String>>) {
    let user_ids = try_join_all((0..USERS).map(|i| {
        let c = c.clone();
        async move { c.create_user(&user(i)).await }
    }))
    .await
    .unwrap();
    let group_ids = try_join_all((0..GROUPS).map(|g| {
        let c = c.clone();
        async move { c.create_group(&format!("team-{g}"), &guid(g)).await }
    }))
    .await
    .unwrap();

    // Updates and renames.
    try_join_all(user_ids.iter().enumerate().map(|(i, id)| {
        let c = c.clone();
        async move {
            let changed = UserAttributes {
                display_name: format!("Renamed {i}"),
                ..user(i)
            };
            c.update_user(id, &changed, &[UserField::DisplayName]).await
        }
    }))
    .await
    .unwrap();
    try_join_all(group_ids.iter().enumerate().map(|(g, id)| {
        let c = c.clone();
        async move { c.rename_group(id, &format!("squad-{g}")).await }
    }))
    .await
    .unwrap();

    // Group g gets users g, g+1, ..., g+14 (15 members), then loses the first 4.
    let members = |g: usize| -> Vec<usize> { (g..g + 15).collect() };
    try_join_all(group_ids.iter().enumerate().map(|(g, gid)| {
        let c = c.clone();
        let ids: Vec<String> = members(g).iter().map(|&i| user_ids[i].clone()).collect();
        async move { c.add_members(gid, &ids).await }
    }))
    .await
    .unwrap();
    try_join_all(group_ids.iter().enumerate().map(|(g, gid)| {
        let c = c.clone();
        let ids: Vec<String> = members(g)[..4]
            .iter()
            .map(|&i| user_ids[i].clone())
            .collect();
        async move { c.remove_members(gid, &ids).await }
    }))
    .await
    .unwrap();

    // The last two users are disabled, the two before them deleted.
    let (disable, delete) = (USERS - 2..USERS, USERS - 4..USERS - 2);
    try_join_all(disable.clone().map(|i| {
        let c = c.clone();
        let id = user_ids[i].clone();
        async move { c.set_user_active(&id, false).await }
    }))
    .await
    .unwrap();
    try_join_all(delete.clone().map(|i| {
        let c = c.clone();
        let id = user_ids[i].clone();
        async move { c.delete_user(&id).await }
    }))
    .await
    .unwrap();

    let users: BTreeMap<String, bool> = (0..USERS)
        .filter(|i| !delete.contains(i))
        .map(|i| (user(i).user_name, !disable.contains(&i)))
        .collect();
    let groups = (0..GROUPS)
        .map(|g| {
            let names = members(g)[4..]
                .iter()
                .filter(|i| !delete.contains(*i))
                .map(|&i| user(i).user_name)
                .collect();
            (format!("squad-{g}"), names)
        })
        .collect();
    (users, groups)
}

/// The emulator holds exactly the expected state: no duplicate, nothing missing.
fn assert_state(
    emu: &RunningEmulator,
    users: &BTreeMap<String, bool>,
    groups: &BTreeMap<String, BTreeSet<String>>,
    label: &str,
) {
    let d = emu.dump();
    assert_eq!(d.user_records.len(), users.len(), "{label}: user count");
    let anchors: BTreeSet<_> = d
        .user_records
        .iter()
        .map(|u| u.external_id.clone())
        .collect();
    assert_eq!(anchors.len(), users.len(), "{label}: no duplicate anchors");
    for u in &d.user_records {
        assert_eq!(
            Some(&u.active),
            users.get(&u.user_name),
            "{label}: {}",
            u.user_name
        );
        let i: usize = u.user_name["user".len()..u.user_name.find('@').unwrap()]
            .parse()
            .unwrap();
        assert_eq!(
            u.display_name.as_deref(),
            Some(format!("Renamed {i}").as_str())
        );
    }
    assert_eq!(d.groups.len(), groups.len(), "{label}: group count");
    for (name, want) in groups {
        let got: BTreeSet<String> = d.member_user_names(name).into_iter().collect();
        assert_eq!(&got, want, "{label}: members of {name}");
    }
}

async fn run_resilience(retry_after: bool) {
    let label = format!("retry_after={retry_after}");
    let emu = start_with(
        Behaviour {
            retry_after_on_429: retry_after,
            ..Behaviour::default()
        },
        Faults {
            latency_ms: 5,
            // The client may send far faster than this, so a good share of requests meets 429.
            throttle_rps: Some(150.0),
            throttle_burst: Some(4),
            error_500_rate: 0.05,
            ..Faults::default()
        },
    )
    .await;
    let c = ScimClient::new(ScimClientConfig {
        rate_limit_per_sec: 250,
        rate_limit_burst: 8,
        ..patient_client_config(&emu)
    })
    .unwrap();
    let (users, groups) = workload(&c).await;
    let counters = emu.counters();
    eprintln!(
        "{label}: {} requests, {} throttled, {} injected 500s",
        counters.total, counters.throttled, counters.injected_errors
    );
    assert!(counters.throttled > 0, "{label}: the throttle was met");
    assert!(counters.injected_errors > 0, "{label}: 500s were met");
    emu.set_faults(Faults::default());
    assert_state(&emu, &users, &groups, &label);
    let counts = c.request_counts();
    assert_eq!(
        counts.throttled, counters.throttled,
        "{label}: the client saw every 429"
    );
    assert!(counts.retries >= counters.throttled + counters.injected_errors);
    emu.shutdown().await;
}

fn patient_client_config(emu: &RunningEmulator) -> ScimClientConfig {
    ScimClientConfig {
        max_attempts: 40,
        max_retry_time: Duration::from_secs(120),
        ..fast_config(emu)
    }
}

#[tokio::test]
async fn every_operation_takes_effect_once_under_throttling_without_retry_after() {
    run_resilience(false).await;
}

#[tokio::test]
async fn every_operation_takes_effect_once_under_throttling_with_retry_after() {
    run_resilience(true).await;
}

#[tokio::test]
async fn every_operation_takes_effect_once_when_answers_are_lost() {
    for strict in [false, true] {
        let label = format!("strict member switches={strict}");
        let emu = start_with(
            Behaviour {
                duplicate_member_add_is_error: strict,
                remove_non_member_is_error: strict,
                echo_group_external_id: !strict,
                ..Behaviour::default()
            },
            Faults {
                latency_ms: 2,
                error_503_rate: 0.05,
                drop_connection_rate: 0.05,
                lost_response_rate: 0.2,
                malformed_body_rate: 0.05,
                ..Faults::default()
            },
        )
        .await;
        let c = patient_client(&emu);
        let (users, groups) = workload(&c).await;
        let counters = emu.counters();
        assert!(counters.lost_responses > 0, "{label}: answers were lost");
        assert!(counters.dropped > 0, "{label}: connections were dropped");
        emu.set_faults(Faults::default());
        assert_state(&emu, &users, &groups, &label);

        // The state reader sees the same picture.
        let wanted: BTreeSet<String> = (0..GROUPS).map(guid).collect();
        let snap = c.read_state(&wanted).await.unwrap();
        assert!(
            snap.read_errors.is_empty(),
            "{label}: {:?}",
            snap.read_errors
        );
        for g in &snap.groups {
            let want = &groups[&g.display_name];
            let ids = g.member_ids.as_ref().expect("owned group members read");
            assert_eq!(ids.len(), want.len(), "{label}: {}", g.display_name);
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn exhausted_retries_report_the_attempts() {
    let emu = start_with(
        Behaviour::default(),
        Faults {
            error_503_rate: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let c = ScimClient::new(ScimClientConfig {
        max_attempts: 4,
        ..fast_config(&emu)
    })
    .unwrap();
    let err = c.create_group("g", &guid(1)).await.unwrap_err();
    let ScimError::RetriesExhausted { attempts, .. } = &err else {
        panic!("expected exhausted retries, got {err}");
    };
    assert_eq!(*attempts, 4);
    let msg = err.to_string();
    assert!(msg.contains("4 attempts") && msg.contains("503"), "{msg}");
    assert!(msg.contains("create group"), "{msg}");
    assert_eq!(emu.counters().injected_errors, 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn timeouts_are_retried_and_bounded() {
    let emu = start_with(
        Behaviour::default(),
        Faults {
            latency_ms: 400,
            ..Faults::default()
        },
    )
    .await;
    let c = ScimClient::new(ScimClientConfig {
        max_attempts: 3,
        request_timeout: Duration::from_millis(100),
        ..fast_config(&emu)
    })
    .unwrap();
    let err = c.list_users().await.unwrap_err();
    assert!(
        matches!(err, ScimError::RetriesExhausted { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("timeout"), "{err}");
    assert_eq!(c.request_counts().by_kind.get("list_users"), Some(&3));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_total_retry_time_is_bounded() {
    let emu = start_with(
        Behaviour {
            retry_after_on_429: true,
            ..Behaviour::default()
        },
        Faults {
            // One request per 100 s: the second request's Retry-After is far beyond the limit.
            throttle_rps: Some(0.01),
            throttle_burst: Some(1),
            ..Faults::default()
        },
    )
    .await;
    let c = ScimClient::new(ScimClientConfig {
        max_retry_time: Duration::from_secs(2),
        ..fast_config(&emu)
    })
    .unwrap();
    c.list_users().await.unwrap();
    let err = c.list_groups().await.unwrap_err();
    assert!(
        matches!(err, ScimError::RetriesExhausted { attempts: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("429"), "{err}");
    emu.shutdown().await;
}

/// A member change larger than one PATCH checks the pass's deadline between its PATCHes: the
/// first PATCH (applied whole) goes out, the rest is left for the next pass and the error says
/// so; without a deadline the same call sends everything.
#[tokio::test]
async fn a_member_change_stops_between_patches_at_the_pass_deadline() {
    let emu = start_with(Behaviour::default(), Faults::default()).await;
    let ids: Vec<String> = (0..150)
        .map(|i| {
            let u = user(i);
            emu.insert_user(&serde_json::json!({
                "userName": u.user_name, "externalId": u.external_id,
                "displayName": u.display_name,
                "name": {"givenName": u.given_name, "familyName": u.family_name},
            }))
            .unwrap()
        })
        .collect();
    let group = emu.insert_group("aws-big", Some(&guid(1))).unwrap();
    emu.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let c = ScimClient::new(fast_config(&emu)).unwrap();
    c.set_retry_deadline(Some(std::time::Instant::now() + Duration::from_millis(50)));
    let err = c.add_members(&group, &ids).await.unwrap_err();
    assert!(err.is_deadline_reached(), "{err}");
    assert!(err.to_string().contains("100 of 150"), "{err}");
    let members = |emu: &RunningEmulator| {
        emu.dump()
            .groups
            .iter()
            .find(|g| g.id == group)
            .map(|g| g.member_ids.len())
    };
    assert_eq!(members(&emu), Some(100), "exactly one PATCH was sent");
    c.set_retry_deadline(None);
    c.add_members(&group, &ids).await.unwrap();
    assert_eq!(members(&emu), Some(150));
    emu.shutdown().await;
}

/// A 429 does not use up an attempt: with one attempt allowed for failures, a request that is
/// throttled several times in a row still succeeds once the throttle lets it through.
#[tokio::test]
async fn a_429_is_not_a_failed_attempt() {
    let emu = start_with(
        Behaviour {
            retry_after_on_429: true,
            ..Behaviour::default()
        },
        Faults {
            throttle_rate: 0.8,
            ..Faults::default()
        },
    )
    .await;
    let c = ScimClient::new(ScimClientConfig {
        max_attempts: 1,
        retry_after_unit: Duration::from_millis(5),
        ..fast_config(&emu)
    })
    .unwrap();
    for i in 0..5 {
        c.create_user(&user(i)).await.unwrap();
    }
    let throttled = emu.counters().throttled;
    assert!(throttled >= 5, "the profile throttled {throttled} times");
    assert_eq!(emu.dump().users.len(), 5);
    // A 500 is a failed attempt: with one attempt allowed, it is final.
    emu.set_faults(Faults {
        error_500_rate: 1.0,
        ..Faults::default()
    });
    let err = c.create_user(&user(9)).await.unwrap_err();
    assert!(
        matches!(err, ScimError::RetriesExhausted { attempts: 1, .. }),
        "{err}"
    );
    emu.shutdown().await;
}
