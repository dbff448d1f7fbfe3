//! The entry point of the planner: both snapshots and the policy in, a sorted plan out.

use std::borrow::Cow;
use std::collections::HashSet;

use super::groups::plan_groups;
use super::members::plan_members;
use super::ownership::{group_key, user_key};
use super::ownership::{is_owned_user_external_id, same_folded};
use super::types::Plan;
use super::users::plan_users;
use crate::model::settings::Policy;
use crate::model::{DirectorySnapshot, EntryKind, IdcSnapshot, SkippedEntry};

/// What the directory read leaves unknown, for users or for groups: the anchors of entries
/// that were skipped (their objects are left alone), and the DNs of in-scope entries whose
/// anchor could not be read at all and that match no object (so any object that looks out of
/// scope might be one of them: nothing is disabled or deleted for being out of scope).
pub(super) struct Unknown<'a> {
    pub anchors: HashSet<Cow<'a, str>>,
    pub unmatched: Vec<&'a str>,
}

fn unanchored(dir: &DirectorySnapshot, kind: EntryKind) -> impl Iterator<Item = &SkippedEntry> {
    dir.skipped
        .iter()
        .filter(move |s| s.anchor.is_none() && s.kind == kind)
}

/// A user entry without a readable objectSid still names its person (userPrincipalName, mail,
/// sAMAccountName): the owned Identity Center users holding one of those names as userName
/// or email are protected like any skipped user. An entry that matches nobody is unmatched.
fn protect_by_name<'a>(
    dir: &'a DirectorySnapshot,
    idc: &'a IdcSnapshot,
    unknown: &mut Unknown<'a>,
) {
    for entry in unanchored(dir, EntryKind::User) {
        let mut matched = false;
        for u in &idc.users {
            let Some(ext) = u
                .external_id
                .as_deref()
                .filter(|e| is_owned_user_external_id(e, &dir.domain_sids))
            else {
                continue;
            };
            let named = entry.user_names.iter().any(|n| {
                same_folded(n, &u.user_name)
                    || u.email.as_deref().is_some_and(|e| same_folded(n, e))
            });
            if named {
                unknown.anchors.insert(user_key(ext));
                matched = true;
            }
        }
        if !matched {
            unknown.unmatched.push(entry.dn.as_str());
        }
    }
}

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
    let targets = plan_groups(&dir.groups, &idc.groups, &skipped_groups, policy, &mut out);
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
