//! Where the pass lease lives (see `crate::lease`): two environment variables, because the
//! lease table is part of the deployment (the stack creates it), not of the sync settings,
//! and the Lambda and the CLI must find the same one.

use std::time::Duration;

use super::error::ConfigError;

/// The DynamoDB table holding the leases; unset or empty means no lease is taken.
pub const ENV_LEASE_TABLE: &str = "SCIM_SYNC_LEASE_TABLE";
/// How long a CLI pass may hold the lease, in seconds (the Lambda's lease follows its own
/// deadline instead).
pub const ENV_LEASE_SECONDS: &str = "SCIM_SYNC_LEASE_SECONDS";

/// A CLI pass holds the lease for an hour unless told otherwise; it stops starting writes
/// before that, and the next pass continues where it stopped.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(3600);
const MIN_LEASE_SECONDS: u64 = 60;
const MAX_LEASE_SECONDS: u64 = 86_400;

/// The validated lease settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Table name (or ARN) with a string partition key `lease`.
    pub table: String,
    /// How long a CLI pass holds the lease.
    pub duration: Duration,
}

impl LeaseConfig {
    /// The lease settings from the process environment; `None` when no table is set.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// As [`LeaseConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(table) = get(ENV_LEASE_TABLE) else {
            return Ok(None);
        };
        let invalid = |reason: String| ConfigError::InvalidSetting {
            origin: "the environment".to_string(),
            setting: ENV_LEASE_SECONDS.to_string(),
            reason,
        };
        let duration = match get(ENV_LEASE_SECONDS) {
            None => DEFAULT_LEASE,
            Some(text) => {
                let seconds: u64 = text
                    .parse()
                    .map_err(|_| invalid(format!("{text:?} is not a whole number of seconds")))?;
                if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&seconds) {
                    return Err(invalid(format!(
                        "{seconds} is outside {MIN_LEASE_SECONDS}..={MAX_LEASE_SECONDS} seconds"
                    )));
                }
                Duration::from_secs(seconds)
            }
        };
        Ok(Some(Self { table, duration }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn no_table_means_no_lease() {
        assert_eq!(LeaseConfig::from_lookup(lookup(&[])).unwrap(), None);
        let blank = [(ENV_LEASE_TABLE, " "), (ENV_LEASE_SECONDS, "120")];
        assert_eq!(LeaseConfig::from_lookup(lookup(&blank)).unwrap(), None);
    }

    #[test]
    fn the_duration_defaults_to_an_hour_and_is_range_checked() {
        let table = [(ENV_LEASE_TABLE, "scim-sync-lease")];
        let c = LeaseConfig::from_lookup(lookup(&table)).unwrap().unwrap();
        assert_eq!(
            (c.table.as_str(), c.duration),
            ("scim-sync-lease", DEFAULT_LEASE)
        );
        let two_min = [(ENV_LEASE_TABLE, "t"), (ENV_LEASE_SECONDS, "120")];
        let c = LeaseConfig::from_lookup(lookup(&two_min)).unwrap().unwrap();
        assert_eq!(c.duration, Duration::from_secs(120));
        for bad in ["59", "86401", "ten", "-5"] {
            let vars = [(ENV_LEASE_TABLE, "t"), (ENV_LEASE_SECONDS, bad)];
            let err = LeaseConfig::from_lookup(lookup(&vars)).unwrap_err();
            assert!(err.to_string().contains(ENV_LEASE_SECONDS), "{bad}: {err}");
        }
    }
}
