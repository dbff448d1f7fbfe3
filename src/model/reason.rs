//! Why the sync does (or does not do) something, for people and for machines alike.
//!
//! Every planned operation carries a [`Reason`] and every finding (a conflict, a skipped
//! entry, a note, a withheld change) is a [`Finding`]: a stable camelCase [`ReasonCode`] a
//! query or a test can match on, plus the sentence an operator reads. The codes are part of
//! the output format (JSON plans, audit records, CloudWatch queries): add new ones, never
//! rename one.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The machine-readable part of a reason. Serialised in camelCase (`newInScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasonCode {
    // --- why an operation is planned ---
    /// A user or group in scope that Identity Center does not hold yet.
    NewInScope,
    /// One or more attributes differ between the directory and Identity Center.
    AttributeChanged,
    /// The account is enabled in the directory and inactive in Identity Center.
    EnabledInDirectory,
    /// The account is disabled in the directory (userAccountControl ACCOUNTDISABLE).
    DisabledInDirectory,
    /// The account has expired in the directory (`accountExpires` in the past).
    AccountExpired,
    /// The user is no longer a direct or nested member of the sync group.
    LeftSyncGroup,
    /// The user is a direct or nested member of an exclusion group (`scope.excludeGroups`).
    InExclusionGroup,
    /// The user does not match `scope.userFilter`.
    FailsUserFilter,
    /// The group's name changed in the directory.
    GroupRenamed,
    /// The group is renamed because `scope.groupDisplayName` changed (in place: same id).
    GroupNamingChanged,
    /// A same-named group without externalId is taken over (`adoptGroupsByName`).
    AdoptedByName,
    /// An owned group is no longer in scope (`deleteGroupsOutOfScope`).
    GroupLeftScope,
    /// Users are (direct or nested) members of the group in the directory, not yet in
    /// Identity Center.
    MemberAdded,
    /// Members of the Identity Center group are no longer members in the directory (or not
    /// users in scope).
    MemberLeftGroup,
    /// The user's manager is created in this pass: `enterprise.manager` is set to its new id
    /// once it exists (`setManager`).
    ManagerCreatedThisPass,

    // --- why something is not done ---
    /// The userName, email or group name is held by an object scim-sync does not manage.
    NameTakenByForeignObject,
    /// The value is held by a scim-sync object that keeps it in this pass.
    NameKeptByManagedObject,
    /// The value is held by an object that gives it up in this pass: taken next pass.
    NameReleasedThisPass,
    /// Two directory entries map to the same userName, email or group name.
    DuplicateInDirectory,
    /// Differing directory entries carry the same objectSid or objectGUID.
    DuplicateAnchor,
    /// Two Identity Center objects carry the same externalId of ours.
    DuplicateExternalId,
    /// The entry has no givenName, which Identity Center requires.
    MissingGivenName,
    /// The entry has no sn (surname), which Identity Center requires.
    MissingFamilyName,
    /// The attribute that feeds userName (`userNameSource`) is empty.
    MissingUserName,
    /// The group has no name.
    MissingGroupName,
    /// The userName Identity Center would reject (whitespace, length).
    InvalidUserName,
    /// The email is not an address Identity Center accepts.
    InvalidEmail,
    /// Another attribute Identity Center would reject (length, control characters).
    InvalidAttribute,
    /// The user's manager is created only in the next pass (its userName or email is given
    /// up by another user in this pass): `enterprise.manager` is set in that pass.
    ManagerNextPass,
    /// The user's manager is not a user scim-sync syncs: `enterprise.manager` is left empty.
    ManagerNotSynced,
    /// The objectSid belongs to another domain than this directory's.
    ForeignDomain,
    /// The objectSid or objectGUID cannot serve as an externalId.
    UnusableAnchor,
    /// The directory entry could not be decoded (missing anchor, bad encoding).
    UnreadableEntry,
    /// The group's member list could not be read from the directory.
    UnreadableMembers,
    /// The group's members were not read from Identity Center: no member changes for it.
    MembersNotRead,
    /// An adopted group's members are managed from the next pass.
    MembersManagedNextPass,
    /// A destructive change held back by the mass-change guard.
    HeldBackByGuard,
    /// A destructive change held back because part of a read failed.
    PartialRead,
    /// A write not started because the pass reached its deadline.
    DeadlineReached,
    /// Identity Center answered 409 to a write.
    WriteConflict,
    /// A write not started because Identity Center rejected the token earlier in the pass.
    TokenRejected,
    /// A write not started because one it depends on failed in this pass.
    EarlierWriteFailed,
    // --- why an incremental pass ran as a full one ---
    /// No watermark is stored for this DC and Identity Center yet (first run, or another DC
    /// answered).
    NoWatermark,
    /// The DC's `invocationId` changed: its database was restored, USNs repeat.
    DomainControllerRestored,
    /// The DC's `highestCommittedUSN` is below the stored watermark.
    UsnWentBack,
    /// The watermark is older than the forest's tombstone lifetime.
    WatermarkTooOld,
    /// A setting that decides the scope or the mapping changed since the watermark.
    SettingsChanged,
    /// The stored watermark could not be read or decoded.
    WatermarkUnreadable,
    /// An LDAP search of the change detection failed after the bind (a refused search, a
    /// broken connection, a malformed answer): what changed is unknown.
    ChangeDetectionFailed,
}

impl ReasonCode {
    /// The code as it appears in JSON (`newInScope`).
    pub fn as_str(self) -> &'static str {
        use ReasonCode::*;
        match self {
            NewInScope => "newInScope",
            AttributeChanged => "attributeChanged",
            EnabledInDirectory => "enabledInDirectory",
            DisabledInDirectory => "disabledInDirectory",
            AccountExpired => "accountExpired",
            LeftSyncGroup => "leftSyncGroup",
            InExclusionGroup => "inExclusionGroup",
            FailsUserFilter => "failsUserFilter",
            GroupRenamed => "groupRenamed",
            GroupNamingChanged => "groupNamingChanged",
            AdoptedByName => "adoptedByName",
            GroupLeftScope => "groupLeftScope",
            MemberAdded => "memberAdded",
            MemberLeftGroup => "memberLeftGroup",
            ManagerCreatedThisPass => "managerCreatedThisPass",
            NameTakenByForeignObject => "nameTakenByForeignObject",
            NameKeptByManagedObject => "nameKeptByManagedObject",
            NameReleasedThisPass => "nameReleasedThisPass",
            DuplicateInDirectory => "duplicateInDirectory",
            DuplicateAnchor => "duplicateAnchor",
            DuplicateExternalId => "duplicateExternalId",
            MissingGivenName => "missingGivenName",
            MissingFamilyName => "missingFamilyName",
            MissingUserName => "missingUserName",
            MissingGroupName => "missingGroupName",
            InvalidUserName => "invalidUserName",
            InvalidEmail => "invalidEmail",
            InvalidAttribute => "invalidAttribute",
            ManagerNextPass => "managerNextPass",
            ManagerNotSynced => "managerNotSynced",
            ForeignDomain => "foreignDomain",
            UnusableAnchor => "unusableAnchor",
            UnreadableEntry => "unreadableEntry",
            UnreadableMembers => "unreadableMembers",
            MembersNotRead => "membersNotRead",
            MembersManagedNextPass => "membersManagedNextPass",
            HeldBackByGuard => "heldBackByGuard",
            PartialRead => "partialRead",
            DeadlineReached => "deadlineReached",
            WriteConflict => "writeConflict",
            TokenRejected => "tokenRejected",
            EarlierWriteFailed => "earlierWriteFailed",
            NoWatermark => "noWatermark",
            DomainControllerRestored => "domainControllerRestored",
            UsnWentBack => "usnWentBack",
            WatermarkTooOld => "watermarkTooOld",
            SettingsChanged => "settingsChanged",
            WatermarkUnreadable => "watermarkUnreadable",
            ChangeDetectionFailed => "changeDetectionFailed",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one operation is planned: a code and the sentence an operator reads.
///
/// The text is a `Cow` so the common fixed sentences cost no allocation: an initial load
/// plans 100k creates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: Cow<'static, str>,
}

impl Reason {
    pub fn new(code: ReasonCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Something the plan or the pass reports instead of doing: a conflict, a skipped entry, a
/// note, a withheld change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    pub code: ReasonCode,
    /// The sentence an operator reads; names the object and says what to do.
    pub text: String,
    /// What the finding is about, by every name the finding knows (DN, objectSid or
    /// objectGUID, Identity Center id, userName), so `explain` and `--only` can pick one
    /// object's findings out of a pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub about: Vec<String>,
}

impl Finding {
    pub fn new(code: ReasonCode, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
            about: Vec::new(),
        }
    }

    /// The same finding, also naming `object`.
    pub fn about(mut self, object: impl Into<String>) -> Self {
        let object = object.into();
        if !object.is_empty() && !self.concerns(&object) {
            self.about.push(object);
        }
        self
    }

    /// True when the finding names `object` (compared without ASCII case, as DNs and
    /// anchors are).
    pub fn concerns(&self, object: &str) -> bool {
        self.about.iter().any(|a| a.eq_ignore_ascii_case(object))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Findings sort by their sentence, so a report lists them as before codes existed.
impl Ord for Finding {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.text, self.code, &self.about).cmp(&(&other.text, other.code, &other.about))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_camel_case_names() {
        for code in [
            ReasonCode::NewInScope,
            ReasonCode::DisabledInDirectory,
            ReasonCode::NameTakenByForeignObject,
            ReasonCode::HeldBackByGuard,
            ReasonCode::DeadlineReached,
        ] {
            let json = serde_json::to_value(code).ok();
            assert_eq!(json, Some(serde_json::Value::from(code.as_str())));
        }
    }

    #[test]
    fn a_finding_is_about_every_name_given_once() {
        let f = Finding::new(ReasonCode::MissingGivenName, "x")
            .about("CN=A,DC=x")
            .about("cn=a,dc=x")
            .about("")
            .about("S-1-5-21-1");
        assert!(f.concerns("cn=a,dc=x"));
        assert!(f.concerns("s-1-5-21-1"));
        assert!(!f.concerns("S-1-5-21-2"));
        assert_eq!(f.about.len(), 2);
    }
}
