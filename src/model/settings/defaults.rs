//! The documented defaults (docs/configuration.md): the one table, so docs, config and code
//! agree.

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
pub const MAX_DESTRUCTIVE_COUNT: u64 = 50;
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
