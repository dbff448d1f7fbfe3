//! Secrets: the SCIM token and the LDAP password never reach a log line (at TRACE), an error
//! message, Debug output or the JSON summary; a rejected (revoked) token is reported by the
//! secret id that holds it, never by its value.
//!
//! The real binary against a live directory is in tests/safety_samba.rs; this file covers the
//! in-process pass (what the Lambda runs) with every log line captured, the configuration
//! types' Debug output, and 401s before and during the writes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idc_emulator::{Emulator, EmulatorConfig, Faults, RunningEmulator};
use pass_fixture::{ldap_settings, ldif_settings, scope, temp_ldif, Directory, TOKEN};
use scim_sync::config::{load_from_file, DirectorySource};
use scim_sync::identity_center::ScimClient;
use scim_sync::pass::{PassOptions, Session};

const PASSWORD: &str = "Ldap-PW-SAFETY-3b8e1d7c-CANARY";
const SECRET_ID: &str = "IAM-IDC/SCIM-API-Token";

/// Everything every test of this binary logged, at TRACE, `log` records included.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).into_owned()
}

fn assert_clean(text: &str, what: &str) {
    for (name, secret) in [("SCIM token", TOKEN), ("LDAP password", PASSWORD)] {
        if let Some(at) = text.find(secret) {
            let from = at.saturating_sub(200);
            panic!(
                "{what}: the {name} appears: …{}…",
                &text[from..(at + secret.len()).min(text.len())]
            );
        }
    }
}

async fn emulator(faults: Faults) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(9),
        faults,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pass_at_trace_logs_no_secret_and_its_summary_holds_none() {
    captured();
    let dir = Directory::generated(40, 3);
    let (_tmp, path) = temp_ldif(&dir);
    // Faults make the retry and adoption paths log too.
    let emu = emulator(Faults {
        lost_response_rate: 0.2,
        error_503_rate: 0.1,
        ..Faults::default()
    })
    .await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    let mut session = Session::new(settings, None).unwrap();
    let report = session.run(&PassOptions::default()).await.unwrap();
    assert!(report.summary.users_created > 0, "the pass did real work");
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_clean(&json, "the JSON report");
    assert_clean(&format!("{report:?}"), "the report's Debug output");
    let log = log_text();
    assert!(
        log.contains("TRACE") && log.contains("DEBUG"),
        "TRACE logging was captured, so the check means something ({} bytes)",
        log.len()
    );
    assert_clean(&log, "the TRACE log");
    println!(
        "SAFETY-FIGURES profile=secrets-in-process log-bytes-scanned={} secret-occurrences=0",
        log.len()
    );
}

#[tokio::test]
async fn debug_output_of_the_configuration_redacts_every_secret() {
    let settings = ldap_settings(
        "ldaps://dc1.example.test:636",
        None,
        "svc@example.test",
        PASSWORD,
        scope(),
        "https://scim.eu-west-1.amazonaws.com/t/scim/v2/",
        TOKEN,
    );
    let mut outputs = vec![
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{:?}", settings.scim),
        format!("{:?}", settings.directory),
    ];
    if let DirectorySource::Ldap(l) = &settings.directory {
        outputs.push(format!("{l:?}"));
        outputs.push(format!("{:?}", l.bind_password));
        outputs.push(format!("{}", l.bind_password));
    }
    let client_config = settings.scim.clone();
    outputs.push(format!("{client_config:?}"));
    outputs.push(format!("{:?}", ScimClient::new(client_config).unwrap()));
    outputs.push(format!("{:?}", settings.scim.token));

    // The same through the file loader, with both secrets inline (demo style).
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[directory]\nsource = \"ldap\"\nurl = \"ldaps://dc1.example.test:636\"\n\
             bindDn = \"svc@example.test\"\npassword = \"{PASSWORD}\"\n\
             [scope]\nsyncGroup = \"aws-sync-users\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\
             [scim]\nurl = \"https://scim.eu-west-1.amazonaws.com/t/scim/v2/\"\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    let loaded = load_from_file(&cfg, None).await.unwrap();
    assert_eq!(
        loaded.scim.token.expose(),
        TOKEN,
        "the loader really read it"
    );
    outputs.push(format!("{loaded:#?}"));

    // A bad file: the error quotes the setting, never the secret next to it.
    std::fs::write(
        &cfg,
        format!(
            "[directory]\nsource = \"ldif\"\npath = \"x.ldif\"\npassword = \"{PASSWORD}\"\n\
             [scope]\nsyncGroup = \"g\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\
             [scim]\nurl = \"https://scim.eu-west-1.amazonaws.com/t/scim/v2/\"\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    let err = load_from_file(&cfg, None).await.unwrap_err();
    outputs.push(err.to_string());
    outputs.push(format!("{err:?}"));

    for (i, out) in outputs.iter().enumerate() {
        assert_clean(out, &format!("Debug output #{i}"));
    }
    assert!(outputs[0].contains("redacted"), "{}", outputs[0]);
}

#[tokio::test]
async fn a_revoked_token_is_named_by_its_secret_id_never_by_its_value() {
    let dir = Directory::generated(10, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator(Faults::default()).await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.scim.token_secret_id = Some(SECRET_ID.into());
    emu.revoke_token(TOKEN);

    let err = Session::new(settings, None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_token_rejected(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("401"), "{msg}");
    assert!(
        msg.contains(SECRET_ID),
        "the message says where to rotate: {msg}"
    );
    assert_clean(&msg, "the 401 message");
    assert_clean(&format!("{err:?}"), "the 401 error's Debug output");
    assert_eq!(emu.counters().applied_writes, 0);
    println!("401 message: {msg}");
}

#[tokio::test]
async fn a_token_revoked_during_the_writes_stops_them_and_names_the_secret_id() {
    let dir = Directory::generated(60, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = Arc::new(
        emulator(Faults {
            latency_ms: 20,
            ..Faults::default()
        })
        .await,
    );
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.scim.token_secret_id = Some(SECRET_ID.into());

    // Revoke once the first user exists, i.e. in the middle of the writes.
    let watcher = {
        let emu = emu.clone();
        tokio::spawn(async move {
            while emu.dump().user_records.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            emu.revoke_token(TOKEN);
        })
    };
    let report = Session::new(settings, None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap();
    watcher.await.unwrap();
    let s = &report.summary;
    assert!(s.token_rejected, "{s:?}");
    assert!(
        s.users_created < 60,
        "the writes stopped after the 401 ({} created)",
        s.users_created
    );
    assert!(!s.failures.is_empty());
    assert!(
        s.failures.iter().any(|f| f.error.contains(SECRET_ID)),
        "{:?}",
        s.failures
    );
    assert_clean(&serde_json::to_string(&report).unwrap(), "the summary");
}
