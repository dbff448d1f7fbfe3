use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use aws_config::SdkConfig;
use serde::Serialize;

use super::error::PassError;
use super::sources::read_directory;
use crate::apply::{count_planned, execute, ExecuteOptions};
use crate::config::{self, Settings};
use crate::identity_center::{read_state, ScimClient};
use crate::model::settings::GuardSettings;
use crate::model::{DirectorySnapshot, IdcSnapshot, Summary};
use crate::plan::{self, Operation, Plan, UserRef};

/// Per-run choices the front ends make (the Lambda from its event, the CLI from its command).
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Plan and report only.
    pub dry_run: bool,
    /// Lets destructive changes past the mass-change guard for this run only.
    pub allow_mass_changes: bool,
    /// Start no write at or after this instant (Lambda deadline less the safety margin).
    pub stop_starting_at: Option<Instant>,
}

/// What a pass decided and what it did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub summary: Summary,
    pub plan: Plan,
    /// The plan names users by Identity Center id or objectSid; this maps both to a userName
    /// so a person reading the plan sees who is meant. Not part of the JSON output.
    #[serde(skip)]
    pub user_names: HashMap<String, String>,
}

/// The settings of one pass and the SCIM client it talks through.
///
/// The client owns the rate limiter, so every request of one pass shares one budget and one set
/// of learned rates (see `identity_center::pacing`). The Lambda builds a new session per invocation (fresh
/// settings) around the client it keeps warm ([`Session::with_client`]), so warm passes share
/// the budget, the token and what the client has learned too.
pub struct Session {
    settings: Settings,
    client: ScimClient,
    /// Present when the token came from Secrets Manager and can be re-read after a 401.
    sdk: Option<SdkConfig>,
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

    /// Runs one pass. When Identity Center rejects the token and it came from Secrets Manager,
    /// the secret is read again once (it may have been rotated since the pass read it) and the
    /// pass repeated; passes are idempotent, so a repeat never duplicates anything.
    pub async fn run(&mut self, opts: &PassOptions) -> Result<PassReport, PassError> {
        let first = self.run_once(opts).await;
        let rejected = match &first {
            Err(e) => e.is_token_rejected(),
            Ok(report) => report.summary.token_rejected,
        };
        if !rejected || !self.reload_token().await? {
            return first;
        }
        tracing::warn!(
            "SCIM token rejected; re-read it from Secrets Manager and retrying the pass once"
        );
        self.run_once(opts).await
    }

    /// Re-reads the token; false when there is nowhere to read it from or it did not change.
    async fn reload_token(&mut self) -> Result<bool, PassError> {
        let (Some(sdk), Some(secret_id)) = (&self.sdk, &self.settings.scim.token_secret_id) else {
            return Ok(false);
        };
        let token = config::reload_scim_token(sdk, secret_id).await?;
        if token == self.settings.scim.token {
            return Ok(false);
        }
        self.settings.scim.token = token.clone();
        self.client.set_token(token);
        Ok(true)
    }

    async fn run_once(&self, opts: &PassOptions) -> Result<PassReport, PassError> {
        let started = Instant::now();
        let requests_before = self.client.request_counts();
        let directory = read_directory(&self.settings).await?;
        let wanted: BTreeSet<String> = directory
            .groups
            .iter()
            .map(|g| g.object_guid.clone())
            .collect();
        let current = read_state(&self.client, &wanted).await?;

        let planned = plan::plan(&directory, &current, &self.settings.policy);
        let guard = GuardSettings {
            allow_mass_changes: self.settings.guard.allow_mass_changes || opts.allow_mass_changes,
            ..self.settings.guard.clone()
        };
        // One hold-back path, the same for a dry run and a real one, so `plan` never lists a
        // change `apply` would not make: the planner's own (unknown directory state), read
        // errors, then the guard.
        let mut withheld = planned.withheld.clone();
        let (planned, read_held) = plan::withhold_on_read_errors(planned, &current);
        let (planned, guard_held) = plan::apply_guard(planned, &current, &directory, &guard);
        withheld.extend(read_held);
        withheld.extend(guard_held);

        let dry_run = opts.dry_run || self.settings.run.dry_run;
        let mut summary = Summary {
            dry_run,
            conflicts: planned.conflicts.clone(),
            skipped: skipped_lines(&directory, &planned),
            withheld,
            version: crate::VERSION.to_string(),
            ..Summary::default()
        };
        if dry_run {
            count_planned(&planned, &mut summary);
        } else {
            let exec = ExecuteOptions {
                concurrency: self.settings.scim.concurrency.max(1) * 2,
                stop_starting_at: opts.stop_starting_at,
                allow_destructive: current.read_errors.is_empty(),
            };
            self.client.set_retry_deadline(opts.stop_starting_at);
            execute(&self.client, &planned, &exec, &mut summary).await;
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
        let user_names = user_names(&directory, &current, &planned);
        Ok(PassReport {
            summary,
            plan: planned,
            user_names,
        })
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
        .filter(|u| wanted.contains(u.id.as_str()))
        .map(|u| (u.id.clone(), u.user_name.clone()));
    let dir = directory
        .users
        .iter()
        .filter(|u| wanted.contains(u.object_sid.as_str()))
        .map(|u| {
            let name = u
                .user_principal_name
                .as_ref()
                .unwrap_or(&u.sam_account_name);
            (u.object_sid.clone(), name.clone())
        });
    idc.chain(dir).collect()
}

/// Entries the directory reader left out and users the planner would not send, in one list.
fn skipped_lines(directory: &DirectorySnapshot, planned: &Plan) -> Vec<String> {
    directory
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.dn, s.reason))
        .chain(planned.skipped.iter().cloned())
        .collect()
}

/// Compile-time check: a pass can run in a spawned task (`tokio::spawn`), which needs its
/// future to be `Send` for every lifetime.
#[allow(dead_code)]
fn pass_future_is_send(session: &mut Session, opts: &PassOptions) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(session.run(opts));
}
