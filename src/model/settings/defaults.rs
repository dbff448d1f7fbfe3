//! The documented defaults (docs/configuration.md): the one table, so docs, config and code
//! agree.

use std::time::Duration;

pub const LDAP_PAGE_SIZE: u32 = 1000;
pub const LDAP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const LDAP_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
pub const LDAP_RANGE_WINDOW: u32 = 1500;
/// Levels of nested groups the `openldap` profile follows below a synced group.
pub const OPENLDAP_MAX_NESTING_DEPTH: u32 = 32;
pub const LDAPS_PORT: u16 = 636;
pub const LDAP_PORT: u16 = 389;
/// SCIM requests in flight at once.
pub const SCIM_CONCURRENCY: usize = 8;
/// The rate a SCIM client starts at, overall and per API: AWS documents 20 TPS for the SCIM
/// APIs. No margin below it: the rate is learned from there (`identity_center::pacing`), and
/// a 429 costs a retry, not a failure.
pub const SCIM_RATE_LIMIT_PER_SEC: u32 = 20;
/// The ceiling the learned rate never passes (`scim.maxRate`): generous, since quotas can be
/// raised per account; the client only gets there if no 429 comes on the way.
pub const SCIM_MAX_RATE: u32 = 500;
/// A burst of one spreads requests evenly.
pub const SCIM_RATE_LIMIT_BURST: u32 = 1;
/// Attempts per request for 5xx, timeouts and lost connections (a 429 does not count).
pub const SCIM_MAX_ATTEMPTS: u32 = 5;
/// Total time one call may spend retrying, waits included.
pub const SCIM_MAX_RETRY_TIME: Duration = Duration::from_secs(60);
/// Full-jitter exponential backoff: the n-th wait is random in `0..=min(cap, base * 2^n)`.
pub const SCIM_BACKOFF_BASE: Duration = Duration::from_millis(200);
pub const SCIM_BACKOFF_CAP: Duration = Duration::from_secs(20);
pub const SCIM_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const SCIM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a 404 on an object the client just created is taken for replication lag (seen
/// in 2021: a PATCH 100 ms after a create got 404) and retried.
pub const SCIM_READ_AFTER_WRITE_GRACE: Duration = Duration::from_secs(5);
/// Items per list page; Identity Center allows 1..=100.
pub const SCIM_PAGE_SIZE: u32 = 100;
pub const MAX_DESTRUCTIVE_SHARE: f64 = 0.10;
pub const MAX_DESTRUCTIVE_COUNT: u64 = 50;
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The `attributes` setting's default: the PowerShell original's three attributes.
pub const ATTRIBUTES: [(super::UserAttribute, &str); 3] = [
    (super::UserAttribute::Title, "title"),
    (super::UserAttribute::Department, "department"),
    (super::UserAttribute::Organization, "company"),
];

/// The `attributes` setting's default under the `openldap` profile: the inetOrgPerson
/// attributes for the same Identity Center attributes, and the ones inetOrgPerson adds.
pub const OPENLDAP_ATTRIBUTES: [(super::UserAttribute, &str); 6] = [
    (super::UserAttribute::Title, "title"),
    (super::UserAttribute::Department, "departmentNumber"),
    (super::UserAttribute::Organization, "o"),
    (super::UserAttribute::Division, "ou"),
    (super::UserAttribute::EmployeeNumber, "employeeNumber"),
    (super::UserAttribute::Manager, "manager"),
];
