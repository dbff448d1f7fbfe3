use serde::{Deserialize, Serialize};

use super::reason::Finding;
use super::watermark::IncrementalSummary;

/// One operation that did not succeed, phrased for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The operation, e.g. `create user`.
    pub operation: String,
    /// The object it targeted, by name and anchor.
    pub target: String,
    /// What went wrong and what to do about it.
    pub error: String,
}

/// What a pass did, returned by the Lambda, printed by the CLI and turned into metrics.
///
/// Counts are of effects, not requests: a membership PATCH of 100 users counts 100 adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Names this pass in every audit record it wrote.
    #[serde(default)]
    pub pass_id: String,
    pub dry_run: bool,
    pub users_created: u64,
    pub users_updated: u64,
    pub users_disabled: u64,
    pub users_deleted: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    /// Only with the opt-in policy `deleteGroupsOutOfScope`.
    pub groups_deleted: u64,
    pub members_added: u64,
    pub members_removed: u64,
    /// Objects that collide with something the sync does not own; never retried as writes.
    pub conflicts: Vec<Finding>,
    /// Directory entries not sent because Identity Center would reject them, or malformed.
    pub skipped: Vec<Finding>,
    pub failures: Vec<Failure>,
    /// Destructive changes held back by a safety guard, with the reason.
    pub withheld: Vec<Finding>,
    /// True when the pass stopped starting writes before its deadline; the next pass continues.
    pub incomplete: bool,
    /// Writes the deadline stopped part-way (a group whose member changes span several
    /// PATCHes, a request still waiting out throttling); the next pass finishes them.
    #[serde(default)]
    pub unfinished: Vec<Finding>,
    /// SCIM requests made, split by reads and writes.
    pub scim_reads: u64,
    pub scim_writes: u64,
    pub duration_ms: u64,
    /// The SCIM token was rejected (401): the operator must rotate it.
    pub token_rejected: bool,
    /// The scim-sync release that ran the pass ([`crate::VERSION`]), so a summary kept in a
    /// log or a ticket says which code made it (after a rollback, for instance).
    #[serde(default)]
    pub version: String,
    /// Present when the pass was asked to be incremental: how it ran and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalSummary>,
}
