//! The Identity Center side: a SCIM 2.0 client for IAM Identity Center's provisioning
//! endpoint, and the reader that turns its answers into an [`IdcSnapshot`](crate::model::IdcSnapshot).
//!
//! Everything AWS-specific lives here (see `docs/identity-center-scim.md` §9.2): cursor enumeration,
//! membership reads through `groups.value`, member changes chunked at 100 with `add`/`remove`,
//! no group PUT, 409-after-lost-response adoption by externalId, retries with jittered backoff
//! and `Retry-After`, one rate limit shared by all requests, and filters that never carry a
//! quote or backslash.

mod attributes;
mod client;
mod counts;
mod error;
pub mod filter;
mod groups;
mod listing;
mod lookup;
mod members;
pub mod pacing;
mod resource;
mod state;
mod transport;
mod users;
mod wire;

pub use crate::model::settings::{ScimClientConfig, ScimEndpoint};
pub use client::ScimClient;
pub use counts::{RequestKind, ScimRequestCounts};
pub use error::ScimError;
pub use filter::FilterError;
pub use members::{MAX_MEMBERS_PER_CREATE, MAX_MEMBER_CHANGES_PER_PATCH};
pub use pacing::{Api, LearnedRates};

/// Reads every user and group, resolves which groups are ours (carry one of
/// `wanted_group_external_ids`) and reads their members: Identity Center's state for one pass.
pub async fn read_state(
    client: &ScimClient,
    wanted_group_external_ids: &std::collections::BTreeSet<String>,
) -> Result<crate::model::IdcSnapshot, ScimError> {
    client.read_state(wanted_group_external_ids).await
}
