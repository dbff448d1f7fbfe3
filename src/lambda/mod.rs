//! The Lambda front end: an EventBridge schedule or a manual invoke runs one pass.
//!
//! Configuration is read on every invocation (one GetParametersByPath and two
//! GetSecretValue calls), so a changed `Sync-Settings`, a rotated token or a one-off
//! `allowMassChanges` takes effect on the next invocation and is gone once unset. Only the
//! SCIM client is kept warm between invocations: its connection pool, rate limiter, token and
//! whatever it has learned about the endpoint. It is rebuilt only when the settings it was
//! built from change.
//!
//! With a lease table (`SCIM_SYNC_LEASE_TABLE`, which the template sets), a pass that writes
//! first takes the lease on its Identity Center (`crate::lease`); an invocation that finds it
//! held returns `{"skipped": …}` without reading or writing anything.

mod event;
mod response;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use tokio::sync::Mutex;

pub use event::{parse_invocation, Invocation};
pub use response::{pass_body, RESPONSE_BUDGET_BYTES};

use crate::audit::JsonLines;
use crate::config::{self, AwsNames, LeaseConfig, Settings};
use crate::lease::{self, Acquired, LeaseTable};
use crate::metrics;
use crate::model::settings::ScimClientConfig;
use crate::model::Summary;
use crate::pass::ScimClient;
use crate::pass::{PassOptions, Session};
use crate::secret::Secret;
use crate::state::WatermarkStore;

/// State shared by every invocation of one execution environment.
pub struct App {
    sdk: SdkConfig,
    names: AwsNames,
    /// The pass lease; `Ok(None)` when no table is configured, `Err` when its settings are
    /// invalid (reported by every invocation, which then does not run).
    lease: Result<Option<LeaseTable>, String>,
    /// The warm SCIM client; a mutex because one environment runs one pass at a time.
    warm: Mutex<Option<WarmClient>>,
    /// Where watermarks are kept: the lease table (`crate::state`); without it every pass
    /// is a full one and `{"incremental": true}` is refused.
    watermarks: Option<WatermarkStore>,
}

/// The SCIM client kept between invocations, with the settings it was built from.
struct WarmClient {
    /// Those settings without the token: a new token is handed to the same client, anything
    /// else (endpoint, concurrency, rate, retries, timeouts) needs a client built for it.
    built_for: ScimClientConfig,
    client: ScimClient,
    /// 1 for the environment's first client, counting up with each rebuild.
    generation: usize,
}

/// `scim` without its token, for comparing what a client was built for.
fn client_key(scim: &ScimClientConfig) -> ScimClientConfig {
    ScimClientConfig {
        token: Secret::new(String::new()),
        ..scim.clone()
    }
}

impl App {
    /// Reads the AWS SDK configuration from the environment; makes no network call.
    pub async fn new() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let lease = LeaseConfig::from_env().map_err(|e| e.to_string());
        Self::with_config(sdk, AwsNames::from_env(), lease)
    }

    /// An app on an explicit SDK configuration, names and lease settings (tests point these
    /// at moto).
    pub fn with_config(
        sdk: SdkConfig,
        names: AwsNames,
        lease: Result<Option<LeaseConfig>, String>,
    ) -> Self {
        let watermarks = lease
            .as_ref()
            .ok()
            .and_then(|c| c.as_ref())
            .map(|c| WatermarkStore::table(&sdk, c.table.clone()));
        let lease = lease.map(|c| c.map(|c| LeaseTable::new(&sdk, c.table)));
        if matches!(lease, Ok(None)) {
            tracing::warn!(
                "no lease table is set ({}): nothing stops two passes from overlapping",
                config::ENV_LEASE_TABLE
            );
        }
        Self {
            sdk,
            names,
            lease,
            warm: Mutex::new(None),
            watermarks,
        }
    }

    /// How many SCIM clients this environment has built so far (1 while the settings the
    /// client depends on stay the same).
    pub async fn clients_built(&self) -> usize {
        self.warm.lock().await.as_ref().map_or(0, |w| w.generation)
    }

    /// Handles one invocation. A pass that could not run returns an error, so the
    /// invocation is marked failed (retries, the failure destination and alarms follow); a
    /// pass that ran returns its summary, with the plan when it was a dry run.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let invocation = parse_invocation(&event.payload).map_err(Error::from)?;
        let mut warm = self.warm.lock().await;
        let settings = match config::load_from_aws(&self.sdk, &self.names).await {
            Ok(settings) => settings,
            Err(e) => return Err(self.failed(&invocation, e.to_string(), false)),
        };
        let mut session = self
            .session(&mut warm, settings)
            .map_err(|e| self.failed(&invocation, e, false))?;
        tracing::info!(deadline_ms = event.context.deadline, "invocation received");
        if let Some(who) = &invocation.explain {
            return match crate::explain::explain(&session, who).await {
                Ok(explanation) => Ok(json!(explanation)),
                Err(e) => {
                    tracing::error!(error = %e, "explain failed");
                    Err(Error::from(e.to_string()))
                }
            };
        }
        let dry_run = invocation.dry_run || session.settings().run.dry_run;
        let held = if dry_run {
            None // a dry run writes nothing, so it may run beside a pass
        } else {
            match self.take_lease(&session, &event.context).await {
                Ok(None) => None,
                Ok(Some(Acquired::Held(lease))) => Some(lease),
                Ok(Some(Acquired::Busy(holder))) => {
                    tracing::warn!(%holder, "pass skipped");
                    return Ok(json!({ "skipped": holder.to_string() }));
                }
                Err(e) => return Err(self.failed(&invocation, e, false)),
            }
        };
        let margin = session.settings().run.deadline_margin;
        let mut stop = stop_starting_at(event.context.deadline, margin);
        if let Some(lease) = &held {
            let lease_stop = lease.stop_writes_at(margin);
            stop = Some(stop.map_or(lease_stop, |s| s.min(lease_stop)));
        }
        let opts = PassOptions {
            dry_run: invocation.dry_run,
            allow_mass_changes: invocation.allow_mass_changes,
            stop_starting_at: stop,
            only: invocation.only.clone(),
            incremental: invocation.incremental,
            watermarks: self.watermarks.clone(),
        };
        // One JSON line per audit record on stdout: CloudWatch Logs keeps each as one event
        // whose fields Logs Insights can query directly (template.yaml's saved queries).
        let audit = JsonLines::new(std::io::stdout());
        let outcome = session.run_audited(&opts, &audit).await;
        if let Some(lease) = held {
            if let Err(e) = lease.release().await {
                tracing::warn!(error = %e, "could not give the lease back; it expires on its own");
            }
        }
        match outcome {
            Ok(report) => {
                metrics::emit(
                    &report.summary,
                    &metrics::namespace_from_env(),
                    &metrics::function_name_from_env(),
                    false,
                );
                log_summary(&report.summary);
                Ok(pass_body(&report))
            }
            Err(e) => Err(self.failed(&invocation, e.to_string(), e.is_token_rejected())),
        }
    }

    /// Takes the lease on this session's Identity Center until the invocation's deadline
    /// (plus a minute for the writes in flight); `None` without a lease table.
    async fn take_lease(
        &self,
        session: &Session,
        context: &lambda_runtime::Context,
    ) -> Result<Option<Acquired>, String> {
        let table = match &self.lease {
            Ok(Some(table)) => table,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.clone()),
        };
        let end = lease::lambda_lease_end(context.deadline, LEASE_SLACK, config::DEFAULT_LEASE);
        let owner = format!(
            "Lambda {}, request {}",
            metrics::function_name_from_env(),
            context.request_id
        );
        table
            .acquire(session.settings().scim.base_url.as_str(), &owner, end)
            .await
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// A session on this invocation's settings, around the warm client when it was built for
    /// the same endpoint and limits, or around a new one (kept for the next invocation).
    fn session(
        &self,
        warm: &mut Option<WarmClient>,
        settings: Settings,
    ) -> Result<Session, String> {
        let key = client_key(&settings.scim);
        if let Some(w) = warm.as_ref().filter(|w| w.built_for == key) {
            return Ok(Session::with_client(
                settings,
                w.client.clone(),
                Some(self.sdk.clone()),
            ));
        }
        let generation = warm.as_ref().map_or(0, |w| w.generation) + 1;
        if warm.is_some() {
            tracing::info!(
                "the SCIM settings changed since the last invocation; building a new SCIM client"
            );
        }
        let session = Session::new(settings, Some(self.sdk.clone())).map_err(|e| e.to_string())?;
        *warm = Some(WarmClient {
            built_for: key,
            client: session.client().clone(),
            generation,
        });
        Ok(session)
    }

    /// Reports a pass that could not run: metrics (with PassFailed and TokenRejected), a log
    /// line, and the error the runtime returns to the caller.
    fn failed(&self, invocation: &Invocation, message: String, token_rejected: bool) -> Error {
        let summary = Summary {
            dry_run: invocation.dry_run,
            token_rejected,
            version: crate::VERSION.to_string(),
            ..Summary::default()
        };
        metrics::emit(
            &summary,
            &metrics::namespace_from_env(),
            &metrics::function_name_from_env(),
            true,
        );
        tracing::error!(error = %message, "pass failed");
        Error::from(message)
    }
}

/// The pass's summary as one JSON log line (`event: "summary"`), next to its change records.
fn log_summary(summary: &Summary) {
    let line = json!({ "event": "summary", "passId": summary.pass_id, "summary": summary });
    println!("{line}");
}

/// How long a Lambda's lease outlasts its deadline: the writes in flight at the deadline end
/// within the request timeout, and Lambda stops the process at the deadline.
const LEASE_SLACK: Duration = Duration::from_secs(60);

/// 2001-09-09 in milliseconds since the epoch: any real deadline is later.
const LOCAL_RUNTIME_DEADLINE_LIMIT_MS: u64 = 1_000_000_000_000;

/// The instant after which no write starts: the invocation's deadline less the margin, so
/// the summary is still returned and logged inside the time limit. The margin never takes more
/// than a quarter of the time left, so a short function timeout still leaves room to work.
/// A deadline already past (or a clock before 1970) leaves no time at all.
fn stop_starting_at(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    if deadline_ms == 0 {
        return None; // no deadline given (a local runtime that does not set one)
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(u64::MAX, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
        });
    // Lambda sends milliseconds since the epoch; cargo-lambda's local runtime sends the timeout
    // itself (600000). Nothing before 2001 can be a real deadline, so such a value is read as
    // the time left.
    let remaining = if deadline_ms < LOCAL_RUNTIME_DEADLINE_LIMIT_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    let margin = margin.min(remaining / 4);
    Some(Instant::now() + remaining.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ms(d: Duration) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from((now + d).as_millis()).unwrap_or(u64::MAX)
    }

    #[test]
    fn the_margin_is_kept_before_the_deadline() {
        let at = stop_starting_at(in_ms(Duration::from_secs(900)), Duration::from_secs(30));
        let left = at.map(|t| t.saturating_duration_since(Instant::now()));
        assert!(left.is_some_and(|l| l > Duration::from_secs(860) && l <= Duration::from_secs(870)));
    }

    #[test]
    fn a_short_timeout_still_leaves_three_quarters_of_it() {
        let at = stop_starting_at(in_ms(Duration::from_secs(20)), Duration::from_secs(30));
        let left = at.map(|t| t.saturating_duration_since(Instant::now()));
        assert!(left.is_some_and(|l| l > Duration::from_secs(14) && l <= Duration::from_secs(15)));
    }

    #[test]
    fn a_local_runtime_timeout_counts_from_now() {
        let at = stop_starting_at(600_000, Duration::from_secs(30));
        let left = at.map(|t| t.saturating_duration_since(Instant::now()));
        assert!(left.is_some_and(|l| l > Duration::from_secs(560) && l <= Duration::from_secs(570)));
    }

    #[test]
    fn a_past_deadline_stops_at_once_and_no_deadline_means_none() {
        let at = stop_starting_at(in_ms(Duration::ZERO) - 5_000, Duration::from_secs(30));
        assert!(at.is_some_and(|t| t <= Instant::now()));
        assert_eq!(stop_starting_at(0, Duration::from_secs(30)), None);
    }
}
