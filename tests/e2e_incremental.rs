//! Incremental passes end to end against the Samba AD DC and the Identity Center emulator
//! (issue 19): the first one falls back to a full pass and leaves a watermark; an idle one
//! makes no SCIM request; a disable, a rename, a departure from a synced group (directly and
//! through a nested group) and from the sync group each reach Identity Center through one
//! incremental pass writing only what they need; a restored DC (invocationId changed in the
//! stored watermark) gets a full pass. DC address 127.0.0.60 (see tests/support/samba.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator, StateDump};
use pass_fixture::{ldap_settings, TOKEN};
use scim_sync::model::settings::Scope;
use scim_sync::model::{IncrementalSummary, ReasonCode, Summary};
use scim_sync::pass::{PassError, PassOptions, Session};
use scim_sync::state::WatermarkStore;

const DC_ADDR: &str = "127.0.0.60";

fn dn_of(sam: &str) -> String {
    format!("CN={sam},OU=People,{}", samba::BASE_DN)
}

fn group_dn(cn: &str) -> String {
    format!("CN={cn},{}", samba::GROUP_BASE)
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

/// `run` took `sam` out of the scope: one user disabled, and taken out of `groups` (one
/// PATCH each), in Identity Center too.
fn assert_left_scope(run: &Run, emulator: &RunningEmulator, sam: &str, groups: &[&str]) {
    assert_eq!(run.info().left_scope, 1, "{:?}", run.info());
    assert_eq!(run.summary.users_disabled, 1, "{:?}", run.summary);
    assert_eq!(
        run.summary.members_removed,
        groups.len() as u64,
        "{:?}",
        run.summary
    );
    assert_eq!(run.writes, groups.len() as u64 + 1, "{:?}", run.summary);
    let dump = emulator.dump();
    assert!(!dump.user(&upn(sam)).unwrap().active);
    for g in groups {
        assert!(!member_names(&dump, g).contains(&upn(sam)), "{g}");
    }
}

async fn incremental(
    session: &mut Session,
    emulator: &RunningEmulator,
    store: &WatermarkStore,
) -> Run {
    let before = emulator.counters();
    let opts = PassOptions {
        incremental: true,
        watermarks: Some(store.clone()),
        ..PassOptions::default()
    };
    let report = session.run(&opts).await.expect("incremental pass");
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

fn member_names(dump: &StateDump, group: &str) -> Vec<String> {
    let g = dump
        .groups
        .iter()
        .find(|g| g.display_name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    let mut names: Vec<String> = g
        .member_ids
        .iter()
        .filter_map(|id| dump.user_by_id(id).map(|u| u.user_name.clone()))
        .collect();
    names.sort();
    names
}

fn upn(sam: &str) -> String {
    format!("{sam}@example.test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_changes_reach_identity_center_through_incremental_passes() {
    let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start(DC_ADDR))
        .await
        .unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let scope = Scope {
        sync_group: samba::SYNC_GROUP.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let settings = ldap_settings(
        &dc.ldaps_url(),
        Some(dc.ca_pem()),
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope,
        &emulator.base_url(),
        TOKEN,
    );
    let state_dir = std::env::temp_dir().join(format!("scim-sync-e2e-incr-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir).unwrap();
    let state_file = state_dir.join("state.json");
    let _ = std::fs::remove_file(&state_file);
    let store = WatermarkStore::File(state_file.clone());
    let mut session = Session::new(settings, None).unwrap();

    // 0. Without a store the pass is refused before anything is read.
    let refused = session
        .run(&PassOptions {
            incremental: true,
            ..PassOptions::default()
        })
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("somewhere to keep its watermark"),
        "{refused}"
    );
    assert_eq!(emulator.counters().total, 0);

    // 1. No watermark yet: a full pass, which converges and leaves one.
    let first = incremental(&mut session, &emulator, &store).await;
    assert_eq!(first.info().mode, "full");
    let why = first.info().fallback.as_ref().unwrap();
    assert_eq!(why.code, ReasonCode::NoWatermark, "{}", why.text);
    assert!(first.info().saved, "the full pass saved its watermark");
    assert_eq!(first.summary.users_created, 38, "{:?}", first.summary);
    assert!(state_file.exists());

    // 2. Nothing changed: no SCIM request at all, a few LDAP searches.
    let idle = incremental(&mut session, &emulator, &store).await;
    assert_eq!(idle.info().mode, "idle");
    assert_eq!(
        (idle.reads, idle.writes),
        (0, 0),
        "an idle pass sends nothing"
    );
    assert_eq!(idle.summary.scim_reads + idle.summary.scim_writes, 0);
    assert!(idle.info().ldap_searches <= 3, "{:?}", idle.info());

    // 3. A disable: one write, the deactivation.
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n",
        dn_of("p011")
    ));
    let disable = incremental(&mut session, &emulator, &store).await;
    assert_eq!(disable.info().mode, "incremental", "{:?}", disable.info());
    assert_eq!(disable.info().changed_users, 1);
    assert_eq!(disable.summary.users_disabled, 1, "{:?}", disable.summary);
    assert_eq!(disable.writes, 1);
    assert!(
        disable.reads <= 4,
        "{} reads for one changed user",
        disable.reads
    );
    assert!(!emulator.dump().user(&upn("p011")).unwrap().active);
    assert!(disable.info().saved);
    // No group changed: only p011's entry and the groups in scope holding it were read.
    assert_eq!(
        disable.info().directory_read,
        "changed",
        "{:?}",
        disable.info()
    );
    // The groups in scope holding p011: aws-developers, aws-all-staff (aws-developers is
    // nested in it), aws-sync-users and aws-sync-all (which holds aws-sync-users), found by
    // walking up memberOf.
    assert_eq!(
        disable.info().affected_groups,
        4,
        "the groups holding p011: {:?}",
        disable.info()
    );

    // 4. A rename: one write.
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: displayName\ndisplayName: Twelve Renamed\n",
        dn_of("p012")
    ));
    let rename = incremental(&mut session, &emulator, &store).await;
    assert_eq!(rename.summary.users_updated, 1, "{:?}", rename.summary);
    assert_eq!(rename.writes, 1);
    let p012 = emulator.dump().user(&upn("p012")).cloned().unwrap();
    assert_eq!(p012.display_name.as_deref(), Some("Twelve Renamed"));
    assert_eq!(
        rename.info().directory_read,
        "changed",
        "{:?}",
        rename.info()
    );

    // 5a. A logon timestamp (p013) and a lockout reset (p014): their uSNChanged moves, but
    //     their replPropertyMetaData says only attributes scim-sync neither syncs nor scopes
    //     on changed: no directory read, no SCIM request, and the summary says why.
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: lastLogonTimestamp\nlastLogonTimestamp: 134090000000000000\n\n\
         dn: {}\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n",
        dn_of("p013"),
        dn_of("p014")
    ));
    let churn = incremental(&mut session, &emulator, &store).await;
    assert_eq!(churn.info().mode, "idle", "{:?}", churn.info());
    assert_eq!(churn.info().unsynced_users, 2, "{:?}", churn.info());
    assert_eq!(churn.info().changed_users, 0, "{:?}", churn.info());
    assert_eq!((churn.reads, churn.writes), (0, 0));
    //     Searching from the same watermark again would read those two entries again (each
    //     ~1.2 kB with its metadata), more than the watermark record holds (the scope of 45
    //     users, deflated): the idle pass moved the watermark past them, so they do not pile
    //     up in every later search.
    assert!(churn.info().saved, "{:?}", churn.info());
    let after = incremental(&mut session, &emulator, &store).await;
    assert_eq!(after.info().mode, "idle", "{:?}", after.info());
    assert_eq!(after.info().from_usn, Some(churn.info().to_usn));
    // 5b. A real change beside a logon timestamp is synced: one write.
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: lastLogonTimestamp\nlastLogonTimestamp: 134090000000000001\n-\n\
         replace: displayName\ndisplayName: Thirteen Renamed\n",
        dn_of("p013")
    ));
    let both = incremental(&mut session, &emulator, &store).await;
    assert_eq!(both.info().mode, "incremental", "{:?}", both.info());
    assert_eq!(both.info().changed_users, 1, "{:?}", both.info());
    assert_eq!(both.summary.users_updated, 1, "{:?}", both.summary);
    assert_eq!(both.writes, 1);
    assert_eq!(both.info().directory_read, "changed", "{:?}", both.info());
    // 5c. A linked attribute's change (manager) is not in replPropertyMetaData: it is taken
    //     for a change (planned; nothing to write, manager not being mapped by default).
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: manager\nmanager: {}\n",
        dn_of("p014"),
        dn_of("p015")
    ));
    let linked = incremental(&mut session, &emulator, &store).await;
    assert_eq!(linked.info().mode, "incremental", "{:?}", linked.info());
    assert_eq!(linked.info().changed_users, 1, "{:?}", linked.info());
    assert_eq!(linked.info().unsynced_users, 0, "{:?}", linked.info());
    assert_eq!(linked.writes, 0);

    // 5. A departure from a synced group, directly.
    assert!(member_names(&emulator.dump(), "aws-admins").contains(&upn("p005")));
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        group_dn("aws-admins"),
        dn_of("p005")
    ));
    // aws-admins is nested in aws-all-staff, so p005 leaves both.
    let direct = incremental(&mut session, &emulator, &store).await;
    // Only the affected part of the directory is read: aws-admins and aws-all-staff with
    // their members; the scope chain did not change, so the scope is not listed.
    assert_eq!(
        direct.info().directory_read,
        "changed",
        "a group changed: {:?}",
        direct.info()
    );
    assert!(!direct.info().scope_listed, "{:?}", direct.info());
    // The two groups' members are compared as objectSids, and entries are read only for
    // the members on one side only: p005 (left, still in scope) and the disabled p003 and
    // p017 (members here that Identity Center does not hold as members), not the ~40 others.
    assert_eq!(direct.info().affected_users, 3, "{:?}", direct.info());
    assert_eq!(direct.summary.members_removed, 2, "{:?}", direct.summary);
    assert_eq!(direct.writes, 2, "one PATCH per group");
    let dump = emulator.dump();
    assert!(!member_names(&dump, "aws-admins").contains(&upn("p005")));
    assert!(!member_names(&dump, "aws-all-staff").contains(&upn("p005")));
    assert!(
        dump.user(&upn("p005")).unwrap().active,
        "p005 is still in scope"
    );

    // 6. A departure through a nested group: p016 leaves dev-team-a-core, so it leaves
    //    aws-developers and aws-all-staff (dev-team-a-core → dev-team-a → aws-developers →
    //    aws-all-staff) and stays in scope.
    for g in ["aws-developers", "aws-all-staff"] {
        assert!(
            member_names(&emulator.dump(), g).contains(&upn("p016")),
            "{g}"
        );
    }
    dc.ldapmodify_as_admin(&format!(
        "dn: CN=dev-team-a-core,OU=Teams,{}\nchangetype: modify\ndelete: member\nmember: {}\n",
        samba::BASE_DN,
        dn_of("p016")
    ));
    let nested = incremental(&mut session, &emulator, &store).await;
    assert_eq!(
        nested.info().directory_read,
        "changed",
        "{:?}",
        nested.info()
    );
    assert_eq!(nested.summary.members_removed, 2, "{:?}", nested.summary);
    // p016 and, as in step 5, the two disabled members of aws-all-staff.
    assert_eq!(nested.info().affected_users, 3, "{:?}", nested.info());
    assert_eq!(nested.writes, 2, "one PATCH per group");
    let dump = emulator.dump();
    for g in ["aws-developers", "aws-all-staff"] {
        assert!(!member_names(&dump, g).contains(&upn("p016")), "{g}");
    }
    assert!(dump.user(&upn("p016")).unwrap().active);

    // 7. A departure from the sync group: p033 is a direct member and in no other group, so
    //    it leaves the scope: disabled, and removed from the sync group's own group and from
    //    aws-sync-all (which holds aws-sync-users).
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        group_dn(samba::SYNC_GROUP),
        dn_of("p033")
    ));
    let left = incremental(&mut session, &emulator, &store).await;
    // The sync group changed: the scope is listed (DNs and objectSids), not read in full.
    assert_eq!(left.info().directory_read, "changed", "{:?}", left.info());
    assert!(left.info().scope_listed, "{:?}", left.info());
    assert_left_scope(
        &left,
        &emulator,
        "p033",
        &[samba::SYNC_GROUP, samba::SYNC_GROUP_ALL],
    );
    // aws-sync-users (synced itself) and aws-sync-all (which holds it) hold the whole scope:
    // their membership changes are the joiners and leavers, so neither is read whole from
    // Identity Center. Two reads: p033 by externalId, and its groups.
    assert_eq!(left.reads, 2, "{:?}", left.info());

    // 7b. A join through a nested group of the scope chain: p046 (out of scope, a member of
    //     aws-mixed) joins sync-nested-3 (→ -2 → -1 → aws-sync-users → aws-sync-all). It is
    //     created and added to aws-sync-users, aws-sync-all and aws-mixed: four writes.
    let nested3 = format!("CN=sync-nested-3,OU=Teams,{}", samba::BASE_DN);
    assert!(emulator.dump().user(&upn("p046")).is_none());
    dc.ldapmodify_as_admin(&format!(
        "dn: {nested3}\nchangetype: modify\nadd: member\nmember: {}\n",
        dn_of("p046")
    ));
    let joined = incremental(&mut session, &emulator, &store).await;
    assert_eq!(
        joined.info().directory_read,
        "changed",
        "{:?}",
        joined.info()
    );
    assert!(joined.info().scope_listed, "{:?}", joined.info());
    assert_eq!(joined.info().joined_scope, 1, "{:?}", joined.info());
    assert_eq!(joined.summary.users_created, 1, "{:?}", joined.summary);
    assert_eq!(joined.summary.members_added, 3, "{:?}", joined.summary);
    assert_eq!(joined.writes, 4, "{:?}", joined.summary);
    let dump = emulator.dump();
    for g in [samba::SYNC_GROUP, samba::SYNC_GROUP_ALL, "aws-mixed"] {
        assert!(member_names(&dump, g).contains(&upn("p046")), "{g}");
    }
    // 7c. And it leaves again the same way: disabled, out of the three groups.
    dc.ldapmodify_as_admin(&format!(
        "dn: {nested3}\nchangetype: modify\ndelete: member\nmember: {}\n",
        dn_of("p046")
    ));
    let gone = incremental(&mut session, &emulator, &store).await;
    assert_left_scope(
        &gone,
        &emulator,
        "p046",
        &[samba::SYNC_GROUP, samba::SYNC_GROUP_ALL, "aws-mixed"],
    );

    // 7e. A user deleted in AD (offboarding by deletion). Deleting p031 removes it from
    //     aws-sync-users and aws-sub-team without moving their uSNChanged: only its
    //     tombstone shows it. The read-only account cannot list Deleted Objects (AD's
    //     default), so the pass is idle and the deletion waits for the full pass...
    assert!(member_names(&emulator.dump(), "aws-sub-team").contains(&upn("p031")));
    dc.ldapmodify_as_admin(&format!("dn: {}\nchangetype: delete\n", dn_of("p031")));
    let unseen = incremental(&mut session, &emulator, &store).await;
    assert_eq!(unseen.info().mode, "idle", "{:?}", unseen.info());
    assert_eq!((unseen.reads, unseen.writes), (0, 0));
    //     ... until the account may list it (List Contents and Read Property, as
    //     docs/deployment.md says): the idle pass kept its watermark, so the next one finds
    //     the tombstone. p031 left the scope: disabled, and removed from aws-sync-users,
    //     aws-sync-all and aws-sub-team.
    dc.grant_deleted_objects_listing();
    let deleted = incremental(&mut session, &emulator, &store).await;
    assert_eq!(deleted.info().mode, "incremental", "{:?}", deleted.info());
    assert_eq!(deleted.info().deleted_users, 1, "{:?}", deleted.info());
    assert_left_scope(
        &deleted,
        &emulator,
        "p031",
        &[samba::SYNC_GROUP, samba::SYNC_GROUP_ALL, "aws-sub-team"],
    );

    // 7d. An account that expires: setting accountExpires is a change (nothing to write yet),
    //     but the moment it passes changes nothing in the directory. The watermark keeps the
    //     next expiry, and the first pass after it finds p019 expired: one write, the disable.
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expires = unix + 4;
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: accountExpires\naccountExpires: {}\n",
        dn_of("p019"),
        (expires + 11_644_473_600) * 10_000_000
    ));
    let set = incremental(&mut session, &emulator, &store).await;
    assert_eq!(set.info().changed_users, 1, "{:?}", set.info());
    assert_eq!(set.writes, 0, "{:?}", set.summary);
    let idle = incremental(&mut session, &emulator, &store).await;
    assert_eq!(
        idle.info().mode,
        "idle",
        "not expired yet: {:?}",
        idle.info()
    );
    assert_eq!((idle.reads, idle.writes), (0, 0));
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        <= expires
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let expired = incremental(&mut session, &emulator, &store).await;
    assert_eq!(expired.info().mode, "incremental", "{:?}", expired.info());
    assert_eq!(expired.info().expired_users, 1, "{:?}", expired.info());
    assert_eq!(expired.summary.users_disabled, 1, "{:?}", expired.summary);
    assert_eq!(expired.writes, 1);
    assert!(!emulator.dump().user(&upn("p019")).unwrap().active);
    assert!(expired.info().saved);
    // No expiry is left to come: idle, no search for one.
    let idle = incremental(&mut session, &emulator, &store).await;
    assert_eq!(idle.info().mode, "idle", "{:?}", idle.info());
    assert_eq!(idle.info().expired_users, 0);
    assert_eq!((idle.reads, idle.writes), (0, 0));

    // What the incremental passes left is what a full pass wants: it writes nothing.
    let full = session.run(&PassOptions::default()).await.unwrap();
    assert_eq!(full.summary.scim_writes, 0, "{:#?}", full.plan);

    // 8. A restored DC: the stored invocationId no longer matches, so a full pass runs.
    let text = std::fs::read_to_string(&state_file).unwrap();
    let mut records: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (_, w) in records.as_object_mut().unwrap() {
        w["invocationId"] = serde_json::json!("00000000-0000-0000-0000-000000000001");
    }
    std::fs::write(&state_file, records.to_string()).unwrap();
    let restored = incremental(&mut session, &emulator, &store).await;
    assert_eq!(restored.info().mode, "full");
    assert_eq!(
        restored.info().fallback.as_ref().unwrap().code,
        ReasonCode::DomainControllerRestored
    );
    assert_eq!(restored.writes, 0);
    assert!(restored.reads > 10, "a full pass lists Identity Center");
    // The full pass saved a watermark with the real invocationId: idle again.
    let idle = incremental(&mut session, &emulator, &store).await;
    assert_eq!(idle.info().mode, "idle", "{:?}", idle.info());
    assert_eq!((idle.reads, idle.writes), (0, 0));

    let _ = std::fs::remove_dir_all(&state_dir);
}

#[tokio::test]
async fn an_ldif_source_refuses_incremental_mode() {
    let dir = std::env::temp_dir().join(format!("scim-sync-e2e-incr-ldif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ldif = dir.join("dir.ldif");
    std::fs::write(&ldif, "").unwrap();
    let settings = pass_fixture::ldif_settings(&ldif, "http://127.0.0.1:9/scim/v2/", TOKEN);
    let mut session = Session::new(settings, None).unwrap();
    let opts = PassOptions {
        incremental: true,
        watermarks: Some(WatermarkStore::File(dir.join("state.json"))),
        ..PassOptions::default()
    };
    let err = session.run(&opts).await.unwrap_err();
    assert!(matches!(err, PassError::Incremental(_)), "{err}");
    assert!(err.to_string().contains("LDIF"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
