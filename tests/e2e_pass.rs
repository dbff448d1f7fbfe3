//! End to end: the real Samba AD DC, the Identity Center emulator over HTTP, and settings read
//! from moto exactly as the Lambda reads them (PowerShell-compatible names).
//!
//! One test walks through a sequence of directory changes, because each step depends on the
//! state the previous one left in Identity Center. DC address 127.0.0.20 (see
//! tests/support/samba.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;
#[path = "support/samba.rs"]
mod samba;

use std::collections::{BTreeMap, BTreeSet};

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator, StateDump};
use scim_sync::audit::{AuditResult, ChangeRecord, Collect};
use scim_sync::config::{self, AwsNames};
use scim_sync::model::{DirectoryGroup, DirectorySnapshot, DirectoryUser, ReasonCode};
use scim_sync::pass::{read_directory, PassOptions, PassReport, Session};
use serde_json::json;

const TOKEN: &str = "e2e-token-7f3a9c1d5b";
const FOREIGN_USER_NAME: &str = "p005@example.test";

struct World {
    dc: samba::SambaDc,
    _moto: moto::Moto,
    emulator: RunningEmulator,
    session: Session,
}

impl World {
    async fn start() -> World {
        let dc = samba::SambaDc::start("127.0.0.20");
        let moto = moto::Moto::start().await;
        let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
        // Made by hand in the console before the sync ever ran: same userName as an AD user.
        emulator
            .insert_user(&json!({
                "userName": FOREIGN_USER_NAME,
                "name": {"givenName": "Console", "familyName": "Made"},
                "displayName": "Console-made user",
                "active": true
            }))
            .unwrap();

        moto.put_parameter("/IAM-IDC/AD-Group-Name", samba::SYNC_GROUP)
            .await;
        moto.put_parameter("/IAM-IDC/AD-Group-Prefix", "aws-*")
            .await;
        moto.put_parameter("/IAM-IDC/AD-Search-Base", samba::GROUP_BASE)
            .await;
        moto.put_parameter("/IAM-IDC/SCIM-URI", &emulator.base_url())
            .await;
        moto.put_parameter("/IAM-IDC/Domain-Controller", &dc.ldaps_url())
            .await;
        moto.put_parameter("/IAM-IDC/AD-CA-Bundle", &dc.ca_pem())
            .await;
        moto.create_secret("IAM-IDC/SCIM-API-Token", TOKEN).await;
        let creds = json!({"username": samba::BIND_DN, "password": samba::BIND_PASSWORD});
        moto.create_secret("IAM-IDC/AD-RO-UserCreds", &creds.to_string())
            .await;

        let settings = config::load_from_aws(moto.sdk(), &AwsNames::default())
            .await
            .unwrap();
        let session = Session::new(settings, Some(moto.sdk().clone())).unwrap();
        World {
            dc,
            _moto: moto,
            emulator,
            session,
        }
    }

    async fn pass(&mut self) -> PassReport {
        let report = self.session.run(&PassOptions::default()).await.unwrap();
        assert!(
            report.summary.failures.is_empty(),
            "failures: {:#?}",
            report.summary.failures
        );
        report
    }

    /// A pass with its audit trail: every record belongs to the pass, and there is one per
    /// write sent.
    async fn audited_pass(&mut self) -> (PassReport, Vec<ChangeRecord>) {
        let sink = Collect::default();
        let report = self
            .session
            .run_audited(&PassOptions::default(), &sink)
            .await
            .unwrap();
        assert!(report.summary.failures.is_empty(), "{:#?}", report.summary);
        let records = sink.take();
        assert!(!report.summary.pass_id.is_empty());
        for r in &records {
            assert_eq!(r.pass_id, report.summary.pass_id);
            assert_eq!((r.event, r.result), ("change", AuditResult::Ok), "{r:#?}");
        }
        assert_eq!(
            records.len() as u64,
            writes(&report),
            "one record per write: {records:#?}"
        );
        (report, records)
    }

    async fn directory(&self) -> DirectorySnapshot {
        read_directory(self.session.settings()).await.unwrap()
    }

    fn modify(&self, ldif: &str) {
        self.dc.ldapmodify_as_admin(ldif);
    }
}

fn owned_user<'a>(state: &'a StateDump, sid: &str) -> Option<&'a idc_emulator::DumpUser> {
    state
        .user_records
        .iter()
        .find(|u| u.external_id.as_deref() == Some(sid))
}

/// Identity Center must hold exactly the directory's picture: one owned user per directory user
/// that was sent, one owned group per directory group, memberships equal.
fn assert_mirrors(dir: &DirectorySnapshot, state: &StateDump, report: &PassReport) {
    let sent: BTreeMap<&str, &DirectoryUser> = dir
        .users
        .iter()
        .filter(|u| !report.summary.skipped.iter().any(|s| s.concerns(&u.dn)))
        .map(|u| (u.object_sid.as_ref(), u))
        .collect();
    let owned_sids: Vec<&str> = state
        .user_records
        .iter()
        .filter_map(|u| u.external_id.as_deref())
        .filter(|e| e.starts_with("S-1-5-"))
        .collect();
    let unique: BTreeSet<&str> = owned_sids.iter().copied().collect();
    assert_eq!(unique.len(), owned_sids.len(), "a user was created twice");

    let id_of_sid: BTreeMap<&str, &str> = state
        .user_records
        .iter()
        .filter_map(|u| u.external_id.as_deref().map(|e| (e, u.id.as_str())))
        .collect();
    for group in &dir.groups {
        let idc = state
            .groups
            .iter()
            .find(|g| g.external_id.as_deref() == Some(group.object_guid.as_str()))
            .unwrap_or_else(|| panic!("group {} missing in Identity Center", group.name));
        assert_eq!(idc.display_name, group.name);
        let want: BTreeSet<&str> = group
            .member_sids
            .iter()
            .filter_map(|sid| id_of_sid.get(&**sid).copied())
            .collect();
        let have: BTreeSet<&str> = idc.member_ids.iter().map(String::as_str).collect();
        assert_eq!(have, want, "members of {}", group.name);
    }
    for (sid, user) in &sent {
        if let Some(idc) = owned_user(state, sid) {
            assert_eq!(
                idc.active, user.enabled,
                "active flag of {}",
                user.sam_account_name
            );
        } else {
            // Only users never created may be absent: disabled ones, and the one whose
            // userName a console-made user already holds.
            let collides = user.user_principal_name.as_deref() == Some(FOREIGN_USER_NAME);
            assert!(
                !user.enabled || collides,
                "user {} missing",
                user.sam_account_name
            );
        }
    }
}

fn dir_user(dir: &DirectorySnapshot, sam_account_name: &str) -> DirectoryUser {
    let found = dir
        .users
        .iter()
        .find(|u| u.sam_account_name == sam_account_name);
    found
        .cloned()
        .unwrap_or_else(|| panic!("{sam_account_name} not in the directory"))
}

fn dir_group(dir: &DirectorySnapshot, name: &str) -> DirectoryGroup {
    let found = dir.groups.iter().find(|g| g.name == name);
    found
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in the directory"))
}

fn writes(report: &PassReport) -> u64 {
    report.summary.scim_writes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_and_identity_center_stay_in_step_through_changes() {
    let mut world = World::start().await;

    // 1. First pass: everything is created; the console-made user is untouched and reported.
    let first = world.pass().await;
    let dir = world.directory().await;
    assert_eq!(dir.users.len(), 45);
    assert_eq!(dir.groups.len(), 12);
    let state = world.emulator.dump();
    assert_mirrors(&dir, &state, &first);
    assert!(first.summary.users_created >= 30, "{:#?}", first.summary);
    assert_eq!(first.summary.groups_created, 12);
    let foreign = state
        .user_records
        .iter()
        .find(|u| u.user_name == FOREIGN_USER_NAME)
        .unwrap();
    assert_eq!(foreign.external_id, None);
    assert_eq!(foreign.display_name.as_deref(), Some("Console-made user"));
    assert!(
        first
            .summary
            .conflicts
            .iter()
            .any(|c| c.code == ReasonCode::NameTakenByForeignObject
                && c.text.contains(FOREIGN_USER_NAME)),
        "conflict not reported: {:#?}",
        first.summary.conflicts
    );

    // 2. Second pass over the unchanged directory: zero writes.
    let second = world.pass().await;
    assert_eq!(writes(&second), 0, "{:#?}", second.plan);
    assert!(second.plan.operations.is_empty());

    // 3. A user disabled in AD becomes active=false.
    let p001 = dir_user(&dir, "p001");
    world.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n",
        p001.dn
    ));
    let (_, records) = world.audited_pass().await;
    let state = world.emulator.dump();
    let p001_idc = owned_user(&state, &p001.object_sid).unwrap();
    assert!(!p001_idc.active);
    let [disabled] = records.as_slice() else {
        panic!("one write, one record: {records:#?}")
    };
    assert_eq!(disabled.action, "disableUser");
    assert_eq!(disabled.reason.code, ReasonCode::DisabledInDirectory);
    assert_eq!(
        disabled.object.user_name.as_deref(),
        Some("p001@example.test")
    );
    assert_eq!(disabled.object.id.as_deref(), Some(p001_idc.id.as_str()));
    assert_eq!(
        disabled.object.external_id.as_deref(),
        Some(p001.object_sid.as_ref())
    );
    assert_eq!(disabled.object.dn.as_deref(), Some(p001.dn.as_str()));
    assert_eq!(disabled.changes.attributes["active"].from, json!(true));
    assert_eq!(disabled.changes.attributes["active"].to, json!(false));
    assert_eq!(disabled.changes.attributes.len(), 1);

    // 4. A member removed in AD is removed in Identity Center, from the group and from the
    //    group that nests it (aws-all-staff contains aws-admins): memberships are flattened.
    let admins = dir_group(&dir, "aws-admins");
    let all_staff = dir_group(&dir, "aws-all-staff");
    let p002 = dir_user(&dir, "p002");
    world.modify(&format!(
        "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        admins.dn, p002.dn
    ));
    let (removed, records) = world.audited_pass().await;
    assert_eq!(removed.summary.members_removed, 2, "{:#?}", removed.plan);
    let mut groups: Vec<&str> = records
        .iter()
        .map(|r| {
            assert_eq!(r.action, "changeMembers");
            assert_eq!(r.reason.code, ReasonCode::MemberLeftGroup);
            assert_eq!(r.changes.members_removed, vec!["p002@example.test"]);
            assert!(r.changes.members_added.is_empty());
            r.object.display_name.as_deref().unwrap()
        })
        .collect();
    groups.sort();
    assert_eq!(groups, vec!["aws-admins", "aws-all-staff"]);
    let state = world.emulator.dump();
    let p002_id = owned_user(&state, &p002.object_sid).unwrap().id.clone();
    for group in [&admins, &all_staff] {
        let idc = state.group_by_external_id(&group.object_guid).unwrap();
        assert!(
            !idc.member_ids.contains(&p002_id),
            "p002 still in {}",
            group.name
        );
    }

    // 5. A group renamed in AD is renamed in place: same id, no second group.
    let devs = dir_group(&dir, "aws-developers");
    let devs_id = state
        .group_by_external_id(&devs.object_guid)
        .unwrap()
        .id
        .clone();
    world.modify(&format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: CN=aws-developers-renamed\ndeleteoldrdn: 1\n",
        devs.dn
    ));
    let renamed = world.pass().await;
    assert_eq!(renamed.summary.groups_updated, 1, "{:#?}", renamed.plan);
    assert_eq!(renamed.summary.groups_created, 0);
    let state = world.emulator.dump();
    let devs_idc = state.group_by_external_id(&devs.object_guid).unwrap();
    assert_eq!(devs_idc.id, devs_id);
    assert_eq!(devs_idc.display_name, "aws-developers-renamed");
    assert_eq!(state.groups.len(), 12);

    // 6. A user moved out of the sync group is disabled (and leaves the groups it was in).
    let sync_group = format!("CN={},{}", samba::SYNC_GROUP, samba::GROUP_BASE);
    let p010 = dir_user(&dir, "p010");
    world.modify(&format!(
        "dn: {sync_group}\nchangetype: modify\ndelete: member\nmember: {}\n",
        p010.dn
    ));
    let (moved, records) = world.audited_pass().await;
    assert_eq!(moved.summary.users_disabled, 1, "{:#?}", moved.plan);
    let state = world.emulator.dump();
    let p010_idc = owned_user(&state, &p010.object_sid).unwrap();
    assert!(!p010_idc.active);
    let disable = records
        .iter()
        .find(|r| r.action == "disableUser")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(disable.reason.code, ReasonCode::LeftSyncGroup);
    assert_eq!(
        disable.object.user_name.as_deref(),
        Some("p010@example.test")
    );
    assert_eq!(disable.object.id.as_deref(), Some(p010_idc.id.as_str()));
    let left: Vec<&ChangeRecord> = records
        .iter()
        .filter(|r| r.action == "changeMembers")
        .collect();
    assert!(!left.is_empty(), "p010 leaves its groups: {records:#?}");
    for r in &left {
        assert_eq!(r.reason.code, ReasonCode::MemberLeftGroup);
        assert_eq!(r.changes.members_removed, vec!["p010@example.test"]);
    }
    assert_eq!(records.len(), 1 + left.len());

    // After all of it: Identity Center mirrors the directory, the console-made user is as it
    // was, and another pass has nothing to do.
    let last = world.pass().await;
    assert_eq!(writes(&last), 0, "{:#?}", last.plan);
    let dir = world.directory().await;
    assert_mirrors(&dir, &world.emulator.dump(), &last);
    let state = world.emulator.dump();
    let foreign = state
        .user_records
        .iter()
        .find(|u| u.user_name == FOREIGN_USER_NAME)
        .unwrap();
    assert_eq!(foreign.external_id, None);
    assert_eq!(foreign.display_name.as_deref(), Some("Console-made user"));
    assert!(foreign.active);
}
