use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use super::writer::{WriteError, Writer};
use crate::audit::{AuditBook, AuditResult, AuditSink, ChangeRecord, NoAudit};
use crate::model::settings::UserAttribute;
use crate::model::{Failure, Finding, Reason, ReasonCode, Summary};
use crate::plan::{GroupRef, Operation, Phase, Plan, UserField, UserRef};

/// Membership changes per audit record and per writer call: Identity Center's limit for one
/// PATCH, so each record stands for exactly one request.
pub const MEMBERS_PER_RECORD: usize = 100;

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
    Conflict(String),
    Failed(Failure),
    /// Stopped by the deadline part-way (a member change between two PATCHes) or while
    /// waiting out throttling: reported as unfinished, not as a failure.
    Unfinished(String),
    NotStarted,
    /// The parts of an operation sent in several requests (member changes).
    Several(Vec<Outcome>),
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
    created_with_members: HashMap<&'a str, &'a Operation>,
    book: &'a AuditBook<'a>,
    sink: &'a dyn AuditSink,
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
    let book = AuditBook::empty(summary.pass_id.clone());
    execute_audited(writer, plan, opts, summary, &book, &NoAudit).await;
}

/// [`execute`], with one audit record into `sink` for every write attempted (exactly one
/// when it ends, one per PATCH for member changes) and for every change held back or not
/// started. `book` names the objects.
pub async fn execute_audited<W: Writer>(
    writer: &W,
    plan: &Plan,
    opts: &ExecuteOptions,
    summary: &mut Summary,
    book: &AuditBook<'_>,
    sink: &dyn AuditSink,
) {
    let run = Run {
        writer,
        opts,
        merged_removals: merged_removals(plan, opts),
        auth_failed: AtomicBool::new(false),
        cut_short: AtomicBool::new(false),
        created_with_members: created_with_members(plan),
        book,
        sink,
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
            let why = Reason::new(
                ReasonCode::PartialRead,
                "part of Identity Center could not be read, so nothing is taken away in this \
                 pass",
            );
            for op in ops {
                run.held_back(op, AuditResult::Withheld, why.clone());
            }
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

/// New groups whose members the plan adds: externalId → their `CreateGroup`.
fn created_with_members(plan: &Plan) -> HashMap<&str, &Operation> {
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
            Operation::CreateGroup { external_id, .. }
                if gains_members.contains(external_id.as_str()) =>
            {
                Some((external_id.as_str(), op))
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
            Operation::SetManager { .. } => summary.users_updated += 1,
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
        Outcome::Conflict(c) => summary
            .conflicts
            .push(Finding::new(ReasonCode::WriteConflict, c)),
        Outcome::Failed(f) => summary.failures.push(f),
        Outcome::Unfinished(what) => summary
            .unfinished
            .push(Finding::new(ReasonCode::DeadlineReached, what)),
        Outcome::NotStarted => {}
        Outcome::Several(parts) => {
            for part in parts {
                record(part, summary, created);
            }
        }
    }
}

impl<W: Writer> Run<'_, W> {
    /// Whether another write may start; when not, why (for the record).
    fn may_start(&self) -> Result<(), Reason> {
        if self.auth_failed.load(Ordering::SeqCst) {
            return Err(Reason::new(
                ReasonCode::TokenRejected,
                "Identity Center rejected the SCIM token earlier in this pass",
            ));
        }
        if let Some(at) = self.opts.stop_starting_at {
            if Instant::now() >= at {
                self.cut_short.store(true, Ordering::SeqCst);
                return Err(Reason::new(
                    ReasonCode::DeadlineReached,
                    "the pass reached its deadline; the next pass continues",
                ));
            }
        }
        Ok(())
    }

    /// Records an operation that was not sent.
    fn held_back(&self, op: &Operation, result: AuditResult, why: Reason) {
        let record = match op {
            Operation::AddMembers { users, .. } => {
                let names: Vec<String> = users.iter().map(|u| self.book.member_name(u)).collect();
                self.book.members_record(op, None, &names, &[])
            }
            Operation::RemoveMembers { user_ids, .. } => {
                let names: Vec<String> = user_ids
                    .iter()
                    .map(|id| self.book.user_name_of_id(id))
                    .collect();
                self.book.members_record(op, None, &[], &names)
            }
            _ => self.book.record(op),
        };
        self.sink.record(&record.held_back(result, why));
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

    /// Applies `op` and writes its audit record (member changes write one per PATCH).
    async fn apply(&self, op: &Operation, created: &Created) -> Outcome {
        if let Err(why) = self.may_start() {
            // A new group created with its members: its create is this operation too.
            if let Operation::AddMembers {
                group: GroupRef::New(ext),
                ..
            } = op
            {
                if let Some(create) = self.created_with_members.get(ext.as_str()) {
                    self.held_back(create, AuditResult::NotStarted, why.clone());
                }
            }
            self.held_back(op, AuditResult::NotStarted, why);
            return Outcome::NotStarted;
        }
        if matches!(
            op,
            Operation::AddMembers { .. }
                | Operation::RemoveMembers { .. }
                | Operation::SetManager { .. }
        ) {
            return self.apply_one(op, created).await;
        }
        let outcome = self.apply_one(op, created).await;
        self.sink.record(&settled(self.book.record(op), &outcome));
        outcome
    }

    async fn apply_one(&self, op: &Operation, created: &Created) -> Outcome {
        let w = self.writer;
        match op {
            Operation::CreateUser { user, .. } => match w.create_user(user).await {
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
            Operation::UpdateUser {
                id, user, changed, ..
            } => match w.update_user(id, user, changed).await {
                Ok(()) => Outcome::UserUpdated,
                Err(e) => self.fail(
                    "update user",
                    user_target(&user.user_name, &user.external_id),
                    e,
                ),
            },
            Operation::DisableUser {
                id,
                external_id,
                user_name,
                ..
            } => match w.set_user_active(id, false).await {
                Ok(()) => Outcome::UserDisabled,
                Err(e) => self.fail("disable user", user_target(user_name, external_id), e),
            },
            Operation::DeleteUser {
                id,
                external_id,
                user_name,
                ..
            } => match w.delete_user(id).await {
                Ok(()) => Outcome::UserDeleted,
                Err(e) => self.fail("delete user", user_target(user_name, external_id), e),
            },
            Operation::CreateGroup {
                external_id,
                display_name,
                ..
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
                ..
            } => match w.set_group_external_id(id, external_id).await {
                Ok(()) => Outcome::GroupUpdated,
                Err(e) => self.fail("adopt group", group_target(display_name, external_id), e),
            },
            Operation::DeleteGroup {
                id,
                external_id,
                display_name,
                ..
            } => match w.delete_group(id).await {
                Ok(()) => Outcome::GroupDeleted,
                Err(e) => self.fail("delete group", group_target(display_name, external_id), e),
            },
            Operation::AddMembers {
                group,
                group_name,
                users,
                ..
            } => {
                self.add_members(op, group, group_name, users, created)
                    .await
            }
            Operation::RemoveMembers {
                group_id,
                group_name,
                user_ids,
                ..
            } => {
                let remove: Vec<(&str, String)> = user_ids
                    .iter()
                    .map(|id| (id.as_str(), self.book.user_name_of_id(id)))
                    .collect();
                self.patch_members(op, group_id, group_name, &[], &remove)
                    .await
            }
            Operation::SetManager {
                user,
                user_name,
                manager,
                ..
            } => {
                self.set_manager(op, user, user_name, manager, created)
                    .await
            }
        }
    }

    /// Sets a manager created in this pass, once both it and the user have an id: a create
    /// that failed (or was not started) leaves `enterprise.manager` as it is, with a record
    /// saying why, rather than naming a user that does not exist. One record, whose `to` is
    /// the manager's new id.
    async fn set_manager(
        &self,
        op: &Operation,
        user: &UserRef,
        user_name: &str,
        manager: &UserRef,
        created: &Created,
    ) -> Outcome {
        let id_of = |r: &UserRef| match r {
            UserRef::Existing(id) => Some(id.to_string()),
            UserRef::New(ext) => created.users.get(&**ext).cloned(),
        };
        let (user_id, manager_id) = match (id_of(user), id_of(manager)) {
            (Some(u), Some(m)) => (u, m),
            (u, _) => {
                let whose = if u.is_none() { "user's" } else { "manager's" };
                self.held_back(
                    op,
                    AuditResult::NotStarted,
                    Reason::new(
                        ReasonCode::EarlierWriteFailed,
                        format!(
                            "the {whose} create did not succeed in this pass (it failed, was \
                             not started, or is not part of an --only run), so \
                             enterprise.manager is left as it is; the next pass sets it"
                        ),
                    ),
                );
                return Outcome::NotStarted;
            }
        };
        let outcome = match self.writer.set_manager(&user_id, &manager_id).await {
            Ok(()) => Outcome::UserUpdated,
            Err(e) => self.fail("set manager", user_target(user_name, user.as_str()), e),
        };
        let mut record = self.book.record(op);
        record.object.id = Some(user_id);
        if let Some(change) = record
            .changes
            .attributes
            .get_mut(UserField::Attribute(UserAttribute::Manager).scim_name())
        {
            change.to = serde_json::Value::String(manager_id);
        }
        self.sink.record(&settled(record, &outcome));
        outcome
    }

    /// Sends a group's member changes one PATCH's worth at a time (additions first, as the
    /// writer would), with one record per PATCH. After a failed PATCH the rest is not sent
    /// (the writer would fail the same way) and is recorded as not started.
    async fn patch_members(
        &self,
        op: &Operation,
        group_id: &str,
        group_name: &str,
        add: &[(&str, String)],
        remove: &[(&str, String)],
    ) -> Outcome {
        let changes: Vec<(bool, &(&str, String))> = add
            .iter()
            .map(|a| (true, a))
            .chain(remove.iter().map(|r| (false, r)))
            .collect();
        let mut parts = Vec::new();
        let mut stopped: Option<Reason> = None;
        for chunk in changes.chunks(MEMBERS_PER_RECORD) {
            let ids = |adding: bool| -> Vec<String> {
                chunk
                    .iter()
                    .filter(|(a, _)| *a == adding)
                    .map(|(_, (id, _))| id.to_string())
                    .collect()
            };
            let names = |adding: bool| -> Vec<String> {
                chunk
                    .iter()
                    .filter(|(a, _)| *a == adding)
                    .map(|(_, (_, name))| name.clone())
                    .collect()
            };
            let record = self
                .book
                .members_record(op, Some(group_id), &names(true), &names(false));
            if stopped.is_none() {
                if let Err(why) = self.may_start() {
                    stopped = Some(why);
                }
            }
            if let Some(why) = &stopped {
                self.sink
                    .record(&record.held_back(AuditResult::NotStarted, why.clone()));
                continue;
            }
            let (a, r) = (ids(true), ids(false));
            match self.writer.change_members(group_id, &a, &r).await {
                Ok(()) => {
                    self.sink.record(&record.ended(AuditResult::Ok));
                    parts.push(Outcome::MembersChanged {
                        added: a.len() as u64,
                        removed: r.len() as u64,
                    });
                }
                Err(e) => {
                    let outcome = self.fail("change members", format!("group {group_name}"), e);
                    let error = match &outcome {
                        Outcome::Conflict(m) => m.clone(),
                        Outcome::Failed(f) => f.error.clone(),
                        _ => String::new(),
                    };
                    self.sink.record(&record.failed(error));
                    parts.push(outcome);
                    stopped = Some(Reason::new(
                        ReasonCode::EarlierWriteFailed,
                        "an earlier membership PATCH of this group failed in this pass",
                    ));
                }
            }
        }
        Outcome::Several(parts)
    }

    async fn add_members(
        &self,
        op: &Operation,
        group: &GroupRef,
        group_name: &str,
        users: &[UserRef],
        created: &Created,
    ) -> Outcome {
        if let GroupRef::New(ext) = group {
            if let Some(create) = self.created_with_members.get(ext.as_str()) {
                return self.create_with_members(create, ext, users, created).await;
            }
        }
        let group_id = match group {
            GroupRef::Existing(id) => id.clone(),
            GroupRef::New(ext) => match created.groups.get(ext) {
                Some(id) => id.clone(),
                // The group's create failed and was reported; its members follow next pass.
                None => {
                    self.held_back(
                        op,
                        AuditResult::NotStarted,
                        Reason::new(
                            ReasonCode::EarlierWriteFailed,
                            "the group's create failed in this pass; its members follow in the \
                             next pass",
                        ),
                    );
                    return Outcome::NotStarted;
                }
            },
        };
        // Users whose create failed were reported already; the rest are still added.
        let ids: Vec<(&str, String)> = users
            .iter()
            .filter_map(|u| {
                let id = match u {
                    UserRef::Existing(id) => &**id,
                    UserRef::New(ext) => created.users.get(&**ext)?.as_str(),
                };
                Some((id, self.book.member_name(u)))
            })
            .collect();
        let removals: Vec<(&str, String)> = self
            .merged_removals
            .get(group_id.as_str())
            .copied()
            .unwrap_or_default()
            .iter()
            .map(|id| (id.as_str(), self.book.user_name_of_id(id)))
            .collect();
        if ids.is_empty() && removals.is_empty() {
            return Outcome::NotStarted;
        }
        self.patch_members(op, &group_id, group_name, &ids, &removals)
            .await
    }

    /// A new group created together with its first members (one request for up to 100):
    /// one record, the group's create, naming the members it carried. Users whose create
    /// failed were reported already; the group is still made.
    async fn create_with_members(
        &self,
        create: &Operation,
        ext: &str,
        users: &[UserRef],
        created: &Created,
    ) -> Outcome {
        let name = match create {
            Operation::CreateGroup { display_name, .. } => display_name.as_str(),
            _ => ext,
        };
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for u in users {
            let id = match u {
                UserRef::Existing(id) => Some(id.to_string()),
                UserRef::New(x) => created.users.get(&**x).cloned(),
            };
            if let Some(id) = id {
                ids.push(id);
                names.push(self.book.member_name(u));
            }
        }
        let outcome = match self.writer.create_group_with_members(name, ext, &ids).await {
            Ok(id) => Outcome::GroupCreatedWithMembers {
                external_id: ext.to_string(),
                id,
                added: ids.len() as u64,
            },
            Err(e) => self.fail("create group", group_target(name, ext), e),
        };
        let mut record = self.book.record(create);
        record.changes.members_added = names;
        self.sink.record(&settled(record, &outcome));
        outcome
    }
}

/// A write's record with its outcome: the new object's id, or the error.
fn settled(mut record: ChangeRecord, outcome: &Outcome) -> ChangeRecord {
    match outcome {
        Outcome::UserCreated { id, .. }
        | Outcome::GroupCreated { id, .. }
        | Outcome::GroupCreatedWithMembers { id, .. } => {
            record.object.id = Some(id.clone());
            record.ended(AuditResult::Ok)
        }
        Outcome::Conflict(m) => record.failed(m.clone()),
        Outcome::Failed(f) => record.failed(f.error.clone()),
        _ => record.ended(AuditResult::Ok),
    }
}

fn user_target(user_name: &str, external_id: &str) -> String {
    format!("user {user_name} ({external_id})")
}

fn group_target(name: &str, external_id: &str) -> String {
    format!("group {name} ({external_id})")
}
