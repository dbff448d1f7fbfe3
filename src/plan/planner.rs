//! The entry point of the planner: both snapshots and the policy in, a sorted plan out.

use super::groups::plan_groups;
use super::members::plan_members;
use super::ownership::{group_key, user_key};
use super::scope_rules::name_the_rules;
use super::types::Plan;
use super::unknown::{protect_by_name, unanchored, Unknown};
use super::users::plan_users;
use crate::model::settings::Policy;
use crate::model::{DirectorySnapshot, EntryKind, IdcSnapshot};

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
    let mut skipped_users = Unknown {
        anchors: anchors.clone().map(user_key).collect(),
        unmatched: Vec::new(),
    };
    let skipped_groups = Unknown {
        anchors: anchors.map(group_key).collect(),
        unmatched: unanchored(dir, EntryKind::Group)
            .map(|s| s.dn.as_str())
            .collect(),
    };
    protect_by_name(dir, idc, &mut skipped_users);

    let users = plan_users(
        &dir.users,
        &idc.users,
        &skipped_users,
        &dir.domain_sids,
        dir.read_at,
        policy,
        &mut out,
    );
    name_the_rules(&dir.excluded, &mut out);
    let targets = plan_groups(
        &dir.groups,
        &idc.groups,
        &dir.domain_sids,
        &skipped_groups,
        policy,
        &mut out,
    );
    plan_members(&targets, &users, &mut out);

    out.operations
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    for list in [
        &mut out.conflicts,
        &mut out.skipped,
        &mut out.notes,
        &mut out.withheld,
    ] {
        list.sort();
        list.dedup();
    }
    out
}
