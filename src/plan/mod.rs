//! The pure planner: from what the directory says and what Identity Center holds, the list of
//! writes that makes the second look like the first.
//!
//! It knows nothing of LDAP or HTTP, performs no I/O and is deterministic, so it can be tested
//! exhaustively (property tests in `tests/`), run against an LDIF export with `scim-sync plan`,
//! and benchmarked on a million memberships.
//!
//! Rules (the README's "What the sync does" list):
//! - **Ownership** is read from `externalId`: a user is ours iff it is the SID of an account
//!   of this directory's domains (`DirectorySnapshot::domain_sids`), a group iff it is a GUID
//!   ([`is_owned_user_external_id`], [`is_owned_group_external_id`]). SIDs of other domains
//!   are foreign; a directory entry outside those domains is skipped.
//!   Nothing else is ever written to, except a group adopted with `adoptGroupsByName`.
//! - **Mapping** ([`desired_user`]): externalId = objectSid; userName from the
//!   `userNameSource` attribute; one primary email from `mail`; `active` = enabled. Values
//!   are trimmed. displayName falls back to "given family"; givenName and sn have no fallback.
//!   An entry Identity Center would reject ([`validate`]) is skipped and its user left alone.
//! - **Skipped users** (by the reader or the planner) are never updated, deleted, added to
//!   or removed from a group, nor disabled for being out of scope. One exception: an entry
//!   the planner skipped whose account is disabled in the directory is still deactivated
//!   (`DisableUser`), since that sends no attribute and a leaver must lose access.
//! - **Disabled directory users** that do not exist yet are not created; existing ones are
//!   deactivated with a `DisableUser`, never with an update: a user that is also renamed gets
//!   an `UpdateUser` for the attributes and a `DisableUser`, so a hold-back withholds only the
//!   deactivation. Out-of-scope users follow
//!   `outOfScopeUsers` (disable only if active / delete / ignore).
//! - **Updates** carry only changed fields; case-only differences of userName and email are
//!   not changes unless `lowercaseUserNames` is on. Group names compare exactly.
//! - **Uniqueness** (userName, email, group name; compared without case): a value held by an
//!   object that is not ours, or by one that keeps it, is a conflict; a value held by an
//!   owned object that gives it up in this plan is taken next pass (a note), because the
//!   executor runs one phase's writes concurrently. Two directory entries mapping to one
//!   value are both skipped.
//! - **Groups** are created, renamed in place, never deleted unless
//!   `deleteGroupsOutOfScope`. A same-named group without externalId is adopted with
//!   `adoptGroupsByName`; its members are managed at once if they were read, else next pass.
//! - **Membership** of a managed group is the directory's, restricted to users that exist
//!   or are created; every other member is removed (foreign users too: the group is ours),
//!   except skipped users. A group whose members were not read gets no member changes.
//! - **Managers** (`attributes` maps `enterprise.manager`): the manager's DN becomes its
//!   Identity Center id. An existing manager's id travels in the user's own create or update;
//!   a manager this plan creates is set by a `SetManager` in the additions phase, once the
//!   creates have given both their ids. Which new users are created is decided first, so a
//!   manager whose create is refused is not referenced (left empty, noted) and one whose
//!   create waits for a released name is referenced in the next pass (noted).
//! - **Guard** ([`apply_guard`]): see its module.

mod anchors;
mod attributes;
mod desired;
mod field_names;
mod groups;
mod guard;
mod holders;
pub mod incremental;
mod members;
mod ownership;
mod planner;
mod scope_rules;
mod types;
mod unknown;
mod users;
pub mod validate;

#[cfg(test)]
mod attributes_tests;
#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod planner_tests;

pub use crate::model::anchor::{
    directory_of_ldap_anchor, is_ldap_directory_identity, LDAP_ANCHOR_PREFIX,
};
pub use crate::model::settings::GuardSettings;
pub use crate::model::settings::{EmailSource, OutOfScopeAction, Policy, UserNameSource};
pub use crate::model::{Finding, Reason, ReasonCode};
pub use desired::{desired_group_name, desired_group_name_by, desired_user, group_display_name};
pub use guard::{apply_guard, apply_guard_on, withhold_on_read_errors, GuardBase};
pub use ownership::{
    domain_of_anchor, domain_of_sid, is_owned_group_external_id, is_owned_user_external_id, is_sid,
};
pub use planner::plan;
pub use types::{GroupRef, Operation, Phase, Plan, UserAttributes, UserField, UserRef};
