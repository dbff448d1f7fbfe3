//! End to end with the `openldap` profile: a real OpenLDAP slapd (127.0.0.71, see
//! tests/support/slapd.rs), settings from a `--config` file, the same in-process pass as
//! Active Directory's, and the Identity Center emulator over HTTP.
//!
//! One test walks through directory changes in order, since each step starts from the state
//! the previous one left: the first pass, an idle pass, a real ppolicy lockout, a user leaving
//! the scope, renames of a user and a group (modrdn), and an export of the same directory
//! (ldapsearch as the read-only account) that plans nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;
#[path = "support/slapd.rs"]
mod slapd;

use std::collections::BTreeMap;
use std::path::Path;

use idc_emulator::{Emulator, EmulatorConfig, StateDump};
use scim_sync::config::{load_from_aws, load_from_file, AwsNames, Settings};
use scim_sync::model::ReasonCode;
use scim_sync::pass::{PassOptions, PassReport, Session};
use slapd::Slapd;

const ADDR: &str = "127.0.0.71";
/// The second test's own server (it runs beside the first).
const SSM_ADDR: &str = "127.0.0.72";
const TOKEN: &str = "openldap-e2e-token-3b9d";

fn config_text(s: &Slapd, scim_url: &str, source: &str) -> String {
    format!(
        r#"
[directory]
{source}
profile = "openldap"

[scope]
syncGroup = "{sync}"
groupPrefix = "aws-*"
groupSearchBase = "{base}"

[policy]
deleteGroupsOutOfScope = true

[scim]
url = "{scim_url}"
token = "{TOKEN}"
rateLimitPerSecond = 500
"#,
        sync = slapd::SYNC_GROUP,
        base = slapd::GROUP_BASE,
    )
    .replace("{ldaps}", &s.ldaps_url())
}

async fn settings(dir: &Path, s: &Slapd, scim_url: &str, source: &str) -> Settings {
    std::fs::write(dir.join("ca.pem"), s.ca_pem()).unwrap();
    let path = dir.join("scim-sync.toml");
    std::fs::write(&path, config_text(s, scim_url, source)).unwrap();
    load_from_file(&path, None).await.unwrap()
}

async fn pass(settings: &Settings, dry_run: bool) -> PassReport {
    let mut session = Session::new(settings.clone(), None).unwrap();
    let opts = PassOptions {
        dry_run,
        ..PassOptions::default()
    };
    session.run(&opts).await.unwrap()
}

/// userName → (active, externalId) of every user.
fn users(d: &StateDump) -> BTreeMap<String, (bool, String)> {
    d.user_records
        .iter()
        .map(|u| {
            (
                u.user_name.clone(),
                (u.active, u.external_id.clone().unwrap_or_default()),
            )
        })
        .collect()
}

fn members(d: &StateDump, group: &str) -> Vec<String> {
    let mut m = d.member_user_names(group);
    m.sort();
    m
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_against_slapd_creates_converges_disables_and_keeps_identity_over_renames() {
    let s = tokio::task::spawn_blocking(|| Slapd::start(ADDR))
        .await
        .unwrap();
    let emu = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    // Another directory's user and group (same form, another directory id), and an Active
    // Directory deployment's: none of them is this directory's, whatever the passes do.
    let other = "ldap:00000000-1111-2222-3333-444444444444";
    let foreign_users = [
        (
            "other-dir-user",
            format!("{other}:5d2abaee-835a-1041-96fd-bde2299f603c"),
        ),
        ("ad-user", "S-1-5-21-1-2-3-1001".to_string()),
    ];
    for (name, ext) in &foreign_users {
        emu.insert_user(&serde_json::json!({
            "userName": name, "externalId": ext, "active": true, "displayName": name,
            "name": {"givenName": "Foreign", "familyName": "User"}
        }))
        .unwrap();
    }
    let foreign_groups = [
        (
            "aws-other-dir",
            format!("{other}:5d2abaee-835a-1041-96fd-000000000001"),
        ),
        (
            "aws-ad-group",
            "0b1f2c3d-0000-4000-8000-00000000000a".to_string(),
        ),
    ];
    for (name, ext) in &foreign_groups {
        emu.insert_group(name, Some(ext)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let ldap = format!(
        "source = \"ldap\"\nurl = \"{}\"\nbindDn = \"{}\"\npassword = \"{}\"\ncaBundleFile = \"ca.pem\"",
        s.ldaps_url(),
        slapd::BIND_DN,
        slapd::BIND_PASSWORD
    );
    let live = settings(dir.path(), &s, &emu.base_url(), &ldap).await;

    // 1. The first pass.
    let r = pass(&live, false).await;
    let sum = &r.summary;
    assert!(sum.failures.is_empty(), "{:?}", sum.failures);
    // 13 in scope: nogiven has no givenName, and the four who cannot sign in (erin and frank
    // locked, grace inactivated, heidi expired) are not created, as for Active Directory.
    assert_eq!(sum.users_created, 8);
    assert_eq!(sum.groups_created, 5);
    assert!(sum
        .skipped
        .iter()
        .any(|f| f.code == ReasonCode::MissingGivenName && f.text.contains("uid=nogiven")));
    let d = emu.dump();
    let u = users(&d);
    let suffix = s.read_attr(slapd::SUFFIX, "entryUUID").unwrap();
    let alice_uuid = s
        .read_attr(&format!("uid=alice,{}", slapd::PEOPLE), "entryUUID")
        .unwrap();
    assert_eq!(u["alice"], (true, format!("ldap:{suffix}:{alice_uuid}")));
    for off in ["erin", "frank", "grace", "heidi", "nogiven"] {
        assert!(!u.contains_key(off), "{off}");
    }
    for on in ["alice", "bob", "ivan", "peggy", "zoe", "taro"] {
        assert!(u[on].0, "{on}");
    }
    let zoe = d.user("zoe").unwrap();
    assert_eq!(zoe.display_name.as_deref(), Some("Zoë Ångström 😀"));
    assert_eq!(zoe.email.as_deref(), Some("zoe@example.test"));
    assert_eq!(d.user("taro").unwrap().family_name.as_deref(), Some("山田"));
    // The profile's attribute defaults: title, departmentNumber, o, ou, employeeNumber, manager.
    let alice_json = d
        .users
        .iter()
        .find(|j| j["userName"] == "alice")
        .unwrap()
        .to_string();
    for v in [
        "Platform Lead",
        "4711",
        "Example Test",
        "Engineering",
        "1001",
    ] {
        assert!(alice_json.contains(v), "{v} in {alice_json}");
    }
    let everyone = strs(&[
        "alice", "bob", "carol", "dave", "ivan", "peggy", "taro", "zoe",
    ]);
    assert_eq!(members(&d, "aws-sync-users"), everyone);
    assert_eq!(members(&d, "aws-admins"), strs(&["alice", "bob"]));
    assert_eq!(members(&d, "aws-engineering"), strs(&["carol", "dave"]));
    assert_eq!(members(&d, "aws-platform"), strs(&["carol", "dave"]));
    assert_eq!(members(&d, "aws-audit"), strs(&["zoe"]));
    assert!(d.group("staff").is_none());
    let foreign: Vec<&str> = foreign_groups.iter().map(|(n, _)| *n).collect();
    for g in d
        .groups
        .iter()
        .filter(|g| !foreign.contains(&&*g.display_name))
    {
        let ext = g.external_id.as_deref().unwrap();
        assert!(ext.starts_with(&format!("ldap:{suffix}:")), "{ext}");
    }

    // The managers (bob's and carol's: alice, created in the same pass) are set in that
    // pass, once the creates have given them ids; then nothing changed and nothing is written.
    assert_eq!(sum.users_updated, 2, "{:?}", r.plan.operations);
    let bob_json = d
        .users
        .iter()
        .find(|j| j["userName"] == "bob")
        .unwrap()
        .to_string();
    assert!(
        bob_json.contains(&format!(
            "{{\"value\":\"{}\"}}",
            d.user("alice").unwrap().id
        )),
        "bob's manager is alice: {bob_json}"
    );

    // 2. Nothing changed: nothing is written.
    let r = pass(&live, false).await;
    assert_eq!(r.summary.scim_writes, 0, "{:?}", r.plan.operations);

    // 3. A real lockout: three failed binds, and ppolicy sets pwdAccountLockedTime.
    for _ in 0..3 {
        assert!(!s.try_bind(&format!("uid=peggy,{}", slapd::PEOPLE), "wrong"));
    }
    assert!(!s.try_bind(&format!("uid=peggy,{}", slapd::PEOPLE), "Peggy-Pass.1"));
    assert!(s
        .read_attr(
            &format!("uid=peggy,{}", slapd::PEOPLE),
            "pwdAccountLockedTime"
        )
        .is_some());
    let r = pass(&live, false).await;
    assert_eq!(r.summary.users_disabled, 1);
    assert!(!users(&emu.dump())["peggy"].0);
    // An administrator's unlock enables her again; the permanent lock disables her again.
    let peggy = format!("dn: uid=peggy,{}\nchangetype: modify\n", slapd::PEOPLE);
    s.modify(&format!("{peggy}delete: pwdAccountLockedTime\n"));
    pass(&live, false).await;
    assert!(users(&emu.dump())["peggy"].0);
    s.modify(&format!(
        "{peggy}add: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
    ));
    let r = pass(&live, false).await;
    assert_eq!(r.summary.users_disabled, 1);
    assert!(!users(&emu.dump())["peggy"].0);

    // 4. Ivan leaves the sync group: disabled, and out of its members.
    s.modify(&format!(
        "dn: cn=aws-sync-users,{}\nchangetype: modify\ndelete: member\nmember: uid=ivan,{}\n",
        slapd::GROUP_BASE,
        slapd::PEOPLE
    ));
    let r = pass(&live, false).await;
    assert_eq!(r.summary.users_disabled, 1, "{:?}", r.plan.operations);
    assert!(r.summary.withheld.is_empty(), "{:?}", r.summary.withheld);
    let d = emu.dump();
    assert!(!users(&d)["ivan"].0);
    assert!(!members(&d, "aws-sync-users").contains(&"ivan".to_string()));

    // 5. Renames (modrdn; refint updates the member values): same objects, new names.
    let dave = users(&emu.dump())["dave"].clone();
    let dave_id = emu.dump().user("dave").unwrap().id.clone();
    let admins_id = emu.dump().group("aws-admins").unwrap().id.clone();
    s.modify(&format!(
        "dn: uid=dave,{p}\nchangetype: modrdn\nnewrdn: uid=david\ndeleteoldrdn: 1\n\n\
         dn: cn=aws-admins,{g}\nchangetype: modrdn\nnewrdn: cn=aws-administrators\ndeleteoldrdn: 1\n",
        p = slapd::PEOPLE,
        g = slapd::GROUP_BASE
    ));
    let r = pass(&live, false).await;
    assert_eq!(r.summary.users_created, 0);
    assert_eq!(r.summary.groups_created, 0);
    let d = emu.dump();
    let david = d.user("david").unwrap();
    assert_eq!(david.id, dave_id, "the rename kept the user");
    assert_eq!(users(&d)["david"], (true, dave.1));
    assert!(d.user("dave").is_none());
    assert_eq!(d.group("aws-administrators").unwrap().id, admins_id);
    assert_eq!(members(&d, "aws-platform"), strs(&["carol", "david"]));
    let r = pass(&live, false).await;
    assert_eq!(r.summary.scim_writes, 0, "{:?}", r.plan.operations);

    // 6. An export by the read-only account (ldapsearch '*' '+') is the same directory: the
    // pass over it plans nothing.
    std::fs::write(
        dir.path().join("export.ldif"),
        s.ldapsearch_export_as(slapd::BIND_DN, slapd::BIND_PASSWORD),
    )
    .unwrap();
    let ldif = settings(
        dir.path(),
        &s,
        &emu.base_url(),
        "source = \"ldif\"\npath = \"export.ldif\"",
    )
    .await;
    let r = pass(&ldif, true).await;
    assert!(r.plan.operations.is_empty(), "{:?}", r.plan.operations);
    assert!(r.summary.failures.is_empty());

    // The foreign objects went through every pass (deleteGroupsOutOfScope on) untouched.
    let d = emu.dump();
    for (name, ext) in &foreign_users {
        assert_eq!(users(&d)[*name], (true, ext.clone()), "{name}");
    }
    for (name, ext) in &foreign_groups {
        assert_eq!(
            d.group(name).unwrap().external_id.as_ref(),
            Some(ext),
            "{name}"
        );
    }
}

/// The Lambda's way in: the PowerShell sample's parameters and secrets in SSM and Secrets
/// Manager (moto), with `{"directory": {"profile": "openldap"}}` in Sync-Settings, drive the
/// same pass to the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_from_ssm_and_secrets_manager_drive_the_same_pass() {
    let s = tokio::task::spawn_blocking(|| Slapd::start(SSM_ADDR))
        .await
        .unwrap();
    let moto = moto::Moto::start().await;
    let emu = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let n = AwsNames {
        parameter_path: "/t-openldap/IAM-IDC/".into(),
        token_secret_id: "t-openldap/SCIM-API-Token".into(),
        ldap_secret_id: "t-openldap/AD-RO-UserCreds".into(),
    };
    for (leaf, value) in [
        ("AD-Group-Name", slapd::SYNC_GROUP.to_string()),
        ("AD-Group-Prefix", "aws-*".to_string()),
        ("AD-Search-Base", slapd::GROUP_BASE.to_string()),
        ("SCIM-URI", emu.base_url()),
        ("Domain-Controller", s.ldaps_url()),
        ("AD-CA-Bundle", s.ca_pem()),
        (
            "Sync-Settings",
            r#"{"directory": {"profile": "openldap"}}"#.to_string(),
        ),
    ] {
        moto.put_parameter(&n.parameter(leaf), &value).await;
    }
    moto.create_secret(&n.token_secret_id, TOKEN).await;
    let creds = serde_json::json!({"username": slapd::BIND_DN, "password": slapd::BIND_PASSWORD});
    moto.create_secret(&n.ldap_secret_id, &creds.to_string())
        .await;
    let settings = load_from_aws(moto.sdk(), &n).await.unwrap();
    let mut session = Session::new(settings, Some(moto.sdk().clone())).unwrap();
    let r = session.run(&PassOptions::default()).await.unwrap();
    assert!(r.summary.failures.is_empty(), "{:?}", r.summary.failures);
    assert_eq!((r.summary.users_created, r.summary.groups_created), (8, 5));
    let d = emu.dump();
    assert_eq!(members(&d, "aws-engineering"), strs(&["carol", "dave"]));
    let suffix = s.read_attr(slapd::SUFFIX, "entryUUID").unwrap();
    assert!(users(&d)["alice"].1.starts_with(&format!("ldap:{suffix}:")));
    // The managers were set in the first pass: the second writes nothing.
    let r = session.run(&PassOptions::default()).await.unwrap();
    assert_eq!(r.summary.scim_writes, 0, "{:?}", r.plan.operations);
}
