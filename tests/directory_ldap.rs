//! The LDAP source against a real Samba AD DC (127.0.0.11): scope, nesting, ranges, paging,
//! TLS, bind failures and filter injection. Expected values come from the fixture's seed
//! (tests/fixtures/ldap/seed.ldif and scripts/samba-bulk-ldif.py; see the README there).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/samba.rs"]
mod samba;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use samba::SambaDc;
use scim_sync::directory::{read_ldap, DirectoryError, LdapSettings, Scope};
use scim_sync::model::settings::LdapUrl;
use scim_sync::model::DirectorySnapshot;
use scim_sync::secret::Secret;

const ADDR: &str = "127.0.0.11";

fn settings(dc: &SambaDc) -> LdapSettings {
    let mut s = LdapSettings::new(
        dc.ldaps_setting(),
        dc.bind_dn(),
        Secret::new(dc.bind_password()),
    );
    s.ca_bundle = Some(dc.ca_bundle());
    s.connect_timeout = Duration::from_secs(5);
    s.operation_timeout = Duration::from_secs(60);
    s
}

fn scope(sync_group: &str) -> Scope {
    Scope {
        sync_group: sync_group.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn sams(snap: &DirectorySnapshot) -> Vec<String> {
    snap.users
        .iter()
        .map(|u| u.sam_account_name.clone())
        .collect()
}

fn p(range: impl IntoIterator<Item = u32>) -> Vec<String> {
    range.into_iter().map(|n| format!("p{n:03}")).collect()
}

/// Group name -> sorted sAMAccountNames of its effective members.
fn memberships(snap: &DirectorySnapshot) -> BTreeMap<String, Vec<String>> {
    let by_sid: BTreeMap<&str, &str> = snap
        .users
        .iter()
        .map(|u| (u.object_sid.as_ref(), u.sam_account_name.as_str()))
        .collect();
    snap.groups
        .iter()
        .map(|g| {
            let mut names: Vec<String> = g
                .member_sids
                .iter()
                .map(|s| {
                    by_sid
                        .get(&**s)
                        .expect("member is a user in scope")
                        .to_string()
                })
                .collect();
            names.sort();
            (g.name.clone(), names)
        })
        .collect()
}

#[tokio::test]
async fn small_scope_has_exact_users_and_flattened_groups() {
    let dc = SambaDc::shared(ADDR);
    // Every subtree search at the domain root also returns a search reference from Samba
    // (to CN=Configuration): the read must ignore it, never chase it.
    let snap = read_ldap(&settings(&dc), &scope(samba::SYNC_GROUP))
        .await
        .unwrap();

    assert_eq!(
        sams(&snap),
        p(1..=45),
        "direct members and three levels of nesting"
    );
    let disabled: Vec<&str> = snap
        .users
        .iter()
        .filter(|u| !u.enabled)
        .map(|u| u.sam_account_name.as_str())
        .collect();
    assert_eq!(disabled, ["p003", "p017", "p039"]);
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);

    let sids: BTreeSet<&str> = snap.users.iter().map(|u| u.object_sid.as_ref()).collect();
    assert_eq!(sids.len(), 45);
    for u in &snap.users {
        assert!(u.object_sid.starts_with("S-1-5-21-"), "{}", u.object_sid);
        let g = &u.object_guid;
        assert!(
            g.len() == 36
                && g.chars()
                    .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
                && [8, 13, 18, 23].iter().all(|i| &g[*i..*i + 1] == "-"),
            "{g}"
        );
    }

    let user = |sam: &str| {
        snap.users
            .iter()
            .find(|u| u.sam_account_name == sam)
            .unwrap()
    };
    let smith = user("p021");
    assert_eq!(smith.dn, "CN=Smith\\, John,OU=People,DC=example,DC=test");
    assert_eq!(smith.display_name.as_deref(), Some("Smith, John"));
    assert_eq!(
        (smith.given_name.as_deref(), smith.surname.as_deref()),
        (Some("John"), Some("Smith"))
    );
    assert_eq!(
        user("p022").display_name.as_deref(),
        Some("Bob \"The Builder\" Jones")
    );
    assert_eq!(user("p042").given_name.as_deref(), Some("太郎"));
    assert_eq!(user("p041").surname.as_deref(), Some("Müller"));
    assert_eq!(user("p004").display_name.as_deref(), Some("Zoë O'Brien"));
    for n in 23..=26 {
        assert_eq!(user(&format!("p0{n}")).mail, None);
    }
    for n in 27..=29 {
        assert_eq!(user(&format!("p0{n}")).given_name, None);
    }
    let p030 = user("p030");
    assert_eq!(
        (
            p030.user_principal_name.as_deref(),
            p030.display_name.as_deref()
        ),
        (None, None)
    );
    let p001 = user("p001");
    assert_eq!(
        p001.user_principal_name.as_deref(),
        Some("p001@example.test")
    );
    assert_eq!(p001.mail.as_deref(), Some("p001@example.test"));
    assert!(
        user("p010").enabled,
        "66048 (DONT_EXPIRE_PASSWORD) is enabled"
    );

    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    expected.insert("aws-sync-users".into(), p(1..=45));
    expected.insert("aws-sync-all".into(), p(1..=45));
    expected.insert("aws-admins".into(), p(1..=5));
    expected.insert("aws-developers".into(), p(10..=18));
    let mut staff = p((1..=5).chain(10..=18));
    staff.push("p020".into());
    expected.insert("aws-all-staff".into(), staff);
    expected.insert("aws-ops, \"night\" shift".into(), p([21, 22]));
    expected.insert("aws-empty".into(), vec![]);
    expected.insert("aws-big".into(), p([1, 2]));
    expected.insert("aws-mixed".into(), p([40]));
    expected.insert("AWS-Auditors".into(), p([30]));
    expected.insert("aws-sub-team".into(), p([31]));
    expected.insert("aws-legacy (old)".into(), p([32]));
    assert_eq!(memberships(&snap), expected);

    let ops = snap
        .groups
        .iter()
        .find(|g| g.name.starts_with("aws-ops"))
        .unwrap();
    assert_eq!(ops.description.as_deref(), Some("Ops, \"night\" shift"));
    assert!(ops.object_sid.as_deref().unwrap().starts_with("S-1-5-21-"));
    let guids: BTreeSet<&str> = snap.groups.iter().map(|g| g.object_guid.as_str()).collect();
    assert_eq!(guids.len(), 12);
}

#[tokio::test]
async fn large_scope_reads_the_3000_member_group_with_paging_and_explicit_ranges() {
    let dc = SambaDc::shared(ADDR);
    let mut s = settings(&dc);
    s.page_size = 250; // smaller than every result: 13 pages of users
    s.range_window = Some(1000); // aws-big's 3002 values take four ranged requests
    let ranged = read_ldap(&s, &scope(samba::SYNC_GROUP_ALL)).await.unwrap();

    assert_eq!(ranged.users.len(), 3045);
    assert_eq!(ranged.users.iter().filter(|u| !u.enabled).count(), 33);
    let big = ranged.groups.iter().find(|g| g.name == "aws-big").unwrap();
    assert_eq!(big.member_sids.len(), 3002);
    let all = ranged
        .groups
        .iter()
        .find(|g| g.name == "aws-sync-all")
        .unwrap();
    assert_eq!(all.member_sids.len(), 3045);
    assert!(ranged.skipped.is_empty());

    // Samba's uncapped behaviour (one page, all values at once) gives the same snapshot.
    let plain = read_ldap(&settings(&dc), &scope(samba::SYNC_GROUP_ALL))
        .await
        .unwrap();
    assert_eq!(plain, ranged);
    // Windows' cap as an explicit window: 1500, 1500, 2.
    s.range_window = Some(1500);
    s.page_size = 1000;
    assert_eq!(
        read_ldap(&s, &scope(samba::SYNC_GROUP_ALL)).await.unwrap(),
        ranged
    );
}

#[tokio::test]
async fn sync_group_by_dn_equals_by_name_and_starttls_equals_ldaps() {
    let dc = SambaDc::shared(ADDR);
    let by_name = read_ldap(&settings(&dc), &scope(samba::SYNC_GROUP))
        .await
        .unwrap();
    let by_dn = read_ldap(
        &settings(&dc),
        &scope("CN=aws-sync-users,OU=AWS,DC=example,DC=test"),
    )
    .await
    .unwrap();
    assert_eq!(by_name, by_dn);

    let mut tls = settings(&dc);
    tls.url = LdapUrl::parse(&dc.ldap_url(), true, false).unwrap();
    tls.start_tls = true;
    tls.bind_dn = samba::BIND_DN_FULL.into();
    tls.base_dn = Some(samba::BASE_DN.into());
    assert_eq!(
        read_ldap(&tls, &scope(samba::SYNC_GROUP)).await.unwrap(),
        by_name
    );
}

#[tokio::test]
async fn plain_ldap_only_with_explicit_opt_in() {
    let dc = SambaDc::shared(ADDR);
    // The refusal happens where the setting is read, before anything is dialled.
    let err = LdapUrl::parse(&dc.ldap_url(), false, false).unwrap_err();
    assert!(err.contains("unencrypted"), "{err}");
    let mut s = settings(&dc);
    s.url = LdapUrl::parse(&dc.ldap_url(), false, true).unwrap();
    s.allow_plain_ldap = true;
    assert_eq!(
        read_ldap(&s, &scope(samba::SYNC_GROUP))
            .await
            .unwrap()
            .users
            .len(),
        45
    );
}

#[tokio::test]
async fn untrusted_certificates_are_refused() {
    let dc = SambaDc::shared(ADDR);
    let mut s = settings(&dc);
    s.ca_bundle = Some(dc.other_ca_bundle());
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Certificate { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("not trusted") && msg.contains("UnknownIssuer"),
        "{msg}"
    );

    s.ca_bundle = None; // the system roots do not know the fixture CA either
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Certificate { .. }), "{err}");
}

#[tokio::test]
async fn bind_failures_are_clear_errors() {
    let dc = SambaDc::shared(ADDR);
    let mut s = settings(&dc);
    s.bind_password = Secret::new("wrong-password");
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    match &err {
        DirectoryError::Bind { code, data, .. } => {
            assert_eq!((*code, data.as_deref()), (49, Some("52e")))
        }
        other => panic!("expected a bind error, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "LDAP bind as svc-scim-ro@example.test failed (49, data 52e): wrong password"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("IAM-IDC/AD-RO-UserCreds") && !msg.contains("wrong-password"),
        "{msg}"
    );

    s.bind_dn = samba::DISABLED_BIND_DN.into();
    s.bind_password = Secret::new(samba::DISABLED_BIND_PASSWORD);
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    assert!(
        err.to_string().contains("data 533") && err.to_string().contains("disabled"),
        "{err}"
    );

    s.bind_password = Secret::new("");
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::EmptyPassword { .. }), "{err}");
}

#[tokio::test]
async fn unreachable_server_and_missing_base_fail_the_whole_read() {
    let dc = SambaDc::shared(ADDR);
    let mut s = settings(&dc);
    s.url = LdapUrl::parse(&format!("ldaps://{ADDR}:1"), false, false).unwrap(); // nothing listens there
    let err = read_ldap(&s, &scope(samba::SYNC_GROUP)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Connect { .. }), "{err}");

    let mut sc = scope(samba::SYNC_GROUP);
    sc.group_search_base = "OU=Missing,DC=example,DC=test".into();
    let err = read_ldap(&settings(&dc), &sc).await.unwrap_err();
    match err {
        DirectoryError::Search {
            code, ref message, ..
        } => {
            assert_eq!(code, 32);
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("expected a search error, got {other}"),
    }
}

#[tokio::test]
async fn filter_injection_in_names_matches_nothing_unintended() {
    let dc = SambaDc::shared(ADDR);
    let s = settings(&dc);
    for evil in [
        "*",
        "aws-sync-*",
        "aws-sync-users)(cn=*",
        "*)(objectClass=*",
        "aws-sync-users\\",
    ] {
        let err = read_ldap(&s, &scope(evil)).await.unwrap_err();
        assert!(
            matches!(err, DirectoryError::SyncGroupNotFound { .. }),
            "{evil}: {err}"
        );
    }
    let with_prefix = |prefix: &str| {
        let mut sc = scope(samba::SYNC_GROUP);
        sc.group_prefix = prefix.into();
        sc
    };
    let names = |snap: DirectorySnapshot| -> Vec<String> {
        snap.groups.into_iter().map(|g| g.name).collect()
    };
    assert!(names(read_ldap(&s, &with_prefix("aws-*")).await.unwrap()).is_empty());
    assert!(names(read_ldap(&s, &with_prefix("*")).await.unwrap()).is_empty());
    assert!(names(read_ldap(&s, &with_prefix("aws-)(cn=*")).await.unwrap()).is_empty());
    assert_eq!(
        names(read_ldap(&s, &with_prefix("aws-legacy (")).await.unwrap()),
        ["aws-legacy (old)"]
    );
    assert_eq!(
        names(
            read_ldap(&s, &with_prefix("aws-ops, \"night\""))
                .await
                .unwrap()
        ),
        ["aws-ops, \"night\" shift"]
    );
    // An empty prefix means every group under the search base, including `finance`.
    assert_eq!(
        read_ldap(&s, &with_prefix("")).await.unwrap().groups.len(),
        13
    );
}
