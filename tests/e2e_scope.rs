//! End to end, issue 14 §2: the scope rules from `/IAM-IDC/Sync-Settings` (moto), as the
//! Lambda reads them, against the real Samba AD DC and the Identity Center emulator: two sync
//! groups, a user filter and an exclusion group (with nesting) give exactly the expected
//! users, a second group search base adds its groups, the next pass writes nothing; a user
//! put into the exclusion group is disabled for it; a sync group that does not exist holds
//! back every disable instead of taking its users out of scope.
//! DC address 127.0.0.50 (see tests/support/samba.rs).
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

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use scim_sync::audit::Collect;
use scim_sync::config::{self, AwsNames};
use scim_sync::explain::explain;
use scim_sync::model::ReasonCode;
use scim_sync::pass::{PassOptions, PassReport, Session};
use scim_sync::plan::Operation;
use serde_json::{json, Value};

const TOKEN: &str = "e2e-scope-token-7d41aa";

/// The fixture's users given `employeeType: Staff`: aws-admins holds p001–p005 (p003 is
/// made a contractor, p004 has no employeeType), aws-developers p010–p014 directly and
/// p015–p018 through dev-team-a (→ dev-team-a-core), which is the exclusion group here.
fn staff() -> Vec<String> {
    [1, 2, 5]
        .into_iter()
        .chain(10..=18)
        .map(|n| format!("p{n:03}"))
        .collect()
}

fn people_dn(sam: &str) -> String {
    format!("CN={sam},OU=People,DC=example,DC=test")
}

fn scope_settings(sync_groups: &[&str]) -> Value {
    json!({
        "scope": {
            "syncGroups": sync_groups,
            "userFilter": "(employeeType=Staff)",
            "excludeGroups": ["dev-team-a"],
            "groupSearchBases": ["OU=Teams,DC=example,DC=test"],
        },
        // Eight users: one leaving must not trip the guard, which is not under test here.
        "guard": {"maxDestructiveShare": 0.5},
    })
}

struct World {
    dc: samba::SambaDc,
    moto: moto::Moto,
    emulator: RunningEmulator,
}

impl World {
    async fn start() -> World {
        let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start("127.0.0.50"))
            .await
            .unwrap();
        let moto = moto::Moto::start().await;
        let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
        for (name, value) in [
            // The original's single group stays required, and is replaced by syncGroups.
            ("/IAM-IDC/AD-Group-Name", samba::SYNC_GROUP.to_string()),
            ("/IAM-IDC/AD-Group-Prefix", "aws-*".to_string()),
            ("/IAM-IDC/AD-Search-Base", samba::GROUP_BASE.to_string()),
            ("/IAM-IDC/SCIM-URI", emulator.base_url()),
            ("/IAM-IDC/Domain-Controller", dc.ldaps_url()),
            ("/IAM-IDC/AD-CA-Bundle", dc.ca_pem()),
        ] {
            moto.put_parameter(name, &value).await;
        }
        moto.create_secret("IAM-IDC/SCIM-API-Token", TOKEN).await;
        let creds = json!({"username": samba::BIND_DN, "password": samba::BIND_PASSWORD});
        moto.create_secret("IAM-IDC/AD-RO-UserCreds", &creds.to_string())
            .await;
        // p003 (aws-admins) is a contractor.
        for sam in staff() {
            dc.ldapmodify_as_admin(&format!(
                "dn: {}\nchangetype: modify\nreplace: employeeType\nemployeeType: Staff\n",
                people_dn(&sam)
            ));
        }
        dc.ldapmodify_as_admin(&format!(
            "dn: {}\nchangetype: modify\nreplace: employeeType\nemployeeType: Contractor\n",
            people_dn("p003")
        ));
        World { dc, moto, emulator }
    }

    async fn session(&self, settings: &Value) -> Session {
        self.moto
            .put_parameter("/IAM-IDC/Sync-Settings", &settings.to_string())
            .await;
        let settings = config::load_from_aws(self.moto.sdk(), &AwsNames::default())
            .await
            .unwrap();
        Session::new(settings, Some(self.moto.sdk().clone())).unwrap()
    }

    /// The userNames of the active (and of the inactive) users in Identity Center.
    fn users(&self) -> (Vec<String>, Vec<String>) {
        let dump = self.emulator.dump();
        let mut active = Vec::new();
        let mut inactive = Vec::new();
        for u in dump.user_records {
            let sam = u
                .user_name
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string();
            if u.active {
                active.push(sam);
            } else {
                inactive.push(sam);
            }
        }
        active.sort();
        inactive.sort();
        (active, inactive)
    }
}

async fn pass(session: &mut Session) -> PassReport {
    let report = session.run(&PassOptions::default()).await.unwrap();
    assert!(
        report.summary.failures.is_empty(),
        "failures: {:#?}",
        report.summary.failures
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sync_groups_a_user_filter_and_an_exclusion_group_give_the_expected_users() {
    let world = World::start().await;
    let mut session = world
        .session(&scope_settings(&["aws-admins", "aws-developers"]))
        .await;

    // 1. p001, p002, p005 (aws-admins, Staff) and p010–p014 (aws-developers); p003 and p004
    //    fail the filter; p015–p018 are in dev-team-a (p016–p018 through dev-team-a-core).
    let first = pass(&mut session).await;
    let (active, inactive) = world.users();
    let want: Vec<String> = staff()
        .into_iter()
        .filter(|s| s.as_str() < "p015")
        .collect();
    assert_eq!(active, want, "{:#?}", first.summary);
    assert!(inactive.is_empty());
    let dump = world.emulator.dump();
    let group = |name: &str| {
        dump.groups
            .iter()
            .find(|g| g.display_name == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    };
    // aws-outside-base lives under OU=Teams, the second search base; p001 is its member.
    assert_eq!(group("aws-outside-base").member_ids.len(), 1);
    assert_eq!(group("aws-admins").member_ids.len(), 3);
    assert_eq!(group("aws-developers").member_ids.len(), 5);

    // 2. Unchanged directory: zero writes.
    let second = pass(&mut session).await;
    assert_eq!(second.summary.scim_writes, 0, "{:#?}", second.plan);

    // 3. p012 joins the exclusion group: disabled, and out of its groups' member lists.
    world.dc.ldapmodify_as_admin(&format!(
        "dn: CN=dev-team-a,OU=Teams,DC=example,DC=test\nchangetype: modify\nadd: member\nmember: {}\n",
        people_dn("p012")
    ));
    let third = pass(&mut session).await;
    let disabled: Vec<&Operation> = third
        .plan
        .operations
        .iter()
        .filter(|op| matches!(op, Operation::DisableUser { .. }))
        .collect();
    assert_eq!(disabled.len(), 1, "{:#?}", third.plan.operations);
    let Operation::DisableUser { reason, .. } = disabled[0] else {
        unreachable!()
    };
    assert_eq!(reason.code, ReasonCode::InExclusionGroup);
    assert!(reason.text.contains("\"dev-team-a\""), "{reason:?}");
    let (_, inactive) = world.users();
    assert_eq!(inactive, ["p012"]);

    // explain names the rule that decided, and the chain it decided through.
    let excluded = json!(explain(&session, "p012").await.unwrap());
    assert_eq!(excluded["scope"]["inScope"], false, "{excluded:#}");
    assert_eq!(excluded["scope"]["reason"]["code"], "inExclusionGroup");
    assert_eq!(
        excluded["scope"]["excludedBy"]["chain"]["text"], "dev-team-a → p012",
        "{excluded:#}"
    );
    assert_eq!(
        excluded["scope"]["chain"]["text"], "aws-developers → p012",
        "brought in by a sync group all the same: {excluded:#}"
    );
    assert_eq!(
        excluded["match"]["byAnchor"][0]["active"], false,
        "{excluded:#}"
    );
    let member = json!(explain(&session, "p011").await.unwrap());
    assert_eq!(member["scope"]["inScope"], true);
    assert_eq!(member["scope"]["chain"]["text"], "aws-developers → p011");
    assert_eq!(
        member["scope"]["syncGroups"].as_array().map(Vec::len),
        Some(2)
    );
    let contractor = json!(explain(&session, "p003").await.unwrap());
    assert_eq!(
        contractor["scope"]["reason"]["code"], "failsUserFilter",
        "{contractor:#}"
    );
    assert_eq!(contractor["scope"]["chain"]["text"], "aws-admins → p003");
    let fourth = pass(&mut session).await;
    assert_eq!(fourth.summary.scim_writes, 0, "{:#?}", fourth.plan);

    // 4. A sync group that is not there (a typo): its users are unknown, so nobody is
    //    disabled, and the summary says why; the other group's users stay as they are.
    let mut typo = world
        .session(&scope_settings(&["aws-admins", "aws-developerz"]))
        .await;
    let fifth = pass(&mut typo).await;
    assert_eq!(fifth.summary.users_disabled, 0, "{:#?}", fifth.plan);
    assert!(
        fifth
            .summary
            .withheld
            .iter()
            .any(|w| w.code == ReasonCode::PartialRead && w.text.contains("aws-developerz")),
        "{:#?}",
        fifth.summary.withheld
    );
    assert!(
        fifth
            .summary
            .skipped
            .iter()
            .any(|s| s.text.contains("\"aws-developerz\"") && s.text.contains("scope.syncGroups")),
        "{:#?}",
        fifth.summary.skipped
    );
    let (active, _) = world.users();
    assert_eq!(active.len(), want.len() - 1, "only p012 is inactive");

    // 5. groupDisplayName = cnWithoutPrefix renames every group in place. All groups at once
    //    is a mass change: first withheld by the guard, then let through for one run.
    let mut naming = scope_settings(&["aws-admins", "aws-developers"]);
    naming["scope"]["groupDisplayName"] = json!("cnWithoutPrefix");
    let before = world.emulator.dump().groups;
    let mut renaming = world.session(&naming).await;
    let held = pass(&mut renaming).await;
    assert_eq!(held.summary.groups_updated, 0, "{:#?}", held.plan);
    assert!(
        held.summary
            .withheld
            .iter()
            .any(|w| w.code == ReasonCode::HeldBackByGuard
                && w.text.contains("scope.groupDisplayName")),
        "{:#?}",
        held.summary.withheld
    );
    naming["guard"]["allowMassChanges"] = json!(true);
    let mut renaming = world.session(&naming).await;
    let sink = Collect::default();
    let renamed = renaming
        .run_audited(&PassOptions::default(), &sink)
        .await
        .unwrap();
    assert!(
        renamed.summary.failures.is_empty(),
        "{:#?}",
        renamed.summary
    );
    let after = world.emulator.dump().groups;
    assert_eq!(after.len(), before.len(), "no group created or deleted");
    for g in &before {
        let now = after
            .iter()
            .find(|a| a.id == g.id)
            .unwrap_or_else(|| panic!("{} gone", g.id));
        let want = if g.display_name.to_lowercase().starts_with("aws-") {
            g.display_name[4..].to_string()
        } else {
            g.display_name.clone()
        };
        assert_eq!(now.display_name, want, "same id {}, new name", g.id);
        let (mut kept, mut had) = (now.member_ids.clone(), g.member_ids.clone());
        kept.sort();
        had.sort();
        assert_eq!(kept, had, "memberships kept");
    }
    let records = sink.take();
    let rename = records
        .iter()
        .find(|r| {
            r.action == "renameGroup"
                && r.object.id.as_deref() == Some(group("aws-admins").id.as_str())
        })
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(rename.reason.code, ReasonCode::GroupNamingChanged);
    let change = &rename.changes.attributes["displayName"];
    assert_eq!(
        (change.from.clone(), change.to.clone()),
        (json!("aws-admins"), json!("admins"))
    );
    assert_eq!(
        records.iter().filter(|r| r.action == "renameGroup").count(),
        before.len(),
        "one record per renamed group"
    );
    naming["guard"]["allowMassChanges"] = json!(false);
    let mut settled = world.session(&naming).await;
    let idle = pass(&mut settled).await;
    assert_eq!(idle.summary.scim_writes, 0, "{:#?}", idle.plan);

    // 6. A filter that does not parse stops at load time, naming the setting.
    world
        .moto
        .put_parameter(
            "/IAM-IDC/Sync-Settings",
            &json!({"scope": {"userFilter": "(employeeType=Staff"}}).to_string(),
        )
        .await;
    let err = config::load_from_aws(world.moto.sdk(), &AwsNames::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scope.userFilter") && err.contains("not closed"),
        "{err}"
    );
}
