//! Incremental passes when the change detection meets an LDAP error (issue 19): what changed
//! is then unknown, so the pass runs in full (`changeDetectionFailed`), and a DC that cannot
//! be reached fails the pass with that error, not hidden behind a fallback.
//!
//! Samba cannot be made to break a connection in the middle of a search, so a small TCP proxy
//! sits between the pass and the real Samba DC (127.0.0.90, see tests/support/samba.rs) and
//! drops the connection when the client sends a request naming a given attribute; everything
//! else is the real DC and the Identity Center emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use pass_fixture::{ldap_settings, TOKEN};
use scim_sync::directory::DirectoryError;
use scim_sync::model::settings::Scope;
use scim_sync::model::{IncrementalSummary, ReasonCode, Summary};
use scim_sync::pass::{PassError, PassOptions, Session};
use scim_sync::state::WatermarkStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DC_ADDR: &str = "127.0.0.90";

/// What the proxy does to the next requests that name `trigger`.
#[derive(Default)]
struct Fault {
    trigger: std::sync::Mutex<Vec<u8>>,
    /// How many more requests naming the trigger drop their connection.
    shots: AtomicUsize,
    /// Once a shot is fired, refuse every later connection (the DC went away).
    then_refuse: AtomicBool,
    refusing: AtomicBool,
}

impl Fault {
    fn arm(&self, trigger: &str, shots: usize, then_refuse: bool) {
        *self.trigger.lock().unwrap() = trigger.as_bytes().to_vec();
        self.then_refuse.store(then_refuse, Ordering::SeqCst);
        self.shots.store(shots, Ordering::SeqCst);
    }

    /// True when `window` (what the client sent lately) names the trigger and a shot is left.
    fn fires(&self, window: &[u8]) -> bool {
        let trigger = self.trigger.lock().unwrap().clone();
        if trigger.is_empty() || !window.windows(trigger.len()).any(|w| w == trigger) {
            return false;
        }
        let fired = self
            .shots
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fired && self.then_refuse.load(Ordering::SeqCst) {
            self.refusing.store(true, Ordering::SeqCst);
        }
        fired
    }
}

/// Listens on 127.0.0.1 (any port) and forwards to the DC's plain LDAP port.
async fn start_proxy(upstream: String, fault: Arc<Fault>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if fault.refusing.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let fault = fault.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let back = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                });
                let mut window: Vec<u8> = Vec::new();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    window.extend_from_slice(&buf[..n]);
                    if fault.fires(&window) {
                        back.abort(); // drops the client's write half: the client sees EOF
                        return;
                    }
                    let keep = window.len().saturating_sub(64);
                    window.drain(..keep);
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
                let _ = back.await;
            });
        }
    });
    port
}

struct Run {
    summary: Summary,
    reads: u64,
    writes: u64,
}

impl Run {
    fn info(&self) -> &IncrementalSummary {
        self.summary
            .incremental
            .as_ref()
            .expect("incremental summary")
    }
}

fn opts(store: &WatermarkStore) -> PassOptions {
    PassOptions {
        incremental: true,
        watermarks: Some(store.clone()),
        ..PassOptions::default()
    }
}

async fn incremental(
    session: &mut Session,
    emulator: &RunningEmulator,
    store: &WatermarkStore,
) -> Run {
    let before = emulator.counters();
    let report = session.run(&opts(store)).await.expect("incremental pass");
    let after = emulator.counters();
    assert!(
        report.summary.failures.is_empty(),
        "{:?}",
        report.summary.failures
    );
    Run {
        summary: report.summary,
        reads: after.reads - before.reads,
        writes: after.writes - before.writes,
    }
}

fn dn_of(sam: &str) -> String {
    format!("CN={sam},OU=People,{}", samba::BASE_DN)
}

fn disable(dc: &samba::SambaDc, sam: &str) {
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n",
        dn_of(sam)
    ));
}

fn scope() -> Scope {
    Scope {
        sync_group: samba::SYNC_GROUP.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn active(emulator: &RunningEmulator, sam: &str) -> bool {
    emulator
        .dump()
        .user(&format!("{sam}@example.test"))
        .unwrap()
        .active
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldap_error_during_change_detection_falls_back_to_a_full_pass() {
    let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start(DC_ADDR))
        .await
        .unwrap();
    let fault = Arc::new(Fault::default());
    let port = start_proxy(format!("{DC_ADDR}:389"), fault.clone()).await;
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let settings = ldap_settings(
        &format!("ldap://127.0.0.1:{port}"),
        None,
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope(),
        &emulator.base_url(),
        TOKEN,
    );
    let state_dir =
        std::env::temp_dir().join(format!("scim-sync-e2e-incr-faults-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir).unwrap();
    let state_file = state_dir.join("state.json");
    let _ = std::fs::remove_file(&state_file);
    let store = WatermarkStore::File(state_file.clone());
    let mut session = Session::new(settings, None).unwrap();

    // The first pass converges (no watermark: full) and leaves a watermark.
    let first = incremental(&mut session, &emulator, &store).await;
    assert_eq!(first.info().mode, "full");
    assert!(first.info().saved);

    // 1. The connection breaks during the `uSNChanged` search: a full pass runs, which
    //    syncs the disable and saves a watermark (the DC's state was read before).
    disable(&dc, "p011");
    fault.arm("uSNChanged", 1, false);
    let broken = incremental(&mut session, &emulator, &store).await;
    assert_eq!(fault.shots.load(Ordering::SeqCst), 0, "the fault fired");
    assert_eq!(broken.info().mode, "full", "{:?}", broken.info());
    let why = broken.info().fallback.as_ref().expect("a fallback reason");
    assert_eq!(why.code, ReasonCode::ChangeDetectionFailed, "{}", why.text);
    assert!(
        why.text.contains("change detection failed") && why.text.contains("users changed"),
        "the reason names the failed search: {}",
        why.text
    );
    assert_eq!(broken.summary.users_disabled, 1, "{:?}", broken.summary);
    assert!(!active(&emulator, "p011"));
    assert!(broken.reads > 10, "a full pass lists Identity Center");
    assert!(broken.info().saved, "{:?}", broken.info());

    // With the connection whole again, the next pass is idle.
    let idle = incremental(&mut session, &emulator, &store).await;
    assert_eq!(idle.info().mode, "idle", "{:?}", idle.info());
    assert_eq!((idle.reads, idle.writes), (0, 0));

    // 2. The DC's state cannot be read (the NTDS Settings read breaks, in the change
    //    detection and again before the full read): a full pass runs, and no watermark can
    //    be saved without the DC's state, so the stored one stays.
    let stored = std::fs::read_to_string(&state_file).unwrap();
    disable(&dc, "p012");
    fault.arm("invocationId", 2, false);
    let no_dc = incremental(&mut session, &emulator, &store).await;
    assert_eq!(fault.shots.load(Ordering::SeqCst), 0, "both reads broke");
    assert_eq!(no_dc.info().mode, "full", "{:?}", no_dc.info());
    let why = no_dc.info().fallback.as_ref().expect("a fallback reason");
    assert_eq!(why.code, ReasonCode::ChangeDetectionFailed, "{}", why.text);
    assert_eq!(no_dc.summary.users_disabled, 1, "{:?}", no_dc.summary);
    assert!(!active(&emulator, "p012"));
    assert!(!no_dc.info().saved);
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), stored);
    // The next pass starts from the old watermark: it sees p012's change, which is in
    // Identity Center already, and writes nothing.
    let after = incremental(&mut session, &emulator, &store).await;
    assert_eq!(after.info().mode, "incremental", "{:?}", after.info());
    assert_eq!(after.writes, 0, "{:?}", after.summary);
    assert!(after.info().saved);

    // 3. The connection breaks during the change detection and the DC then goes away: the
    //    full pass fails, and its error (the connection) is the pass's error.
    disable(&dc, "p013");
    fault.arm("uSNChanged", 1, true);
    let before = emulator.counters();
    let err = session.run(&opts(&store)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            PassError::Directory(
                DirectoryError::Connect { .. } | DirectoryError::Connection { .. }
            )
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("127.0.0.1"), "names the DC: {err}");
    assert_eq!(emulator.counters().writes, before.writes);
    assert!(active(&emulator, "p013"), "nothing was written");

    let _ = std::fs::remove_dir_all(&state_dir);
}

#[tokio::test]
async fn an_unreachable_dc_fails_an_incremental_pass_with_its_connection_error() {
    // Nothing listens on 127.0.0.1:1: the pass fails with the connection error as a full
    // pass would, before any SCIM request, and does not pretend to fall back.
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let settings = ldap_settings(
        "ldap://127.0.0.1:1",
        None,
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope(),
        &emulator.base_url(),
        TOKEN,
    );
    let dir = std::env::temp_dir().join(format!(
        "scim-sync-e2e-incr-unreachable-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = WatermarkStore::File(dir.join("state.json"));
    let mut session = Session::new(settings, None).unwrap();
    let err = session.run(&opts(&store)).await.unwrap_err();
    assert!(
        matches!(&err, PassError::Directory(DirectoryError::Connect { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("cannot connect to the directory"),
        "{err}"
    );
    assert_eq!(emulator.counters().total, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
