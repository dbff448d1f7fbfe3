use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A user as the directory describes it, already decoded from LDAP's wire forms.
///
/// Optional attributes stay optional here: deciding whether Identity Center would accept the
/// user (and what to do if not) is the planner's job, so that the rule lives in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// `objectSid` as its `S-1-5-…` string: the anchor written to Identity Center's
    /// `externalId`, exactly as the PowerShell original sets it, so its users are recognised.
    pub object_sid: String,
    /// `objectGUID` in its canonical lowercase hyphenated form; kept for reports and future
    /// anchoring, since a SID changes on a cross-domain move and a GUID does not.
    pub object_guid: String,
    /// The object's distinguished name, for reports only (it changes on every move).
    pub dn: String,
    pub sam_account_name: String,
    pub user_principal_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    /// False when `userAccountControl` carries ACCOUNTDISABLE (0x2).
    pub enabled: bool,
}

/// A group in scope, with its effective membership already flattened.
///
/// Identity Center has no nested groups, so the directory side resolves nesting and keeps only
/// members that are themselves users in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    /// `objectGUID` (canonical lowercase hyphenated form): the group's anchor, written to
    /// Identity Center's `externalId`. Unlike the name, it survives renames and moves.
    pub object_guid: String,
    pub object_sid: Option<String>,
    pub dn: String,
    /// The name Identity Center shows (`cn`, or `sAMAccountName` when they differ by policy).
    pub name: String,
    pub description: Option<String>,
    /// `object_sid` of every user in scope that is a direct or nested member, sorted. Shared
    /// (`Arc`): a user in ten groups is one string, not ten; at 100k users and a million
    /// memberships that is the difference between ~16 MB and ~90 MB.
    pub member_sids: Vec<Arc<str>>,
}

/// A directory entry that could not be turned into a user or group and was left out.
///
/// When the entry's anchor is known the planner treats that object as "unknown", never as
/// "gone": a skipped user is neither disabled nor removed from groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub dn: String,
    /// The anchor (`objectSid` for users, `objectGUID` for groups) when it could be decoded.
    pub anchor: Option<String>,
    pub reason: String,
}

/// Everything a pass knows about the directory, read in one go.
///
/// A snapshot only exists if the whole read succeeded; a failed page or bind is an error of the
/// read, never a shorter snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySnapshot {
    /// Users in scope: members (direct or nested) of the sync group, enabled and disabled.
    pub users: Vec<DirectoryUser>,
    /// Groups in scope: under the search base, name starting with the prefix.
    pub groups: Vec<DirectoryGroup>,
    /// Entries left out, with the reason, so the summary can report them.
    pub skipped: Vec<SkippedEntry>,
}
