//! The resolved configuration of one scim-sync deployment: plain data, validated, with every
//! default already applied, so the layers that consume it never re-check or re-default.

use std::path::PathBuf;
use std::time::Duration;

use crate::plan::Policy;
use crate::secret::Secret;

/// Everything one sync pass needs, whichever source (SSM + Secrets Manager, or a TOML file)
/// it came from. Kept free of directory and Identity Center types so this module can be
/// tested alone; the front ends convert it into those layers' own config types.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub directory: DirectorySource,
    pub scope: ScopeConfig,
    pub scim: ScimConfig,
    pub policy: Policy,
    pub guard: GuardConfig,
    pub run: RunConfig,
}

/// Where users and groups are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectorySource {
    /// A live directory (Active Directory or any LDAP server).
    Ldap(LdapConfig),
    /// An LDIF export, for the local demo and for `scim-sync plan` against an export, where no
    /// directory server is reachable.
    Ldif {
        /// Absolute, or relative to the working directory (file-relative paths are resolved
        /// by the loader).
        path: PathBuf,
    },
}

/// How to reach and read a live directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapConfig {
    /// Always `scheme://host:port` with an explicit port: `ldaps://…` (default), or `ldap://…`
    /// only together with `start_tls` or an explicit `allow_plain_ldap`.
    pub url: String,
    /// The bind name: a DN, or for Active Directory a UPN such as `svc@example.com` (that is
    /// what the PowerShell sample stores).
    pub bind_dn: String,
    /// Never empty: an empty password would turn into an anonymous bind that AD accepts.
    pub bind_password: Secret,
    /// PEM certificate(s) of the CA that signed the directory's TLS certificate (usually a
    /// private AD CS CA, which no public root store knows); `None` means the usual roots.
    pub ca_bundle_pem: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    pub start_tls: bool,
    /// The operator explicitly accepted an unencrypted `ldap://` connection (test directories
    /// only: the bind password would cross the network in clear).
    pub allow_plain_ldap: bool,
    /// Where users and the sync group are looked up; `None` means the directory's default
    /// naming context (read from the rootDSE).
    pub base_dn: Option<String>,
    /// Entries per page of a paged search (AD's MaxPageSize is 1000 by default).
    pub page_size: u32,
    pub connect_timeout: Duration,
    /// Limit for any one LDAP operation (a single page, a bind).
    pub operation_timeout: Duration,
    /// Values per `member;range=` request for large groups (AD's MaxValRange is 1500).
    pub range_window: u32,
}

/// Which part of the directory is synchronised (the PowerShell sample's three parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeConfig {
    /// The group whose (transitive) members become Identity Center users.
    pub sync_group: String,
    /// Groups whose name starts with this are synchronised; stored without the sample's
    /// trailing `*` wildcard (`aws-*` becomes `aws-`). Empty means every group under
    /// `group_search_base`.
    pub group_prefix: String,
    /// The DN under which those groups are searched.
    pub group_search_base: String,
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

/// Limits that stop a pass before it does mass damage (a wrong search base, an emptied group).
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// Largest share (0.0–1.0) of owned users that one pass may disable or delete.
    pub max_destructive_share: f64,
    /// Largest number of destructive operations in one pass.
    pub max_destructive_count: usize,
    /// Skip both limits: for an intended mass change, set for one run, then unset.
    pub allow_mass_changes: bool,
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

/// The documented defaults (docs/configuration.md); one place so docs and code agree.
pub mod defaults {
    use std::time::Duration;

    pub const LDAP_PAGE_SIZE: u32 = 1000;
    pub const LDAP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const LDAP_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
    pub const LDAP_RANGE_WINDOW: u32 = 1500;
    pub const LDAPS_PORT: u16 = 636;
    pub const LDAP_PORT: u16 = 389;
    pub const SCIM_CONCURRENCY: usize = 8;
    pub const SCIM_RATE_LIMIT_PER_SEC: u32 = 18;
    pub const SCIM_MAX_ATTEMPTS: u32 = 5;
    pub const SCIM_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const MAX_DESTRUCTIVE_SHARE: f64 = 0.10;
    pub const MAX_DESTRUCTIVE_COUNT: usize = 50;
    pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_destructive_share: defaults::MAX_DESTRUCTIVE_SHARE,
            max_destructive_count: defaults::MAX_DESTRUCTIVE_COUNT,
            allow_mass_changes: false,
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            dry_run: false,
            deadline_margin: defaults::DEADLINE_MARGIN,
        }
    }
}
