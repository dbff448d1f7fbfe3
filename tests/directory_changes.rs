//! Directory changes made as an administrator show up in the next read, anchors stay put
//! (own DC on 127.0.0.13, since this binary modifies it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/samba.rs"]
mod samba;

use samba::SambaDc;
use scim_sync::directory::{read_ldap, DirectoryError, LdapSettings, Scope};
use scim_sync::model::DirectorySnapshot;
use scim_sync::secret::Secret;

const ADDR: &str = "127.0.0.13";

fn scope() -> Scope {
    Scope {
        sync_group: samba::SYNC_GROUP.into(),
        group_prefix: samba::GROUP_PREFIX.into(),
        group_search_base: samba::GROUP_BASE.into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn group<'a>(snap: &'a DirectorySnapshot, name: &str) -> &'a scim_sync::model::DirectoryGroup {
    snap.groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

fn sid_of(snap: &DirectorySnapshot, sam: &str) -> String {
    snap.users
        .iter()
        .find(|u| u.sam_account_name == sam)
        .unwrap()
        .object_sid
        .to_string()
}

#[tokio::test]
async fn disable_rename_and_membership_changes_are_read() {
    let dc = SambaDc::start(ADDR);
    let mut settings = LdapSettings::new(
        dc.ldaps_setting(),
        dc.bind_dn(),
        Secret::new(dc.bind_password()),
    );
    settings.ca_bundle = Some(dc.ca_bundle());
    let before = read_ldap(&settings, &scope()).await.unwrap();
    let admins = group(&before, "aws-admins").clone();
    let p002 = sid_of(&before, "p002");
    assert!(admins.member_sids.iter().any(|s| **s == *p002));
    assert!(
        before
            .users
            .iter()
            .find(|u| u.sam_account_name == "p001")
            .unwrap()
            .enabled
    );

    dc.ldapmodify_as_admin(
        "dn: CN=p001,OU=People,DC=example,DC=test\nchangetype: modify\n\
         replace: userAccountControl\nuserAccountControl: 546\n-\n\n\
         dn: CN=aws-admins,OU=AWS,DC=example,DC=test\nchangetype: modify\n\
         delete: member\nmember: CN=p002,OU=People,DC=example,DC=test\n-\n\n\
         dn: CN=aws-admins,OU=AWS,DC=example,DC=test\nchangetype: modrdn\n\
         newrdn: CN=aws-administrators\ndeleteoldrdn: 1\n\n\
         dn: CN=sync-nested-3,OU=Teams,DC=example,DC=test\nchangetype: modify\n\
         delete: member\nmember: CN=p045,OU=People,DC=example,DC=test\n-\n",
    );
    let after = read_ldap(&settings, &scope()).await.unwrap();

    let p001 = after
        .users
        .iter()
        .find(|u| u.sam_account_name == "p001")
        .unwrap();
    assert!(
        !p001.enabled,
        "disabled users stay in scope, marked disabled"
    );
    assert!(
        after.users.iter().all(|u| u.sam_account_name != "p045"),
        "left the nested group"
    );
    assert_eq!(after.users.len(), 44);

    let renamed = group(&after, "aws-administrators");
    assert_eq!(
        renamed.object_guid, admins.object_guid,
        "the anchor survives the rename"
    );
    assert_eq!(
        renamed.dn,
        "CN=aws-administrators,OU=AWS,DC=example,DC=test"
    );
    assert_eq!(renamed.member_sids.len(), 4);
    assert!(!renamed.member_sids.iter().any(|s| **s == *p002));
    assert!(after.groups.iter().all(|g| g.name != "aws-admins"));
    assert_eq!(group(&after, "aws-sync-users").member_sids.len(), 44);

    // A second group called aws-sync-users (same cn elsewhere) makes the name ambiguous.
    dc.ldapmodify_as_admin(
        "dn: CN=aws-sync-users,OU=Teams,DC=example,DC=test\nchangetype: add\n\
         objectClass: group\nsAMAccountName: aws-sync-users-copy\n",
    );
    let err = read_ldap(&settings, &scope()).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::SyncGroupAmbiguous { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("set the sync group to the DN"),
        "{err}"
    );
    let mut by_dn = scope();
    by_dn.sync_group = "CN=aws-sync-users,OU=AWS,DC=example,DC=test".into();
    assert_eq!(read_ldap(&settings, &by_dn).await.unwrap().users.len(), 44);
}
