use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use aws_config::SdkConfig;
use serde::Serialize;

use super::error::PassError;
use super::select::{self, Target};
use super::sources::read_directory;
use crate::apply::{count_planned, execute_audited, ExecuteOptions};
use crate::audit::{self, AuditBook, AuditResult, AuditSink};
use crate::config::Settings;
use crate::identity_center::{read_state, ScimClient};
use crate::model::settings::GuardSettings;
use crate::model::{DirectorySnapshot, Finding, IdcSnapshot, Reason, ReasonCode, Summary};
use crate::plan::{self, GuardBase, Operation, Plan, UserField, UserRef};
use crate::state::WatermarkStore;

/// Per-run choices the front ends make (the Lambda from its event, the CLI from its command).
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Plan and report only.
    pub dry_run: bool,
    /// Lets destructive changes past the mass-change guard for this run only.
    pub allow_mass_changes: bool,
    /// Start no write at or after this instant (Lambda deadline less the safety margin).
    pub stop_starting_at: Option<Instant>,
    /// Provision on demand: apply only the operations concerning these objects (users or
    /// groups, by any name [`select::find`] knows). Empty means everything.
    pub only: Vec<String>,
    /// Sync only what changed in the directory since the stored watermark (see
    /// `pass::incremental`); falls back to a full pass, with the reason in the summary,
    /// whenever the watermark cannot be trusted.
    pub incremental: bool,
    /// Where watermarks are kept. A full pass with a store saves one (so the next incremental
    /// pass can start from it); an incremental pass needs one.
    pub watermarks: Option<WatermarkStore>,
}

/// Both sides as read, and the plan after the guard: what a pass would do, before it does it.
pub struct Inspection {
    pub directory: DirectorySnapshot,
    pub current: IdcSnapshot,
    /// The plan after the mass-change guard.
    pub plan: Plan,
    /// Why destructive changes are held back (guard, partial read); empty when none are.
    pub withheld: Vec<Finding>,
    /// The operations the guard or a read error took out of the plan.
    pub held_back: Vec<Operation>,
    /// Why they were taken out (the guard's and the read errors' findings).
    pub held_because: Vec<Finding>,
    /// Entries the directory reader skipped, as findings.
    pub directory_skipped: Vec<Finding>,
}

/// What a pass decided and what it did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub summary: Summary,
    pub plan: Plan,
    /// The plan names users by Identity Center id or objectSid; this maps both (for the users
    /// the plan's member changes refer to) to a userName, so a person or a script reading the
    /// plan sees who is meant.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub user_names: HashMap<String, String>,
}

/// The settings of one pass and the SCIM client it talks through.
///
/// The client owns the rate limiter, so every request of one pass shares one budget and one set
/// of learned rates (see `identity_center::pacing`). The Lambda builds a new session per invocation (fresh
/// settings) around the client it keeps warm ([`Session::with_client`]), so warm passes share
/// the budget, the token and what the client has learned too.
pub struct Session {
    pub(super) settings: Settings,
    pub(super) client: ScimClient,
    /// Present when the token came from Secrets Manager and can be re-read after a 401.
    pub(super) sdk: Option<SdkConfig>,
}

impl Session {
    /// Builds the SCIM client from `settings`; `sdk` enables re-reading a rotated token.
    pub fn new(settings: Settings, sdk: Option<SdkConfig>) -> Result<Self, PassError> {
        let client = ScimClient::new(settings.scim.clone())?;
        Ok(Self {
            settings,
            client,
            sdk,
        })
    }

    /// A session around an existing client (a clone shares its pool, token, limiter and
    /// counters). The client is given `settings`' token, so a token rotated since the client
    /// was built is used from the first request.
    pub fn with_client(settings: Settings, client: ScimClient, sdk: Option<SdkConfig>) -> Self {
        client.set_token(settings.scim.token.clone());
        Self {
            settings,
            client,
            sdk,
        }
    }

    /// The client this session talks through; clone it to keep it for a later session.
    pub fn client(&self) -> &ScimClient {
        &self.client
    }

    /// The settings the session runs on.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Reads both sides, plans and applies the guard; writes nothing.
    pub async fn inspect(&self, opts: &PassOptions) -> Result<Inspection, PassError> {
        let directory = read_directory(&self.settings).await?;
        let wanted: BTreeSet<String> = directory
            .groups
            .iter()
            .map(|g| g.object_guid.clone())
            .collect();
        let current = read_state(&self.client, &wanted).await?;
        Ok(self.hold_back(directory, current, None, opts))
    }

    /// Plans `directory` against `current` and runs the one hold-back path. `guard_base` is
    /// what the guard's shares are taken of when `current` is only part of Identity Center
    /// (an incremental pass); `None` counts the managed objects in `current`.
    pub(super) fn hold_back(
        &self,
        directory: DirectorySnapshot,
        current: IdcSnapshot,
        guard_base: Option<GuardBase>,
        opts: &PassOptions,
    ) -> Inspection {
        let planned = plan::plan(&directory, &current, &self.settings.policy);
        let guard = GuardSettings {
            allow_mass_changes: self.settings.guard.allow_mass_changes || opts.allow_mass_changes,
            ..self.settings.guard.clone()
        };
        let takes_away: Vec<Operation> = planned
            .operations
            .iter()
            .filter(|op| takes_access_away(op))
            .cloned()
            .collect();
        // One hold-back path, the same for a dry run and a real one, so `plan` never lists a
        // change `apply` would not make: the planner's own (unknown directory state), read
        // errors, then the guard.
        let mut withheld = planned.withheld.clone();
        let (planned, read_held) = plan::withhold_on_read_errors(planned, &current);
        let (planned, guard_held) = match guard_base {
            None => plan::apply_guard(planned, &current, &directory, &guard),
            // The directory here is the part an incremental pass read (it may hold no user
            // at all, e.g. when the only change is a user who left): whether the directory
            // is empty is the base's to say.
            Some(base) => plan::apply_guard_on(planned, &base, base.users == 0, &guard),
        };
        let held_because: Vec<Finding> = guard_held.iter().chain(&read_held).cloned().collect();
        withheld.extend(read_held);
        withheld.extend(guard_held);
        let held_back = if held_because.is_empty() {
            Vec::new()
        } else {
            let kept: HashSet<(&'static str, String)> =
                planned.operations.iter().map(op_key).collect();
            takes_away
                .into_iter()
                .filter(|op| !kept.contains(&op_key(op)))
                .collect()
        };
        let directory_skipped = directory.skipped.iter().map(|s| s.to_finding()).collect();
        Inspection {
            directory,
            current,
            plan: planned,
            withheld,
            held_back,
            held_because,
            directory_skipped,
        }
    }

    /// Restricts the plan to `--only`, applies it (or counts it, for a dry run) and builds the
    /// report: the part of a pass after both sides were read and the plan held back.
    pub(super) async fn finish(
        &self,
        inspection: &Inspection,
        opts: &PassOptions,
        sink: &dyn AuditSink,
        started: Instant,
        requests_before: crate::identity_center::ScimRequestCounts,
    ) -> Result<PassReport, PassError> {
        let pass_id = audit::new_pass_id();
        let Inspection {
            directory,
            current,
            plan: full_plan,
            withheld,
            held_back,
            held_because,
            directory_skipped,
        } = inspection;

        let targets = find_all(&opts.only, directory, current)?;
        let (planned, held_back, skipped_by_reader) = if targets.is_empty() {
            (
                full_plan.clone(),
                held_back.clone(),
                directory_skipped.clone(),
            )
        } else {
            let keep = |f: &&Finding| targets.iter().any(|t| t.concerns(f));
            (
                select::restrict_plan(full_plan, &targets),
                held_back
                    .iter()
                    .filter_map(|op| select::restrict(op, &targets))
                    .collect(),
                directory_skipped.iter().filter(keep).cloned().collect(),
            )
        };

        let dry_run = opts.dry_run || self.settings.run.dry_run;
        let mut summary = Summary {
            pass_id: pass_id.clone(),
            dry_run,
            conflicts: planned.conflicts.clone(),
            skipped: skipped_by_reader
                .into_iter()
                .chain(planned.skipped.iter().cloned())
                .collect(),
            withheld: withheld.clone(),
            version: crate::VERSION.to_string(),
            ..Summary::default()
        };
        if dry_run {
            count_planned(&planned, &mut summary);
        } else {
            let book = AuditBook::new(pass_id, directory, current, &planned);
            record_held_back(&book, sink, &held_back, held_because);
            let exec = ExecuteOptions {
                concurrency: self.settings.scim.concurrency.max(1) * 2,
                stop_starting_at: opts.stop_starting_at,
                allow_destructive: current.read_errors.is_empty(),
            };
            self.client.set_retry_deadline(opts.stop_starting_at);
            execute_audited(&self.client, &planned, &exec, &mut summary, &book, sink).await;
            self.client.set_retry_deadline(None);
            let learned = self.client.learned_rates();
            tracing::info!(
                overall_per_sec = learned.overall,
                by_api = ?learned.by_api,
                throttled_by_api = ?learned.throttled_by_api,
                max_per_sec = learned.max,
                "SCIM rates learned so far (kept for the next pass of this process)"
            );
        }
        let requests = self.client.request_counts();
        summary.scim_reads = requests.reads.saturating_sub(requests_before.reads);
        summary.scim_writes = requests.writes.saturating_sub(requests_before.writes);
        summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let user_names = user_names(directory, current, &planned);
        Ok(PassReport {
            summary,
            plan: planned,
            user_names,
        })
    }
}

/// Every name in `only` as an object of the pass, or an error naming what was not found.
pub(crate) fn find_all<'a>(
    only: &[String],
    directory: &'a DirectorySnapshot,
    current: &'a IdcSnapshot,
) -> Result<Vec<Target<'a>>, PassError> {
    only.iter()
        .map(|who| {
            select::find(who, directory, current).ok_or_else(|| PassError::NotFound(who.clone()))
        })
        .collect()
}

/// An update that switches a user off takes access away like a disable.
fn takes_access_away(op: &Operation) -> bool {
    op.is_destructive()
        || matches!(op, Operation::UpdateUser { user, changed, .. }
            if changed.contains(&UserField::Active) && !user.active)
        // Not access, but held back by the guard all the same (a changed groupDisplayName).
        || matches!(op, Operation::RenameGroup { reason, .. }
            if reason.code == crate::model::ReasonCode::GroupNamingChanged)
}

/// What identifies an operation among a plan's: its kind, target and (for an update) whether
/// it still deactivates.
fn op_key(op: &Operation) -> (&'static str, String) {
    let target = match op {
        Operation::CreateUser { user, .. } => user.external_id.clone(),
        Operation::UpdateUser {
            id, user, changed, ..
        } => format!(
            "{id}/{}",
            changed.contains(&UserField::Active) && !user.active
        ),
        Operation::DisableUser { id, .. }
        | Operation::DeleteUser { id, .. }
        | Operation::RenameGroup { id, .. }
        | Operation::AdoptGroup { id, .. }
        | Operation::DeleteGroup { id, .. } => id.clone(),
        Operation::CreateGroup { external_id, .. } => external_id.clone(),
        Operation::AddMembers { group, .. } => format!("{group:?}"),
        Operation::RemoveMembers { group_id, .. } => group_id.clone(),
        Operation::SetManager { user, .. } => user.as_str().to_string(),
    };
    (audit::action(op), target)
}

/// One `withheld` record per operation the guard held back, with the guard's reason.
fn record_held_back(
    book: &AuditBook<'_>,
    sink: &dyn AuditSink,
    held_back: &[Operation],
    withheld: &[Finding],
) {
    let Some(why) = withheld
        .iter()
        .find(|f| f.code == ReasonCode::HeldBackByGuard)
        .or(withheld.first())
    else {
        return;
    };
    let why = Reason::new(why.code, why.text.clone());
    for op in held_back {
        let record = match op {
            Operation::RemoveMembers { user_ids, .. } => {
                let names: Vec<String> =
                    user_ids.iter().map(|id| book.user_name_of_id(id)).collect();
                book.members_record(op, None, &[], &names)
            }
            _ => book.record(op),
        };
        sink.record(&record.held_back(AuditResult::Withheld, why.clone()));
    }
}

/// The Identity Center ids and directory objectSids the plan's member changes refer to,
/// mapped to the names a person knows them by. Only those: a map of every user would add
/// tens of MB to a large pass for nothing.
fn user_names(
    directory: &DirectorySnapshot,
    current: &IdcSnapshot,
    planned: &Plan,
) -> HashMap<String, String> {
    let mut wanted: HashSet<&str> = HashSet::new();
    for op in &planned.operations {
        match op {
            Operation::AddMembers { users, .. } => {
                wanted.extend(users.iter().map(UserRef::as_str));
            }
            Operation::RemoveMembers { user_ids, .. } => {
                wanted.extend(user_ids.iter().map(String::as_str));
            }
            _ => {}
        }
    }
    if wanted.is_empty() {
        return HashMap::new();
    }
    let idc = current
        .users
        .iter()
        .filter(|u| wanted.contains(u.id.as_ref()))
        .map(|u| (u.id.to_string(), u.user_name.clone()));
    let dir = directory
        .users
        .iter()
        .filter(|u| wanted.contains(u.object_sid.as_ref()))
        .map(|u| {
            let name = u
                .user_principal_name
                .as_ref()
                .unwrap_or(&u.sam_account_name);
            (u.object_sid.to_string(), name.clone())
        });
    idc.chain(dir).collect()
}
