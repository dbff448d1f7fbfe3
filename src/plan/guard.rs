//! The mass-change guard: holds back destructive changes when a plan would take access away
//! from too many people at once.
//!
//! A wrong search base, an emptied sync group or a directory read that quietly returned too
//! little all look like "everyone left". Disabling or removing is cheap to do and expensive
//! to undo (people locked out), so beyond a limit the destructive part of the plan is
//! withheld and reported, while creates, updates and additions still go through.

use super::ownership::{is_owned_group_external_id, is_owned_user_external_id};
use super::types::{Operation, Plan};
use crate::model::settings::GuardSettings;
use crate::model::{DirectorySnapshot, Finding, IdcSnapshot, ReasonCode};

/// The setting an operator flips to let an intended mass change through.
const OVERRIDE_SETTING: &str = "guard.allowMassChanges";

/// Losses of one kind, against the owned base they come out of.
struct Loss {
    what: &'static str,
    verb: &'static str,
    count: u64,
    base: u64,
}

impl Loss {
    /// The share limit rounded up (with a little slack for float error: 10 % of 100 is 10).
    fn share_limit(&self, g: &GuardSettings) -> u64 {
        let share = g.max_destructive_share.clamp(0.0, 1.0);
        ((share * self.base as f64) - 1e-9).ceil().max(0.0) as u64
    }

    fn exceeded(&self, g: &GuardSettings) -> Option<Finding> {
        let by_share = self.share_limit(g);
        if self.count <= g.max_destructive_count && self.count <= by_share {
            return None;
        }
        Some(Finding::new(
            ReasonCode::HeldBackByGuard,
            format!(
                "{} of {} {} would be {} in this pass, more than the guard allows ({:.0} % = {}, \
             at most {}): all disables, deletions and member removals are withheld; if this is \
             intended, set {OVERRIDE_SETTING} for one run",
                self.count,
                self.base,
                self.what,
                self.verb,
                g.max_destructive_share * 100.0,
                by_share,
                g.max_destructive_count
            ),
        ))
    }
}

/// Returns `plan` with its destructive part removed when that part is too large, and the
/// reasons (empty when nothing was withheld).
///
/// Withheld are `DisableUser`, `DeleteUser`, `DeleteGroup` and `RemoveMembers` (a
/// deactivation is always a `DisableUser`, so the same user's other changes stay). A
/// directory with no users in scope while Identity Center holds owned users never takes
/// anything away unless `allow_mass_changes` is set: that is what a wrong search base or sync
/// group looks like.
pub fn apply_guard(
    plan: Plan,
    idc: &IdcSnapshot,
    dir: &DirectorySnapshot,
    g: &GuardSettings,
) -> (Plan, Vec<Finding>) {
    if g.allow_mass_changes {
        return (plan, Vec::new());
    }
    let owned_users = idc
        .users
        .iter()
        .filter(|u| {
            u.external_id
                .as_deref()
                .is_some_and(|e| is_owned_user_external_id(e, &dir.domain_sids))
        })
        .count() as u64;
    let owned_groups: Vec<_> = idc
        .groups
        .iter()
        .filter(|g| {
            g.external_id
                .as_deref()
                .is_some_and(|e| is_owned_group_external_id(e, &dir.domain_sids))
        })
        .collect();
    let owned_memberships: u64 = owned_groups
        .iter()
        .map(|g| g.member_ids.as_ref().map_or(0, |m| m.len() as u64))
        .sum();
    let base = GuardBase {
        users: owned_users,
        memberships: owned_memberships,
        groups: owned_groups.len() as u64,
    };
    apply_guard_on(plan, &base, dir.users.is_empty(), g)
}

/// What the guard's shares are taken of: the managed users, memberships and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardBase {
    pub users: u64,
    pub memberships: u64,
    pub groups: u64,
}

impl GuardBase {
    /// The directory's own counts (users in scope, flattened memberships, groups in scope):
    /// the base of a pass that reads only part of Identity Center (an incremental pass), where
    /// the managed objects cannot be counted. They are what a converged Identity Center holds.
    pub fn of_directory(dir: &DirectorySnapshot) -> Self {
        Self {
            users: dir.users.len() as u64,
            memberships: dir.groups.iter().map(|g| g.member_sids.len() as u64).sum(),
            groups: dir.groups.len() as u64,
        }
    }
}

/// [`apply_guard`] against an explicit base; `directory_empty` is whether the directory
/// returned no users in scope (which never takes anything away without the override).
pub fn apply_guard_on(
    plan: Plan,
    base: &GuardBase,
    directory_empty: bool,
    g: &GuardSettings,
) -> (Plan, Vec<Finding>) {
    let (plan, renames) = guard_renames(plan, base, g);
    let (plan, mut reasons) = guard_destructive(plan, base, directory_empty, g);
    reasons.splice(0..0, renames);
    (plan, reasons)
}

/// Renames that come from a changed `scope.groupDisplayName` (`groupNamingChanged`) are one
/// setting renaming every group at once: beyond the limits (the groups' share and count)
/// they are all withheld, as a mass change is, until `guard.allowMassChanges` is set for one
/// run. Renames made in the directory, one group at a time, are not counted.
fn guard_renames(mut plan: Plan, base: &GuardBase, g: &GuardSettings) -> (Plan, Option<Finding>) {
    if g.allow_mass_changes {
        return (plan, None);
    }
    let by_setting = |op: &Operation| matches!(op, Operation::RenameGroup { reason, .. } if reason.code == ReasonCode::GroupNamingChanged);
    let count = plan.operations.iter().filter(|op| by_setting(op)).count() as u64;
    let loss = Loss {
        what: "managed groups",
        verb: "renamed by the changed scope.groupDisplayName",
        count,
        base: base.groups,
    };
    if count == 0 || loss.count <= g.max_destructive_count && loss.count <= loss.share_limit(g) {
        return (plan, None);
    }
    plan.operations.retain(|op| !by_setting(op));
    let finding = Finding::new(
        ReasonCode::HeldBackByGuard,
        format!(
            "{count} of {} managed groups would be renamed in this pass because \
             scope.groupDisplayName changed, more than the guard allows ({:.0} % = {}, at most \
             {}): these renames are withheld (the rest of the pass goes on); if this is \
             intended, set {OVERRIDE_SETTING} for one run",
            base.groups,
            g.max_destructive_share * 100.0,
            loss.share_limit(g),
            g.max_destructive_count
        ),
    );
    (plan, Some(finding))
}

/// The destructive part of the guard (disables, deletions, member removals).
fn guard_destructive(
    plan: Plan,
    base: &GuardBase,
    directory_empty: bool,
    g: &GuardSettings,
) -> (Plan, Vec<Finding>) {
    if g.allow_mass_changes {
        return (plan, Vec::new());
    }
    let owned_users = base.users;
    let owned_memberships = base.memberships;
    let mut users_lost = 0u64;
    let mut members_removed = 0u64;
    let mut groups_deleted = 0u64;
    for op in &plan.operations {
        match op {
            Operation::DisableUser { .. } | Operation::DeleteUser { .. } => users_lost += 1,
            Operation::RemoveMembers { user_ids, .. } => members_removed += user_ids.len() as u64,
            Operation::DeleteGroup { .. } => groups_deleted += 1,
            _ => {}
        }
    }
    if users_lost + members_removed + groups_deleted == 0 {
        return (plan, Vec::new());
    }

    let mut reasons = Vec::new();
    if directory_empty && owned_users > 0 {
        reasons.push(Finding::new(
            ReasonCode::HeldBackByGuard,
            format!(
                "the directory returned no users in scope while Identity Center holds \
                 {owned_users} users managed by scim-sync (a wrong search base or sync group \
                 looks like this): all disables, deletions and member removals are withheld; if \
                 this is intended, set {OVERRIDE_SETTING} for one run"
            ),
        ));
    }
    let losses = [
        Loss {
            what: "managed users",
            verb: "disabled or deleted",
            count: users_lost,
            base: owned_users,
        },
        Loss {
            what: "memberships of managed groups",
            verb: "removed",
            count: members_removed,
            base: owned_memberships,
        },
        Loss {
            what: "managed groups",
            verb: "deleted",
            count: groups_deleted,
            base: base.groups,
        },
    ];
    reasons.extend(losses.iter().filter_map(|l| l.exceeded(g)));
    if reasons.is_empty() {
        return (plan, reasons);
    }
    (withhold_destructive(plan), reasons)
}

/// The safe part of `plan`: every destructive operation dropped. The one hold-back path of a
/// pass: the guard and [`withhold_on_read_errors`] both use it, and the pass uses its result
/// for dry runs and real runs alike, so a dry run lists exactly what a real run would do.
pub(crate) fn withhold_destructive(mut plan: Plan) -> Plan {
    plan.operations.retain(|op| !op.is_destructive());
    plan
}

/// Returns `plan` without its destructive part when part of Identity Center could not be read,
/// and the reason (empty when every read succeeded). Not subject to `allowMassChanges`: a
/// decision on a partial read is never safe, however few people it concerns.
pub fn withhold_on_read_errors(plan: Plan, idc: &IdcSnapshot) -> (Plan, Vec<Finding>) {
    if idc.read_errors.is_empty() {
        return (plan, Vec::new());
    }
    let reason = Finding::new(
        ReasonCode::PartialRead,
        format!(
            "no user was disabled or removed from a group because part of Identity Center \
             could not be read: {}",
            idc.read_errors.join("; ")
        ),
    );
    (withhold_destructive(plan), vec![reason])
}
