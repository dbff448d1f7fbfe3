//! Incremental passes (issue 19): what a pass costs when nothing changed, and how long 1, 10
//! and 100 changes take to reach Identity Center, against the Samba AD DC fixture (its own
//! DC on 127.0.0.61) and the in-process emulator with 30 ms of latency per request.
//!
//! `cargo bench --profile perf --bench incremental` (needs root for Samba; `scripts/bench.sh`
//! runs it too). For each scope (`aws-sync-users`: 45 users; `aws-sync-all`: 3045 users) it
//! converges with a full pass, then prints one line per measured pass: the mode, wall time,
//! LDAP searches of the change detector, SCIM reads and writes (the emulator's counters).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "../tests/support/samba.rs"]
mod samba;

use std::time::Instant;

use idc_emulator::{Emulator, EmulatorConfig, Faults, RunningEmulator};
use scim_sync::config::{DirectorySource, RunConfig, Settings};
use scim_sync::model::settings::{
    CaBundle, GuardSettings, LdapSettings, LdapUrl, ScimClientConfig, Scope,
};
use scim_sync::pass::{PassOptions, PassReport, Session};
use scim_sync::plan::Policy;
use scim_sync::secret::Secret;
use scim_sync::state::WatermarkStore;

const ADDR: &str = "127.0.0.61";
const TOKEN: &str = "bench-incremental-token";
const LATENCY_MS: u64 = 30;

fn settings(dc: &samba::SambaDc, sync_group: &str, scim_url: &str) -> Settings {
    let mut ldap = LdapSettings::new(
        LdapUrl::parse(&dc.ldaps_url(), false, false).unwrap(),
        samba::BIND_DN,
        Secret::new(samba::BIND_PASSWORD),
    );
    ldap.ca_bundle = Some(CaBundle::from_pem(&dc.ca_pem()).unwrap());
    Settings {
        directory: DirectorySource::Ldap(ldap),
        profile: Default::default(),
        scope: Scope {
            sync_group: sync_group.into(),
            group_prefix: samba::GROUP_PREFIX.into(),
            group_search_base: samba::GROUP_BASE.into(),
            extra_domain_sids: Vec::new(),
            rules: Default::default(),
        },
        scim: ScimClientConfig {
            concurrency: 8,
            rate_limit_per_sec: 1000,
            ..ScimClientConfig::new(scim_url, Secret::new(TOKEN)).unwrap()
        },
        policy: Policy::default(),
        guard: GuardSettings {
            allow_mass_changes: true,
            ..GuardSettings::default()
        },
        run: RunConfig::default(),
    }
}

async fn pass(
    label: &str,
    what: &str,
    session: &mut Session,
    emulator: &RunningEmulator,
    store: &WatermarkStore,
) -> PassReport {
    let before = emulator.counters();
    let t0 = Instant::now();
    let report = session
        .run(&PassOptions {
            incremental: true,
            watermarks: Some(store.clone()),
            ..PassOptions::default()
        })
        .await
        .unwrap();
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let after = emulator.counters();
    let info = report.summary.incremental.clone().unwrap_or_default();
    println!(
        "incremental {label:<5} {what:<38} mode {:<11} {ms:>8.1} ms  ldap searches {:>3}  scim reads {:>4}  writes {:>4}  affected users {:>4}  groups {:>2}",
        info.mode,
        info.ldap_searches,
        after.reads - before.reads,
        after.writes - before.writes,
        info.affected_users,
        info.affected_groups,
    );
    assert!(report.summary.failures.is_empty(), "{:?}", report.summary);
    report
}

fn disable(dc: &samba::SambaDc, users: &[String], uac: u32) {
    let ldif: String = users
        .iter()
        .map(|dn| {
            format!("dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n\n")
        })
        .collect();
    dc.ldapmodify_as_admin(&ldif);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dc = samba::SambaDc::start(ADDR);
    for (label, group) in [("45", samba::SYNC_GROUP), ("3045", samba::SYNC_GROUP_ALL)] {
        let emulator = Emulator::start(EmulatorConfig {
            faults: Faults {
                latency_ms: LATENCY_MS,
                ..Faults::default()
            },
            ..EmulatorConfig::new(TOKEN)
        })
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!("scim-sync-bench-incr-{label}"));
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state.json");
        let _ = std::fs::remove_file(&state);
        let store = WatermarkStore::File(state);
        let mut session = Session::new(settings(&dc, group, &emulator.base_url()), None).unwrap();

        pass(
            label,
            "first (no watermark: full)",
            &mut session,
            &emulator,
            &store,
        )
        .await;
        let t0 = Instant::now();
        let full = session.run(&PassOptions::default()).await.unwrap();
        println!(
            "incremental {label:<5} {:<38} mode {:<11} {:>8.1} ms  scim reads {:>4}  writes {:>4}",
            "full no-op pass, for comparison",
            "full",
            t0.elapsed().as_secs_f64() * 1000.0,
            full.summary.scim_reads,
            full.summary.scim_writes
        );
        for _ in 0..3 {
            pass(label, "idle", &mut session, &emulator, &store).await;
        }
        // Disables of bulk users (in scope of aws-sync-all) or fixture users (aws-sync-users).
        let pool: Vec<String> = if group == samba::SYNC_GROUP_ALL {
            // Every 100th bulk user is disabled in the fixture already.
            (1..=101)
                .filter(|i| i % 100 != 0)
                .map(|i| format!("CN=bulk{i:05},OU=Bulk,{}", samba::BASE_DN))
                .collect()
        } else {
            [5, 6, 7, 8, 9, 11, 12, 13, 14, 15]
                .iter()
                .map(|i| format!("CN=p{i:03},OU=People,{}", samba::BASE_DN))
                .collect()
        };
        for n in [1usize, 10, 100] {
            if n > pool.len() {
                continue;
            }
            disable(&dc, &pool[..n], 546);
            let r = pass(
                label,
                &format!("{n} users disabled"),
                &mut session,
                &emulator,
                &store,
            )
            .await;
            assert_eq!(r.summary.users_disabled, n as u64, "{:?}", r.summary);
            disable(&dc, &pool[..n], 544);
            pass(
                label,
                &format!("{n} users enabled again"),
                &mut session,
                &emulator,
                &store,
            )
            .await;
        }
        // One member leaves the largest group in scope (read whole from Identity Center).
        let (g, member) = if group == samba::SYNC_GROUP_ALL {
            (
                "aws-big",
                format!("CN=bulk00003,OU=Bulk,{}", samba::BASE_DN),
            )
        } else {
            (
                "aws-admins",
                format!("CN=p001,OU=People,{}", samba::BASE_DN),
            )
        };
        dc.ldapmodify_as_admin(&format!(
            "dn: CN={g},{}\nchangetype: modify\ndelete: member\nmember: {member}\n",
            samba::GROUP_BASE
        ));
        pass(
            label,
            &format!("1 member leaves {g}"),
            &mut session,
            &emulator,
            &store,
        )
        .await;
        dc.ldapmodify_as_admin(&format!(
            "dn: CN={g},{}\nchangetype: modify\nadd: member\nmember: {member}\n",
            samba::GROUP_BASE
        ));
        pass(
            label,
            &format!("1 member rejoins {g}"),
            &mut session,
            &emulator,
            &store,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
