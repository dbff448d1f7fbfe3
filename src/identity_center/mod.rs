//! The Identity Center side: a SCIM 2.0 client for IAM Identity Center's provisioning
//! endpoint, and the reader that turns its answers into an [`IdcSnapshot`](crate::model::IdcSnapshot).
//!
//! Everything AWS-specific lives here (see `docs/identity-center-scim.md` §9.2): cursor enumeration,
//! membership reads through `groups.value`, member changes chunked at 100 with `add`/`remove`,
//! no group PUT, 409-after-lost-response adoption by externalId, retries with jittered backoff
//! and `Retry-After`, one rate limit shared by all requests, and filters that never carry a
//! quote or backslash.

mod client;
mod config;
mod counts;
mod error;
pub mod filter;
mod groups;
mod http;
mod intern;
mod listing;
mod members;
mod pacing;
mod resource;
mod state;
mod users;
mod wire;
mod writer;

pub use client::ScimClient;
pub use config::{defaults, normalise_base_url, ScimClientConfig};
pub use counts::{RequestKind, ScimRequestCounts};
pub use error::ScimError;
pub use filter::FilterError;
pub use members::MAX_MEMBER_CHANGES_PER_PATCH;
pub use state::read_state;

impl ScimClient {
    /// Same as [`read_state`].
    pub async fn read_state(
        &self,
        wanted_group_external_ids: &std::collections::BTreeSet<String>,
    ) -> Result<crate::model::IdcSnapshot, ScimError> {
        read_state(self, wanted_group_external_ids).await
    }
}
