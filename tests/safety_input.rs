//! Hostile and odd input through a whole pass (LDIF export -> emulator over HTTP): quotes,
//! backslashes, `*`, parentheses, NUL, very long strings, non-BMP characters and missing
//! attributes in directory values; injection attempts in the scope settings; and values that
//! could reach a SCIM filter. Each value is either written exactly, or skipped with a reason
//! in the summary: nothing is lost, nothing unintended is matched, and no filter ever carries
//! a quote or backslash (a recording proxy sees every request line).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use std::collections::BTreeSet;

use idc_emulator::{Emulator, EmulatorConfig, Faults, RunningEmulator};
use pass_fixture::{
    convergence, faults_injected, ldif_settings, sid_string, temp_ldif, Directory, GroupSpec,
    RecordingProxy, UserSpec, TOKEN,
};
use scim_sync::config::{load_from_file, Settings};
use scim_sync::directory::DirectoryError;
use scim_sync::model::ReasonCode;
use scim_sync::pass::{read_directory, PassError, PassOptions, PassReport, Session};
use serde_json::json;

async fn emulator(faults: Faults) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(5),
        faults,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn apply(settings: &Settings) -> PassReport {
    Session::new(settings.clone(), None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap()
}

/// Every filter the client sent must have exactly the two quotes around its value and no
/// backslash: a value with a quote or backslash was never interpolated.
fn assert_filters_clean(proxy: &RecordingProxy) -> usize {
    let filters = proxy.filters();
    for f in &filters {
        assert_eq!(
            f.matches('"').count(),
            2,
            "a filter carries an extra quote: {f}"
        );
        assert!(!f.contains('\\'), "a filter carries a backslash: {f}");
        assert!(!f.contains('\0'), "a filter carries a NUL: {f}");
    }
    filters.len()
}

/// Users and groups with every odd value the suite knows, by number.
struct Hostile {
    dir: Directory,
    /// Users that must arrive exactly as written.
    sendable: Vec<u32>,
    /// Users that must be skipped, with the reason's code and a word its text must contain.
    unsendable: Vec<(u32, ReasonCode, &'static str)>,
}

const QUOTED_UPN: &str = r#"o"brien\x@example.test"#;
const QUOTED_DISPLAY: &str = r#"Bob "The Builder" \ Jones (*)"#;
const QUOTED_GROUP: &str = r#"aws-ops, "night" shift \ (x)*"#;

fn hostile() -> Hostile {
    let mut dir = Directory::generated(6, 1);
    let mut add = |n: u32, f: &dyn Fn(&mut UserSpec)| {
        let mut u = UserSpec::new(n);
        f(&mut u);
        dir.users.insert(n, u);
    };
    // Quotes and backslashes in the userName and displayName, specials in the CN (DN-escaped).
    add(11, &|u| {
        u.cn = r#"O"Brien, Jr. \ (x)*"#.into();
        u.upn = Some(QUOTED_UPN.into());
        u.display = Some(QUOTED_DISPLAY.into());
        u.sn = Some(r#"O"Brien\"#.into());
    });
    // LDAP filter specials everywhere.
    add(12, &|u| {
        u.cn = "star*(paren)".into();
        u.upn = Some("star*(paren)@example.test".into());
        u.mail = Some("star*(paren)@example.test".into());
        u.display = Some("*)(objectClass=*".into());
    });
    // Non-BMP characters (surrogate pairs in UTF-16) and combining marks.
    add(13, &|u| {
        u.cn = "Emoji 😀".into();
        u.upn = Some("emoji😀𝔘@example.test".into());
        u.given = Some("𝒜lice".into());
        u.sn = Some("Zoë Ünal 山田".into());
        u.display = Some("𝒜lice 😀 Zoë Ünal 山田".into());
    });
    // Missing optional attributes: no mail, no displayName (falls back to given + sn).
    add(14, &|u| {
        u.mail = None;
        u.display = None;
    });
    // Long but within Identity Center's limits (userName 128, text 1024).
    add(15, &|u| {
        u.upn = Some(format!("{}@example.test", "l".repeat(115)));
        u.display = Some("D".repeat(1024));
    });
    // Unsendable: NUL in the displayName, NUL in the userName, over-long values, missing
    // required attributes, a missing objectSid.
    add(21, &|u| u.display = Some("Nul\0Char".into()));
    add(22, &|u| u.upn = Some("nul\0user@example.test".into()));
    add(23, &|u| u.display = Some("D".repeat(5000)));
    add(24, &|u| {
        u.upn = Some(format!("{}@example.test", "l".repeat(200)))
    });
    add(25, &|u| u.given = None);
    add(26, &|u| u.sn = None);
    add(27, &|u| u.upn = None);
    add(28, &|u| u.no_sid = true);
    add(29, &|u| u.upn = Some("two words@example.test".into()));
    for n in 11..=29 {
        dir.group_mut("aws-g1").members.insert(n);
    }
    dir.groups
        .push(GroupSpec::new(2, QUOTED_GROUP, [11, 12, 13]));
    dir.groups.push(GroupSpec::new(3, "aws-😀-team", [13, 14]));
    dir.groups.push(GroupSpec::new(4, "aws-*)(|(cn=*", [1, 2]));
    dir.groups.push(GroupSpec::new(5, "aws-empty", []));
    Hostile {
        dir,
        sendable: vec![1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15],
        unsendable: vec![
            (21, ReasonCode::InvalidAttribute, "U+0000"),
            (22, ReasonCode::InvalidUserName, "U+0000"),
            (23, ReasonCode::InvalidAttribute, "5000 characters"),
            (24, ReasonCode::InvalidUserName, "characters long"),
            (25, ReasonCode::MissingGivenName, "givenName"),
            (26, ReasonCode::MissingFamilyName, "sn"),
            (27, ReasonCode::MissingUserName, "userPrincipalName"),
            (28, ReasonCode::UnreadableEntry, "objectSid"),
            (29, ReasonCode::InvalidUserName, "whitespace"),
        ],
    }
}

#[tokio::test]
async fn odd_directory_values_arrive_exactly_or_are_skipped_with_a_reason() {
    let h = hostile();
    let (_tmp, path) = temp_ldif(&h.dir);
    let emu = emulator(Faults::default()).await;
    let proxy = RecordingProxy::start(emu.addr()).await;
    let settings = ldif_settings(&path, &proxy.base_url(), TOKEN);

    let report = apply(&settings).await;
    let s = &report.summary;
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert!(s.conflicts.is_empty(), "{:?}", s.conflicts);
    let dump = emu.dump();

    // Nothing lost: each user is either in Identity Center or reported as skipped.
    for n in &h.sendable {
        let want = &h.dir.users[n];
        let got = dump
            .user_by_external_id(&sid_string(*n))
            .unwrap_or_else(|| panic!("user {n} ({}) is missing", want.cn));
        assert_eq!(Some(&got.user_name), want.upn.as_ref(), "user {n}");
        assert_eq!(got.email, want.mail, "user {n}");
        assert_eq!(got.given_name, want.given, "user {n}");
        assert_eq!(got.family_name, want.sn, "user {n}");
        let display = want
            .display
            .clone()
            .unwrap_or_else(|| format!("User Number{n}"));
        assert_eq!(
            got.display_name.as_deref(),
            Some(display.as_str()),
            "user {n}"
        );
    }
    for (n, code, reason) in &h.unsendable {
        let dn = h.dir.users[n].dn();
        assert!(
            dump.user_by_external_id(&sid_string(*n)).is_none(),
            "user {n} should not have been sent"
        );
        let line = s
            .skipped
            .iter()
            .find(|l| l.text.contains(&dn))
            .unwrap_or_else(|| {
                panic!(
                    "user {n} ({dn}) is neither sent nor reported: {:?}",
                    s.skipped
                )
            });
        assert_eq!(line.code, *code, "user {n}: {line}");
        assert!(line.text.contains(reason), "user {n}: {line}");
    }
    assert_eq!(
        dump.user_records.len(),
        h.sendable.len(),
        "exactly the sendable users exist"
    );

    // Groups: exactly the names written, members as in the directory.
    let in_scope = [
        QUOTED_GROUP,
        "aws-😀-team",
        "aws-*)(|(cn=*",
        "aws-empty",
        "aws-g1",
        pass_fixture::SYNC_GROUP,
    ];
    for name in in_scope {
        assert!(dump.group(name).is_some(), "group {name:?} is missing");
    }
    assert_eq!(
        dump.groups.len(),
        in_scope.len(),
        "no group beyond those in scope"
    );
    assert_eq!(dump.member_user_names(QUOTED_GROUP).len(), 3);
    let dir_snapshot = read_directory(&settings).await.unwrap();
    convergence(&dump, &dir_snapshot).assert_ok("hostile values");

    // The values round-trip: a second pass finds nothing to change.
    let again = apply(&settings).await;
    assert_eq!(again.summary.scim_writes, 0, "{:?}", again.plan.operations);
    let filters = assert_filters_clean(&proxy);
    println!(
        "SAFETY-FIGURES profile=hostile-ldif users-sent={} users-skipped-with-reason={} filters-seen={filters} \
         unsafe-filters=0 lost=0",
        h.sendable.len(),
        h.unsendable.len()
    );
}

/// Creates a foreign object (no externalId) over HTTP, as someone in the console would.
async fn post(emu: &RunningEmulator, collection: &str, body: serde_json::Value) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}{collection}", emu.base_url()))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let v: serde_json::Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn quoted_values_are_never_put_in_a_filter_even_on_the_lookup_paths() {
    let h = hostile();
    let (_tmp, path) = temp_ldif(&h.dir);
    let emu = emulator(Faults::default()).await;
    // Foreign objects hold the quoted userName and group name, and are not yet visible to
    // reads (replication lag): the planner cannot see them, the creates get 409, and the
    // client must look for the holders by userName / displayName, which it may only do
    // through a listing, never with a filter carrying the quote.
    emu.set_faults(Faults {
        visibility_delay_ms: 1500,
        ..Faults::default()
    });
    let foreign_user = post(
        &emu,
        "Users",
        json!({
            "userName": QUOTED_UPN,
            "name": {"givenName": "Hand", "familyName": "Made"},
            "displayName": "Made by hand",
            "active": true
        }),
    )
    .await;
    let foreign_group = post(&emu, "Groups", json!({"displayName": QUOTED_GROUP})).await;
    emu.set_faults(Faults::default());
    let proxy = RecordingProxy::start(emu.addr()).await;
    let settings = ldif_settings(&path, &proxy.base_url(), TOKEN);

    let report = apply(&settings).await;
    let s = &report.summary;
    let reported = |needle: &str| {
        s.conflicts.iter().any(|c| c.text.contains(needle))
            || s.failures
                .iter()
                .any(|f| f.target.contains(needle) || f.error.contains(needle))
    };
    assert!(reported("brien"), "the user collision is reported: {s:?}");
    assert!(reported("night"), "the group collision is reported: {s:?}");
    let dump = emu.dump();
    let u = dump.user_by_id(&foreign_user).unwrap();
    assert_eq!(u.external_id, None, "the foreign user was not taken over");
    assert_eq!(u.display_name.as_deref(), Some("Made by hand"));
    assert_eq!(
        dump.user_records
            .iter()
            .filter(|u| u.user_name.to_lowercase() == QUOTED_UPN)
            .count(),
        1
    );
    let g = dump.groups.iter().find(|g| g.id == foreign_group).unwrap();
    assert_eq!(g.external_id, None, "the foreign group was not taken over");
    assert!(
        g.member_ids.is_empty(),
        "nobody was added to the foreign group"
    );
    // Everyone else arrived.
    for n in h.sendable.iter().filter(|n| **n != 11) {
        assert!(
            dump.user_by_external_id(&sid_string(*n)).is_some(),
            "user {n}"
        );
    }
    let lines = proxy.request_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("POST /scim/v2/Users")),
        "the proxy saw the writes"
    );
    let filters = assert_filters_clean(&proxy);
    let listings = lines
        .iter()
        .filter(|l| l.starts_with("GET /scim/v2/Users") && !l.contains("filter="))
        .count();
    assert!(
        listings >= 2,
        "the userName lookup went through a listing: {lines:#?}"
    );
    println!("quoted lookups: {filters} filters sent, none with a quote or backslash; {listings} user listings");
}

#[tokio::test]
async fn lost_responses_for_quoted_values_are_adopted_without_unsafe_filters() {
    let h = hostile();
    let (_tmp, path) = temp_ldif(&h.dir);
    let emu = emulator(Faults {
        lost_response_rate: 0.5,
        ..Faults::default()
    })
    .await;
    let proxy = RecordingProxy::start(emu.addr()).await;
    let settings = ldif_settings(&path, &proxy.base_url(), TOKEN);
    let dir = read_directory(&settings).await.unwrap();
    let mut passes = 0;
    loop {
        passes += 1;
        let _ = Session::new(settings.clone(), None)
            .unwrap()
            .run(&PassOptions::default())
            .await;
        let c = convergence(&emu.dump(), &dir);
        assert_eq!(c.duplicates, 0, "{:?}", c.problems);
        if c.problems.is_empty() {
            break;
        }
        assert!(passes < 8, "no convergence: {:?}", c.problems);
    }
    let filters = assert_filters_clean(&proxy);
    let counters = emu.counters();
    assert!(counters.lost_responses > 0);
    println!(
        "SAFETY-FIGURES profile=hostile-lost-responses faults={} passes={passes} filters-seen={filters} \
         unsafe-filters=0 duplicates=0 lost=0",
        faults_injected(&counters)
    );
}

#[tokio::test]
async fn injection_attempts_in_the_scope_settings_match_nothing_unintended() {
    let h = hostile();
    let (_tmp, path) = temp_ldif(&h.dir);
    let emu = emulator(Faults::default()).await;
    let base = ldif_settings(&path, &emu.base_url(), TOKEN);

    // A sync group "name" that would match every object if it were put in a filter raw.
    for sync in ["*)(objectClass=*", "*", "aws-sync-users)(|(cn=*"] {
        let mut s = base.clone();
        s.scope.sync_group = sync.into();
        let err = Session::new(s, None)
            .unwrap()
            .run(&PassOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                PassError::Directory(DirectoryError::SyncGroupNotFound { .. })
            ),
            "{sync:?}: {err}"
        );
    }
    // A prefix that is a filter fragment matches only groups literally named so.
    let mut s = base.clone();
    s.scope.group_prefix = "aws-*)(|(cn=".into();
    let snap = read_directory(&s).await.unwrap();
    let names: BTreeSet<&str> = snap.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["aws-*)(|(cn=*"]));
    // A search base with a filter fragment matches no group.
    let mut s = base.clone();
    s.scope.group_search_base = "OU=AWS,DC=example,DC=test)(objectClass=*".into();
    assert!(read_directory(&s).await.unwrap().groups.is_empty());
    assert_eq!(
        emu.counters().writes,
        0,
        "nothing was written by any attempt"
    );

    // Through a config file, a wildcard in the middle of the prefix is refused outright.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[directory]\nsource = \"ldif\"\npath = {:?}\n[scope]\nsyncGroup = \"aws-sync-users\"\n\
             groupPrefix = \"aws-*)(|(cn=*\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\
             [scim]\nurl = \"{}\"\ntoken = \"{TOKEN}\"\n",
            path.display(),
            emu.base_url()
        ),
    )
    .unwrap();
    let err = load_from_file(&cfg, None).await.unwrap_err().to_string();
    assert!(err.contains("scope.groupPrefix"), "{err}");
    assert!(!err.contains(TOKEN), "the error leaks the token: {err}");
}

#[tokio::test]
async fn synced_users_whose_entries_turn_malformed_keep_their_access() {
    let mut dir = Directory::generated(30, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator(Faults::default()).await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;
    let before = emu.dump();

    // A bad export: two users lose a required name, one loses its objectGUID, one gets a
    // userName Identity Center would refuse. Each must be reported, and none may lose its
    // account or its groups because of it.
    dir.user_mut(3).given = None;
    dir.user_mut(4).sn = Some("   ".into());
    dir.user_mut(5).no_guid = true;
    dir.user_mut(6).upn = Some("bad name@example.test".into());
    dir.write(&path);
    let report = apply(&settings).await;
    let s = &report.summary;
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    let dump = emu.dump();
    for n in 3..=6 {
        let dn = dir.users[&n].dn();
        assert!(
            s.skipped.iter().any(|l| l.text.contains(&dn)),
            "user {n} is reported: {:?}",
            s.skipped
        );
        let was = before.user_by_external_id(&sid_string(n)).unwrap();
        let now = dump.user_by_external_id(&sid_string(n)).unwrap();
        assert!(
            now.active,
            "user {n} was disabled because its entry is malformed"
        );
        let mut was_groups = was.group_ids.clone();
        let mut now_groups = now.group_ids.clone();
        was_groups.sort();
        now_groups.sort();
        assert_eq!(now_groups, was_groups, "user {n} lost group memberships");
    }
    assert_eq!(
        s.users_disabled + s.users_deleted + s.members_removed,
        0,
        "{s:?}"
    );
}
