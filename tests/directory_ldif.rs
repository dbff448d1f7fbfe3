//! The LDIF source: an `ldapsearch -LLL` export of the Samba AD fixture (127.0.0.12) must
//! give exactly the snapshot the LDAP source reads from the live DC, folded or not; and the
//! bundled demo directory (examples/sample-directory.ldif) reads as documented.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/samba.rs"]
mod samba;

use std::path::Path;

use samba::SambaDc;
use scim_sync::directory::{read_ldap, read_ldif, read_ldif_file, LdapSettings, Scope};
use scim_sync::secret::Secret;

const ADDR: &str = "127.0.0.12";

const EXPORT_ATTRS: &[&str] = &[
    "objectClass",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "userPrincipalName",
    "sAMAccountName",
    "userAccountControl",
    "objectSid",
    "objectGUID",
    "description",
    "member",
    "memberOf",
];

fn scope(sync_group: &str) -> Scope {
    Scope {
        sync_group: sync_group.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

#[tokio::test]
async fn ldapsearch_export_reads_like_the_live_directory() {
    let dc = SambaDc::shared(ADDR);
    let mut settings = LdapSettings::new(
        dc.ldaps_setting(),
        dc.bind_dn(),
        Secret::new(dc.bind_password()),
    );
    settings.ca_bundle = Some(dc.ca_bundle());

    // The domain entry too: its objectSid is the domain the users must belong to.
    let filter = "(|(objectClass=user)(objectClass=group)(objectClass=domain))";
    let folded = dc.ldapsearch_as_admin(samba::BASE_DN, filter, EXPORT_ATTRS, &[]);
    let unfolded = dc.ldapsearch_as_admin(
        samba::BASE_DN,
        filter,
        EXPORT_ATTRS,
        &["-o", "ldif-wrap=no"],
    );
    assert!(
        folded.contains("\n "),
        "the default export folds long lines"
    );
    assert!(folded.contains("objectSid:: "), "binary values are base64");

    for group in [samba::SYNC_GROUP, samba::SYNC_GROUP_ALL] {
        let live = read_ldap(&settings, &scope(group)).await.unwrap();
        assert!(!live.users.is_empty() && !live.groups.is_empty());
        assert_eq!(read_ldif(&folded, &scope(group)).unwrap(), live, "{group}");
        assert_eq!(
            read_ldif(&unfolded, &scope(group)).unwrap(),
            live,
            "{group}"
        );
    }
}

#[tokio::test]
async fn export_with_member_of_only_still_resolves_nesting() {
    // Users and groups exported without `member`: nesting comes from memberOf alone.
    let dc = SambaDc::shared(ADDR);
    let mut settings = LdapSettings::new(
        dc.ldaps_setting(),
        dc.bind_dn(),
        Secret::new(dc.bind_password()),
    );
    settings.ca_bundle = Some(dc.ca_bundle());
    let attrs: Vec<&str> = EXPORT_ATTRS
        .iter()
        .copied()
        .filter(|a| *a != "member")
        .collect();
    let export = dc.ldapsearch_as_admin(
        samba::BASE_DN,
        "(|(objectClass=user)(objectClass=group)(objectClass=domain))",
        &attrs,
        &[],
    );
    assert!(!export.contains("\nmember:"));
    let live = read_ldap(&settings, &scope(samba::SYNC_GROUP))
        .await
        .unwrap();
    assert_eq!(read_ldif(&export, &scope(samba::SYNC_GROUP)).unwrap(), live);
}

#[test]
fn bundled_sample_directory_reads_as_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let scope = Scope {
        sync_group: "aws-sync-users".into(),
        group_prefix: "aws-".into(),
        group_search_base: "OU=AWS,DC=example,DC=test".into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let snap = read_ldif_file(&path, &scope).unwrap();
    assert_eq!(snap.users.len(), 14);
    assert!(snap
        .users
        .iter()
        .all(|u| u.sam_account_name != "trent.harris"));
    let disabled: Vec<&str> = snap
        .users
        .iter()
        .filter(|u| !u.enabled)
        .map(|u| u.sam_account_name.as_str())
        .collect();
    assert_eq!(disabled, ["carol.white"]);
    let groups: Vec<(&str, usize)> = snap
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.member_sids.len()))
        .collect();
    assert_eq!(
        groups,
        [
            ("aws-admins", 2),
            ("aws-dev-leads", 1),
            ("aws-developers", 4),
            ("aws-readonly", 3),
            ("aws-sync-users", 14),
        ]
    );
    assert!(snap.skipped.is_empty());
    let alice = &snap.users[0];
    assert_eq!(alice.sam_account_name, "alice.jones");
    assert!(alice
        .object_sid
        .starts_with("S-1-5-21-3623811015-3361044348-30300820-"));
    assert_eq!(alice.object_guid.len(), 36);
}
