//! The Lambda front end: an EventBridge schedule or a manual invoke runs one pass.
//!
//! Configuration is loaded on the first invocation (keeping the cold-start init short) and
//! kept, with the SCIM client and its rate limiter, for the warm invocations that follow.

mod event;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use tokio::sync::Mutex;

pub use event::{parse_invocation, Invocation};

use crate::config::{self, AwsNames};
use crate::metrics;
use crate::model::Summary;
use crate::pass::{PassOptions, Session};

/// State shared by every invocation of one execution environment.
pub struct App {
    sdk: SdkConfig,
    names: AwsNames,
    /// Filled on the first invocation; a mutex because passes must not overlap (the template
    /// also sets reserved concurrency to 1).
    session: Mutex<Option<Session>>,
}

impl App {
    /// Reads the AWS SDK configuration from the environment; makes no network call.
    pub async fn new() -> Self {
        Self {
            sdk: aws_config::defaults(BehaviorVersion::latest()).load().await,
            names: AwsNames::from_env(),
            session: Mutex::new(None),
        }
    }

    /// Handles one invocation. A pass that could not run returns an error, so the
    /// invocation is marked failed (retries, the failure destination and alarms follow); a
    /// pass that ran returns its summary, with the plan when it was a dry run.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let invocation = parse_invocation(&event.payload).map_err(Error::from)?;
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            let settings = match config::load_from_aws(&self.sdk, &self.names).await {
                Ok(settings) => settings,
                Err(e) => return Err(self.failed(invocation, e.to_string(), false)),
            };
            let session = Session::new(settings, Some(self.sdk.clone()))
                .map_err(|e| self.failed(invocation, e.to_string(), false))?;
            *guard = Some(session);
        }
        let Some(session) = guard.as_mut() else {
            return Err(Error::from("the session was not initialised"));
        };
        let opts = PassOptions {
            dry_run: invocation.dry_run,
            allow_mass_changes: invocation.allow_mass_changes,
            stop_starting_at: stop_starting_at(
                event.context.deadline,
                session.settings().run.deadline_margin,
            ),
        };
        match session.run(&opts).await {
            Ok(report) => {
                metrics::emit(
                    &report.summary,
                    &metrics::namespace_from_env(),
                    &metrics::function_name_from_env(),
                    false,
                );
                tracing::info!(summary = ?report.summary, "pass finished");
                let body = if report.summary.dry_run {
                    json!({ "summary": report.summary, "plan": report.plan })
                } else {
                    json!({ "summary": report.summary })
                };
                Ok(body)
            }
            Err(e) => Err(self.failed(invocation, e.to_string(), e.is_token_rejected())),
        }
    }

    /// Reports a pass that could not run: metrics (with PassFailed and TokenRejected), a log
    /// line, and the error the runtime returns to the caller.
    fn failed(&self, invocation: Invocation, message: String, token_rejected: bool) -> Error {
        let summary = Summary {
            dry_run: invocation.dry_run,
            token_rejected,
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

/// The instant after which no write starts: the invocation's deadline less the margin, so
/// the summary is still returned and logged inside the time limit.
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
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Some(Instant::now() + remaining.saturating_sub(margin))
}
