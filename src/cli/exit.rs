use crate::model::Summary;

/// Process exit codes, so a cron job or a pipeline can tell outcomes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The pass ran and every planned write succeeded (conflicts and skipped entries are
    /// reported but are not failures: they need a person, not a retry).
    Success = 0,
    /// The pass could not run: a side could not be read, or the SCIM token was rejected.
    PassFailed = 1,
    /// The command line or the configuration is wrong; nothing was read or written.
    Configuration = 2,
    /// The pass ran, but some writes failed, the deadline cut it short, or a safety guard held
    /// destructive changes back. Running it again is safe.
    Partial = 3,
    /// Another pass holds the lease on this Identity Center (`SCIM_SYNC_LEASE_TABLE`); this
    /// one read and wrote nothing. Try again once it has finished.
    Busy = 4,
}

impl ExitCode {
    /// Classifies a finished pass.
    pub fn for_summary(summary: &Summary) -> Self {
        if summary.token_rejected {
            ExitCode::PassFailed
        } else if !summary.failures.is_empty() || summary.incomplete || !summary.withheld.is_empty()
        {
            ExitCode::Partial
        } else {
            ExitCode::Success
        }
    }
}
