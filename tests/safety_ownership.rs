//! Ownership by domain, end to end (LDIF export -> planner -> executor -> the Identity Center
//! emulator over HTTP): a user is scim-sync's only when its externalId is a SID of this
//! directory's domain (the domain entry's objectSid, plus `scope.extraDomainSids`). Users of
//! another domain, which a second deployment or another tool provisioned, are never updated,
//! disabled or deleted, even under the delete policy; users the PowerShell original made carry
//! this domain's SIDs and are recognised at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use pass_fixture::{
    convergence, domain_sid, ldif_settings, sid_string, temp_ldif, Directory, TOKEN,
};
use scim_sync::config::Settings;
use scim_sync::pass::{read_directory, PassOptions, PassReport, Session};
use scim_sync::plan::{Operation, OutOfScopeAction};
use serde_json::json;

/// Another forest's domain: its users have the same RIDs as ours.
const OTHER_DOMAIN: &str = "S-1-5-21-444444444-555555555-666666666";

async fn emulator() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        seed: Some(13),
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

fn insert_user(emu: &RunningEmulator, external_id: &str, user_name: &str, display: &str) -> String {
    emu.insert_user(&json!({
        "externalId": external_id,
        "userName": user_name,
        "name": {"givenName": "Some", "familyName": "One"},
        "displayName": display,
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    }))
    .unwrap()
}

/// Ids the plan's operations write to (users and groups alike).
fn targets(report: &PassReport) -> Vec<String> {
    report
        .plan
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::UpdateUser { id, .. }
            | Operation::DisableUser { id, .. }
            | Operation::DeleteUser { id, .. } => Some(id.clone()),
            Operation::RemoveMembers { user_ids, .. } => Some(user_ids.join(",")),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn users_of_another_domain_are_never_touched_and_the_originals_users_are_recognised() {
    let dir = Directory::generated(10, 2);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    // Another deployment's users: one with the RID of directory user 1, one that looks "out of
    // scope" to us (no directory entry carries its SID).
    let twin = insert_user(
        &emu,
        &format!("{OTHER_DOMAIN}-1001"),
        "twin@other.test",
        "Other forest, same RID",
    );
    let stray = insert_user(
        &emu,
        &format!("{OTHER_DOMAIN}-1500"),
        "stray@other.test",
        "Other forest",
    );
    // A child domain's user: its SID starts with our domain's.
    let child = insert_user(
        &emu,
        &format!("{}-7-1001", domain_sid()),
        "child@child.example.test",
        "Child domain",
    );
    // The PowerShell original made directory user 2 (externalId = objectSid), with an old
    // display name.
    let migrated = insert_user(&emu, &sid_string(2), "u0002@example.test", "Old Name");

    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);
    settings.policy.out_of_scope_users = OutOfScopeAction::Delete;

    let planned = run(&settings, true).await;
    for id in [&twin, &stray, &child] {
        assert!(
            !targets(&planned).iter().any(|t| t.contains(id.as_str())),
            "the plan names another domain's user {id}: {:#?}",
            planned.plan.operations
        );
    }

    let applied = run(&settings, false).await;
    let s = &applied.summary;
    assert!(s.failures.is_empty(), "{s:?}");
    assert_eq!(
        (
            s.users_created,
            s.users_updated,
            s.users_deleted,
            s.users_disabled
        ),
        (9, 1, 0, 0),
        "user 2 is updated in place, the other nine created, nobody deleted: {s:?}"
    );
    let dump = emu.dump();
    for (id, name) in [
        (&twin, "twin@other.test"),
        (&stray, "stray@other.test"),
        (&child, "child@child.example.test"),
    ] {
        let u = dump
            .user_by_id(id)
            .expect("another domain's user still exists");
        assert!(u.active, "{name} is untouched");
        assert_eq!(u.user_name, name);
    }
    let u2 = dump.user_by_external_id(&sid_string(2)).unwrap();
    assert_eq!(u2.id, migrated, "the original's user keeps its id");
    assert_eq!(u2.display_name.as_deref(), Some("User 2"));
    let dir_read = read_directory(&settings).await.unwrap();
    assert_eq!(dir_read.domain_sids, vec![domain_sid().to_string()]);
    convergence(&dump, &dir_read).assert_ok("after the pass");
    assert_eq!(run(&settings, false).await.summary.scim_writes, 0);
}

#[tokio::test]
async fn extra_domain_sids_make_another_domain_ours() {
    let dir = Directory::generated(10, 1);
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let stray = insert_user(
        &emu,
        &format!("{OTHER_DOMAIN}-1500"),
        "stray@other.test",
        "Other domain of this forest",
    );
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);

    run(&settings, false).await;
    assert!(
        emu.dump().user_by_id(&stray).unwrap().active,
        "not ours yet"
    );

    settings.scope.extra_domain_sids = vec![OTHER_DOMAIN.to_string()];
    let report = run(&settings, false).await;
    assert_eq!(report.summary.users_disabled, 1, "{:?}", report.summary);
    assert!(
        !emu.dump().user_by_id(&stray).unwrap().active,
        "a user of a listed domain that left the scope is disabled"
    );
}

#[tokio::test]
async fn an_export_without_its_domain_entry_needs_the_domain_in_the_settings() {
    let mut dir = Directory::generated(3, 1);
    dir.no_domain_entry = true;
    let (_tmp, path) = temp_ldif(&dir);
    let emu = emulator().await;
    let mut settings = ldif_settings(&path, &emu.base_url(), TOKEN);

    let mut session = Session::new(settings.clone(), None).unwrap();
    let err = session.run(&PassOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("scope.extraDomainSids"),
        "the error names the setting: {err}"
    );
    assert_eq!(emu.dump().users.len(), 0, "nothing was written");

    settings.scope.extra_domain_sids = vec![domain_sid().to_string()];
    let report = run(&settings, false).await;
    assert_eq!(report.summary.users_created, 3, "{:?}", report.summary);
}
