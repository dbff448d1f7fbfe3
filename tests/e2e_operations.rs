//! Operators' tools end to end against the Samba AD DC and the Identity Center emulator:
//! `explain` (the nesting chain, a skipped user, a group, an unknown name) and provision on
//! demand (`--only`): of several pending changes, only the named object's are written, each
//! with its audit record. DC address 127.0.0.28 (see tests/support/samba.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use idc_emulator::{Emulator, EmulatorConfig};
use pass_fixture::{ldap_settings, TOKEN};
use scim_sync::audit::{AuditResult, Collect};
use scim_sync::explain::explain;
use scim_sync::model::settings::Scope;
use scim_sync::pass::{PassError, PassOptions, Session};
use serde_json::{json, Value};

const DC_ADDR: &str = "127.0.0.28";

fn codes(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["reason"]["code"].as_str().or(v["code"].as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_provision_on_demand() {
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
    let mut session = Session::new(settings, None).unwrap();

    // A user three levels below the sync group: the chain names every group on the way.
    let nested = json!(explain(&session, "p040").await.unwrap());
    assert_eq!(
        nested["scope"]["chain"]["text"],
        "aws-sync-users → sync-nested-1 → sync-nested-2 → sync-nested-3 → p040",
        "{nested:#}"
    );
    assert_eq!(nested["scope"]["inScope"], true);
    assert_eq!(
        nested["mapping"]["attributes"]["userName"],
        "p040@example.test"
    );
    // Its create and its memberships in the synced groups (new groups, so all additions).
    let planned = codes(&nested["actions"]["operations"]);
    assert_eq!(planned[0], "newInScope", "{planned:?}");
    assert!(planned.len() > 1 && planned[1..].iter().all(|c| *c == "memberAdded"));
    let mixed = nested["scope"]["syncedGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "aws-mixed")
        .unwrap();
    assert_eq!(mixed["path"]["text"], "aws-mixed → p040");
    assert_eq!(writes(&emulator), 0, "explain writes nothing");

    // A user the planner skips: the mapping step says why, and nothing is planned for it.
    let skipped = json!(explain(&session, "p027").await.unwrap());
    assert_eq!(skipped["mapping"]["rejected"]["code"], "missingGivenName");
    assert_eq!(
        codes(&skipped["actions"]["findings"]),
        vec!["missingGivenName"]
    );
    assert_eq!(skipped["actions"]["operations"], json!([]));

    // A group: its effective members with their nesting paths.
    let group = json!(explain(&session, "aws-all-staff").await.unwrap());
    assert_eq!(group["type"], "group");
    let members = group["scope"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 15, "{group:#}");
    let p016 = members
        .iter()
        .find(|m| m["sAMAccountName"] == "p016")
        .unwrap();
    assert_eq!(
        p016["path"]["text"],
        "aws-all-staff → aws-developers → dev-team-a → dev-team-a-core → p016"
    );

    // An unknown name is an error naming the name.
    let unknown = explain(&session, "nobody-here").await.unwrap_err();
    assert!(matches!(unknown, PassError::NotFound(ref w) if w == "nobody-here"));

    // Converge, then make three changes pending: two users renamed, one membership removed.
    session.run(&PassOptions::default()).await.unwrap();
    for (sam, display) in [("p040", "Forty Renamed"), ("p044", "Forty-Four Renamed")] {
        let dn = dn_of(&dc, sam);
        dc.ldapmodify_as_admin(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: displayName\ndisplayName: {display}\n"
        ));
    }
    let admins = format!("CN=aws-admins,{}", samba::GROUP_BASE);
    dc.ldapmodify_as_admin(&format!(
        "dn: {admins}\nchangetype: modify\ndelete: member\nmember: {}\n",
        dn_of(&dc, "p005")
    ));
    let before = emulator.dump();

    // --only p040: that user's update and nothing else.
    let sink = Collect::default();
    let only = PassOptions {
        only: vec!["p040".into()],
        ..PassOptions::default()
    };
    let report = session.run_audited(&only, &sink).await.unwrap();
    let records = sink.take();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].action, "updateUser");
    assert_eq!(records[0].result, AuditResult::Ok);
    assert_eq!(records[0].reason.code.as_str(), "attributeChanged");
    assert_eq!(
        records[0].object.user_name.as_deref(),
        Some("p040@example.test")
    );
    assert_eq!(
        records[0].changes.attributes["displayName"].to,
        json!("Forty Renamed")
    );
    assert_eq!(report.summary.users_updated, 1);
    assert_eq!(report.summary.members_removed, 0);
    let after = emulator.dump();
    let name = |dump: &idc_emulator::StateDump, upn: &str| {
        dump.user(upn).and_then(|u| u.display_name.clone())
    };
    assert_eq!(
        name(&after, "p040@example.test").as_deref(),
        Some("Forty Renamed")
    );
    assert_eq!(
        name(&after, "p044@example.test"),
        name(&before, "p044@example.test"),
        "p044 is still pending"
    );

    // --only aws-admins: the group's member change, by the member's userName.
    let sink = Collect::default();
    let group_only = PassOptions {
        only: vec!["aws-admins".into()],
        ..PassOptions::default()
    };
    session.run_audited(&group_only, &sink).await.unwrap();
    let records = sink.take();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].action, "changeMembers");
    assert_eq!(records[0].reason.code.as_str(), "memberLeftGroup");
    assert_eq!(
        records[0].changes.members_removed,
        vec!["p005@example.test"]
    );

    // The rest follows in a full pass: p044's update, and p005 leaving aws-all-staff (which
    // nests aws-admins: a group named on its own does not take its nesting groups along).
    let sink = Collect::default();
    session
        .run_audited(&PassOptions::default(), &sink)
        .await
        .unwrap();
    let mut rest: Vec<(String, &str)> = sink
        .take()
        .iter()
        .map(|r| {
            let name = r.object.user_name.clone().or(r.object.display_name.clone());
            (name.unwrap_or_default(), r.reason.code.as_str())
        })
        .collect();
    rest.sort();
    assert_eq!(
        rest,
        vec![
            ("aws-all-staff".to_string(), "memberLeftGroup"),
            ("p044@example.test".to_string(), "attributeChanged"),
        ]
    );

    // An unknown --only name writes nothing.
    let none = PassOptions {
        only: vec!["nobody-here".into()],
        ..PassOptions::default()
    };
    assert!(matches!(
        session.run(&none).await,
        Err(PassError::NotFound(_))
    ));
}

fn writes(emulator: &idc_emulator::RunningEmulator) -> u64 {
    emulator.counters().writes
}

/// A fixture user's DN (tests/fixtures/ldap/README.md: `CN=pNNN,OU=People`).
fn dn_of(_dc: &samba::SambaDc, sam: &str) -> String {
    format!("CN={sam},OU=People,{}", samba::BASE_DN)
}
