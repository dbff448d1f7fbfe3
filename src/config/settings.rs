//! The resolved configuration of one scim-sync deployment: plain data, validated, with every
//! default already applied, so the layers that consume it never re-check or re-default.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::settings::{
    DirectoryProfile, GuardSettings, LdapSettings, Policy, ScimClientConfig, Scope,
};

/// Everything one sync pass needs, whichever source (SSM + Secrets Manager, or a TOML file)
/// it came from. Its parts are the layers' own settings types ([`crate::model::settings`]),
/// handed to them as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub directory: DirectorySource,
    /// Which kind of directory it is (`directory.profile`): what the readers look for.
    pub profile: DirectoryProfile,
    pub scope: Scope,
    /// The SCIM endpoint (checked once, by [`crate::model::settings::ScimEndpoint::parse`]),
    /// the token and how hard to drive the endpoint: the client takes it as it is.
    pub scim: ScimClientConfig,
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

/// How one run behaves as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Stop starting new writes this long before the Lambda deadline, so the summary is
    /// still logged and the invocation ends cleanly.
    pub deadline_margin: Duration,
    /// Where the CLI keeps incremental passes' watermarks in local mode (`run.stateFile`, a
    /// JSON file; relative to the configuration file). `None`: the lease table, if any.
    pub state_file: Option<std::path::PathBuf>,
}

/// The documented defaults (docs/configuration.md), kept in one table.
pub use crate::model::settings::defaults;

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            dry_run: false,
            deadline_margin: defaults::DEADLINE_MARGIN,
            state_file: None,
        }
    }
}
