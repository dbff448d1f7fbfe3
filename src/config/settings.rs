//! The resolved configuration of one scim-sync deployment: plain data, validated, with every
//! default already applied, so the layers that consume it never re-check or re-default.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::settings::{GuardSettings, LdapSettings, Policy, Scope};
use crate::secret::Secret;

/// Everything one sync pass needs, whichever source (SSM + Secrets Manager, or a TOML file)
/// it came from. Its parts are the layers' own settings types ([`crate::model::settings`]),
/// handed to them as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub directory: DirectorySource,
    pub scope: Scope,
    pub scim: ScimConfig,
    pub policy: Policy,
    pub guard: GuardSettings,
    pub run: RunConfig,
}

/// Where users and groups are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectorySource {
    /// A live directory (Active Directory or any LDAP server).
    Ldap(LdapSettings),
    /// An LDIF export, for the local demo and for `scim-sync plan` against an export, where no
    /// directory server is reachable.
    Ldif {
        /// Absolute, or relative to the working directory (file-relative paths are resolved
        /// by the loader).
        path: PathBuf,
    },
}

/// The Identity Center SCIM endpoint and how hard to drive it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimConfig {
    /// Validated (https, or http on a loopback address) and always ending in exactly one `/`,
    /// like the URL the console shows, so `format!("{url}Users")` is the collection URL.
    pub url: String,
    pub token: Secret,
    /// The Secrets Manager id the token came from, for [`super::reload_scim_token`] after a
    /// 401; `None` when the token came from the file or an environment variable.
    pub token_secret_id: Option<String>,
    /// Where a token not kept in Secrets Manager came from (`environment variable
    /// SCIM_SYNC_TOKEN`), so a 401 tells the operator where to put a new one.
    pub token_origin: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second across all workers (Identity Center throttles SCIM at 20 TPS).
    pub rate_limit_per_sec: u32,
    /// Attempts per request, the first included, for 429, 5xx and timeouts.
    pub max_attempts: u32,
    pub request_timeout: Duration,
}

/// How one run behaves as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Stop starting new writes this long before the Lambda deadline, so the summary is
    /// still logged and the invocation ends cleanly.
    pub deadline_margin: Duration,
}

/// The documented defaults (docs/configuration.md), kept in one table.
pub use crate::model::settings::defaults;

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            dry_run: false,
            deadline_margin: defaults::DEADLINE_MARGIN,
        }
    }
}
