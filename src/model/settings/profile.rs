//! Which kind of directory is read (the `directory.profile` setting): the attribute profile
//! decides what anchors a user or group, what names it, what disables it and how nesting is
//! found.

use serde::{Deserialize, Serialize};

/// The directory's kind. Active Directory is the default and the PowerShell original's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DirectoryProfile {
    /// Active Directory (and Samba AD): objectSid/objectGUID anchors, userAccountControl,
    /// the in-chain matching rule.
    #[default]
    ActiveDirectory,
    /// An RFC 4519 directory (OpenLDAP, 389-DS, FreeIPA): inetOrgPerson users,
    /// groupOfNames/groupOfUniqueNames groups, nesting expanded by the reader.
    OpenLdap(OpenLdapProfile),
}

/// The settings of the `openldap` profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLdapProfile {
    /// The attribute that anchors users and groups (and names the directory itself, read
    /// from its naming context entry).
    pub anchor: AnchorAttribute,
    /// The directory's identity as written into every externalId (`ldap:<id>:<anchor>`),
    /// when it is not to be read from the naming context entry: an export without that
    /// entry, or a directory rebuilt with a new one whose objects are still the same.
    pub directory_id: Option<String>,
    /// How many levels of nested groups below a synced group (or the sync group) are
    /// followed; a chain deeper than this makes that group a partial read.
    pub max_nesting_depth: u32,
}

impl Default for OpenLdapProfile {
    fn default() -> Self {
        Self {
            anchor: AnchorAttribute::EntryUuid,
            directory_id: None,
            max_nesting_depth: super::defaults::OPENLDAP_MAX_NESTING_DEPTH,
        }
    }
}

/// The attribute that identifies an entry for life (it survives renames and moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AnchorAttribute {
    /// RFC 4530's `entryUUID` (OpenLDAP, and 389-DS with its entryUUID plug-in).
    #[default]
    #[serde(rename = "entryUUID")]
    EntryUuid,
    /// 389-DS's and FreeIPA's `nsUniqueId`.
    #[serde(rename = "nsUniqueId")]
    NsUniqueId,
}

impl AnchorAttribute {
    /// The LDAP attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            AnchorAttribute::EntryUuid => "entryUUID",
            AnchorAttribute::NsUniqueId => "nsUniqueId",
        }
    }
}
