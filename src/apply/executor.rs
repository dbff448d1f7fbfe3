use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use super::writer::{WriteError, Writer};
use crate::model::{Failure, Summary};
use crate::plan::{GroupRef, Operation, Phase, Plan, UserField, UserRef};

/// How far the executor may go.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Writes in flight at once. The writer has its own bound and rate limit; this one keeps
    /// the executor from queueing the whole plan at once.
    pub concurrency: usize,
    /// No write is started at or after this instant (the Lambda deadline less a margin); the
    /// pass then reports itself incomplete and the next one continues.
    pub stop_starting_at: Option<Instant>,
    /// False when a read failed or a guard tripped: disabling, deleting and removing are then
    /// held back, because they would be based on an incomplete picture.
    pub allow_destructive: bool,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            stop_starting_at: None,
            allow_destructive: true,
        }
    }
}

/// What one operation achieved, folded into the summary afterwards.
enum Outcome {
    UserCreated {
        external_id: String,
        id: String,
    },
    GroupCreated {
        external_id: String,
        id: String,
    },
    UserUpdated,
    UserDisabled,
    UserDeleted,
    GroupUpdated,
    GroupDeleted,
    MembersChanged {
        added: u64,
        removed: u64,
    },
    /// A new group created together with its first members.
    GroupCreatedWithMembers {
        external_id: String,
        id: String,
        added: u64,
    },
    MembersRemoved(u64),
    Conflict(String),
    Failed(Failure),
    /// Stopped by the deadline part-way (a member change between two PATCHes) or while
    /// waiting out throttling: reported as unfinished, not as a failure.
    Unfinished(String),
    NotStarted,
}

/// Ids of objects created during this execution, so later phases can refer to them.
#[derive(Default)]
struct Created {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
}

struct Run<'a, W: Writer> {
    writer: &'a W,
    opts: &'a ExecuteOptions,
    /// Removals sent together with the same group's additions (one PATCH per 100 changes of
    /// either kind); only when destructive changes are allowed at all.
    merged_removals: HashMap<&'a str, &'a [String]>,
    /// Set on the first rejected credential: nothing more is started.
    auth_failed: AtomicBool,
    /// Set when the deadline stopped an operation from starting.
    cut_short: AtomicBool,
    /// New groups that get members in this plan, by externalId, with their names: they are
    /// created in the additions phase, together with their first members (one request
    /// instead of a create and a PATCH), once the users they name exist.
    created_with_members: HashMap<&'a str, &'a str>,
}

/// Applies `plan` through `writer`, adding counts, failures and conflicts to `summary`.
///
/// One failed operation never stops the others, except a rejected credential, after which
/// every write would fail the same way.
pub async fn execute<W: Writer>(
    writer: &W,
    plan: &Plan,
    opts: &ExecuteOptions,
    summary: &mut Summary,
) {
    let run = Run {
        writer,
        opts,
        merged_removals: merged_removals(plan, opts),
        auth_failed: AtomicBool::new(false),
        cut_short: AtomicBool::new(false),
        created_with_members: created_with_members(plan),
    };
    let mut created = Created::default();
    for phase in Phase::ALL {
        let ops: Vec<&Operation> = plan
            .operations
            .iter()
            .filter(|op| op.phase() == phase)
            .filter(|op| {
                !matches!(op, Operation::RemoveMembers { group_id, .. }
                if run.merged_removals.contains_key(group_id.as_str()))
            })
            .filter(|op| {
                !matches!(op, Operation::CreateGroup { external_id, .. }
                if run.created_with_members.contains_key(external_id.as_str()))
            })
            .collect();
        if ops.is_empty() {
            continue;
        }
        if phase == Phase::Destructive && !opts.allow_destructive {
            continue;
        }
        let created_ref = &created;
        let run_ref = &run;
        // Indices, not references, so the closure's argument carries no lifetime and the
        // pass's future stays `Send` for any lifetime (it can run in a spawned task).
        let outcomes: Vec<Outcome> = stream::iter(0..ops.len())
            .map(|i| run_ref.apply(ops[i], created_ref))
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            record(outcome, summary, &mut created);
        }
    }
    summary.token_rejected |= run.auth_failed.load(Ordering::SeqCst);
    summary.incomplete |= run.cut_short.load(Ordering::SeqCst);
}

/// New groups whose members the plan adds: externalId → display name.
fn created_with_members(plan: &Plan) -> HashMap<&str, &str> {
    let gains_members: std::collections::HashSet<&str> = plan
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::AddMembers {
                group: GroupRef::New(ext),
                ..
            } => Some(ext.as_str()),
            _ => None,
        })
        .collect();
    plan.operations
        .iter()
        .filter_map(|op| match op {
            Operation::CreateGroup {
                external_id,
                display_name,
            } if gains_members.contains(external_id.as_str()) => {
                Some((external_id.as_str(), display_name.as_str()))
            }
            _ => None,
        })
        .collect()
}

/// The removals that can travel with the same group's additions.
fn merged_removals<'a>(plan: &'a Plan, opts: &ExecuteOptions) -> HashMap<&'a str, &'a [String]> {
    if !opts.allow_destructive {
        return HashMap::new();
    }
    let adds_to: std::collections::HashSet<&str> = plan
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::AddMembers {
                group: GroupRef::Existing(id),
                ..
            } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    plan.operations
        .iter()
        .filter_map(|op| match op {
            Operation::RemoveMembers {
                group_id, user_ids, ..
            } if adds_to.contains(group_id.as_str()) => {
                Some((group_id.as_str(), user_ids.as_slice()))
            }
            _ => None,
        })
        .collect()
}

/// Fills `summary` with what `plan` would do, counted as [`execute`] counts what it did, so a
/// dry run's summary (and its metrics, under the dry-run dimension) reads like a real pass's.
pub fn count_planned(plan: &Plan, summary: &mut Summary) {
    for op in &plan.operations {
        match op {
            Operation::CreateUser { .. } => summary.users_created += 1,
            Operation::UpdateUser { .. } => summary.users_updated += 1,
            Operation::DisableUser { .. } => summary.users_disabled += 1,
            Operation::DeleteUser { .. } => summary.users_deleted += 1,
            Operation::CreateGroup { .. } => summary.groups_created += 1,
            Operation::RenameGroup { .. } | Operation::AdoptGroup { .. } => {
                summary.groups_updated += 1
            }
            Operation::DeleteGroup { .. } => summary.groups_deleted += 1,
            Operation::AddMembers { users, .. } => summary.members_added += users.len() as u64,
            Operation::RemoveMembers { user_ids, .. } => {
                summary.members_removed += user_ids.len() as u64
            }
        }
    }
}

fn record(outcome: Outcome, summary: &mut Summary, created: &mut Created) {
    match outcome {
        Outcome::UserCreated { external_id, id } => {
            summary.users_created += 1;
            created.users.insert(external_id, id);
        }
        Outcome::GroupCreated { external_id, id } => {
            summary.groups_created += 1;
            created.groups.insert(external_id, id);
        }
        Outcome::UserUpdated => summary.users_updated += 1,
        Outcome::UserDisabled => summary.users_disabled += 1,
        Outcome::UserDeleted => summary.users_deleted += 1,
        Outcome::GroupUpdated => summary.groups_updated += 1,
        Outcome::GroupDeleted => summary.groups_deleted += 1,
        Outcome::MembersChanged { added, removed } => {
            summary.members_added += added;
            summary.members_removed += removed;
        }
        Outcome::GroupCreatedWithMembers {
            external_id,
            id,
            added,
        } => {
            summary.groups_created += 1;
            summary.members_added += added;
            created.groups.insert(external_id, id);
        }
        Outcome::MembersRemoved(n) => summary.members_removed += n,
        Outcome::Conflict(c) => summary.conflicts.push(c),
        Outcome::Failed(f) => summary.failures.push(f),
        Outcome::Unfinished(what) => summary.unfinished.push(what),
        Outcome::NotStarted => {}
    }
}

impl<W: Writer> Run<'_, W> {
    fn may_start(&self) -> bool {
        if self.auth_failed.load(Ordering::SeqCst) {
            return false;
        }
        if let Some(at) = self.opts.stop_starting_at {
            if Instant::now() >= at {
                self.cut_short.store(true, Ordering::SeqCst);
                return false;
            }
        }
        true
    }

    fn fail(&self, operation: &str, target: String, err: W::Error) -> Outcome {
        if err.is_auth_failure() {
            self.auth_failed.store(true, Ordering::SeqCst);
        }
        if err.is_conflict() {
            return Outcome::Conflict(format!("{operation} {target}: {err}"));
        }
        if err.is_deadline_reached() {
            self.cut_short.store(true, Ordering::SeqCst);
            return Outcome::Unfinished(format!("{operation} {target}: {err}"));
        }
        Outcome::Failed(Failure {
            operation: operation.to_string(),
            target,
            error: err.to_string(),
        })
    }

    async fn apply(&self, op: &Operation, created: &Created) -> Outcome {
        if !self.may_start() {
            return Outcome::NotStarted;
        }
        let w = self.writer;
        match op {
            Operation::CreateUser { user } => match w.create_user(user).await {
                Ok(id) => Outcome::UserCreated {
                    external_id: user.external_id.clone(),
                    id,
                },
                Err(e) => self.fail(
                    "create user",
                    user_target(&user.user_name, &user.external_id),
                    e,
                ),
            },
            // An update runs with the objects, before any hold-back could apply: one that
            // switched a user off would take access away unguarded. The planner never makes
            // one (a deactivation is a `DisableUser`); should a plan hold one anyway, it is
            // refused, never sent.
            Operation::UpdateUser { user, changed, .. }
                if changed.contains(&UserField::Active) && !user.active =>
            {
                Outcome::Failed(Failure {
                    operation: "update user".to_string(),
                    target: user_target(&user.user_name, &user.external_id),
                    error: "refused: an update may not deactivate a user (a deactivation is a \
                            disable of its own, which the guard and read errors can hold back)"
                        .to_string(),
                })
            }
            Operation::UpdateUser { id, user, changed } => {
                match w.update_user(id, user, changed).await {
                    Ok(()) => Outcome::UserUpdated,
                    Err(e) => self.fail(
                        "update user",
                        user_target(&user.user_name, &user.external_id),
                        e,
                    ),
                }
            }
            Operation::DisableUser {
                id,
                external_id,
                user_name,
            } => match w.set_user_active(id, false).await {
                Ok(()) => Outcome::UserDisabled,
                Err(e) => self.fail("disable user", user_target(user_name, external_id), e),
            },
            Operation::DeleteUser {
                id,
                external_id,
                user_name,
            } => match w.delete_user(id).await {
                Ok(()) => Outcome::UserDeleted,
                Err(e) => self.fail("delete user", user_target(user_name, external_id), e),
            },
            Operation::CreateGroup {
                external_id,
                display_name,
            } => match w.create_group(display_name, external_id).await {
                Ok(id) => Outcome::GroupCreated {
                    external_id: external_id.clone(),
                    id,
                },
                Err(e) => self.fail("create group", group_target(display_name, external_id), e),
            },
            Operation::RenameGroup {
                id,
                external_id,
                to,
                ..
            } => match w.rename_group(id, to).await {
                Ok(()) => Outcome::GroupUpdated,
                Err(e) => self.fail("rename group", group_target(to, external_id), e),
            },
            Operation::AdoptGroup {
                id,
                external_id,
                display_name,
            } => match w.set_group_external_id(id, external_id).await {
                Ok(()) => Outcome::GroupUpdated,
                Err(e) => self.fail("adopt group", group_target(display_name, external_id), e),
            },
            Operation::DeleteGroup {
                id,
                external_id,
                display_name,
            } => match w.delete_group(id).await {
                Ok(()) => Outcome::GroupDeleted,
                Err(e) => self.fail("delete group", group_target(display_name, external_id), e),
            },
            Operation::AddMembers {
                group,
                group_name,
                users,
            } => self.add_members(group, group_name, users, created).await,
            Operation::RemoveMembers {
                group_id,
                group_name,
                user_ids,
            } => match w.remove_members(group_id, user_ids).await {
                Ok(()) => Outcome::MembersRemoved(user_ids.len() as u64),
                Err(e) => self.fail("remove members", format!("group {group_name}"), e),
            },
        }
    }

    async fn add_members(
        &self,
        group: &GroupRef,
        group_name: &str,
        users: &[UserRef],
        created: &Created,
    ) -> Outcome {
        let ids_of = |users: &[UserRef]| -> Vec<String> {
            users
                .iter()
                .filter_map(|u| match u {
                    UserRef::Existing(id) => Some(id.to_string()),
                    UserRef::New(ext) => created.users.get(&**ext).cloned(),
                })
                .collect()
        };
        if let GroupRef::New(ext) = group {
            if let Some(name) = self.created_with_members.get(ext.as_str()) {
                // Users whose create failed were reported already; the group is still made.
                let ids = ids_of(users);
                return match self.writer.create_group_with_members(name, ext, &ids).await {
                    Ok(id) => Outcome::GroupCreatedWithMembers {
                        external_id: ext.clone(),
                        id,
                        added: ids.len() as u64,
                    },
                    Err(e) => self.fail("create group", group_target(name, ext), e),
                };
            }
        }
        let group_id = match group {
            GroupRef::Existing(id) => id.clone(),
            GroupRef::New(ext) => match created.groups.get(ext) {
                Some(id) => id.clone(),
                // The group's create failed and was reported; its members follow next pass.
                None => return Outcome::NotStarted,
            },
        };
        // Users whose create failed were reported already; the rest are still added.
        let ids = ids_of(users);
        let removals = self
            .merged_removals
            .get(group_id.as_str())
            .copied()
            .unwrap_or_default();
        if ids.is_empty() && removals.is_empty() {
            return Outcome::NotStarted;
        }
        match self.writer.change_members(&group_id, &ids, removals).await {
            Ok(()) => Outcome::MembersChanged {
                added: ids.len() as u64,
                removed: removals.len() as u64,
            },
            Err(e) => self.fail("change members", format!("group {group_name}"), e),
        }
    }
}

fn user_target(user_name: &str, external_id: &str) -> String {
    format!("user {user_name} ({external_id})")
}

fn group_target(name: &str, external_id: &str) -> String {
    format!("group {name} ({external_id})")
}
