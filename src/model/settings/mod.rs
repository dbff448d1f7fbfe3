//! The validated settings each layer runs on, one type per concern.
//!
//! `config` is the only place that builds them from operator input: it validates and
//! defaults every value once, and the directory reader, the planner's guard and the front ends
//! take them as they are. They live here, beside the other shared vocabulary, so that those
//! layers need not depend on `config` (or `config` on them) for a type.
//!
//! Values that could be unsafe when malformed ([`LdapUrl`], [`CaBundle`]) are newtypes whose
//! only constructors validate, so a reader cannot be handed an unchecked one.

mod attributes;
mod ca_bundle;
pub mod defaults;
mod ldap_filter;
mod ldap_url;
mod policy;
mod profile;
mod scim;

use std::time::Duration;

use crate::secret::Secret;

pub use attributes::{AttributeMapping, UserAttribute};
pub use ca_bundle::CaBundle;
pub use ldap_filter::{FilterNode, LdapFilter};
pub use ldap_url::LdapUrl;
pub use policy::{EmailSource, GroupDisplayName, OutOfScopeAction, Policy, UserNameSource};
pub use profile::{AnchorAttribute, DirectoryProfile, OpenLdapProfile};
pub use scim::{ScimClientConfig, ScimEndpoint};

/// How to reach and read a live directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapSettings {
    /// The server to dial, always `scheme://host:port`, already checked against `start_tls`
    /// and `allow_plain_ldap`.
    pub url: LdapUrl,
    /// The read-only account: a UPN (`svc@example.com`, what the PowerShell sample stores) or
    /// a DN.
    pub bind_dn: String,
    /// Refused when empty, before connecting (AD treats it as an anonymous bind).
    pub bind_password: Secret,
    /// The CA(s) that signed the directory's certificate (usually a private AD CS CA, which no
    /// public root store knows); `None` means the usual roots.
    pub ca_bundle: Option<CaBundle>,
    /// Upgrade `ldap://` with StartTLS before binding.
    pub start_tls: bool,
    /// The operator explicitly accepted unencrypted `ldap://` (test directories only: the
    /// bind password would cross the network in clear).
    pub allow_plain_ldap: bool,
    /// Where users and the sync group are looked up; `None`: the rootDSE's
    /// `defaultNamingContext`.
    pub base_dn: Option<String>,
    /// Entries per page of a paged search (AD's MaxPageSize is 1000 by default).
    pub page_size: u32,
    /// TCP connect limit (the TLS handshake gets `operation_timeout` on top).
    pub connect_timeout: Duration,
    /// Limit for each LDAP operation (bind, one page, one range).
    pub operation_timeout: Duration,
    /// `Some(n)`: request `member` in explicit windows of n values (`member;range=0-(n-1)`,
    /// …), as AD's MaxValRange (1500) forces anyway, so Windows and other servers behave the
    /// same; `None`: ask for all and follow whatever range the server imposes.
    pub range_window: Option<u32>,
}

impl LdapSettings {
    /// Settings for `url` with every other value at its documented default.
    pub fn new(url: LdapUrl, bind_dn: impl Into<String>, bind_password: Secret) -> Self {
        Self {
            url,
            bind_dn: bind_dn.into(),
            bind_password,
            ca_bundle: None,
            start_tls: false,
            allow_plain_ldap: false,
            base_dn: None,
            page_size: defaults::LDAP_PAGE_SIZE,
            connect_timeout: defaults::LDAP_CONNECT_TIMEOUT,
            operation_timeout: defaults::LDAP_OPERATION_TIMEOUT,
            range_window: Some(defaults::LDAP_RANGE_WINDOW),
        }
    }
}

/// Which part of the directory is synchronised (the PowerShell original's three parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The group whose direct and nested members are the users in scope: its name
    /// (`sAMAccountName` or `cn`, as the original's `/IAM-IDC/AD-Group-Name`) or its DN.
    pub sync_group: String,
    /// Groups whose name (`cn`) starts with this, compared case-insensitively as AD does, are
    /// in scope; stored without the original's trailing `*` (`aws-*` becomes `aws-`). Empty
    /// means every group under `group_search_base`.
    pub group_prefix: String,
    /// The subtree searched for those groups.
    pub group_search_base: String,
    /// Domains of a multi-domain forest whose accounts this deployment also provisions
    /// (`scope.extraDomainSids`, default none), besides the domain read from the directory.
    /// For an LDIF export without its domain entry, the only source of the domain SID.
    pub extra_domain_sids: Vec<String>,
    /// The optional rules beyond the original's three parameters (`scope.syncGroups`,
    /// `scope.userFilter`, `scope.excludeGroups`, `scope.groupSearchBases`).
    pub rules: ScopeRules,
}

impl Scope {
    /// Every sync group: [`Scope::sync_group`], then the other `scope.syncGroups`.
    pub fn sync_groups(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.sync_group.as_str())
            .chain(self.rules.more_sync_groups.iter().map(String::as_str))
    }

    /// Every subtree groups in scope are searched under: [`Scope::group_search_base`], then
    /// `scope.groupSearchBases`.
    pub fn group_search_bases(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.group_search_base.as_str()).chain(
            self.rules
                .more_group_search_bases
                .iter()
                .map(String::as_str),
        )
    }
}

/// The scope rules an operator may add to the original's (all empty by default, which is the
/// original's scope: one sync group, no filter, no exclusion, one search base).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeRules {
    /// Sync groups besides [`Scope::sync_group`]: users in scope are the union of the
    /// direct and nested members of every sync group. With `scope.syncGroups` set, its first
    /// entry is `sync_group` and the others are here.
    pub more_sync_groups: Vec<String>,
    /// An extra LDAP filter every user in scope must match (`(employeeType=Staff)`), checked
    /// against RFC 4515 when the settings load.
    pub user_filter: Option<LdapFilter>,
    /// Groups (name or DN) whose direct and nested members are out of scope, whatever sync
    /// group they are in: for service accounts and leavers kept in a team group.
    pub exclude_groups: Vec<String>,
    /// Subtrees searched for groups in scope besides [`Scope::group_search_base`] (the SSM
    /// search base), for groups spread over several OUs.
    pub more_group_search_bases: Vec<String>,
}

/// Limits that stop a pass before it does mass damage (a wrong search base, an emptied group).
/// Each kind of loss (users disabled or deleted, memberships removed, groups deleted) is
/// checked against both limits on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    /// Largest share (0.0–1.0) of the owned users (or owned memberships, or owned groups) one
    /// pass may take away. Rounded up, so a small installation may still lose one user.
    pub max_destructive_share: f64,
    /// Largest number of users (or memberships, or groups) one pass may take away.
    pub max_destructive_count: u64,
    /// Lets every change through: for an intended mass change, set for one run, then unset.
    pub allow_mass_changes: bool,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            max_destructive_share: defaults::MAX_DESTRUCTIVE_SHARE,
            max_destructive_count: defaults::MAX_DESTRUCTIVE_COUNT,
            allow_mass_changes: false,
        }
    }
}
