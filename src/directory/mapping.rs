//! The directory's attribute names, kept in one table so another directory flavour (an
//! OpenLDAP profile with entryUUID, groupOfNames, pwdAccountLockedTime) can be added as data
//! instead of as a second copy of the reading code.

/// Names of the attributes and object classes a read uses, and the rules that depend on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    /// Filter selecting user accounts (excludes computers and contacts on AD).
    pub user_filter: &'static str,
    /// Filter selecting groups.
    pub group_filter: &'static str,
    /// Object class values (lowercase) that mark a user in an LDIF export.
    pub user_classes: &'static [&'static str],
    /// Object class values (lowercase) that exclude an entry from being a user (AD computers
    /// are `user` objects too).
    pub non_user_classes: &'static [&'static str],
    /// Object class values (lowercase) that mark a group in an LDIF export.
    pub group_classes: &'static [&'static str],
    pub object_class: &'static str,
    /// Binary SID: the user anchor (Identity Center `externalId`).
    pub object_sid: &'static str,
    /// Binary GUID: the group anchor, and kept for users.
    pub object_guid: &'static str,
    pub account_name: &'static str,
    pub user_principal_name: &'static str,
    pub given_name: &'static str,
    pub surname: &'static str,
    pub display_name: &'static str,
    pub mail: &'static str,
    /// Integer bit field whose [`AttributeMap::disabled_mask`] bit marks a disabled account.
    pub account_control: &'static str,
    pub disabled_mask: u32,
    /// When the account expires (Windows FILETIME; 0 and 0x7FFFFFFFFFFFFFFF mean never).
    pub account_expires: &'static str,
    /// RID of the user's primary group, which AD does not list in that group's `member`.
    pub primary_group_id: &'static str,
    /// The group's display name (and the attribute the prefix is matched against).
    pub group_name: &'static str,
    pub description: &'static str,
    /// Present only on groups: classifies entries of an export that lacks `objectClass`.
    pub group_type: &'static str,
    /// Forward link from a group to its members (ranged on AD for big groups).
    pub member: &'static str,
    /// Back link from an object to the groups it belongs to (used by the LDIF source).
    pub member_of: &'static str,
    /// Matching rule OID that makes a `memberOf` filter transitive (AD's LDAP_MATCHING_RULE_IN_CHAIN).
    pub in_chain_rule: &'static str,
    /// rootDSE attribute naming the domain's base DN when none is configured.
    pub default_naming_context: &'static str,
    /// The optional attributes the `attributes` setting maps, read for every user as well.
    pub extra_user_attributes: Vec<String>,
}

impl AttributeMap {
    /// Active Directory (and Samba AD), as the PowerShell original reads it.
    pub fn active_directory() -> Self {
        Self {
            user_filter: "(&(objectCategory=person)(objectClass=user))",
            group_filter: "(objectClass=group)",
            user_classes: &["user"],
            non_user_classes: &["computer"],
            group_classes: &["group"],
            object_class: "objectClass",
            object_sid: "objectSid",
            object_guid: "objectGUID",
            account_name: "sAMAccountName",
            user_principal_name: "userPrincipalName",
            given_name: "givenName",
            surname: "sn",
            display_name: "displayName",
            mail: "mail",
            account_control: "userAccountControl",
            disabled_mask: 0x2,
            account_expires: "accountExpires",
            primary_group_id: "primaryGroupID",
            group_name: "cn",
            description: "description",
            group_type: "groupType",
            member: "member",
            member_of: "memberOf",
            in_chain_rule: "1.2.840.113556.1.4.1941",
            default_naming_context: "defaultNamingContext",
            extra_user_attributes: Vec::new(),
        }
    }

    /// The same profile, also reading `names` for every user (the mapped attributes).
    pub fn with_user_attributes(mut self, names: Vec<String>) -> Self {
        self.extra_user_attributes = names;
        self
    }

    /// The attributes a group is decoded from (`entry::decode_group`), its members aside:
    /// each read of groups adds what it needs besides (`member`, `memberOf`).
    pub fn group_attributes(&self) -> [&'static str; 5] {
        [
            self.object_guid,
            self.object_sid,
            self.group_name,
            self.account_name,
            self.description,
        ]
    }

    /// Attributes requested for a user entry.
    pub fn user_attributes(&self) -> Vec<&str> {
        let mut names = vec![
            self.object_sid,
            self.object_guid,
            self.account_name,
            self.user_principal_name,
            self.given_name,
            self.surname,
            self.display_name,
            self.mail,
            self.account_control,
            self.account_expires,
            self.primary_group_id,
        ];
        for extra in &self.extra_user_attributes {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra);
            }
        }
        names
    }
}
