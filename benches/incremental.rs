//! Incremental passes (issue 19): what a pass costs when nothing changed, and how long 1, 10
//! and 100 changes take to reach Identity Center, against the Samba AD DC fixture (its own
//! DC on 127.0.0.61) and the in-process emulator with 30 ms of latency per request.
//!
//! `cargo bench --profile perf --bench incremental` (needs root for Samba; `scripts/bench.sh`
//! runs it too). For each scope it converges with a full pass, then prints one line per
//! measured pass: the mode, wall time, LDAP searches of the change detector, SCIM reads and
//! writes (the emulator's counters).
//!
//! Scopes (`BENCH_INCR_SCOPES`, comma-separated; default `45,3045,1k:1000,10k:10000`): `45`
//! (`aws-sync-users`) and `3045` (`aws-sync-all`) of the fixture, and `LABEL:USERS`, a bench
//! directory of USERS users in USERS/10 groups that `scripts/bench-ldif.py` writes
//! (`LABEL:USERS:GROUPS` sets the groups), loaded into the DC with `ldapmodify -a` first (10k
//! users: about two minutes; 100k users in 1000 groups, `100k:100000:1000`: see
//! docs/performance.md).
//! `BENCH_INCR_ADDR` moves the DC off 127.0.0.61.
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

/// One scope of the bench: the fixture's sync groups, or a loaded bench directory.
struct BenchScope {
    label: String,
    sync_group: String,
    prefix: String,
    group_base: String,
    /// Users to disable (enabled, in scope), at least 100 where the scope has them.
    pool: Vec<String>,
    /// (group DN, member DN): a member that leaves that group, and joins it again.
    leave: (String, String),
}

fn bench_scope(spec: &str) -> BenchScope {
    let fixture = |label: &str, sync: &str, pool: Vec<String>, leave| BenchScope {
        label: label.into(),
        sync_group: sync.into(),
        prefix: samba::GROUP_PREFIX.into(),
        group_base: samba::GROUP_BASE.into(),
        pool,
        leave,
    };
    match spec.split_once(':') {
        None if spec == "45" => fixture(
            "45",
            samba::SYNC_GROUP,
            [5, 6, 7, 8, 9, 11, 12, 13, 14, 15]
                .iter()
                .map(|i| format!("CN=p{i:03},OU=People,{}", samba::BASE_DN))
                .collect(),
            (
                format!("CN=aws-admins,{}", samba::GROUP_BASE),
                format!("CN=p001,OU=People,{}", samba::BASE_DN),
            ),
        ),
        None if spec == "3045" => fixture(
            "3045",
            samba::SYNC_GROUP_ALL,
            // Every 100th bulk user is disabled in the fixture already.
            (1..=101)
                .filter(|i| i % 100 != 0)
                .map(|i| format!("CN=bulk{i:05},OU=Bulk,{}", samba::BASE_DN))
                .collect(),
            (
                format!("CN=aws-big,{}", samba::GROUP_BASE),
                format!("CN=bulk00003,OU=Bulk,{}", samba::BASE_DN),
            ),
        ),
        Some((label, _)) => {
            let root = format!("OU=Bench{label},{}", samba::BASE_DN);
            BenchScope {
                label: label.into(),
                sync_group: format!("bench{label}-sync"),
                prefix: format!("bench{label}-g"),
                group_base: format!("OU=Groups,{root}"),
                pool: (1..=100)
                    .map(|n| format!("CN=b{label}u{n:06},OU=Users,{root}"))
                    .collect(),
                // The sync group holds every user directly: the user leaves the scope.
                leave: (
                    format!("CN=bench{label}-sync,OU=Sync,{root}"),
                    format!("CN=b{label}u000000,OU=Users,{root}"),
                ),
            }
        }
        None => panic!("BENCH_INCR_SCOPES: {spec:?} is neither 45, 3045 nor LABEL:USERS"),
    }
}

/// Loads a bench directory (`scripts/bench-ldif.py LABEL USERS`) into the DC.
fn load_bench_directory(dc: &samba::SambaDc, label: &str, sizes: &str) {
    let t0 = Instant::now();
    let (users, groups) = sizes.split_once(':').unwrap_or((sizes, ""));
    let script = format!(
        "set -o pipefail; python3 '{}/scripts/bench-ldif.py' '{label}' '{users}' {groups} | \
         ldapmodify -x -H '{}' -D '{}' -w '{}' -a > /dev/null",
        env!("CARGO_MANIFEST_DIR"),
        dc.ldap_url(),
        samba::ADMIN_DN,
        samba::ADMIN_PASSWORD
    );
    let status = std::process::Command::new("bash")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success(), "loading {users} users failed");
    println!(
        "incremental {label:<5} loaded {users} users in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
}

fn settings(dc: &samba::SambaDc, scope: &BenchScope, scim_url: &str) -> Settings {
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
            sync_group: scope.sync_group.clone(),
            group_prefix: scope.prefix.clone(),
            group_search_base: scope.group_base.clone(),
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
    let addr = std::env::var("BENCH_INCR_ADDR").unwrap_or_else(|_| ADDR.to_string());
    let specs = std::env::var("BENCH_INCR_SCOPES")
        .unwrap_or_else(|_| "45,3045,1k:1000,10k:10000".to_string());
    let dc = samba::SambaDc::start(&addr);
    for spec in specs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let scope = bench_scope(spec);
        if let Some((label, sizes)) = spec.split_once(':') {
            load_bench_directory(&dc, label, sizes);
        }
        let label = scope.label.as_str();
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
        let mut session = Session::new(settings(&dc, &scope, &emulator.base_url()), None).unwrap();

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
        let pool = &scope.pool;
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
        // One member leaves a group (aws-admins, nested in aws-all-staff; aws-big, 3002
        // members; a bench directory's sync group, so the user leaves the scope), and
        // joins it again.
        let (g, member) = &scope.leave;
        let cn = g.split(',').next().unwrap_or(g).trim_start_matches("CN=");
        dc.ldapmodify_as_admin(&format!(
            "dn: {g}\nchangetype: modify\ndelete: member\nmember: {member}\n"
        ));
        pass(
            label,
            &format!("1 member leaves {cn}"),
            &mut session,
            &emulator,
            &store,
        )
        .await;
        dc.ldapmodify_as_admin(&format!(
            "dn: {g}\nchangetype: modify\nadd: member\nmember: {member}\n"
        ));
        pass(
            label,
            &format!("1 member rejoins {cn}"),
            &mut session,
            &emulator,
            &store,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
