//! Unknown is not gone, end to end (LDIF export -> planner -> guard -> executor -> the Identity
//! Center emulator over HTTP): an in-scope entry whose objectSid cannot be read protects its
//! user (found by name), or else holds back every out-of-scope disable of the pass; a nested
//! group whose members cannot be read makes the groups it feeds, and the scope, partial reads.
//! A dry run withholds exactly what the real run then withholds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator, StateDump};
use pass_fixture::{ldif_settings, sid_string, temp_ldif, Directory, TOKEN};
use scim_sync::cli::ExitCode;
use scim_sync::config::Settings;
use scim_sync::pass::{PassOptions, PassReport, Session};
use scim_sync::plan::Operation;

async fn emulator() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(17),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn run(settings: &Settings, dry_run: bool) -> PassReport {
    let mut session = Session::new(settings.clone(), None).unwrap();
    session
        .run(&PassOptions {
            dry_run,
            ..PassOptions::default()
        })
        .await
        .unwrap()
}

fn active(dump: &StateDump, n: u32) -> bool {
    dump.user_by_external_id(&sid_string(n))
        .unwrap_or_else(|| panic!("user {n} exists"))
        .active
}

fn disables(report: &PassReport) -> usize {
    report
        .plan
        .operations
        .iter()
        .filter(|op| matches!(op, Operation::DisableUser { .. }))
        .count()
}

/// The dry run and the real run of the same state plan and withhold the same.
async fn dry_run_then_apply(settings: &Settings) -> PassReport {
    let dry = run(settings, true).await;
    let real = run(settings, false).await;
    assert_eq!(dry.plan.operations, real.plan.operations, "the same plan");
    assert_eq!(
        dry.summary.withheld, real.summary.withheld,
        "the same hold-backs"
    );
    assert_eq!(
        dry.summary.users_disabled, real.summary.users_disabled,
        "a dry run counts the disables the real run makes"
    );
    real
}

#[tokio::test]
async fn an_entry_without_a_readable_sid_protects_its_user_or_holds_every_disable() {
    let mut dir = Directory::generated(40, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    run(&settings, false).await;

    // User 5's entry loses its objectSid; users 38-40 leave the sync group.
    dir.user_mut(5).no_sid = true;
    for n in 38..=40 {
        dir.user_mut(n).in_sync = false;
    }
    dir.write(&path);
    let report = dry_run_then_apply(&settings).await;
    assert_eq!(disables(&report), 3, "{:#?}", report.plan.operations);
    let dump = emu.dump();
    assert!(
        active(&dump, 5),
        "found by its userPrincipalName and left alone"
    );
    assert!((38..=40).all(|n| !active(&dump, n)));
    assert!(
        report
            .summary
            .skipped
            .iter()
            .any(|s| s.text.contains("CN=u0005,")),
        "{:?}",
        report.summary.skipped
    );

    // Now user 6 loses its objectSid too, and its names change: it matches nobody, so it may
    // be any user out of scope. Users 35-37 leave: none of them is disabled.
    {
        let u = dir.user_mut(6);
        u.no_sid = true;
        u.upn = Some("renamed6@example.test".into());
        u.mail = Some("renamed6@example.test".into());
        u.sam = "renamed6".into();
    }
    for n in 35..=37 {
        dir.user_mut(n).in_sync = false;
    }
    dir.write(&path);
    let report = dry_run_then_apply(&settings).await;
    assert_eq!(disables(&report), 0, "{:#?}", report.plan.operations);
    assert!(
        report
            .summary
            .withheld
            .iter()
            .any(|w| w.code == scim_sync::model::ReasonCode::PartialRead
                && w.concerns("CN=u0006,OU=People,DC=example,DC=test")),
        "the entry is named: {:?}",
        report.summary.withheld
    );
    assert_eq!(ExitCode::for_summary(&report.summary), ExitCode::Partial);
    let dump = emu.dump();
    assert!((35..=37).all(|n| active(&dump, n)));
    assert!(active(&dump, 6));
}

/// `dir`'s export with a group `team-x` nested in the sync group and in `aws-g1`, whose member
/// list cannot be decoded (a value that is not UTF-8).
fn with_unreadable_nested_group(dir: &Directory) -> String {
    let nested = "CN=team-x,OU=Teams,DC=example,DC=test";
    let mut out = String::new();
    for record in dir.to_ldif().split("\n\n") {
        out.push_str(record);
        if record.starts_with("dn: CN=aws-sync-users,") || record.starts_with("dn: CN=aws-g1,") {
            out.push_str(&format!("\nmember: {nested}"));
        }
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "dn: {nested}\nobjectClass: top\nobjectClass: group\ncn: team-x\n\
         objectGUID:: 7ukn7TZ0RUuVwRHrxpm8Aw==\nmember:: /////w==\n\n"
    ));
    out
}

#[tokio::test]
async fn an_unreadable_nested_group_holds_back_member_removals_and_disables() {
    let mut dir = Directory::generated(40, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    run(&settings, false).await;
    let g1_before = emu.dump().member_user_names("aws-g1");

    // User 4 leaves aws-g1, users 38-40 leave the sync group, user 41 joins aws-g1; and a
    // nested group nobody can read now feeds the sync group and aws-g1.
    assert!(dir.group_mut("aws-g1").members.remove(&4));
    for n in 38..=40 {
        dir.user_mut(n).in_sync = false;
    }
    dir.users.insert(41, pass_fixture::UserSpec::new(41));
    dir.group_mut("aws-g1").members.insert(41);
    std::fs::write(&path, with_unreadable_nested_group(&dir)).unwrap();

    let report = dry_run_then_apply(&settings).await;
    let s = &report.summary;
    assert_eq!((s.users_disabled, s.members_removed), (0, 0), "{s:?}");
    assert_eq!(s.users_created, 1, "{s:?}");
    assert!(
        s.withheld.iter().any(|w| w.text.contains("aws-g1")
            && w.text.contains("CN=team-x,OU=Teams,DC=example,DC=test")),
        "{:?}",
        s.withheld
    );
    assert!(
        s.withheld.iter().any(|w| w
            .text
            .starts_with("CN=team-x,OU=Teams,DC=example,DC=test: ")),
        "the scope is unknown too: {:?}",
        s.withheld
    );
    let dump = emu.dump();
    assert!((38..=40).all(|n| active(&dump, n)));
    let g1 = dump.member_user_names("aws-g1");
    assert!(
        g1.contains(&"u0041@example.test".to_string()),
        "additions still apply"
    );
    assert!(
        g1_before.iter().all(|m| g1.contains(m)),
        "no member was removed"
    );
}
