//! Managers through incremental passes against the Samba AD DC and the Identity Center
//! emulator (issue 14 §1): a manager who is created by an incremental pass (here: enabled in
//! AD) is referenced by its reports in that same pass, although the reports themselves did not
//! change, and the next pass writes nothing; a manager who leaves the scope is emptied on its
//! reports in the pass that sees it leave; a group renamed out of the prefix is deleted by
//! the pass that sees the rename (`deleteGroupsOutOfScope`); a new group is created, and a
//! group deleted in AD is deleted by the pass that finds its tombstone. DC address 127.0.0.80
//! (see tests/support/samba.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use pass_fixture::{ldap_settings, TOKEN};
use scim_sync::model::settings::{Scope, UserAttribute};
use scim_sync::model::ReasonCode;
use scim_sync::pass::{PassOptions, PassReport, Session};
use scim_sync::plan::Operation;
use scim_sync::state::WatermarkStore;
use serde_json::json;

const DC_ADDR: &str = "127.0.0.80";

fn dn_of(sam: &str) -> String {
    format!("CN={sam},OU=People,{}", samba::BASE_DN)
}

async fn incremental(session: &mut Session, store: &WatermarkStore) -> PassReport {
    let opts = PassOptions {
        incremental: true,
        watermarks: Some(store.clone()),
        ..PassOptions::default()
    };
    let report = session.run(&opts).await.expect("incremental pass");
    assert!(
        report.summary.failures.is_empty(),
        "{:?}",
        report.summary.failures
    );
    report
}

/// The next incremental pass deletes aws-admins from Identity Center, in one write, and a
/// full pass then finds nothing left to do.
async fn deletes_aws_admins(
    session: &mut Session,
    store: &WatermarkStore,
    emulator: &RunningEmulator,
) {
    let has_it = |e: &RunningEmulator| {
        e.dump()
            .groups
            .iter()
            .any(|g| g.display_name == "aws-admins")
    };
    assert!(has_it(emulator));
    let pass = incremental(session, store).await;
    let info = pass.summary.incremental.as_ref().unwrap();
    assert_eq!(info.mode, "incremental", "{info:?}");
    assert_eq!(
        pass.summary.groups_deleted, 1,
        "{info:?} {:#?}",
        pass.summary
    );
    assert_eq!(pass.summary.scim_writes, 1, "{:#?}", pass.plan.operations);
    assert!(!has_it(emulator));
    let full = session.run(&PassOptions::default()).await.unwrap();
    assert_eq!(full.summary.scim_writes, 0, "{:#?}", full.plan.operations);
}

/// The user's `enterprise.manager` as the emulator holds it.
fn manager_of(emulator: &RunningEmulator, user_name: &str) -> serde_json::Value {
    let d = emulator.dump();
    let u = d
        .users
        .iter()
        .find(|j| j["userName"] == user_name)
        .unwrap_or_else(|| panic!("no user {user_name}"));
    u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_created_by_an_incremental_pass_is_referenced_by_its_reports_at_once() {
    let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start(DC_ADDR))
        .await
        .unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let scope = Scope {
        sync_group: samba::SYNC_GROUP.into(),
        // Only aws-admins (p001–p005) is synced: the sync group is not, so a departure from
        // it plans no group whole, and p001 (step 4) is planned only as p003's report.
        group_prefix: "aws-admins".into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let mut settings = ldap_settings(
        &dc.ldaps_url(),
        Some(dc.ca_pem()),
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope,
        &emulator.base_url(),
        TOKEN,
    );
    settings
        .policy
        .attributes
        .set(UserAttribute::Manager, "manager");
    // For step 5: a group renamed out of the prefix is deleted. It is the only group in
    // scope, so the mass-change guard would hold its deletion back (100 % of the groups).
    settings.policy.delete_groups_out_of_scope = true;
    settings.guard.allow_mass_changes = true;
    let state_dir =
        std::env::temp_dir().join(format!("scim-sync-e2e-managers-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir).unwrap();
    let state_file = state_dir.join("state.json");
    let _ = std::fs::remove_file(&state_file);
    let store = WatermarkStore::File(state_file);
    let mut session = Session::new(settings, None).unwrap();

    // p001's manager is p003, disabled in AD: not created, so not referenced.
    let report = "p001@example.test";
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: manager\nmanager: {}\n",
        dn_of("p001"),
        dn_of("p003")
    ));

    // 1. No watermark: a full pass.
    let first = incremental(&mut session, &store).await;
    assert!(
        first
            .plan
            .notes
            .iter()
            .any(|n| n.code == ReasonCode::ManagerNotSynced && n.text.contains("p003")),
        "{:#?}",
        first.plan.notes
    );
    assert!(emulator.dump().user("p003@example.test").is_none());
    assert_eq!(manager_of(&emulator, report), serde_json::Value::Null);

    // 2. p003 is enabled: the incremental pass creates it and, in the same pass, sets p001's
    //    manager (p001 itself did not change).
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 544\n",
        dn_of("p003")
    ));
    let second = incremental(&mut session, &store).await;
    let info = second.summary.incremental.as_ref().unwrap();
    assert_eq!(info.mode, "incremental", "{info:?}");
    assert_eq!(
        (second.summary.users_created, second.summary.users_updated),
        (1, 1),
        "{:#?}",
        second.plan.operations
    );
    assert!(
        second
            .plan
            .operations
            .iter()
            .any(|op| matches!(op, Operation::SetManager { user_name, .. } if user_name == report)),
        "{:#?}",
        second.plan.operations
    );
    let boss_id = emulator
        .dump()
        .user("p003@example.test")
        .unwrap()
        .id
        .clone();
    assert_eq!(manager_of(&emulator, report), json!({ "value": boss_id }));

    // 3. Nothing changed since: nothing is written.
    let third = incremental(&mut session, &store).await;
    assert_eq!(third.summary.scim_writes, 0, "{:#?}", third.plan.operations);

    // 4. p003 leaves the scope (out of the sync group): disabled, and in the same pass p001's
    //    manager is emptied, as a full pass would (p001 did not change; the pass reads the
    //    leaver's entry for its DN).
    dc.ldapmodify_as_admin(&format!(
        "dn: CN={},{}\nchangetype: modify\ndelete: member\nmember: {}\n",
        samba::SYNC_GROUP,
        samba::GROUP_BASE,
        dn_of("p003")
    ));
    let fourth = incremental(&mut session, &store).await;
    let info = fourth.summary.incremental.as_ref().unwrap();
    assert_eq!(info.left_scope, 1, "{info:?}");
    assert_eq!(
        fourth.summary.users_disabled, 1,
        "{:#?}",
        fourth.plan.operations
    );
    assert_eq!(
        fourth.summary.users_updated, 1,
        "{:#?}",
        fourth.plan.operations
    );
    assert_eq!(manager_of(&emulator, report), serde_json::Value::Null);
    let full = session.run(&PassOptions::default()).await.unwrap();
    assert_eq!(full.summary.scim_writes, 0, "{:#?}", full.plan.operations);

    // 5. aws-admins is renamed out of the prefix: it has left the scope, and with
    //    deleteGroupsOutOfScope the incremental pass deletes it (one write), as a full pass
    //    would.
    dc.ldapmodify_as_admin(&format!(
        "dn: CN=aws-admins,{}\nchangetype: modrdn\nnewrdn: CN=legacy-admins\ndeleteoldrdn: 1\n",
        samba::GROUP_BASE
    ));
    deletes_aws_admins(&mut session, &store, &emulator).await;

    // 6. A new group in scope is created by the incremental pass that sees it, and a group
    //    deleted in AD is deleted from Identity Center by the pass that finds its tombstone
    //    (the bind account may list Deleted Objects; deleteGroupsOutOfScope is set).
    dc.grant_deleted_objects_listing();
    dc.ldapmodify_as_admin(&format!(
        "dn: CN=aws-admins,{base}\nchangetype: add\nobjectClass: group\n\
         sAMAccountName: aws-admins-2\nmember: {}\n",
        dn_of("p002"),
        base = samba::GROUP_BASE
    ));
    let created = incremental(&mut session, &store).await;
    assert_eq!(created.summary.groups_created, 1, "{:#?}", created.summary);
    let members = emulator
        .dump()
        .groups
        .iter()
        .find(|g| g.display_name == "aws-admins")
        .map(|g| g.member_ids.len());
    assert_eq!(members, Some(1), "{:#?}", created.plan.operations);
    dc.ldapmodify_as_admin(&format!(
        "dn: CN=aws-admins,{}\nchangetype: delete\n",
        samba::GROUP_BASE
    ));
    deletes_aws_admins(&mut session, &store, &emulator).await;
}
