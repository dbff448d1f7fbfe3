//! Faults: whatever Identity Center or the directory does, a pass either converges (one user
//! per directory user, one group per directory group, the same memberships, nothing twice) or
//! fails closed (no destructive change).
//!
//! - The emulator injects 429 bursts, 500s, 503s, latency, dropped connections, lost responses
//!   and malformed bodies while whole passes run against it.
//! - A pass is aborted at seeded random points and re-run; the result equals an uninterrupted
//!   run's.
//! - A real Samba AD DC is killed in the middle of a large read.
//!
//! Each fault test prints a `SAFETY-FIGURES` line (docs/safety.md quotes them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use idc_emulator::{Behaviour, Emulator, EmulatorConfig, Faults, RunningEmulator};
use pass_fixture::{
    convergence, faults_injected, ldap_settings, ldif_settings, normalised, temp_ldif, Directory,
    RecordingProxy, UserSpec, TOKEN,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scim_sync::config::Settings;
use scim_sync::model::settings::Scope;
use scim_sync::model::ReasonCode;
use scim_sync::pass::{read_directory, PassError, PassOptions, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Samba address of this test binary (tests/support/samba.rs).
const DC_ADDR: &str = "127.0.0.21";
/// Passes a fault profile may take to converge.
const MAX_PASSES: usize = 8;

async fn emulator(seed: u64, faults: Faults, behaviour: Behaviour) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(seed),
        faults,
        behaviour,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// What one profile's runs added up to.
#[derive(Debug, Default)]
struct Figures {
    passes: usize,
    failed_passes: usize,
    write_failures: usize,
    /// Passes that could not read some group's members and so held destructive writes back.
    held_back: usize,
}

/// Runs passes until the state matches the directory, checking after every pass that
/// nothing exists twice and that a pass which failed wrote nothing.
async fn converge(emu: &RunningEmulator, settings: &Settings, label: &str, f: &mut Figures) {
    let dir = read_directory(settings).await.unwrap();
    let mut session = Session::new(settings.clone(), None).unwrap();
    for _ in 0..MAX_PASSES {
        let before = emu.dump();
        let writes_before = emu.counters().writes;
        f.passes += 1;
        match session.run(&PassOptions::default()).await {
            Err(e) => {
                f.failed_passes += 1;
                assert!(
                    matches!(e, PassError::IdentityCenter(_)),
                    "{label}: only the Identity Center read can fail here: {e}"
                );
                assert_eq!(
                    emu.counters().writes,
                    writes_before,
                    "{label}: a pass that failed to read wrote something"
                );
                assert_eq!(normalised(&emu.dump()), normalised(&before));
            }
            Ok(report) => {
                let s = &report.summary;
                f.write_failures += s.failures.len();
                if s.withheld.iter().any(|w| w.code == ReasonCode::PartialRead) {
                    f.held_back += 1;
                    assert_eq!(
                        (s.users_disabled, s.users_deleted, s.members_removed),
                        (0, 0, 0),
                        "{label}: destructive writes despite an incomplete read"
                    );
                }
            }
        }
        let check = convergence(&emu.dump(), &dir);
        assert_eq!(check.duplicates, 0, "{label}: {:?}", check.problems);
        if check.problems.is_empty() {
            return;
        }
    }
    convergence(&emu.dump(), &dir).assert_ok(label);
}

/// The directory before and after a change that exercises every kind of write (within the
/// guard's limits): 4 of 60 users leave, 8 join, 2 are renamed, 1 is disabled, memberships
/// move.
fn directories() -> (Directory, Directory) {
    let mut v1 = Directory::generated(60, 4);
    v1.user_mut(7).enabled = false;
    let mut v2 = v1.clone();
    for n in 1..=4 {
        v2.user_mut(n).in_sync = false;
    }
    for n in 61..=68 {
        v2.users.insert(n, UserSpec::new(n));
        v2.group_mut("aws-g2").members.insert(n);
    }
    v2.user_mut(10).display = Some("Ten Renamed".into());
    v2.user_mut(11).sn = Some("Eleven".into());
    v2.user_mut(12).enabled = false;
    v2.group_mut("aws-g3").members.remove(&14);
    v2.group_mut("aws-g4").members.insert(14);
    (v1, v2)
}

fn profiles() -> Vec<(&'static str, Faults, Behaviour)> {
    let strict = Behaviour {
        duplicate_member_add_is_error: true,
        remove_non_member_is_error: true,
        ..Behaviour::default()
    };
    vec![
        (
            "429-bursts",
            Faults {
                throttle_rps: Some(40.0),
                throttle_burst: Some(8),
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "500",
            Faults {
                error_500_rate: 0.15,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "503",
            Faults {
                error_503_rate: 0.15,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "latency",
            Faults {
                latency_ms: 40,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "dropped-connections",
            Faults {
                drop_connection_rate: 0.15,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "lost-responses",
            Faults {
                lost_response_rate: 0.3,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "lost-responses-strict-members",
            Faults {
                lost_response_rate: 0.3,
                ..Faults::default()
            },
            strict,
        ),
        (
            "replication-lag",
            Faults {
                visibility_delay_ms: 150,
                error_503_rate: 0.05,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "malformed-bodies",
            Faults {
                malformed_body_rate: 0.15,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            // Harsh enough that some requests outlast the retry budget: passes then fail
            // closed or hold destructive writes back, and the next pass finishes the job.
            "harsh-5xx-and-drops",
            Faults {
                error_503_rate: 0.35,
                error_500_rate: 0.1,
                drop_connection_rate: 0.1,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
        (
            "everything-at-once",
            Faults {
                latency_ms: 5,
                throttle_rps: Some(60.0),
                throttle_burst: Some(10),
                error_500_rate: 0.05,
                error_503_rate: 0.05,
                drop_connection_rate: 0.05,
                lost_response_rate: 0.1,
                malformed_body_rate: 0.05,
                ..Faults::default()
            },
            Behaviour::default(),
        ),
    ]
}

#[tokio::test]
async fn every_fault_profile_converges_without_duplicates() {
    let (v1, v2) = directories();
    let mut total_faults = 0;
    let mut total_writes = 0;
    let mut total_requests = 0;
    let mut total_passes = 0;
    for (i, (name, faults, behaviour)) in profiles().into_iter().enumerate() {
        let (_tmp, path) = temp_ldif(&v1);
        let emu = emulator(100 + i as u64, faults.clone(), behaviour).await;
        let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
        let mut f = Figures::default();
        converge(&emu, &settings, &format!("{name}, first sync"), &mut f).await;
        v2.write(&path);
        converge(
            &emu,
            &settings,
            &format!("{name}, after the change"),
            &mut f,
        )
        .await;
        // Users who left the scope were disabled, not duplicated or lost.
        let dump = emu.dump();
        for n in 1..=4 {
            let u = dump
                .user_by_external_id(&pass_fixture::sid_string(n))
                .unwrap();
            assert!(!u.active, "{name}: user {n} left the scope and is disabled");
        }
        // Converged means an unchanged directory plans nothing, faults or not.
        let mut session = Session::new(settings.clone(), None).unwrap();
        let idle = loop {
            if let Ok(r) = session.run(&PassOptions::default()).await {
                break r;
            }
        };
        assert!(
            idle.plan.operations.is_empty(),
            "{name}: {:?}",
            idle.plan.operations
        );
        let c = emu.counters();
        let injected = faults_injected(&c);
        if !matches!(name, "latency" | "replication-lag") {
            assert!(injected > 0, "{name}: the profile injected no fault");
        }
        println!(
            "SAFETY-FIGURES profile={name} faults={injected} (429={} 5xx={} dropped={} lost={} malformed={}) \
             requests={} writes={} passes={} failed-passes={} write-failures-retried-next-pass={} held-back-after-partial-read={} duplicates=0 lost=0",
            c.throttled,
            c.injected_errors,
            c.dropped,
            c.lost_responses,
            c.malformed,
            c.total,
            c.writes,
            f.passes,
            f.failed_passes,
            f.write_failures,
            f.held_back
        );
        total_faults += injected;
        total_writes += c.writes;
        total_requests += c.total;
        total_passes += f.passes;
        emu.shutdown().await;
    }
    println!(
        "SAFETY-FIGURES total profiles={} faults={total_faults} requests={total_requests} \
         writes={total_writes} passes={total_passes} duplicates=0 lost=0",
        profiles().len()
    );
}

#[tokio::test]
async fn an_unreachable_identity_center_fails_closed() {
    let (v1, v2) = directories();
    let (_tmp, path) = temp_ldif(&v1);
    let emu = emulator(7, Faults::default(), Behaviour::default()).await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    let before = normalised(&emu.dump());
    v2.write(&path);
    emu.reset_counters();
    emu.set_faults(Faults {
        error_503_rate: 1.0,
        ..Faults::default()
    });
    let err = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PassError::IdentityCenter(_)), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let c = emu.counters();
    assert_eq!(c.writes, 0);
    emu.set_faults(Faults::default());
    assert_eq!(normalised(&emu.dump()), before);
    println!(
        "SAFETY-FIGURES profile=all-503 faults={} writes=0 outcome=failed-closed duplicates=0 lost=0",
        c.injected_errors
    );
}

#[tokio::test]
async fn a_partial_identity_center_read_holds_back_every_destructive_write() {
    let (v1, v2) = directories();
    let (_tmp, path) = temp_ldif(&v1);
    let emu = emulator(8, Faults::default(), Behaviour::default()).await;
    let proxy = RecordingProxy::start(emu.addr()).await;
    let settings = ldif_settings(&path, &proxy.base_url(), TOKEN);
    Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    v2.write(&path);

    // The member read of one group fails every time (its connection is dropped): the pass
    // cannot know who is in that group, so it must take nothing away anywhere.
    let g3 = emu.dump().group("aws-g3").unwrap().id.clone();
    proxy.drop_requests_containing(Some(&format!("groups.value+eq+%22{g3}")));
    // A dry run of the same state withholds the same: it lists no disable the real run would
    // not make, and says why.
    let dry = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions {
            dry_run: true,
            ..PassOptions::default()
        })
        .await
        .unwrap();
    assert!(
        dry.plan.operations.iter().all(|op| !op.is_destructive()),
        "{:#?}",
        dry.plan.operations
    );
    assert_eq!(
        (dry.summary.users_disabled, dry.summary.members_removed),
        (0, 0),
        "{:?}",
        dry.summary
    );
    assert!(dry
        .summary
        .withheld
        .iter()
        .any(|w| w.text.contains("could not be read")));
    let report = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    let s = &report.summary;
    assert!(
        s.withheld.iter().any(|w| w.code == ReasonCode::PartialRead),
        "{:?}\n{:#?}",
        s.withheld,
        proxy
            .request_lines()
            .iter()
            .filter(|l| l.contains(&g3))
            .collect::<Vec<_>>()
    );
    assert_eq!((s.users_disabled, s.members_removed), (0, 0), "{s:?}");
    assert_eq!(s.users_created, 8, "the safe part still ran: {s:?}");
    let dump = emu.dump();
    for n in 1..=4 {
        let u = dump
            .user_by_external_id(&pass_fixture::sid_string(n))
            .unwrap();
        assert!(u.active, "user {n} was disabled during a partial read");
    }
    assert!(
        proxy
            .request_lines()
            .iter()
            .any(|l| l.contains(&g3) && l.starts_with("GET ")),
        "the member read was attempted"
    );

    proxy.drop_requests_containing(None);
    let healed = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    assert!(healed.summary.withheld.is_empty(), "{:?}", healed.summary);
    convergence(&emu.dump(), &read_directory(&settings).await.unwrap())
        .assert_ok("after the read recovered");
}

#[tokio::test]
async fn a_pass_killed_at_random_points_and_rerun_ends_like_an_uninterrupted_one() {
    let (v1, v2) = directories();
    let latency = Faults {
        latency_ms: 3,
        ..Faults::default()
    };

    // The reference: v1 applied, then v2 applied without interruption.
    let (_tmp, path) = temp_ldif(&v1);
    let reference_emu = emulator(1, latency.clone(), Behaviour::default()).await;
    let settings = ldif_settings(&path, &reference_emu.base_url(), TOKEN);
    let mut s = Session::new(settings.clone(), None).unwrap();
    s.run(&PassOptions::default()).await.unwrap();
    v2.write(&path);
    let started = Instant::now();
    let r = s.run(&PassOptions::default()).await.unwrap();
    let full = started.elapsed();
    assert!(r.summary.failures.is_empty() && r.summary.withheld.is_empty());
    let reference = normalised(&reference_emu.dump());
    reference_emu.shutdown().await;

    let mut rng = StdRng::seed_from_u64(0x5afe);
    let iterations = 16;
    let mut cut_writes = 0;
    let mut total_cuts = 0;
    for i in 0..iterations {
        let (_tmp, path) = temp_ldif(&v1);
        let emu = emulator(200 + i, latency.clone(), Behaviour::default()).await;
        let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
        Session::new(settings.clone(), None)
            .unwrap()
            .run(&PassOptions::default())
            .await
            .unwrap();
        v2.write(&path);
        emu.reset_counters();
        // Odd iterations are cut twice in a row before the re-run.
        let cuts = if i % 2 == 1 { 2 } else { 1 };
        total_cuts += cuts;
        let mut delays = Vec::new();
        for _ in 0..cuts {
            let delay = Duration::from_millis(rng.random_range(0..=full.as_millis() as u64));
            delays.push(delay);
            // Dropping the pass's future at the deadline cancels it at whatever await it is
            // in, exactly as aborting its task would. (`tokio::spawn` of `Session::run` does
            // not compile: its future is not provably `Send` for every lifetime; see
            // docs/safety.md.)
            let mut doomed = Session::new(settings.clone(), None).unwrap();
            let _ = tokio::time::timeout(delay, doomed.run(&PassOptions::default())).await;
            drop(doomed);
            // Let requests already on the wire land, as they would after a crash.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let delay = &delays;
        let writes_before_rerun = emu.counters().writes;
        cut_writes += writes_before_rerun;

        let mut again = Session::new(settings.clone(), None).unwrap();
        let rerun = again.run(&PassOptions::default()).await.unwrap();
        assert!(rerun.summary.failures.is_empty(), "{:?}", rerun.summary);
        let dir = read_directory(&settings).await.unwrap();
        convergence(&emu.dump(), &dir).assert_ok(&format!("kill after {delay:?}"));
        assert_eq!(
            normalised(&emu.dump()),
            reference,
            "killed after {delay:?} ({writes_before_rerun} writes) and re-run: differs from an uninterrupted run"
        );
        let idle = again.run(&PassOptions::default()).await.unwrap();
        assert_eq!(idle.summary.scim_writes, 0);
        emu.shutdown().await;
    }
    println!(
        "SAFETY-FIGURES profile=killed-passes iterations={iterations} cuts={total_cuts} full-pass-ms={} writes-before-kill={cut_writes} \
         duplicates=0 lost=0 final-state=equal-to-uninterrupted",
        full.as_millis()
    );
}

/// A TCP relay to the DC that, once `limit` bytes came back from the server, kills the DC
/// (its whole process group, SIGKILL) before relaying anything more.
async fn relay_that_kills_the_dc(
    upstream: String,
    dc_pid: u32,
    limit: u64,
    killed: Arc<AtomicBool>,
    relayed: Arc<AtomicU64>,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let killed = killed.clone();
            let relayed = relayed.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut buf = vec![0u8; 8192];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let total = relayed.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                    if total > limit && !killed.swap(true, Ordering::SeqCst) {
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", "--", &format!("-{dc_pid}")])
                            .status();
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_domain_controller_that_dies_mid_read_fails_the_pass_and_changes_nothing() {
    let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start(DC_ADDR))
        .await
        .unwrap();
    let emu = emulator(3, Faults::default(), Behaviour::default()).await;
    let scope = |sync: &str| Scope {
        sync_group: sync.to_string(),
        group_prefix: samba::GROUP_PREFIX.to_string(),
        group_search_base: samba::GROUP_BASE.to_string(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    // First a complete pass over the small scope: Identity Center holds the owned users.
    let small = ldap_settings(
        &dc.ldaps_url(),
        Some(dc.ca_pem()),
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope(samba::SYNC_GROUP),
        &emu.base_url(),
        TOKEN,
    );
    let first = Session::new(small.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    assert!(first.summary.users_created > 30, "{:?}", first.summary);
    let before = normalised(&emu.dump());
    emu.reset_counters();

    // Then the large scope (3045 users) through a relay that kills the DC after 300 kB.
    let killed = Arc::new(AtomicBool::new(false));
    let relayed = Arc::new(AtomicU64::new(0));
    let port = relay_that_kills_the_dc(
        format!("{DC_ADDR}:636"),
        dc.pid(),
        300_000,
        killed.clone(),
        relayed.clone(),
    )
    .await;
    let mut big = small.clone();
    big.scope = scope(samba::SYNC_GROUP_ALL);
    if let scim_sync::config::DirectorySource::Ldap(l) = &mut big.directory {
        l.url = scim_sync::model::settings::LdapUrl::parse(
            &format!("ldaps://127.0.0.1:{port}"),
            false,
            false,
        )
        .unwrap();
        l.page_size = 100;
        l.operation_timeout = Duration::from_secs(30);
    }
    let err = Session::new(big.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap_err();
    assert!(
        killed.load(Ordering::SeqCst),
        "the DC was killed mid-read ({} bytes relayed); the pass failed before that: {err}",
        relayed.load(Ordering::SeqCst)
    );
    assert!(matches!(err, PassError::Directory(_)), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    println!("DC killed mid-read; the pass said: {err}");

    // With the DC gone, the next pass fails too, at connect.
    let err2 = Session::new(small.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err2, PassError::Directory(_)), "{err2}");

    let c = emu.counters();
    assert_eq!(c.writes, 0, "no SCIM write after a broken directory read");
    assert_eq!(normalised(&emu.dump()), before);
    println!(
        "SAFETY-FIGURES profile=dc-killed-mid-read bytes-before-kill={} scim-writes=0 outcome=failed-closed duplicates=0 lost=0",
        relayed.load(Ordering::SeqCst)
    );
    tokio::task::spawn_blocking(move || drop(dc)).await.unwrap();
}

#[tokio::test]
async fn deletions_converge_under_lost_responses_and_drops() {
    // The delete policies, where a lost response turns the retry into a 404.
    let (v1, mut v2) = directories();
    v2.groups.retain(|g| g.cn != "aws-g4");
    let (_tmp, path) = temp_ldif(&v1);
    let emu = emulator(
        31,
        Faults {
            lost_response_rate: 0.3,
            drop_connection_rate: 0.1,
            ..Faults::default()
        },
        Behaviour::default(),
    )
    .await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.policy.out_of_scope_users = scim_sync::plan::OutOfScopeAction::Delete;
    settings.policy.delete_groups_out_of_scope = true;
    let mut f = Figures::default();
    converge(&emu, &settings, "delete policy, first sync", &mut f).await;
    v2.write(&path);
    converge(&emu, &settings, "delete policy, after the change", &mut f).await;
    let dump = emu.dump();
    for n in 1..=4 {
        assert!(
            dump.user_by_external_id(&pass_fixture::sid_string(n))
                .is_none(),
            "user {n} was deleted"
        );
    }
    assert!(dump.group("aws-g4").is_none(), "the group was deleted");
    let idle = loop {
        if let Ok(r) = Session::new(settings.clone(), None)
            .unwrap()
            .run(&PassOptions::default())
            .await
        {
            break r;
        }
    };
    assert!(
        idle.plan.operations.is_empty(),
        "{:?}",
        idle.plan.operations
    );
    let c = emu.counters();
    println!(
        "SAFETY-FIGURES profile=delete-policies-lost-and-dropped faults={} requests={} writes={} passes={} \
         write-failures-retried-next-pass={} duplicates=0 lost=0",
        faults_injected(&c),
        c.total,
        c.writes,
        f.passes,
        f.write_failures
    );
}

#[tokio::test]
async fn a_pass_stopped_by_its_deadline_reports_itself_incomplete_and_the_next_finishes() {
    let (v1, v2) = directories();
    let (_tmp, path) = temp_ldif(&v1);
    let emu = emulator(41, Faults::default(), Behaviour::default()).await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    v2.write(&path);
    let before = normalised(&emu.dump());
    // A Lambda invoked too close to its deadline: it still reads (and plans), but may start
    // no write; it says so, and the next invocation does the work.
    let cut = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions {
            stop_starting_at: Some(Instant::now()),
            ..PassOptions::default()
        })
        .await
        .unwrap();
    assert!(cut.summary.incomplete, "{:?}", cut.summary);
    assert!(!cut.plan.operations.is_empty(), "there was work to do");
    assert_eq!(cut.summary.scim_writes, 0, "{:?}", cut.summary);
    assert!(
        cut.summary.failures.is_empty(),
        "{:?}",
        cut.summary.failures
    );
    assert_eq!(normalised(&emu.dump()), before);
    let next = Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    assert!(!next.summary.incomplete);
    convergence(&emu.dump(), &read_directory(&settings).await.unwrap())
        .assert_ok("after the deadline-cut pass");
}
