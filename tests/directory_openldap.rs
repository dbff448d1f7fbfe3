//! The `openldap` profile's reader against a real OpenLDAP slapd (127.0.0.70, see
//! tests/support/slapd.rs): anchors, nesting and its cycle, the disabled rules, a group whose
//! members the bind account may not read, paging past the size limit, verified TLS, and LDIF
//! exports (ldapsearch and slapcat) that read like the live directory. Expected values come
//! from tests/fixtures/openldap/fixture.ldif (README.md beside it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/slapd.rs"]
mod slapd;

use std::collections::BTreeMap;
use std::time::Duration;

use scim_sync::directory::{
    read_openldap, read_openldap_ancestry, read_openldap_ldif, DirectoryError, LdapSettings,
    OpenLdapReading, Scope,
};
use scim_sync::model::settings::{AnchorAttribute, CaBundle, LdapUrl, OpenLdapProfile};
use scim_sync::model::{DirectorySnapshot, EntryKind, ReasonCode};
use scim_sync::secret::Secret;
use slapd::Slapd;

const ADDR: &str = "127.0.0.70";

fn settings(s: &Slapd) -> LdapSettings {
    let url = LdapUrl::parse(&s.ldaps_url(), false, false).unwrap();
    let mut l = LdapSettings::new(url, slapd::BIND_DN, Secret::new(slapd::BIND_PASSWORD));
    l.ca_bundle = Some(s.ca_bundle());
    l.connect_timeout = Duration::from_secs(5);
    l.operation_timeout = Duration::from_secs(20);
    // Below the server's size limit (10), so reading 16 users needs paging.
    l.page_size = 4;
    l
}

fn scope() -> Scope {
    Scope {
        sync_group: slapd::SYNC_GROUP.into(),
        group_prefix: slapd::GROUP_PREFIX.into(),
        group_search_base: slapd::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn reading(profile: OpenLdapProfile) -> OpenLdapReading {
    OpenLdapReading::new(
        profile,
        vec!["title".into(), "departmentNumber".into(), "manager".into()],
    )
}

/// Group name → sorted uids of its effective members.
fn memberships(snap: &DirectorySnapshot) -> BTreeMap<String, Vec<String>> {
    let uid: BTreeMap<&str, &str> = snap
        .users
        .iter()
        .map(|u| (u.object_sid.as_ref(), u.sam_account_name.as_str()))
        .collect();
    snap.groups
        .iter()
        .map(|g| {
            let mut m: Vec<String> = g
                .member_sids
                .iter()
                .map(|s| uid.get(&**s).copied().unwrap_or("?").to_string())
                .collect();
            m.sort();
            (g.name.clone(), m)
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const IN_SCOPE: [&str; 13] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "nogiven", "peggy",
    "taro", "zoe",
];

#[tokio::test]
async fn a_live_read_anchors_flattens_and_disables_as_the_fixture_says() {
    let s = Slapd::shared(ADDR);
    let snap = read_openldap(
        &settings(&s),
        &scope(),
        &reading(OpenLdapProfile::default()),
    )
    .await
    .unwrap();

    let suffix_uuid = s.read_attr(slapd::SUFFIX, "entryUUID").unwrap();
    assert_eq!(snap.domain_sids, [format!("ldap:{suffix_uuid}")]);
    let alice = snap
        .users
        .iter()
        .find(|u| u.sam_account_name == "alice")
        .unwrap();
    let alice_uuid = s
        .read_attr("uid=alice,ou=People,dc=example,dc=test", "entryUUID")
        .unwrap();
    assert_eq!(
        *alice.object_sid,
        format!("ldap:{suffix_uuid}:{alice_uuid}")
    );
    assert_eq!(alice.display_name.as_deref(), Some("Alice Archer"));
    assert_eq!(
        alice.attributes.get("departmentnumber"),
        Some(&Some("4711".into()))
    );

    let mut uids: Vec<&str> = snap.users.iter().map(|u| &*u.sam_account_name).collect();
    uids.sort();
    assert_eq!(uids, IN_SCOPE, "oscar (only in staff) is out of scope");
    let user = |uid: &str| {
        snap.users
            .iter()
            .find(|u| u.sam_account_name == uid)
            .unwrap()
    };
    for locked in ["erin", "frank", "grace"] {
        assert!(!user(locked).enabled, "{locked} is locked or inactivated");
    }
    for open in ["alice", "heidi", "ivan", "zoe"] {
        assert!(user(open).enabled, "{open}");
    }
    assert_eq!(user("heidi").account_expires, Some(19_000 * 86_400));
    assert_eq!(user("ivan").account_expires, Some(99_999 * 86_400));
    assert_eq!(user("zoe").display_name.as_deref(), Some("Zoë Ångström 😀"));
    assert_eq!(user("taro").surname.as_deref(), Some("山田"));
    assert_eq!(
        user("taro").display_name.as_deref(),
        Some("山田 太郎"),
        "cn stands in"
    );
    assert_eq!(user("nogiven").given_name, None);

    let m = memberships(&snap);
    assert_eq!(m["aws-sync-users"], strs(&IN_SCOPE));
    assert_eq!(m["aws-admins"], strs(&["alice", "bob"]));
    // aws-engineering (groupOfUniqueNames) and aws-platform nest each other: a cycle.
    assert_eq!(m["aws-engineering"], strs(&["carol", "dave"]));
    assert_eq!(m["aws-platform"], strs(&["carol", "dave"]));
    assert_eq!(m["aws-audit"], strs(&["zoe"]));
    assert!(!m.contains_key("staff"), "no prefix");
    assert!(!m.contains_key("hidden-auditors"), "no prefix");

    let audit = snap.groups.iter().find(|g| g.name == "aws-audit").unwrap();
    let why = audit.members_partial.as_deref().unwrap();
    assert!(why.contains(slapd::HIDDEN_GROUP), "{why}");
    for g in snap.groups.iter().filter(|g| g.name != "aws-audit") {
        assert_eq!(g.members_partial, None, "{}", g.name);
        assert!(g.object_guid.starts_with(&format!("ldap:{suffix_uuid}:")));
    }
    // The hidden group is not in the sync group's reach, so the scope is complete.
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
}

#[tokio::test]
async fn paged_reads_get_past_the_size_limit_that_stops_an_unpaged_search() {
    let s = Slapd::shared(ADDR);
    // The bind account's unpaged search stops at the server's limit (10 of 28 entries).
    let unpaged = std::process::Command::new("ldapsearch")
        .args(["-x", "-LLL", "-H", &s.ldap_url(), "-D", slapd::BIND_DN])
        .args([
            "-w",
            slapd::BIND_PASSWORD,
            "-b",
            slapd::SUFFIX,
            "(objectClass=*)",
            "1.1",
        ])
        .output()
        .unwrap();
    assert_eq!(unpaged.status.code(), Some(4), "sizeLimitExceeded");
    for page_size in [4, 9, 1000] {
        let mut l = settings(&s);
        l.page_size = page_size;
        let snap = read_openldap(&l, &scope(), &reading(OpenLdapProfile::default()))
            .await
            .unwrap();
        assert_eq!(snap.users.len(), IN_SCOPE.len(), "page size {page_size}");
    }
}

#[tokio::test]
async fn start_tls_is_verified_and_an_unknown_ca_is_refused() {
    let s = Slapd::shared(ADDR);
    let mut l = settings(&s);
    l.url = LdapUrl::parse(&s.ldap_url(), true, false).unwrap();
    l.start_tls = true;
    let snap = read_openldap(&l, &scope(), &reading(OpenLdapProfile::default()))
        .await
        .unwrap();
    assert_eq!(snap.users.len(), IN_SCOPE.len());

    for (url, start_tls) in [(s.ldaps_url(), false), (s.ldap_url(), true)] {
        let mut l = settings(&s);
        l.url = LdapUrl::parse(&url, start_tls, false).unwrap();
        l.start_tls = start_tls;
        l.ca_bundle = Some(CaBundle::from_pem(&s.other_ca_pem()).unwrap());
        let err = read_openldap(&l, &scope(), &reading(OpenLdapProfile::default()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DirectoryError::Certificate { .. }),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn ldapsearch_and_slapcat_exports_read_like_the_live_directory() {
    let s = Slapd::shared(ADDR);
    let r = reading(OpenLdapProfile::default());
    let live = read_openldap(&settings(&s), &scope(), &r).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The root DN's export shows the hidden group's members; the live read (as the bind
    // account) does not: that one group differs, as it should.
    let hidden_member = "member: uid=taro,ou=People,dc=example,dc=test";
    for (name, text) in [
        ("ldapsearch.ldif", s.ldapsearch_export()),
        ("slapcat.ldif", s.slapcat_export()),
    ] {
        assert!(text.contains(hidden_member), "{name}");
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let mut export = read_openldap_ldif(&path, &scope(), &r).unwrap();
        let audit = export
            .groups
            .iter_mut()
            .find(|g| g.name == "aws-audit")
            .unwrap();
        assert_eq!(audit.member_sids.len(), 2, "{name}: zoe and taro");
        assert_eq!(audit.members_partial, None);

        // Without the hidden group's members the export is the live read, exactly.
        let records: Vec<String> = text
            .split("\n\n")
            .map(|r| {
                let hidden = r
                    .lines()
                    .next()
                    .is_some_and(|dn| dn.contains("hidden-auditors"));
                r.lines()
                    .filter(|l| !(hidden && *l == hidden_member))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        std::fs::write(&path, records.join("\n\n")).unwrap();
        let export = read_openldap_ldif(&path, &scope(), &r).unwrap();
        let mut live_cmp = live.clone();
        let mut export_cmp = export.clone();
        for snap in [&mut live_cmp, &mut export_cmp] {
            for g in &mut snap.groups {
                g.members_partial = None;
            }
        }
        assert_eq!(export_cmp, live_cmp, "{name}");
        assert!(
            export
                .groups
                .iter()
                .find(|g| g.name == "aws-audit")
                .unwrap()
                .members_partial
                .is_some(),
            "{name}: a group showing no member is unknown in an export too"
        );
    }

    // An export without the operational attributes (no entryUUID) names what is missing.
    let path = dir.path().join("plain.ldif");
    let plain: String = s
        .ldapsearch_export()
        .lines()
        .filter(|l| !l.starts_with("entryUUID:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, plain).unwrap();
    let err = read_openldap_ldif(&path, &scope(), &r).unwrap_err();
    assert!(err.to_string().contains("directory.directoryId"), "{err}");
}

#[tokio::test]
async fn ns_unique_id_anchors_by_setting_and_a_fixed_directory_id_is_used() {
    let s = Slapd::shared(ADDR);
    let profile = OpenLdapProfile {
        anchor: AnchorAttribute::NsUniqueId,
        ..OpenLdapProfile::default()
    };
    let snap = read_openldap(&settings(&s), &scope(), &reading(profile.clone()))
        .await
        .unwrap();
    let dir = "ldap:5e1a0000-00000000-00000000-00000001";
    assert_eq!(snap.domain_sids, [dir]);
    let alice = snap
        .users
        .iter()
        .find(|u| u.sam_account_name == "alice")
        .unwrap();
    assert_eq!(
        *alice.object_sid,
        format!("{dir}:5e1a0000-00000000-00000000-00000101")
    );
    let fixed = OpenLdapProfile {
        directory_id: Some("0123abcd".into()),
        ..profile
    };
    let snap = read_openldap(&settings(&s), &scope(), &reading(fixed))
        .await
        .unwrap();
    assert_eq!(snap.domain_sids, ["ldap:0123abcd"]);
    assert!(snap
        .users
        .iter()
        .all(|u| u.object_sid.starts_with("ldap:0123abcd:")));
}

#[tokio::test]
async fn nesting_deeper_than_the_limit_is_a_partial_read_not_an_empty_one() {
    let s = Slapd::shared(ADDR);
    let profile = OpenLdapProfile {
        max_nesting_depth: 1,
        ..OpenLdapProfile::default()
    };
    let snap = read_openldap(&settings(&s), &scope(), &reading(profile))
        .await
        .unwrap();
    // aws-platform sits two levels below the sync group: dave is not reached, and the
    // scope says it is incomplete (the planner then disables nobody).
    assert!(!snap.users.iter().any(|u| u.sam_account_name == "dave"));
    let scope_gap: Vec<_> = snap
        .skipped
        .iter()
        .filter(|e| e.kind == EntryKind::User && e.anchor.is_none())
        .collect();
    assert_eq!(scope_gap.len(), 1, "{:?}", snap.skipped);
    assert_eq!(scope_gap[0].code, ReasonCode::UnreadableMembers);
    assert!(
        scope_gap[0].dn.starts_with("cn=aws-platform"),
        "{scope_gap:?}"
    );
    let sync = snap
        .groups
        .iter()
        .find(|g| g.name == "aws-sync-users")
        .unwrap();
    assert!(sync.members_partial.is_some());
}

#[tokio::test]
async fn explain_walks_up_through_group_of_unique_names() {
    let s = Slapd::shared(ADDR);
    let a = read_openldap_ancestry(
        &settings(&s),
        &scope(),
        &reading(OpenLdapProfile::default()),
        "uid=carol,ou=People,dc=example,dc=test",
    )
    .await
    .unwrap();
    let path = a.path_from(&a.sync_group_dn).unwrap();
    assert_eq!(
        scim_sync::directory::chain_text(&path),
        "aws-sync-users → aws-engineering → carol"
    );
}

#[tokio::test]
async fn a_wrong_password_and_a_missing_sync_group_fail_the_read() {
    let s = Slapd::shared(ADDR);
    let mut l = settings(&s);
    l.bind_password = Secret::new("wrong");
    let err = read_openldap(&l, &scope(), &reading(OpenLdapProfile::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::Bind { code: 49, .. }),
        "{err}"
    );
    let mut sc = scope();
    sc.sync_group = "no-such-group".into();
    let err = read_openldap(&settings(&s), &sc, &reading(OpenLdapProfile::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::SyncGroupNotFound { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn the_scope_rules_apply_to_the_profile_live_and_in_an_export() {
    use scim_sync::model::settings::LdapFilter;
    let s = Slapd::shared(ADDR);
    let mut sc = scope();
    sc.rules.more_sync_groups = vec!["aws-audit".into(), "aws-nonexistent".into()];
    sc.rules.exclude_groups = vec!["aws-admins".into()];
    sc.rules.user_filter = Some(LdapFilter::parse("(!(uid=zoe))").unwrap());
    let r = reading(OpenLdapProfile::default());
    let live = read_openldap(&settings(&s), &sc, &r).await.unwrap();
    let mut uids: Vec<&str> = live.users.iter().map(|u| &*u.sam_account_name).collect();
    uids.sort();
    let expected: Vec<&str> = IN_SCOPE
        .into_iter()
        .filter(|u| !["alice", "bob", "zoe"].contains(u))
        .collect();
    assert_eq!(uids, expected);
    // The missing sync group makes the scope unknown, and aws-audit's hidden part too.
    let unknown: Vec<&str> = live
        .skipped
        .iter()
        .filter(|e| e.kind == EntryKind::User && e.anchor.is_none())
        .map(|e| e.dn.as_str())
        .collect();
    assert_eq!(
        unknown,
        ["aws-nonexistent", slapd::HIDDEN_GROUP],
        "{:?}",
        live.skipped
    );
    // Who the rules left out is named with the rule that decided.
    let left_out: Vec<(&str, ReasonCode)> = live
        .excluded
        .iter()
        .map(|x| (x.sam_account_name.as_str(), x.code))
        .collect();
    assert_eq!(
        left_out,
        [
            ("alice", ReasonCode::InExclusionGroup),
            ("bob", ReasonCode::InExclusionGroup),
            ("zoe", ReasonCode::FailsUserFilter)
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slapcat.ldif");
    std::fs::write(&path, s.slapcat_export()).unwrap();
    let export = read_openldap_ldif(&path, &sc, &r).unwrap();
    assert_eq!(
        export
            .users
            .iter()
            .map(|u| &u.object_sid)
            .collect::<Vec<_>>(),
        live.users.iter().map(|u| &u.object_sid).collect::<Vec<_>>()
    );
    assert_eq!(export.excluded, live.excluded);

    sc.rules.exclude_groups = vec!["no-such-group".into()];
    let err = read_openldap(&settings(&s), &sc, &r).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::ExcludeGroupNotFound { .. }),
        "{err}"
    );
}
