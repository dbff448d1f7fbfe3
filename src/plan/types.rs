use std::sync::Arc;

use serde::{Deserialize, Serialize};

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
}

/// One attribute of [`UserAttributes`], so an update can say exactly what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserField {
    UserName,
    DisplayName,
    GivenName,
    FamilyName,
    Email,
    Active,
}

/// A user an operation refers to: one that exists, or one created earlier in the same plan.
///
/// The id is shared (`Arc`): an initial load of 100k users refers to them in a million
/// member additions, and one string per reference would cost ~100 MB.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserRef {
    /// Identity Center id of an existing user.
    Existing(Arc<str>),
    /// The externalId of a user this plan creates; the executor resolves it to an id.
    New(Arc<str>),
}

impl UserRef {
    /// The id or externalId it carries, for reports that name users either way.
    pub fn as_str(&self) -> &str {
        match self {
            UserRef::Existing(id) | UserRef::New(id) => id,
        }
    }
}

/// A group an operation refers to, as [`UserRef`] does for users.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupRef {
    Existing(String),
    New(String),
}

/// One write to Identity Center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Operation {
    CreateUser {
        user: UserAttributes,
    },
    /// Only `changed` is sent; `user` carries the full desired state for reports.
    UpdateUser {
        id: String,
        user: UserAttributes,
        changed: Vec<UserField>,
    },
    DisableUser {
        id: String,
        external_id: String,
        user_name: String,
    },
    DeleteUser {
        id: String,
        external_id: String,
        user_name: String,
    },
    CreateGroup {
        external_id: String,
        display_name: String,
    },
    /// Rename in place (PATCH), which keeps the id and so every account assignment.
    RenameGroup {
        id: String,
        external_id: String,
        from: String,
        to: String,
    },
    /// Write our externalId onto an existing same-named group (only with `adoptGroupsByName`).
    AdoptGroup {
        id: String,
        external_id: String,
        display_name: String,
    },
    DeleteGroup {
        id: String,
        external_id: String,
        display_name: String,
    },
    AddMembers {
        group: GroupRef,
        group_name: String,
        users: Vec<UserRef>,
    },
    RemoveMembers {
        group_id: String,
        group_name: String,
        user_ids: Vec<String>,
    },
}

impl Operation {
    /// Destructive operations take access away; they run last and are the ones safety guards
    /// and read failures hold back.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Operation::DisableUser { .. }
                | Operation::DeleteUser { .. }
                | Operation::DeleteGroup { .. }
                | Operation::RemoveMembers { .. }
        )
    }
}

/// Everything a pass intends to write, plus what it decided not to touch and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub operations: Vec<Operation>,
    /// Collisions with objects the sync does not own, phrased for an operator.
    pub conflicts: Vec<String>,
    /// Directory entries Identity Center would reject, and why; never sent. Only the
    /// planner's own findings: entries the directory reader skipped (`DirectorySnapshot::skipped`)
    /// are not repeated here.
    pub skipped: Vec<String>,
    /// Changes deliberately left for a later pass, and why (a name still held by an object
    /// that releases it in this pass, a group whose membership could not be read, an adopted
    /// group whose members are managed from the next pass). Informational: nothing is wrong.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Plan {
    /// A converged pass has nothing to write.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}
