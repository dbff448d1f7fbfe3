//! Safety against a real Samba AD DC (shared, 127.0.0.22): hostile directory values written
//! with ldapmodify, injection attempts in the scope settings, LDAPS certificate verification,
//! and the real `scim-sync` binary at TRACE logging leaking neither the SCIM token nor the
//! LDAP password.
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

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;

use base64::Engine as _;
use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use pass_fixture::{convergence, ldap_settings, RecordingProxy, TOKEN};
use samba::SambaDc;
use scim_sync::config::Settings;
use scim_sync::directory::DirectoryError;
use scim_sync::model::settings::Scope;
use scim_sync::model::ReasonCode;
use scim_sync::pass::{read_directory, PassError, PassOptions, PassReport, Session};

const DC_ADDR: &str = "127.0.0.22";
const HOSTILE_BASE: &str = "OU=Hostile,DC=example,DC=test";

async fn dc() -> Arc<SambaDc> {
    tokio::task::spawn_blocking(|| SambaDc::shared(DC_ADDR))
        .await
        .unwrap()
}

async fn emulator() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(22),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn fixture_scope() -> Scope {
    Scope {
        sync_group: samba::SYNC_GROUP.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn settings(dc: &SambaDc, scope: Scope, scim_url: &str) -> Settings {
    ldap_settings(
        &dc.ldaps_url(),
        Some(dc.ca_pem()),
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope,
        scim_url,
        TOKEN,
    )
}

async fn run(settings: &Settings) -> Result<PassReport, PassError> {
    Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
}

// ---------------------------------------------------------------------------------------------
// Hostile values in a live directory
// ---------------------------------------------------------------------------------------------

/// `attr:: base64` so any value survives ldapmodify.
fn b64(attr: &str, value: &str) -> String {
    format!(
        "{attr}:: {}\n",
        base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
    )
}

struct HostileUser {
    sam: &'static str,
    cn: &'static str,
    upn: Option<String>,
    given: Option<&'static str>,
    sn: &'static str,
    display: Option<String>,
}

impl HostileUser {
    fn dn(&self) -> String {
        format!("CN={},{HOSTILE_BASE}", escape_rdn(self.cn))
    }
}

fn escape_rdn(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const QUOTED_UPN: &str = r#"o"brien\x@example.test"#;

fn hostile_users() -> Vec<HostileUser> {
    let user = |sam, cn, upn: Option<&str>, given, display: Option<&str>| HostileUser {
        sam,
        cn,
        upn: upn.map(str::to_string),
        given,
        sn: "Surname",
        display: display.map(str::to_string),
    };
    let mut users = vec![
        user(
            "h01",
            r#"O"Brien, Jr. \ (x)*"#,
            Some(QUOTED_UPN),
            Some("Bob"),
            Some(r#"Bob "The Builder" \ Jones (*)"#),
        ),
        user(
            "h02",
            "star*(paren)",
            Some("star*(paren)@example.test"),
            Some("Star"),
            Some("*)(objectClass=*"),
        ),
        user(
            "h03",
            "Emoji 😀",
            Some("emoji😀𝔘@example.test"),
            Some("𝒜lice"),
            Some("𝒜lice 😀 Zoë 山田"),
        ),
        // Nearly the longest displayName AD allows (256), ending in a non-BMP character.
        user(
            "h07",
            "Long Display",
            Some("h07@example.test"),
            Some("Long"),
            None,
        ),
        // Unsendable: no givenName, no UPN, a userName over Identity Center's limit (128).
        user("h04", "No Given", Some("h04@example.test"), None, None),
        user("h05", "No UPN", None, Some("Nou"), None),
        user("h06", "Long UPN", None, Some("Long"), None),
    ];
    users[3].display = Some(format!("{}😀", "L".repeat(250)));
    users[6].upn = Some(format!("{}@example.test", "l".repeat(200)));
    users
}

fn hostile_ldif(users: &[HostileUser]) -> String {
    let mut out = format!(
        "dn: {HOSTILE_BASE}\nchangetype: add\nobjectClass: organizationalUnit\nou: Hostile\n\n"
    );
    for u in users {
        out.push_str(&b64("dn", &u.dn()));
        out.push_str("changetype: add\nobjectClass: user\n");
        out.push_str(&format!(
            "sAMAccountName: {}\nuserAccountControl: 544\n",
            u.sam
        ));
        out.push_str(&b64("sn", u.sn));
        if let Some(g) = u.given {
            out.push_str(&b64("givenName", g));
        }
        if let Some(upn) = &u.upn {
            out.push_str(&b64("userPrincipalName", upn));
        }
        if let Some(d) = &u.display {
            out.push_str(&b64("displayName", d));
        }
        out.push('\n');
    }
    let group = |cn: &str, sam: &str, members: &[&HostileUser]| {
        let mut g = b64("dn", &format!("CN={},{HOSTILE_BASE}", escape_rdn(cn)));
        g.push_str(&format!(
            "changetype: add\nobjectClass: group\nsAMAccountName: {sam}\n"
        ));
        for m in members {
            g.push_str(&b64("member", &m.dn()));
        }
        g.push('\n');
        g
    };
    let all: Vec<&HostileUser> = users.iter().collect();
    out.push_str(&group("hostile-sync", "hostile-sync", &all));
    out.push_str(&group(r#"aws-ops "late" \ (x)*"#, "aws-h-quote", &all[..3]));
    out.push_str(&group("aws-😀-team", "aws-h-emoji", &all[2..4]));
    out.push_str(&group("aws-*)(|(cn=*", "aws-h-inject", &all[..2]));
    out
}

#[tokio::test]
async fn hostile_values_in_the_live_directory_arrive_exactly_or_are_skipped() {
    let dc = dc().await;
    let users = hostile_users();
    dc.ldapmodify_as_admin(&hostile_ldif(&users));

    let emu = emulator().await;
    let proxy = RecordingProxy::start(emu.addr()).await;
    let scope = Scope {
        sync_group: "hostile-sync".into(),
        group_prefix: "aws-".into(),
        group_search_base: HOSTILE_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let s = settings(&dc, scope, &proxy.base_url());
    let report = run(&s).await.unwrap();
    let sum = &report.summary;
    assert!(sum.failures.is_empty(), "{:?}", sum.failures);
    let dump = emu.dump();

    for u in &users[..4] {
        let got = dump
            .user(u.upn.as_deref().unwrap())
            .unwrap_or_else(|| panic!("{} is missing", u.sam));
        assert_eq!(got.display_name, u.display, "{}", u.sam);
        assert_eq!(got.given_name.as_deref(), u.given, "{}", u.sam);
        assert!(got.external_id.as_deref().unwrap().starts_with("S-1-5-21-"));
    }
    for (u, code) in users[4..].iter().zip([
        ReasonCode::MissingGivenName,
        ReasonCode::MissingUserName,
        ReasonCode::InvalidUserName,
    ]) {
        let line = sum
            .skipped
            .iter()
            .find(|l| {
                l.text.contains(u.sam) || l.text.to_lowercase().contains(&u.cn.to_lowercase())
            })
            .unwrap_or_else(|| panic!("{} neither sent nor reported: {:?}", u.sam, sum.skipped));
        assert_eq!(line.code, code, "{}: {line}", u.sam);
    }
    assert_eq!(dump.user_records.len(), 4, "only the sendable users exist");
    let names: BTreeSet<&str> = dump
        .groups
        .iter()
        .map(|g| g.display_name.as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([r#"aws-ops "late" \ (x)*"#, "aws-😀-team", "aws-*)(|(cn=*"]),
        "exactly the prefixed groups under the hostile OU"
    );
    assert_eq!(dump.member_user_names(r#"aws-ops "late" \ (x)*"#).len(), 3);
    convergence(&dump, &read_directory(&s).await.unwrap()).assert_ok("hostile Samba values");

    let again = run(&s).await.unwrap();
    assert_eq!(again.summary.scim_writes, 0, "{:?}", again.plan.operations);
    for f in proxy.filters() {
        assert_eq!(f.matches('"').count(), 2, "unsafe filter {f}");
        assert!(!f.contains('\\'), "unsafe filter {f}");
    }
    println!(
        "SAFETY-FIGURES profile=hostile-samba users-sent=4 users-skipped-with-reason=3 filters-seen={} unsafe-filters=0 lost=0",
        proxy.filters().len()
    );
}

// ---------------------------------------------------------------------------------------------
// Injection attempts in the scope settings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn injection_attempts_in_the_scope_match_nothing_unintended_in_a_live_directory() {
    let dc = dc().await;
    let emu = emulator().await;

    // (Not "aws-*)(|(cn=*": the hostile test creates a group literally named so, which a
    // correct lookup then finds.)
    for sync in [
        "*)(objectClass=*",
        "*",
        "aws-sync-users)(|(cn=*",
        "aws-sync-*",
        "(cn=aws-sync-users)",
    ] {
        let mut scope = fixture_scope();
        scope.sync_group = sync.into();
        let err = run(&settings(&dc, scope, &emu.base_url()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                PassError::Directory(DirectoryError::SyncGroupNotFound { .. })
            ),
            "sync group {sync:?}: {err}"
        );
    }

    // Prefixes that are filter fragments match no group (no group is named so).
    for prefix in ["aws-*)(|(cn=", "*)(objectClass=*)(cn=", "\\2a"] {
        let mut scope = fixture_scope();
        scope.group_prefix = prefix.into();
        let snap = read_directory(&settings(&dc, scope, &emu.base_url()))
            .await
            .unwrap();
        assert!(
            snap.groups.is_empty(),
            "prefix {prefix:?} matched {:?}",
            snap.groups
        );
        assert_eq!(snap.users.len(), 45, "the users in scope are unaffected");
    }

    // A search base carrying a filter fragment is refused by the server or matches nothing.
    let mut scope = fixture_scope();
    scope.group_search_base = "OU=AWS,DC=example,DC=test)(objectClass=*".into();
    match read_directory(&settings(&dc, scope, &emu.base_url())).await {
        Err(e) => println!("search base with a filter fragment: {e}"),
        Ok(snap) => assert!(snap.groups.is_empty(), "{:?}", snap.groups),
    }
    assert_eq!(emu.counters().writes, 0, "no attempt wrote anything");
}

// ---------------------------------------------------------------------------------------------
// LDAPS certificate verification
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ldaps_refuses_a_certificate_from_an_untrusted_ca() {
    let dc = dc().await;
    let emu = emulator().await;
    for (label, ca) in [
        ("a different private CA", Some(dc.other_ca_bundle())),
        ("the public roots (default)", None),
    ] {
        let mut s = settings(&dc, fixture_scope(), &emu.base_url());
        if let scim_sync::config::DirectorySource::Ldap(l) = &mut s.directory {
            l.ca_bundle = ca;
        }
        let err = run(&s).await.unwrap_err();
        assert!(
            matches!(
                err,
                PassError::Directory(DirectoryError::Certificate { .. })
            ),
            "{label}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("certificate"), "{label}: {msg}");
        assert!(!msg.contains(samba::BIND_PASSWORD));
        println!("LDAPS with {label}: {msg}");
    }
    assert_eq!(emu.counters().total, 0, "Identity Center was not even read");
}

// ---------------------------------------------------------------------------------------------
// The real binary at TRACE: no secret in any output
// ---------------------------------------------------------------------------------------------

const PASSWORD_ENV: &str = "SAFETY_LDAP_PASSWORD";
const TOKEN_ENV: &str = "SAFETY_SCIM_TOKEN";

struct CliRun {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn scim_sync(config: &std::path::Path, args: &[&str]) -> CliRun {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(config)
        .args(["--output", "json"])
        .args(args)
        .env("RUST_LOG", "trace")
        .env(PASSWORD_ENV, samba::BIND_PASSWORD)
        .env(TOKEN_ENV, TOKEN)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every way a secret could be spelled in a log line.
fn spellings(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_string(),
        format!("{secret:?}").trim_matches('"').to_string(),
        b64.encode(secret),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        secret
            .as_bytes()
            .iter()
            .map(|b| format!("{b}, "))
            .collect::<String>(),
    ]
}

fn assert_no_secret(run: &CliRun, what: &str) {
    for (name, secret) in [
        ("SCIM token", TOKEN),
        ("LDAP password", samba::BIND_PASSWORD),
    ] {
        for spelled in spellings(secret) {
            for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                if let Some(at) = text.find(&spelled) {
                    let from = at.saturating_sub(200);
                    panic!(
                        "{what}: the {name} appears in {stream}: …{}…",
                        &text[from..(at + spelled.len() + 50).min(text.len())]
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_binary_at_trace_level_never_prints_the_token_or_the_password() {
    let dc = dc().await;
    let emu = emulator().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("scim-sync.toml");
    std::fs::write(
        &config,
        format!(
            r#"[directory]
source = "ldap"
url = "{url}"
bindDn = "{bind}"
passwordEnv = "{PASSWORD_ENV}"
caBundleFile = "{ca}"

[scope]
syncGroup = "{sync}"
groupPrefix = "aws-"
groupSearchBase = "{base}"

[scim]
url = "{scim}"
tokenEnv = "{TOKEN_ENV}"
rateLimitPerSecond = 500

[ldap]
baseDn = "DC=example,DC=test"
"#,
            url = dc.ldaps_url(),
            bind = samba::BIND_DN,
            ca = dc.ca_pem_path().display(),
            sync = samba::SYNC_GROUP,
            base = samba::GROUP_BASE,
            scim = emu.base_url(),
        ),
    )
    .unwrap();
    assert!(!std::fs::read_to_string(&config)
        .unwrap()
        .contains(samba::BIND_PASSWORD));

    let plan = scim_sync(&config, &["plan"]).await;
    let apply = scim_sync(&config, &["apply"]).await;
    let replan = scim_sync(&config, &["plan"]).await;
    for (what, run) in [("plan", &plan), ("apply", &apply), ("plan again", &replan)] {
        assert_eq!(
            run.code,
            0,
            "{what} failed:\n{}\n{}",
            run.stdout,
            &run.stderr[run.stderr.len().saturating_sub(3000)..]
        );
        assert!(
            run.stderr.contains("TRACE"),
            "{what}: TRACE logging was not on, the check would prove nothing"
        );
        assert_no_secret(run, what);
    }
    let report: serde_json::Value = serde_json::from_str(&apply.stdout).unwrap();
    let created = report["summary"]["usersCreated"].as_u64().unwrap();
    assert!(created > 30, "the apply did real work: {created} users");
    assert!(emu.dump().user_records.len() as u64 >= created);
    let replanned: serde_json::Value = serde_json::from_str(&replan.stdout).unwrap();
    assert_eq!(
        replanned["plan"]["operations"].as_array().map(Vec::len),
        Some(0)
    );

    // A revoked token: the run fails with a clear message, still without secrets.
    emu.revoke_token(TOKEN);
    let rejected = scim_sync(&config, &["apply"]).await;
    assert_eq!(rejected.code, 1, "{}", rejected.stdout);
    let body: serde_json::Value = serde_json::from_str(rejected.stdout.trim()).unwrap();
    assert_eq!(body["tokenRejected"], true);
    assert!(body["error"].as_str().unwrap().contains("401"));
    assert_no_secret(&rejected, "apply with a revoked token");
    println!(
        "SAFETY-FIGURES profile=secrets-cli runs=4 log-bytes-scanned={} secret-occurrences=0",
        [&plan, &apply, &replan, &rejected]
            .iter()
            .map(|r| r.stdout.len() + r.stderr.len())
            .sum::<usize>()
    );
}
