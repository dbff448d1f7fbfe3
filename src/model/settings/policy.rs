use serde::{Deserialize, Serialize};

use super::AttributeMapping;

/// What to do with an owned Identity Center user that is no longer in the sync scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutOfScopeAction {
    /// Set `active=false`: access stops, account assignments survive a return to scope.
    #[default]
    Disable,
    /// Delete the user (assignments referring to it are orphaned; opt-in only).
    Delete,
    /// Leave it as it is.
    Ignore,
}

/// Which directory attribute becomes the Identity Center `userName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserNameSource {
    /// `userPrincipalName`, what ADFS usually sends as the SAML NameID.
    #[default]
    UserPrincipalName,
    /// `mail`.
    Mail,
    /// `sAMAccountName`.
    SamAccountName,
    /// `uid` (the `openldap` profile's default; the account name there).
    Uid,
}

/// Which directory attribute becomes the Identity Center email (one, primary, type work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EmailSource {
    /// `mail`, the address people actually receive mail at.
    #[default]
    Mail,
    /// `userPrincipalName`, what the PowerShell original sent: keeps migrated users' emails as
    /// they are.
    UserPrincipalName,
}

/// How a group's Identity Center displayName is made from its directory entry
/// (`scope.groupDisplayName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupDisplayName {
    /// `cn`, as the PowerShell original named them.
    #[default]
    Cn,
    /// `cn` without the technical prefix (`scope.groupNamePrefix`, by default the group
    /// prefix that selects the groups, `AD-Group-Prefix`): `aws-Developers` shows as
    /// `Developers`. A name that does not start with it, or is nothing but it, is kept whole.
    CnWithoutPrefix,
    /// `sAMAccountName` (the pre-Windows 2000 name), falling back to `cn` when absent. Active
    /// Directory only: `config` refuses it with the openldap profile, which reads none.
    #[serde(rename = "sAMAccountName", alias = "samAccountName")]
    SamAccountName,
}

impl GroupDisplayName {
    pub const ALL: [GroupDisplayName; 3] = [
        GroupDisplayName::Cn,
        GroupDisplayName::CnWithoutPrefix,
        GroupDisplayName::SamAccountName,
    ];

    /// The setting's value as written.
    pub fn key(self) -> &'static str {
        match self {
            GroupDisplayName::Cn => "cn",
            GroupDisplayName::CnWithoutPrefix => "cnWithoutPrefix",
            GroupDisplayName::SamAccountName => "sAMAccountName",
        }
    }
}

/// Choices an operator makes about how far the sync may go. Defaults are the safe ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Policy {
    pub out_of_scope_users: OutOfScopeAction,
    /// Adopt a group that has our group's displayName and no externalId (sets the externalId).
    /// Off by default: such a group may have been made by hand for another purpose.
    pub adopt_groups_by_name: bool,
    /// Delete owned groups that are no longer in scope. Off by default: deleting a group
    /// orphans its account assignments.
    pub delete_groups_out_of_scope: bool,
    pub user_name_source: UserNameSource,
    pub email_source: EmailSource,
    /// Leave the sync group itself out of the synchronised groups even when its name matches
    /// the prefix, as the PowerShell original did.
    pub exclude_sync_group: bool,
    /// Lowercase the userName and email before sending, so case changes in AD do not make
    /// Identity Center see a different user.
    pub lowercase_user_names: bool,
    /// The optional user attributes scim-sync manages, and where each comes from (the
    /// `attributes` setting). Unmapped attributes are never sent nor removed.
    pub attributes: AttributeMapping,
    /// How group displayNames are made (`scope.groupDisplayName`).
    pub group_display_name: GroupDisplayName,
    /// The technical prefix `cnWithoutPrefix` strips (`scope.groupNamePrefix`, defaulted to
    /// the group prefix by `config`), compared without regard to case.
    pub group_name_prefix: String,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            out_of_scope_users: OutOfScopeAction::Disable,
            adopt_groups_by_name: false,
            delete_groups_out_of_scope: false,
            user_name_source: UserNameSource::UserPrincipalName,
            email_source: EmailSource::Mail,
            exclude_sync_group: false,
            lowercase_user_names: false,
            attributes: AttributeMapping::default(),
            group_display_name: GroupDisplayName::Cn,
            group_name_prefix: String::new(),
        }
    }
}
