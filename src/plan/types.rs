use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Finding, Reason};
pub use crate::model::{UserAttributes, UserField};

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
        /// Why the operation is planned.
        reason: Reason,
    },
    /// Only `changed` is sent; `user` carries the full state after the update (a field not in
    /// `changed` holds Identity Center's current value). Never a deactivation: see
    /// [`UserField`].
    UpdateUser {
        id: String,
        user: UserAttributes,
        changed: Vec<UserField>,
        /// Why the operation is planned.
        reason: Reason,
    },
    DisableUser {
        id: String,
        external_id: String,
        user_name: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    DeleteUser {
        id: String,
        external_id: String,
        user_name: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    CreateGroup {
        external_id: String,
        display_name: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    /// Rename in place (PATCH), which keeps the id and so every account assignment.
    RenameGroup {
        id: String,
        external_id: String,
        from: String,
        to: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    /// Write our externalId onto an existing same-named group (only with `adoptGroupsByName`).
    AdoptGroup {
        id: String,
        external_id: String,
        display_name: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    DeleteGroup {
        id: String,
        external_id: String,
        display_name: String,
        /// Why the operation is planned.
        reason: Reason,
    },
    AddMembers {
        group: GroupRef,
        group_name: String,
        users: Vec<UserRef>,
        /// Why the operation is planned.
        reason: Reason,
    },
    RemoveMembers {
        group_id: String,
        group_name: String,
        user_ids: Vec<String>,
        /// Why the operation is planned.
        reason: Reason,
    },
    /// Points a user's `enterprise.manager` at a manager this plan creates (one PATCH). It
    /// runs with the additions, once the creates have given the manager (and the user, when
    /// it is new too) an id; a manager that already exists travels in the user's own create
    /// or update instead. Skipped, never sent with a dangling id, when a create it needs
    /// did not succeed.
    SetManager {
        user: UserRef,
        user_name: String,
        manager: UserRef,
        manager_name: String,
        /// The manager id Identity Center holds now (`None`: none, or the user is new).
        from: Option<String>,
        /// Why the operation is planned.
        reason: Reason,
    },
}

/// The order writes run in: each phase needs the one before it to have finished. The
/// planner sorts by it, the executor runs by it and the tests' model of Identity Center
/// applies by it: [`Operation::phase`] is the one place that says which operation is where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Creates, updates, renames, adoptions: they give later phases their ids.
    Objects,
    /// Member additions and managers, which may name users and groups created in the first
    /// phase.
    Additions,
    /// Everything that takes access away, last, so a pass stopped early never leaves a user
    /// with less access than either the old or the new state would give.
    Destructive,
}

impl Phase {
    /// Every phase, in the order they run.
    pub const ALL: [Phase; 3] = [Phase::Objects, Phase::Additions, Phase::Destructive];
}

/// The `reason` field every operation carries, as `&` or `&mut` after the operation it is
/// given: one list of the variants serves [`Operation::reason`] and [`Operation::reason_mut`].
macro_rules! reason_of {
    ($op:expr) => {
        match $op {
            Operation::CreateUser { reason, .. }
            | Operation::UpdateUser { reason, .. }
            | Operation::DisableUser { reason, .. }
            | Operation::DeleteUser { reason, .. }
            | Operation::CreateGroup { reason, .. }
            | Operation::RenameGroup { reason, .. }
            | Operation::AdoptGroup { reason, .. }
            | Operation::DeleteGroup { reason, .. }
            | Operation::AddMembers { reason, .. }
            | Operation::RemoveMembers { reason, .. }
            | Operation::SetManager { reason, .. } => reason,
        }
    };
}

impl Operation {
    /// The phase this operation runs in.
    pub fn phase(&self) -> Phase {
        self.sort_key().0
    }

    /// Why the operation is planned.
    pub fn reason(&self) -> &Reason {
        reason_of!(self)
    }

    /// The reason, to replace: tests compare plans with every reason set to one placeholder.
    pub fn reason_mut(&mut self) -> &mut Reason {
        reason_of!(self)
    }

    /// Destructive operations take access away; they run last and are the ones safety guards
    /// and read failures hold back.
    pub fn is_destructive(&self) -> bool {
        self.phase() == Phase::Destructive
    }

    /// Where the operation sits in a sorted plan: its phase, then its kind, then its target.
    /// A printed plan so reads in the order the executor runs it: objects first, then
    /// additions, then what takes access away.
    pub fn sort_key(&self) -> (Phase, u8, &str) {
        use Phase::{Additions, Destructive, Objects};
        match self {
            Operation::CreateGroup { external_id, .. } => (Objects, 0, external_id),
            Operation::AdoptGroup { id, .. } => (Objects, 1, id),
            Operation::RenameGroup { id, .. } => (Objects, 2, id),
            Operation::CreateUser { user, .. } => (Objects, 3, &user.external_id),
            Operation::UpdateUser { id, .. } => (Objects, 4, id),
            Operation::AddMembers { group, .. } => match group {
                GroupRef::Existing(id) => (Additions, 5, id),
                GroupRef::New(ext) => (Additions, 6, ext),
            },
            Operation::SetManager { user, .. } => (Additions, 7, user.as_str()),
            Operation::RemoveMembers { group_id, .. } => (Destructive, 8, group_id),
            Operation::DisableUser { id, .. } => (Destructive, 9, id),
            Operation::DeleteUser { id, .. } => (Destructive, 10, id),
            Operation::DeleteGroup { id, .. } => (Destructive, 11, id),
        }
    }
}

/// Everything a pass intends to write, plus what it decided not to touch and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub operations: Vec<Operation>,
    /// Collisions with objects the sync does not own, phrased for an operator.
    pub conflicts: Vec<Finding>,
    /// Directory entries Identity Center would reject, and why; never sent. Only the
    /// planner's own findings: entries the directory reader skipped (`DirectorySnapshot::skipped`)
    /// are not repeated here.
    pub skipped: Vec<Finding>,
    /// Changes deliberately left for a later pass, and why (a name still held by an object
    /// that releases it in this pass, a group whose membership could not be read, an adopted
    /// group whose members are managed from the next pass). Informational: nothing is wrong.
    #[serde(default)]
    pub notes: Vec<Finding>,
    /// Changes that take access away which the planner held back because what they rest on
    /// was not read completely (an in-scope directory entry without a readable anchor, a
    /// nested group whose members could not be read), each naming the entry. The pass adds
    /// them to the summary's `withheld`, next to the guard's.
    #[serde(default)]
    pub withheld: Vec<Finding>,
}

impl Plan {
    /// A converged pass has nothing to write.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}
