//! What "member" and "disabled" mean in Active Directory, against a real Samba AD DC: primary
//! group members (listed in no `member` value) are members, for scope and for group
//! membership; an account past its `accountExpires` is disabled by the next pass with no change
//! in the directory beyond the date, and active again once the date is cleared; the domain SID
//! is read from the domain head.
//!
//! The DC is this binary's own (127.0.0.44): the test adds its users and groups at run time, in
//! an OU of their own, so the shared fixture stays as it is.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;
#[path = "support/samba.rs"]
mod samba;

use std::collections::BTreeSet;

use base64::Engine as _;
use idc_emulator::{Emulator, EmulatorConfig};
use pass_fixture::{ldap_settings, TOKEN};
use samba::SambaDc;
use scim_sync::config::Settings;
use scim_sync::directory::sid::sid_to_string;
use scim_sync::directory::{read_ldif, Scope};
use scim_sync::pass::{read_directory, PassOptions, PassReport, Session};

const DC_ADDR: &str = "127.0.0.44";
const OU: &str = "OU=PG,DC=example,DC=test";

fn dn(cn: &str) -> String {
    format!("CN={cn},{OU}")
}

/// The objectSid of `entry_dn`, as a string.
fn sid_of(dc: &SambaDc, entry_dn: &str) -> String {
    let out = dc.ldapsearch_as_admin(entry_dn, "(objectClass=*)", &["objectSid"], &["-s", "base"]);
    let b64 = out
        .lines()
        .find_map(|l| l.strip_prefix("objectSid:: "))
        .unwrap_or_else(|| panic!("no objectSid for {entry_dn}: {out}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    sid_to_string(&bytes).unwrap()
}

fn rid_of(dc: &SambaDc, entry_dn: &str) -> String {
    let sid = sid_of(dc, entry_dn);
    sid.rsplit_once('-').unwrap().1.to_string()
}

fn user_ldif(cn: &str) -> String {
    format!(
        "dn: {}\nchangetype: add\nobjectClass: user\nsAMAccountName: {cn}\n\
         userPrincipalName: {cn}@example.test\nmail: {cn}@example.test\ngivenName: Pg\n\
         sn: {cn}\nuserAccountControl: 544\n\n",
        dn(cn)
    )
}

fn group_ldif(cn: &str, members: &[&str]) -> String {
    let mut out = format!(
        "dn: {}\nchangetype: add\nobjectClass: group\nsAMAccountName: {cn}\n",
        dn(cn)
    );
    for m in members {
        out.push_str(&format!("member: {}\n", dn(m)));
    }
    out.push('\n');
    out
}

/// Makes `group` the primary group of `user` (AD wants it a member first, then drops the
/// `member` value itself).
fn set_primary_group(dc: &SambaDc, user: &str, group: &str) {
    let rid = rid_of(dc, &dn(group));
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: primaryGroupID\nprimaryGroupID: {rid}\n\n",
        dn(user)
    ));
}

fn set_account_expires(dc: &SambaDc, user: &str, value: &str) {
    dc.ldapmodify_as_admin(&format!(
        "dn: {}\nchangetype: modify\nreplace: accountExpires\naccountExpires: {value}\n\n",
        dn(user)
    ));
}

/// The `member` values of a group, as the directory lists them.
fn member_values(dc: &SambaDc, group: &str) -> String {
    dc.ldapsearch_as_admin(
        &dn(group),
        "(objectClass=*)",
        &["member"],
        &["-s", "base", "-o", "ldif-wrap=no"],
    )
}

/// The OU, its users and groups:
/// - `pg-sync` (the sync group): pg02, pg03, pg04 and the nested `pg-chain`; pg01's primary
///   group (so pg01 is in scope only through primaryGroupID);
/// - `pg-chain`: pg05's primary group (in scope through a nested group's primary members);
/// - `aws-pg-team` (synced): pg03's primary group, and `pg-inner` nested;
/// - `pg-inner`: pg04's primary group (a member of aws-pg-team through nesting).
fn build(dc: &SambaDc) {
    let mut ldif = format!("dn: {OU}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
    for u in ["pg01", "pg02", "pg03", "pg04", "pg05"] {
        ldif.push_str(&user_ldif(u));
    }
    ldif.push_str(&group_ldif("pg-inner", &["pg04"]));
    ldif.push_str(&group_ldif("aws-pg-team", &["pg03", "pg-inner"]));
    ldif.push_str(&group_ldif("pg-chain", &["pg05"]));
    ldif.push_str(&group_ldif(
        "pg-sync",
        &["pg01", "pg02", "pg03", "pg04", "pg-chain"],
    ));
    dc.ldapmodify_as_admin(&ldif);
    set_primary_group(dc, "pg01", "pg-sync");
    set_primary_group(dc, "pg03", "aws-pg-team");
    set_primary_group(dc, "pg04", "pg-inner");
    set_primary_group(dc, "pg05", "pg-chain");
}

fn settings(dc: &SambaDc, scim_url: &str) -> Settings {
    let scope = Scope {
        sync_group: "pg-sync".into(),
        group_prefix: "aws-pg-".into(),
        group_search_base: OU.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    ldap_settings(
        &dc.ldaps_url(),
        Some(dc.ca_pem()),
        samba::BIND_DN,
        samba::BIND_PASSWORD,
        scope,
        scim_url,
        TOKEN,
    )
}

async fn apply(settings: &Settings) -> PassReport {
    let mut session = Session::new(settings.clone(), None).unwrap();
    session.run(&PassOptions::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_group_members_are_members_and_expired_accounts_are_disabled() {
    let dc = tokio::task::spawn_blocking(|| SambaDc::start(DC_ADDR))
        .await
        .unwrap();
    build(&dc);
    // The directory lists none of the primary-group members in `member`: the case at hand.
    let sync_members = member_values(&dc, "pg-sync");
    assert!(!sync_members.contains("CN=pg01,"), "{sync_members}");
    assert!(!member_values(&dc, "aws-pg-team").contains("CN=pg03,"));
    assert!(!member_values(&dc, "pg-inner").contains("CN=pg04,"));

    let emu = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    let s = settings(&dc, &emu.base_url());

    let dir = read_directory(&s).await.unwrap();
    let users: BTreeSet<&str> = dir
        .users
        .iter()
        .map(|u| u.sam_account_name.as_str())
        .collect();
    assert_eq!(
        users,
        BTreeSet::from(["pg01", "pg02", "pg03", "pg04", "pg05"]),
        "pg01 (primary group = sync group) and pg05 (primary group nested in it) are in scope"
    );
    let domain = sid_of(&dc, samba::BASE_DN);
    assert_eq!(
        dir.domain_sids,
        vec![domain.clone()],
        "read from the domain head"
    );
    assert!(dir.read_at.is_some(), "the pass gives the planner its time");
    let team = dir.groups.iter().find(|g| g.name == "aws-pg-team").unwrap();
    let sid_of_user = |cn: &str| {
        dir.users
            .iter()
            .find(|u| u.sam_account_name == cn)
            .unwrap()
            .object_sid
            .to_string()
    };
    let team_members: BTreeSet<String> = team.member_sids.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        team_members,
        BTreeSet::from([sid_of_user("pg03"), sid_of_user("pg04")]),
        "pg03 (primary group) and pg04 (primary group nested in it) are members"
    );
    assert!(sid_of_user("pg01").starts_with(&format!("{domain}-")));

    // An export of the same directory (with primaryGroupID and the domain entry) reads the same.
    let export = dc.ldapsearch_as_admin(
        samba::BASE_DN,
        "(|(objectClass=user)(objectClass=group)(objectClass=domain))",
        &[
            "objectClass",
            "cn",
            "sn",
            "givenName",
            "displayName",
            "member",
            "memberOf",
            "userAccountControl",
            "accountExpires",
            "primaryGroupID",
            "objectGUID",
            "objectSid",
            "sAMAccountName",
            "userPrincipalName",
            "mail",
            "description",
            "groupType",
        ],
        &[],
    );
    let scope = Scope {
        sync_group: "pg-sync".into(),
        group_prefix: "aws-pg-".into(),
        group_search_base: OU.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let mut from_export = read_ldif(&export, &scope).unwrap();
    from_export.read_at = dir.read_at;
    assert_eq!(
        from_export, dir,
        "the LDIF source agrees with the live read"
    );

    // A pass: everyone created active, the team group with both members.
    let first = apply(&s).await;
    assert_eq!(first.summary.users_created, 5, "{:?}", first.summary);
    assert!(first.summary.failures.is_empty(), "{:?}", first.summary);
    let dump = emu.dump();
    let mut names = dump.member_user_names("aws-pg-team");
    names.sort();
    assert_eq!(names, ["pg03@example.test", "pg04@example.test"]);
    assert_eq!(apply(&s).await.summary.scim_writes, 0, "converged");

    // pg02's account expired yesterday: nothing else changes in the directory.
    let yesterday = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 86_400
        + 11_644_473_600)
        * 10_000_000;
    set_account_expires(&dc, "pg02", &yesterday.to_string());
    let expired = apply(&s).await;
    assert_eq!(expired.summary.users_disabled, 1, "{:?}", expired.summary);
    assert!(!emu.dump().user("pg02@example.test").unwrap().active);

    // An expiry in the future (a contractor's end date) leaves the account active.
    let next_year = yesterday + 366 * 86_400 * 10_000_000;
    set_account_expires(&dc, "pg02", &next_year.to_string());
    let extended = apply(&s).await;
    assert_eq!(extended.summary.users_updated, 1, "{:?}", extended.summary);
    assert!(emu.dump().user("pg02@example.test").unwrap().active);

    // Expired again, then cleared (0, "never"): active again.
    set_account_expires(&dc, "pg02", &yesterday.to_string());
    apply(&s).await;
    assert!(!emu.dump().user("pg02@example.test").unwrap().active);
    set_account_expires(&dc, "pg02", "0");
    apply(&s).await;
    assert!(emu.dump().user("pg02@example.test").unwrap().active);
    assert_eq!(apply(&s).await.summary.scim_writes, 0, "converged");
}
