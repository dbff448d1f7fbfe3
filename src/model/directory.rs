use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::attribute_values::DirectoryAttributes;
use super::reason::{Finding, ReasonCode};

/// A user as the directory describes it, already decoded from LDAP's wire forms.
///
/// Optional attributes stay optional here: deciding whether Identity Center would accept the
/// user (and what to do if not) is the planner's job, so that the rule lives in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// `objectSid` as its `S-1-5-…` string: the anchor written to Identity Center's
    /// `externalId`, exactly as the PowerShell original sets it, so its users are recognised.
    /// Shared (`Arc`) with the groups' [`DirectoryGroup::member_sids`]: one copy per user.
    pub object_sid: Arc<str>,
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
    /// When the account expires (`accountExpires`), in Unix seconds; `None` when it never
    /// does (absent, 0 or 0x7FFFFFFFFFFFFFFF). Kept as a date, not folded into `enabled`,
    /// because it is evaluated against the time of each pass: an account that expires
    /// tonight loses access in the next pass without any change in the directory.
    #[serde(default)]
    pub account_expires: Option<i64>,
    /// The first value of each mapped optional attribute (the `attributes` setting), keyed by
    /// the directory attribute name in lowercase; an attribute the entry lacks is absent, one
    /// whose value could not be decoded (not UTF-8) is `None`.
    #[serde(default)]
    pub attributes: DirectoryAttributes,
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
    /// `sAMAccountName`, for `scope.groupDisplayName = "sAMAccountName"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub description: Option<String>,
    /// `object_sid` of every user in scope that is a direct or nested member, sorted. Shared
    /// (`Arc`): a user in ten groups is one string, not ten; at 100k users and a million
    /// memberships that is the difference between ~16 MB and ~90 MB.
    pub member_sids: Vec<Arc<str>>,
    /// Why `member_sids` may be incomplete: a group nested in this one whose members could not
    /// be decoded or resolved (named, with the reason). Such a group gains members but loses
    /// none in that pass: unknown is not gone.
    #[serde(default)]
    pub members_partial: Option<String>,
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
    /// What kind of problem it is (`unreadableEntry`, `unreadableMembers`).
    #[serde(default = "unreadable_entry")]
    pub code: ReasonCode,
    pub reason: String,
    /// What the entry leaves unknown: a user (or, for a group nested in the sync group whose
    /// members could not be read, the users it holds), or a group.
    #[serde(default)]
    pub kind: EntryKind,
    /// For a user entry without a usable anchor: the userPrincipalName, mail and
    /// sAMAccountName it carried, so the planner can find its Identity Center user by name and
    /// protect it; empty when none could be read.
    #[serde(default)]
    pub user_names: Vec<String>,
}

/// The kind of object a [`SkippedEntry`] leaves unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    #[default]
    User,
    Group,
}

fn unreadable_entry() -> ReasonCode {
    ReasonCode::UnreadableEntry
}

impl SkippedEntry {
    /// The entry as a finding of the pass, about its DN and anchor.
    pub fn to_finding(&self) -> Finding {
        let f = Finding::new(self.code, format!("{}: {}", self.dn, self.reason)).about(&*self.dn);
        match &self.anchor {
            Some(a) => f.about(a.as_str()),
            None => f,
        }
    }
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
    /// The SIDs (`S-1-5-21-a-b-c`) of the domains whose accounts belong to this directory: the
    /// `objectSid` of the domain head of the search bases, read with the snapshot, plus
    /// `scope.extraDomainSids`. Only Identity Center users whose externalId is an account SID
    /// of one of these domains are scim-sync's; with none, no user is.
    #[serde(default)]
    pub domain_sids: Vec<String>,
    /// When the pass read the directory (Unix seconds): the time account expiry is evaluated
    /// against. Set by the pass, not by the readers (two reads of one directory compare
    /// equal); `None` only for a snapshot built by hand, and then no expiry is evaluated.
    #[serde(default)]
    pub read_at: Option<i64>,
    /// Users a sync group brings in that a scope rule leaves out (`scope.excludeGroups`,
    /// `scope.userFilter`): not in scope, so treated as any user out of scope, but named, so
    /// the plan and `explain` say which rule decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<ExcludedUser>,
}

/// A user left out of scope by a scope rule, and which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcludedUser {
    pub object_sid: String,
    pub dn: String,
    pub sam_account_name: String,
    /// [`ReasonCode::InExclusionGroup`] or [`ReasonCode::FailsUserFilter`].
    pub code: ReasonCode,
    /// Names the exclusion group or the filter.
    pub reason: String,
}
