//! The `openldap` profile's attribute names and the form of its anchors.

use crate::model::anchor::LDAP_ANCHOR_PREFIX;
use crate::model::settings::OpenLdapProfile;

/// Filter and object classes of user entries.
pub(crate) const USER_FILTER: &str = "(objectClass=inetOrgPerson)";
pub(crate) const USER_CLASSES: &[&str] = &["inetorgperson"];
/// Filter and object classes of groups (static groups: RFC 4519's two kinds).
pub(crate) const GROUP_FILTER: &str =
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";
pub(crate) const GROUP_CLASSES: &[&str] = &["groupofnames", "groupofuniquenames"];
pub(crate) const OBJECT_CLASS: &str = "objectClass";
/// `groupOfNames` members (DNs).
pub(crate) const MEMBER: &str = "member";
/// `groupOfUniqueNames` members (DNs, optionally followed by `#'…'B`, RFC 4517's
/// NameAndOptionalUID).
pub(crate) const UNIQUE_MEMBER: &str = "uniqueMember";
pub(crate) const UID: &str = "uid";
pub(crate) const CN: &str = "cn";
pub(crate) const GIVEN_NAME: &str = "givenName";
pub(crate) const SURNAME: &str = "sn";
pub(crate) const DISPLAY_NAME: &str = "displayName";
pub(crate) const MAIL: &str = "mail";
pub(crate) const DESCRIPTION: &str = "description";
/// ppolicy: present when the account is locked (`000001010000Z`: for good, until an
/// administrator unlocks it).
pub(crate) const PWD_ACCOUNT_LOCKED_TIME: &str = "pwdAccountLockedTime";
/// 389-DS / FreeIPA: `true` when the account is inactivated.
pub(crate) const NS_ACCOUNT_LOCK: &str = "nsAccountLock";
/// RFC 2307 shadowAccount: the day (since 1970-01-01) the account expires; -1 never.
pub(crate) const SHADOW_EXPIRE: &str = "shadowExpire";
/// rootDSE: the naming contexts the server holds.
pub(crate) const NAMING_CONTEXTS: &str = "namingContexts";

/// What one read with the profile needs: its settings and the mapped optional attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLdapReading {
    pub profile: OpenLdapProfile,
    /// The directory attributes the `attributes` setting maps, read for every user.
    pub extra_user_attributes: Vec<String>,
}

impl OpenLdapReading {
    pub fn new(profile: OpenLdapProfile, extra_user_attributes: Vec<String>) -> Self {
        Self {
            profile,
            extra_user_attributes,
        }
    }

    /// The anchor attribute's name.
    pub(crate) fn anchor(&self) -> &'static str {
        self.profile.anchor.attribute()
    }

    /// Attributes requested for a user entry (the operational ones by name: `*` would not
    /// return them).
    pub(crate) fn user_attributes(&self) -> Vec<&str> {
        let mut names = vec![
            OBJECT_CLASS,
            self.anchor(),
            UID,
            CN,
            GIVEN_NAME,
            SURNAME,
            DISPLAY_NAME,
            MAIL,
            PWD_ACCOUNT_LOCKED_TIME,
            NS_ACCOUNT_LOCK,
            SHADOW_EXPIRE,
        ];
        for extra in &self.extra_user_attributes {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra);
            }
        }
        names
    }

    /// Attributes requested for a group entry.
    pub(crate) fn group_attributes(&self) -> Vec<&str> {
        vec![
            OBJECT_CLASS,
            self.anchor(),
            CN,
            DESCRIPTION,
            MEMBER,
            UNIQUE_MEMBER,
        ]
    }
}

/// The directory's identity as `DirectorySnapshot::domain_sids` holds it: `ldap:<id>`, the
/// id lowercased (entryUUIDs and nsUniqueIds are hexadecimal, compared without case).
pub(crate) fn identity(id: &str) -> String {
    format!("{LDAP_ANCHOR_PREFIX}{}", id.trim().to_ascii_lowercase())
}

/// An entry's anchor: `ldap:<directory id>:<its entryUUID or nsUniqueId>`, lowercased.
pub(crate) fn anchor(identity: &str, value: &str) -> String {
    format!("{identity}:{}", value.trim().to_ascii_lowercase())
}

/// True when `value` can be part of an anchor: hexadecimal digits and dashes, as both
/// entryUUID and nsUniqueId are (so no colon or space can make two anchors ambiguous).
pub(crate) fn is_anchor_value(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_carry_the_directory_and_are_canonical() {
        let id = identity("5D2AA662-835A-1041-96E3-BDE2299F603C");
        assert_eq!(id, "ldap:5d2aa662-835a-1041-96e3-bde2299f603c");
        let a = anchor(&id, "5d2abaee-835a-1041-96fd-bde2299f603c");
        assert_eq!(
            crate::model::anchor::directory_of_ldap_anchor(&a),
            Some(id.as_str())
        );
        assert!(is_anchor_value("5e1a0000-00000000-00000000-00000101"));
        assert!(!is_anchor_value("a:b"));
        assert!(!is_anchor_value(""));
        assert!(!is_anchor_value("not hex"));
    }
}
