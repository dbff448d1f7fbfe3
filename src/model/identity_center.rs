use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::attribute_values::AttributeValues;
use super::settings::UserAttribute;

/// A user as Identity Center holds it, reduced to the attributes the sync manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdcUser {
    /// Identity Center's opaque id (≤ 47 characters). Shared (`Arc`) with the member sets
    /// of [`IdcGroup::member_ids`] read in the same pass, and with the plan's references to
    /// the user: one copy per user, however many groups it is in.
    pub id: Arc<str>,
    /// Set by whoever provisioned the user; ours are the directory `objectSid` string.
    pub external_id: Option<String>,
    pub user_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The single (primary) email, if any.
    pub email: Option<String>,
    pub active: bool,
    /// The optional attributes scim-sync can manage, as Identity Center returns them
    /// (`manager` is the manager's user id); an attribute the user lacks is absent.
    #[serde(default)]
    pub attributes: AttributeValues,
}

/// A group as Identity Center holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdcGroup {
    pub id: String,
    /// Ours are the directory `objectGUID` string. Identity Center may not echo `externalId` on
    /// reads, so the reader resolves it by an `externalId eq` lookup before calling a group
    /// foreign; `None` here means "looked for, and it has none of ours".
    pub external_id: Option<String>,
    pub display_name: String,
    /// Member user ids, read through the `groups.value` filter. Read only for owned groups;
    /// `None` means not read (a foreign group, or a read that failed). Shared (`Arc`) across
    /// groups, as [`DirectoryGroup::member_sids`](crate::model::DirectoryGroup) is.
    pub member_ids: Option<BTreeSet<Arc<str>>>,
}

/// Identity Center's current state, read live at the start of every pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdcSnapshot {
    pub users: Vec<IdcUser>,
    pub groups: Vec<IdcGroup>,
    /// Reads that failed (for instance one group's member listing). Any entry here makes the
    /// executor skip every destructive operation of the pass.
    pub read_errors: Vec<String>,
}

/// The attributes the sync writes to an Identity Center user, all already validated against
/// Identity Center's rules (non-empty names, no whitespace in userName, one email).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAttributes {
    /// The directory `objectSid` string.
    pub external_id: String,
    pub user_name: String,
    pub display_name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub active: bool,
    /// The optional attributes (the `attributes` setting) with a value to hold; `manager` is
    /// the manager's Identity Center user id. A managed attribute that is absent here is
    /// removed when it is among an update's `changed`; an unmanaged one is never sent.
    #[serde(default, skip_serializing_if = "AttributeValues::is_empty")]
    pub attributes: AttributeValues,
}

/// One attribute of [`UserAttributes`], so an update can say exactly what changed.
///
/// `Active` in an update only ever turns a user back on: the planner never deactivates with
/// an update. Taking access away is always its own `Operation::DisableUser`, so every
/// hold-back (a read error, the guard) withholds exactly that and nothing else, and the rest
/// of a user's changes (a rename that comes with a deactivation) still go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserField {
    UserName,
    DisplayName,
    GivenName,
    FamilyName,
    Email,
    Active,
    /// One optional attribute of the `attributes` setting.
    Attribute(UserAttribute),
}

impl UserField {
    /// The fields every user has, whatever the `attributes` setting maps: what a create
    /// always sends.
    pub const CORE: [UserField; 6] = [
        UserField::UserName,
        UserField::DisplayName,
        UserField::GivenName,
        UserField::FamilyName,
        UserField::Email,
        UserField::Active,
    ];
}
