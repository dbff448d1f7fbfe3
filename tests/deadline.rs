//! Deadline awareness: a pass that runs out of time stops starting writes, says it is
//! incomplete, and the passes after it finish the job without errors or duplicates.
//!
//! An initial load against the emulator (throttled at 20 requests/s, the client paced at the
//! same rate) with a deadline one second away cannot finish: it must stop starting writes,
//! report `incomplete: true`, and leave Identity Center in a state the next pass continues
//! from. Repeated passes, each with its own one-second deadline, must converge: exactly one
//! user per directory user, every owned group with exactly its directory members, no failure,
//! no conflict and no 409 (which would mean a duplicate create was attempted).
//!
//! The directory is an LDIF export written to a temporary file, so no Samba is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use idc_emulator::{Emulator, EmulatorConfig, Faults};
use scim_sync::config::{DirectorySource, RunConfig, Settings};
use scim_sync::directory::sid::{guid_from_string, sid_from_string};
use scim_sync::model::settings::{GuardSettings, ScimClientConfig, Scope};
use scim_sync::pass::{PassOptions, Session};
use scim_sync::plan::Policy;
use scim_sync::secret::Secret;

const USERS: usize = 60;
const GROUPS: usize = 4;
const TOKEN: &str = "deadline-test-token";
const THROTTLE_RPS: u32 = 20;
/// Far more than convergence needs (about 5 at 20 requests/s): a safety stop, not a target.
const MAX_PASSES: usize = 15;

fn sid(n: usize) -> String {
    format!("S-1-5-21-1111111111-2222222222-3333333333-{}", 2000 + n)
}

fn guid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Members of group `g`: a deterministic, overlapping spread (every user is in at least one).
fn group_members(g: usize) -> Vec<usize> {
    (0..USERS)
        .filter(|u| u % GROUPS == g || u % 7 == g)
        .collect()
}

/// An AD-style LDIF export: the users, the sync group holding all of them, and the groups in
/// scope under OU=AWS.
fn ldif() -> String {
    let mut out = String::new();
    for n in 0..USERS {
        let sam = format!("user{n:03}");
        let _ = write!(
            out,
            "dn: CN={sam},OU=Staff,DC=example,DC=test\nobjectClass: top\nobjectClass: person\n\
             objectClass: user\ncn: {sam}\nsAMAccountName: {sam}\n\
             userPrincipalName: {sam}@example.test\ngivenName: Given{n}\nsn: Family{n}\n\
             displayName: Given{n} Family{n}\nmail: {sam}@example.test\n\
             userAccountControl: 512\nobjectSid:: {}\nobjectGUID:: {}\n\n",
            b64(&sid_from_string(&sid(n)).unwrap()),
            b64(&guid_from_string(&guid(1, n)).unwrap()),
        );
    }
    let _ = write!(
        out,
        "dn: CN=sync-all,OU=Sync,DC=example,DC=test\nobjectClass: top\nobjectClass: group\n\
         cn: sync-all\nsAMAccountName: sync-all\nobjectGUID:: {}\n",
        b64(&guid_from_string(&guid(3, 0)).unwrap())
    );
    for n in 0..USERS {
        let _ = writeln!(out, "member: CN=user{n:03},OU=Staff,DC=example,DC=test");
    }
    out.push('\n');
    for g in 0..GROUPS {
        let _ = write!(
            out,
            "dn: CN=aws-team{g},OU=AWS,DC=example,DC=test\nobjectClass: top\n\
             objectClass: group\ncn: aws-team{g}\nsAMAccountName: aws-team{g}\nobjectGUID:: {}\n",
            b64(&guid_from_string(&guid(2, g)).unwrap())
        );
        for n in group_members(g) {
            let _ = writeln!(out, "member: CN=user{n:03},OU=Staff,DC=example,DC=test");
        }
        out.push('\n');
    }
    out
}

fn settings(url: String, ldif: PathBuf) -> Settings {
    Settings {
        directory: DirectorySource::Ldif { path: ldif },
        profile: Default::default(),
        scope: Scope {
            sync_group: "sync-all".into(),
            group_prefix: "aws-".into(),
            group_search_base: "OU=AWS,DC=example,DC=test".into(),
            // The export holds no domain entry: the domain comes from the setting.
            extra_domain_sids: vec!["S-1-5-21-1111111111-2222222222-3333333333".into()],
            rules: Default::default(),
        },
        scim: ScimClientConfig {
            concurrency: 8,
            // The client paces itself at the service's rate, so the throttle is what limits.
            rate_limit_per_sec: THROTTLE_RPS,
            max_attempts: 5,
            request_timeout: Duration::from_secs(30),
            ..ScimClientConfig::new(&url, Secret::new(TOKEN)).unwrap()
        },
        policy: Policy::default(),
        guard: GuardSettings::default(),
        run: RunConfig::default(),
    }
}

#[tokio::test]
async fn a_pass_out_of_time_stops_and_the_next_passes_converge() {
    let emulator = Emulator::start(EmulatorConfig {
        seed: Some(7),
        faults: Faults {
            throttle_rps: Some(f64::from(THROTTLE_RPS)),
            ..Faults::default()
        },
        ..EmulatorConfig::new(TOKEN)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("directory.ldif");
    std::fs::write(&path, ldif()).unwrap();
    let mut session = Session::new(settings(emulator.base_url(), path), None).unwrap();

    // 60 user creates + 4 group creates + 4 member PATCHes at 20/s need well over 3 s.
    let mut passes = Vec::new();
    for _ in 0..MAX_PASSES {
        let opts = PassOptions {
            stop_starting_at: Some(Instant::now() + Duration::from_secs(1)),
            ..PassOptions::default()
        };
        let report = session.run(&opts).await.expect("the pass runs");
        let s = &report.summary;
        assert!(
            s.failures.is_empty(),
            "pass {}: {:?}",
            passes.len() + 1,
            s.failures
        );
        assert!(
            s.conflicts.is_empty(),
            "pass {}: {:?}",
            passes.len() + 1,
            s.conflicts
        );
        assert!(!s.token_rejected);
        let done = !s.incomplete && s.scim_writes == 0;
        passes.push(report.summary);
        if done {
            break;
        }
    }
    let first = &passes[0];
    assert!(
        first.incomplete,
        "the first pass cannot finish within its 1 s deadline: {first:?}"
    );
    assert!(
        first.users_created > 0 && first.users_created < USERS as u64,
        "the first pass did part of the work, not none and not all: {first:?}"
    );
    let last = passes.last().unwrap();
    assert!(
        !last.incomplete && last.scim_writes == 0,
        "no convergence within {MAX_PASSES} passes: {passes:#?}"
    );
    assert!(
        passes.len() >= 3,
        "the load needed several passes: {passes:#?}"
    );
    let created: u64 = passes.iter().map(|s| s.users_created).sum();
    assert_eq!(created, USERS as u64, "each user created exactly once");
    let groups_created: u64 = passes.iter().map(|s| s.groups_created).sum();
    assert_eq!(
        groups_created, GROUPS as u64,
        "each group created exactly once"
    );

    let state = emulator.dump();
    let mut by_external: BTreeMap<String, usize> = BTreeMap::new();
    for u in &state.user_records {
        *by_external
            .entry(u.external_id.clone().unwrap_or_default())
            .or_default() += 1;
        assert!(u.active, "{} is active", u.user_name);
    }
    let expected: BTreeMap<String, usize> = (0..USERS).map(|n| (sid(n), 1)).collect();
    assert_eq!(by_external, expected, "exactly one user per directory user");
    assert_eq!(
        state.groups.len(),
        GROUPS,
        "exactly one group per directory group"
    );
    for g in 0..GROUPS {
        let group = state
            .group_by_external_id(&guid(2, g))
            .unwrap_or_else(|| panic!("group aws-team{g} exists"));
        assert_eq!(group.display_name, format!("aws-team{g}"));
        let members: BTreeSet<String> = group
            .member_ids
            .iter()
            .map(|id| {
                state
                    .user_by_id(id)
                    .and_then(|u| u.external_id.clone())
                    .unwrap()
            })
            .collect();
        let want: BTreeSet<String> = group_members(g).into_iter().map(sid).collect();
        assert_eq!(members, want, "members of aws-team{g}");
    }
    let counters = emulator.counters();
    assert_eq!(
        counters.by_status.get("409").copied().unwrap_or(0),
        0,
        "no duplicate create was ever attempted: {:?}",
        counters.by_route
    );
    emulator.shutdown().await;
}

/// Retries stop at the pass's deadline: a request that keeps failing after the deadline is not
/// retried for the client's whole retry budget.
#[tokio::test]
async fn retries_stop_at_the_pass_deadline() {
    use scim_sync::identity_center::{ScimClient, ScimError};
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    emulator.set_faults(Faults {
        error_503_rate: 1.0,
        ..Faults::default()
    });
    let mut cfg = ScimClientConfig::new(&emulator.base_url(), Secret::new(TOKEN)).unwrap();
    // Without a deadline this budget allows 50 attempts over up to a minute.
    cfg.max_attempts = 50;
    cfg.backoff_base = Duration::from_millis(50);
    cfg.backoff_cap = Duration::from_millis(200);
    let client = ScimClient::new(cfg).unwrap();
    client.set_retry_deadline(Some(Instant::now() + Duration::from_millis(300)));
    let err = client.list_users().await.unwrap_err();
    // Stopped by the deadline, which is not a failure of the service: the pass reports
    // itself incomplete.
    assert!(
        err.is_deadline_reached(),
        "expected the deadline to stop it: {err}"
    );
    let attempts = emulator.counters().total;
    assert!(
        attempts < 20,
        "retried past the deadline ({attempts} attempts): {err}"
    );
    assert!(err.to_string().contains("deadline"), "{err}");

    // The same failure without a deadline goes on to the attempt limit.
    client.set_retry_deadline(None);
    let err = client.list_users().await.unwrap_err();
    assert!(
        matches!(err, ScimError::RetriesExhausted { attempts: 50, .. }),
        "{err}"
    );
}
