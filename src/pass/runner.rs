//! Running a pass: the retry after a rotated token, and the choice between a full pass and
//! an incremental one (`super::incremental`), with the watermark a full pass leaves.

use std::time::Instant;

use super::error::PassError;
use super::session::{PassOptions, PassReport, Session};
use crate::audit::{AuditSink, NoAudit};
use crate::config;

impl Session {
    /// Runs one pass. When Identity Center rejects the token and it came from Secrets Manager,
    /// the secret is read again once (it may have been rotated since the pass read it) and the
    /// pass repeated; passes are idempotent, so a repeat never duplicates anything.
    pub async fn run(&mut self, opts: &PassOptions) -> Result<PassReport, PassError> {
        self.run_audited(opts, &NoAudit).await
    }

    /// [`Self::run`], writing an audit record into `sink` for every change attempted,
    /// withheld or not started (a dry run attempts none).
    pub async fn run_audited(
        &mut self,
        opts: &PassOptions,
        sink: &dyn AuditSink,
    ) -> Result<PassReport, PassError> {
        let first = self.run_once(opts, sink).await;
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
        self.run_once(opts, sink).await
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

    async fn run_once(
        &self,
        opts: &PassOptions,
        sink: &dyn AuditSink,
    ) -> Result<PassReport, PassError> {
        if opts.incremental {
            return super::incremental::run(self, opts, sink).await;
        }
        let started = Instant::now();
        let requests_before = self.client.request_counts();
        // The watermark a full pass leaves is the DC's USN before the read: whatever changes
        // during the read is seen again by the next incremental pass.
        let dc = match &opts.watermarks {
            Some(_) => super::incremental::dc_before_full_pass(self).await,
            None => None,
        };
        let inspection = self.inspect(opts).await?;
        let mut report = self
            .finish(&inspection, opts, sink, started, requests_before)
            .await?;
        if let (Some(store), Some(dc), true) = (&opts.watermarks, dc, opts.only.is_empty()) {
            super::incremental::save_after_full_pass(self, store, &dc, &inspection, &mut report)
                .await;
        }
        Ok(report)
    }
}

/// Compile-time check: a pass can run in a spawned task (`tokio::spawn`), which needs its
/// future to be `Send` for every lifetime.
#[allow(dead_code)]
fn pass_future_is_send(session: &mut Session, opts: &PassOptions) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(session.run(opts));
}
