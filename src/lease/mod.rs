//! The pass lease: one item per Identity Center endpoint in a DynamoDB table, taken with a
//! conditional write, so two passes against the same Identity Center never overlap, whether
//! they run in the Lambda (any number of concurrent executions) or from the CLI.
//!
//! Why a lease and not reserved concurrency: `ReservedConcurrentExecutions: 1` cannot be set on
//! accounts whose concurrency quota is 10 (Lambda keeps 10 unreserved), and it does not cover
//! a CLI pass. Why this shape:
//! - The key is the normalised SCIM endpoint URL: what must not be written by two passes at
//!   once is one Identity Center, whichever deployment, parameter path or front end drives it.
//! - Taking the lease is one `PutItem` with `attribute_not_exists(lease) OR expiresAt < now`:
//!   DynamoDB evaluates the condition and the write atomically, so of two passes starting
//!   together exactly one wins.
//! - A lease always expires (`expiresAt`), so a crashed Lambda or a killed CLI blocks the
//!   next pass for at most that long. The holder stops starting writes before its lease
//!   expires (the pass's `stop_starting_at`), so an expired lease never has a live writer: the
//!   Lambda's lease runs to its own invocation deadline plus a slack, a CLI pass's to its
//!   configured duration (`SCIM_SYNC_LEASE_SECONDS`).
//! - Releasing is a `DeleteItem` conditional on still being the holder, so a pass never frees
//!   a lease someone else has taken since.
//!
//! Expiry compares wall clocks (seconds since the epoch) of different machines; Lambda and EC2
//! clocks are NTP-synchronised to well under a second, and every lease is minutes long.

mod error;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;

pub use error::LeaseError;

/// Partition key of the table (type String).
pub const KEY_ATTRIBUTE: &str = "lease";
const HOLDER: &str = "holder";
const OWNER: &str = "owner";
const EXPIRES_AT: &str = "expiresAt";
const ACQUIRED_AT: &str = "acquiredAt";

/// The lease table of one deployment.
#[derive(Debug, Clone)]
pub struct LeaseTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Who holds a lease another pass asked for, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    /// The holder's description (`lambda <function> <request id>`, `cli <host> pid <pid>`).
    pub owner: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = self.expires_at.saturating_sub(now_secs());
        write!(
            f,
            "another pass holds the lease ({}; it expires in {left} s at the latest); this one \
             exits without reading or writing anything",
            self.owner
        )
    }
}

/// The outcome of [`LeaseTable::acquire`].
#[derive(Debug)]
pub enum Acquired {
    /// This pass holds the lease until [`Lease::expires_at`].
    Held(Lease),
    /// Another pass holds it.
    Busy(HeldBy),
}

/// A held lease. Give it back with [`Lease::release`]; a lease never released (a crash)
/// expires on its own.
#[derive(Debug)]
#[must_use = "release the lease when the pass ends"]
pub struct Lease {
    table: LeaseTable,
    key: String,
    holder: String,
    expires_at: SystemTime,
}

impl LeaseTable {
    pub fn new(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.into(),
        }
    }

    /// Takes the lease on `key` until `expires_at`, unless a pass holds it that has not
    /// expired. `owner` is shown to a pass that finds the lease taken.
    pub async fn acquire(
        &self,
        key: &str,
        owner: &str,
        expires_at: SystemTime,
    ) -> Result<Acquired, LeaseError> {
        let holder = random_holder_id();
        let now = now_secs();
        let item = HashMap::from([
            (
                KEY_ATTRIBUTE.to_string(),
                AttributeValue::S(key.to_string()),
            ),
            (HOLDER.to_string(), AttributeValue::S(holder.clone())),
            (OWNER.to_string(), AttributeValue::S(owner.to_string())),
            (
                EXPIRES_AT.to_string(),
                AttributeValue::N(secs(expires_at).to_string()),
            ),
            (ACQUIRED_AT.to_string(), AttributeValue::N(now.to_string())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key) OR #expires < :now")
            .expression_attribute_names("#key", KEY_ATTRIBUTE)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Acquired::Held(Lease {
                table: self.clone(),
                key: key.to_string(),
                holder,
                expires_at,
            })),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(Acquired::Busy(self.held_by(key).await?))
            }
            Err(e) => Err(self.error("take the lease (PutItem)", &e)),
        }
    }

    /// The current holder of `key` (after a refused take: the item exists, or existed a
    /// moment ago and was released, which reads as a lease already expired).
    async fn held_by(&self, key: &str) -> Result<HeldBy, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("read the lease (GetItem)", &e))?;
        let item = out.item();
        let text = |name: &str| match item.and_then(|i| i.get(name)) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            Some(AttributeValue::N(n)) => Some(n.clone()),
            _ => None,
        };
        Ok(HeldBy {
            owner: text(OWNER).unwrap_or_else(|| "an unknown holder".to_string()),
            expires_at: text(EXPIRES_AT)
                .and_then(|n| n.parse().ok())
                .unwrap_or_default(),
        })
    }

    fn error<E, R>(&self, action: &str, err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> LeaseError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let reason = match err.code() {
            Some("ResourceNotFoundException") => format!(
                "the table does not exist ({}): create it with a String partition key `{KEY_ATTRIBUTE}`, or unset SCIM_SYNC_LEASE_TABLE",
                err.message().unwrap_or("no detail")
            ),
            Some("AccessDeniedException") => format!(
                "access denied ({}): the role needs dynamodb:PutItem, GetItem and DeleteItem on the table",
                err.message().unwrap_or("no detail")
            ),
            Some(code) => format!("{code}: {}", err.message().unwrap_or("no detail")),
            None => format!(
                "{} (check network access to DynamoDB: a VPC endpoint or the NAT gateway)",
                DisplayErrorContext(err)
            ),
        };
        LeaseError::Table {
            table: self.table.clone(),
            action: action.to_string(),
            reason,
        }
    }
}

impl Lease {
    /// When the lease ends at the latest; the pass starts no write after it.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The instant after which this pass must start no write: `margin` before the lease ends
    /// (room for the writes in flight to finish), or now if that is already past.
    pub fn stop_writes_at(&self, margin: Duration) -> Instant {
        let left = self
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Instant::now() + left.saturating_sub(margin)
    }

    /// Gives the lease back so the next pass need not wait for it to expire. Only deletes
    /// the item while this pass still holds it.
    pub async fn release(self) -> Result<(), LeaseError> {
        let result = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(self.key.clone()))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":me", AttributeValue::S(self.holder.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                tracing::warn!(
                    "the lease had expired and was taken by another pass before this one gave it back"
                );
                Ok(())
            }
            Err(e) => Err(self.table.error("give the lease back (DeleteItem)", &e)),
        }
    }
}

/// The Lambda's lease end: its invocation deadline plus `slack`, since a Lambda cannot run
/// past its deadline. Without a deadline (a local runtime), `fallback` from now.
pub fn lambda_lease_end(deadline_ms: u64, slack: Duration, fallback: Duration) -> SystemTime {
    // As in the handler: values before 2001 are a local runtime's timeout, not a deadline.
    if deadline_ms < 1_000_000_000_000 {
        let left = if deadline_ms == 0 {
            fallback
        } else {
            Duration::from_millis(deadline_ms)
        };
        return SystemTime::now() + left + slack;
    }
    UNIX_EPOCH + Duration::from_millis(deadline_ms) + slack
}

/// Describes this process for a pass that finds the lease taken.
pub fn cli_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "unknown host".to_string());
    format!("scim-sync CLI on {host}, pid {}", std::process::id())
}

fn random_holder_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn now_secs() -> u64 {
    secs(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_lease_ends_after_its_deadline() {
        let deadline = SystemTime::now() + Duration::from_secs(900);
        let ms = u64::try_from(
            deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let end = lambda_lease_end(ms, Duration::from_secs(60), Duration::from_secs(5));
        let after = end.duration_since(deadline).unwrap_or_default();
        assert!(after >= Duration::from_secs(59) && after <= Duration::from_secs(61));
    }

    #[test]
    fn a_local_runtime_timeout_counts_from_now() {
        let end = lambda_lease_end(600_000, Duration::from_secs(60), Duration::from_secs(5));
        let left = end.duration_since(SystemTime::now()).unwrap_or_default();
        assert!(left > Duration::from_secs(655) && left <= Duration::from_secs(660));
        let end = lambda_lease_end(0, Duration::from_secs(60), Duration::from_secs(5));
        let left = end.duration_since(SystemTime::now()).unwrap_or_default();
        assert!(left > Duration::from_secs(60) && left <= Duration::from_secs(65));
    }

    #[test]
    fn holder_ids_differ() {
        assert_ne!(random_holder_id(), random_holder_id());
        assert_eq!(random_holder_id().len(), 32);
    }
}
