//! The entry point of the planner: both snapshots and the policy in, a sorted plan out.

use std::borrow::Cow;
use std::collections::HashSet;

use super::groups::plan_groups;
use super::members::plan_members;
use super::ownership::{group_key, user_key};
use super::types::{GroupRef, Operation, Plan};
use super::users::plan_users;
use crate::model::settings::Policy;
use crate::model::{DirectorySnapshot, IdcSnapshot};

/// The writes that make Identity Center match the directory, within what `policy` allows.
///
/// Pure and deterministic: the same inputs give the same plan, operations sorted by kind and
/// target, messages sorted. Objects scim-sync does not own are never targeted; entries that
/// cannot be sent are reported in `skipped`, collisions with objects that are not ours in
/// `conflicts`, changes left for the next pass in `notes`. Applying the plan and planning
/// again gives an empty plan, except for what `notes` announced.
pub fn plan(dir: &DirectorySnapshot, idc: &IdcSnapshot, policy: &Policy) -> Plan {
    let mut out = Plan::default();

    let anchors = dir.skipped.iter().filter_map(|s| s.anchor.as_deref());
    let skipped_users: HashSet<Cow<'_, str>> = anchors.clone().map(user_key).collect();
    let skipped_groups: HashSet<Cow<'_, str>> = anchors.map(group_key).collect();

    let users = plan_users(&dir.users, &idc.users, &skipped_users, policy, &mut out);
    let targets = plan_groups(&dir.groups, &idc.groups, &skipped_groups, policy, &mut out);
    plan_members(&targets, &users, &mut out);

    out.operations.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    for list in [&mut out.conflicts, &mut out.skipped, &mut out.notes] {
        list.sort();
        list.dedup();
    }
    out
}

/// Operations are listed objects first, then additions, then what takes access away: the
/// order the executor runs them in, which makes a printed plan read like what will happen.
fn sort_key(op: &Operation) -> (u8, &str) {
    match op {
        Operation::CreateGroup { external_id, .. } => (0, external_id),
        Operation::AdoptGroup { id, .. } => (1, id),
        Operation::RenameGroup { id, .. } => (2, id),
        Operation::CreateUser { user } => (3, &user.external_id),
        Operation::UpdateUser { id, .. } => (4, id),
        Operation::AddMembers { group, .. } => match group {
            GroupRef::Existing(id) => (5, id),
            GroupRef::New(ext) => (6, ext),
        },
        Operation::RemoveMembers { group_id, .. } => (7, group_id),
        Operation::DisableUser { id, .. } => (8, id),
        Operation::DeleteUser { id, .. } => (9, id),
        Operation::DeleteGroup { id, .. } => (10, id),
    }
}
