//! The mass-change guard, end to end: a whole pass (LDIF export -> planner -> guard -> executor
//! -> the Identity Center emulator over HTTP). Beyond the limits (10 % or 50 by default) no
//! disable, deletion or member removal is written, the summary says why, and the safe part of
//! the plan (creates, updates, additions) is still applied; the explicit override lets the
//! change through. A directory with nobody in scope never disables anyone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator, StateDump};
use pass_fixture::{
    convergence, ldif_settings, normalised, sid_string, temp_ldif, Directory, UserSpec, TOKEN,
};
use scim_sync::config::Settings;
use scim_sync::model::{ReasonCode, Summary};
use scim_sync::pass::{read_directory, PassError, PassOptions, PassReport, Session};

async fn emulator() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(11),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn run(settings: &Settings, opts: PassOptions) -> PassReport {
    let mut session = Session::new(settings.clone(), None).unwrap();
    session.run(&opts).await.unwrap()
}

async fn apply(settings: &Settings) -> PassReport {
    run(settings, PassOptions::default()).await
}

async fn assert_converged(emu: &RunningEmulator, settings: &Settings, context: &str) {
    let dir = read_directory(settings).await.unwrap();
    convergence(&emu.dump(), &dir).assert_ok(context);
}

/// Asserts the guard held something back with a reason naming every phrase.
fn assert_guard_held(summary: &Summary, phrases: &[&str]) {
    assert!(
        summary
            .withheld
            .iter()
            .any(|w| w.code == ReasonCode::HeldBackByGuard
                && phrases.iter().all(|p| w.text.contains(p))),
        "no guard reason naming {phrases:?} in {:?}",
        summary.withheld
    );
}

fn user(dump: &StateDump, n: u32) -> &idc_emulator::DumpUser {
    dump.user_by_external_id(&sid_string(n))
        .unwrap_or_else(|| panic!("user {n} exists"))
}

fn member_sids(dump: &StateDump, group: &str) -> Vec<String> {
    let g = dump.group(group).expect("group exists");
    let mut sids: Vec<String> = g
        .member_ids
        .iter()
        .filter_map(|id| dump.user_by_id(id).and_then(|u| u.external_id.clone()))
        .collect();
    sids.sort();
    sids
}

#[tokio::test]
async fn beyond_the_share_limit_nothing_destructive_is_written_but_the_safe_part_is() {
    let mut dir = Directory::generated(100, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);

    let first = apply(&settings).await;
    assert_eq!(first.summary.users_created, 100, "{:?}", first.summary);
    assert!(first.summary.failures.is_empty(), "{:?}", first.summary);
    assert_converged(&emu, &settings, "after the first pass").await;

    // 20 of 100 users leave the sync group (20 % > 10 %), while 5 join, one is renamed and
    // one gains a group.
    for n in 81..=100 {
        dir.user_mut(n).in_sync = false;
    }
    for n in 101..=105 {
        dir.users.insert(n, UserSpec::new(n));
        dir.group_mut("aws-g1").members.insert(n);
    }
    dir.user_mut(1).display = Some("Renamed One".into());
    dir.group_mut("aws-g3").members.insert(4);
    dir.write(&path);
    let g2_before = member_sids(&emu.dump(), "aws-g2");

    let guarded = apply(&settings).await;
    let s = &guarded.summary;
    // The summary names the reason and the override.
    assert_guard_held(s, &["20 of 100 managed users", "allowMassChanges"]);
    assert_eq!(
        (s.users_disabled, s.users_deleted, s.members_removed),
        (0, 0, 0)
    );
    assert_eq!(s.users_created, 5, "{s:?}");
    assert!(s.users_updated >= 1, "{s:?}");
    assert!(s.members_added >= 6, "{s:?}");
    assert!(s.failures.is_empty(), "{s:?}");
    assert!(
        guarded
            .plan
            .operations
            .iter()
            .all(|op| !op.is_destructive()),
        "the reported plan holds no destructive operation"
    );
    let dump = emu.dump();
    for n in 81..=100 {
        assert!(
            user(&dump, n).active,
            "user {n} was disabled despite the guard"
        );
    }
    assert_eq!(
        member_sids(&dump, "aws-g2"),
        g2_before,
        "no member was removed"
    );
    for n in 101..=105 {
        assert!(user(&dump, n).active);
        assert!(member_sids(&dump, "aws-g1").contains(&sid_string(n)));
    }
    assert_eq!(user(&dump, 1).display_name.as_deref(), Some("Renamed One"));
    assert!(member_sids(&dump, "aws-g3").contains(&sid_string(4)));

    // The same directory again: still held back, and nothing else left to do.
    let again = apply(&settings).await;
    assert!(!again.summary.withheld.is_empty());
    assert_eq!(again.summary.scim_writes, 0, "{:?}", again.summary);

    // The per-run override lets it through.
    let forced = run(
        &settings,
        PassOptions {
            allow_mass_changes: true,
            ..PassOptions::default()
        },
    )
    .await;
    assert!(forced.summary.withheld.is_empty());
    assert_eq!(forced.summary.users_disabled, 20, "{:?}", forced.summary);
    assert!(forced.summary.members_removed >= 20, "{:?}", forced.summary);
    let dump = emu.dump();
    for n in 81..=100 {
        assert!(!user(&dump, n).active, "user {n} should now be disabled");
    }
    assert_converged(&emu, &settings, "after the override").await;
}

#[tokio::test]
async fn beyond_the_count_limit_the_settings_override_lets_it_through() {
    // 51 of 520 users is under 10 % (52) but over the count limit of 50.
    let mut dir = Directory::generated(520, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    let first = apply(&settings).await;
    assert_eq!(first.summary.users_created, 520, "{:?}", first.summary);

    for n in 470..=520 {
        dir.user_mut(n).in_sync = false;
    }
    dir.write(&path);
    let guarded = apply(&settings).await;
    assert_guard_held(&guarded.summary, &["51 of 520 managed users", "at most 50"]);
    assert_eq!(guarded.summary.users_disabled, 0);
    assert_eq!(guarded.summary.members_removed, 0);
    assert!(emu.dump().user_records.iter().all(|u| u.active));

    settings.guard.allow_mass_changes = true;
    let forced = apply(&settings).await;
    assert!(forced.summary.withheld.is_empty());
    assert_eq!(forced.summary.users_disabled, 51, "{:?}", forced.summary);
    let dump = emu.dump();
    assert_eq!(dump.user_records.iter().filter(|u| !u.active).count(), 51);
    assert_converged(&emu, &settings, "after the settings override").await;
}

#[tokio::test]
async fn within_the_limits_destructive_changes_go_through() {
    // The guard must not simply block everything: 5 of 100 (5 %) is applied.
    let mut dir = Directory::generated(100, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;
    for n in 1..=5 {
        dir.user_mut(n).in_sync = false;
    }
    dir.write(&path);
    let second = apply(&settings).await;
    assert!(second.summary.withheld.is_empty(), "{:?}", second.summary);
    assert_eq!(second.summary.users_disabled, 5);
    assert_converged(&emu, &settings, "after a small change").await;
}

#[tokio::test]
async fn mass_member_removal_is_withheld_while_additions_are_applied() {
    // Everybody stays in scope; one group loses 30 of its members (30 of ~102 memberships).
    let mut dir = Directory::generated(100, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;
    let before = member_sids(&emu.dump(), "aws-g2");
    let removed: Vec<u32> = dir
        .group_mut("aws-g2")
        .members
        .iter()
        .copied()
        .take(30)
        .collect();
    for n in &removed {
        dir.group_mut("aws-g2").members.remove(n);
    }
    dir.group_mut("aws-g1").members.insert(2);
    dir.write(&path);

    let guarded = apply(&settings).await;
    assert_guard_held(&guarded.summary, &["memberships of managed groups"]);
    assert_eq!(guarded.summary.members_removed, 0);
    let dump = emu.dump();
    assert_eq!(member_sids(&dump, "aws-g2"), before);
    assert!(member_sids(&dump, "aws-g1").contains(&sid_string(2)));
    assert!(dump.user_records.iter().all(|u| u.active));
}

#[tokio::test]
async fn nobody_in_scope_never_disables_anyone_even_with_generous_limits() {
    let mut dir = Directory::generated(30, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    // Limits that would allow anything: only the "nobody in scope" rule can stop it.
    settings.guard.max_destructive_share = 1.0;
    settings.guard.max_destructive_count = 1_000_000;
    apply(&settings).await;
    let before = normalised(&emu.dump());

    // The sync group comes back empty (a wrong group, a failed export, a purge).
    for u in dir.users.values_mut() {
        u.in_sync = false;
    }
    dir.write(&path);
    assert!(read_directory(&settings).await.unwrap().users.is_empty());
    let report = apply(&settings).await;
    assert_guard_held(&report.summary, &["no users in scope", "30 users"]);
    assert_eq!(report.summary.users_disabled, 0);
    assert_eq!(report.summary.members_removed, 0);
    assert_eq!(normalised(&emu.dump()), before, "nothing changed");

    // Also in plan mode, the plan that is shown is the guarded one.
    let dry = run(
        &settings,
        PassOptions {
            dry_run: true,
            ..PassOptions::default()
        },
    )
    .await;
    assert!(dry.plan.operations.iter().all(|op| !op.is_destructive()));
}

#[tokio::test]
async fn a_directory_read_that_fails_changes_nothing() {
    let dir = Directory::generated(30, 2);
    let (tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;
    let before = normalised(&emu.dump());
    emu.reset_counters();

    // The export is gone, then it is truncated mid-record (an unreadable export).
    std::fs::remove_file(&path).unwrap();
    let mut session = Session::new(settings.clone(), None).unwrap();
    let err = session.run(&PassOptions::default()).await.unwrap_err();
    assert!(matches!(err, PassError::Directory(_)), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");

    let text = dir.to_ldif();
    let cut = text.find("objectSid::").unwrap() + 14;
    std::fs::write(&path, &text[..cut]).unwrap();
    let err = session.run(&PassOptions::default()).await.unwrap_err();
    assert!(matches!(err, PassError::Directory(_)), "{err}");

    assert_eq!(emu.counters().writes, 0, "no write was attempted");
    assert_eq!(normalised(&emu.dump()), before);
    drop(tmp);
}

#[tokio::test]
async fn mass_deletion_under_the_delete_policy_is_withheld_too() {
    let mut dir = Directory::generated(100, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.policy.out_of_scope_users = scim_sync::plan::OutOfScopeAction::Delete;
    apply(&settings).await;
    for n in 1..=20 {
        dir.user_mut(n).in_sync = false;
    }
    dir.write(&path);
    let guarded = apply(&settings).await;
    assert!(!guarded.summary.withheld.is_empty());
    assert_eq!(guarded.summary.users_deleted, 0);
    assert_eq!(emu.dump().user_records.len(), 100, "nobody was deleted");

    let forced = run(
        &settings,
        PassOptions {
            allow_mass_changes: true,
            ..PassOptions::default()
        },
    )
    .await;
    assert_eq!(forced.summary.users_deleted, 20, "{:?}", forced.summary);
    assert_eq!(emu.dump().user_records.len(), 80);
}

#[tokio::test]
async fn a_wrong_group_search_base_deletes_no_group_even_with_group_deletion_on() {
    let dir = Directory::generated(40, 4);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.policy.delete_groups_out_of_scope = true;
    apply(&settings).await;
    let before = normalised(&emu.dump());
    assert_eq!(emu.dump().groups.len(), 5);

    // A typo in the search base: every group falls out of scope at once.
    settings.scope.group_search_base = "OU=AWS-typo,DC=example,DC=test".into();
    assert!(read_directory(&settings).await.unwrap().groups.is_empty());
    let report = apply(&settings).await;
    assert_guard_held(&report.summary, &["managed groups", "deleted"]);
    assert_eq!(report.summary.groups_deleted, 0);
    assert_eq!(normalised(&emu.dump()), before, "nothing changed");
}

#[tokio::test]
async fn mass_deactivation_in_the_directory_is_withheld_but_other_changes_to_those_users_apply() {
    let mut dir = Directory::generated(100, 3);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;

    // 20 accounts disabled in AD while still in the sync group; 5 of them also renamed.
    for n in 1..=20 {
        dir.user_mut(n).enabled = false;
    }
    for n in 1..=5 {
        dir.user_mut(n).display = Some(format!("Renamed {n}"));
    }
    dir.write(&path);
    let guarded = apply(&settings).await;
    assert_guard_held(&guarded.summary, &["20 of 100 managed users"]);
    assert_eq!(guarded.summary.users_disabled, 0);
    let dump = emu.dump();
    for n in 1..=20 {
        assert!(user(&dump, n).active, "user {n} was deactivated");
    }
    for n in 1..=5 {
        assert_eq!(
            user(&dump, n).display_name.as_deref(),
            Some(format!("Renamed {n}").as_str()),
            "the rename of user {n} was applied without the deactivation"
        );
    }

    let forced = run(
        &settings,
        PassOptions {
            allow_mass_changes: true,
            ..PassOptions::default()
        },
    )
    .await;
    assert_eq!(forced.summary.users_disabled, 20, "{:?}", forced.summary);
    let dump = emu.dump();
    assert!((1..=20).all(|n| !user(&dump, n).active));
    assert_converged(&emu, &settings, "after the override").await;
}

/// Changes the guard holds back are in the audit trail as `withheld`, with the guard's reason;
/// the changes it lets through are recorded as made.
#[tokio::test]
async fn withheld_changes_have_audit_records_with_the_guards_reason() {
    use scim_sync::audit::{AuditResult, Collect};
    let mut dir = Directory::generated(30, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    apply(&settings).await;

    for n in 21..=30 {
        dir.user_mut(n).in_sync = false;
    }
    dir.user_mut(1).display = Some("Still Updated".into());
    dir.write(&path);
    let mut session = Session::new(settings.clone(), None).unwrap();
    let sink = Collect::default();
    let report = session
        .run_audited(&PassOptions::default(), &sink)
        .await
        .unwrap();
    let records = sink.take();
    let withheld: Vec<_> = records
        .iter()
        .filter(|r| r.result == AuditResult::Withheld)
        .collect();
    let disables = withheld
        .iter()
        .filter(|r| r.action == "disableUser")
        .count();
    assert_eq!(disables, 10, "{records:#?}");
    for r in &withheld {
        let why = r.held_back.as_ref().unwrap();
        assert_eq!(why.code, ReasonCode::HeldBackByGuard);
        assert!(why.text.contains("10 of 30 managed users"), "{}", why.text);
        assert_eq!(r.pass_id, report.summary.pass_id);
    }
    assert!(withheld
        .iter()
        .filter(|r| r.action == "disableUser")
        .all(|r| r.reason.code == ReasonCode::LeftSyncGroup));
    let made: Vec<_> = records
        .iter()
        .filter(|r| r.result == AuditResult::Ok)
        .collect();
    assert_eq!(made.len(), 1, "only the update goes through: {records:#?}");
    assert_eq!(made[0].action, "updateUser");
    assert_eq!(
        made[0].changes.attributes["displayName"].to,
        serde_json::json!("Still Updated")
    );
}
