//! The client handle: one connection pool, one token, one rate limiter and one set of counters,
//! shared by every clone.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use url::Url;

use super::config::{normalise_base_url, ScimClientConfig};
use super::counts::{Counters, ScimRequestCounts};
use super::error::ScimError;
use super::pacing::Pacer;
use crate::secret::Secret;

/// A SCIM 2.0 client for IAM Identity Center.
///
/// Cheap to clone; clones share the connection pool, the token, the concurrency bound, the
/// rate limit and the request counters, so the whole pass stays within one budget.
#[derive(Clone)]
pub struct ScimClient {
    pub(crate) inner: Arc<Inner>,
}

/// Retry and timing knobs copied out of the config (the token lives apart, swappable).
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    pub max_attempts: u32,
    pub max_retry_time: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub read_after_write_grace: Duration,
    pub page_size: u32,
    pub concurrency: usize,
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    pub base: Url,
    pub token: RwLock<Secret>,
    pub token_secret_id: Option<String>,
    /// See [`ScimClientConfig::token_origin`].
    pub token_origin: Option<String>,
    pub tuning: Tuning,
    pub pacer: Arc<Pacer>,
    pub counters: Counters,
    /// Ids this client created recently, for the read-after-write 404 grace.
    pub created: Mutex<HashMap<String, Instant>>,
    /// No retry starts after this instant (the pass's deadline), whatever the retry budget.
    pub retry_deadline: RwLock<Option<Instant>>,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient")
            .field("base_url", &self.inner.base.as_str())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ScimClient {
    /// Validates the endpoint (https, or http on loopback) and builds the client.
    pub fn new(config: ScimClientConfig) -> Result<Self, ScimError> {
        let base = normalise_base_url(&config.base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("scim-sync/", env!("CARGO_PKG_VERSION")))
            // Only the endpoint itself is ever contacted; a redirect would carry the token
            // elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ScimError::Setup(e.to_string()))?;
        let tuning = Tuning {
            max_attempts: config.max_attempts.max(1),
            max_retry_time: config.max_retry_time,
            backoff_base: config.backoff_base,
            backoff_cap: config.backoff_cap.max(config.backoff_base),
            read_after_write_grace: config.read_after_write_grace,
            page_size: config.page_size.clamp(1, 100),
            concurrency: config.concurrency.max(1),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                token: RwLock::new(config.token),
                token_secret_id: config.token_secret_id,
                token_origin: config.token_origin,
                tuning,
                pacer: Pacer::new(
                    config.concurrency,
                    config.rate_limit_per_sec,
                    config.rate_limit_burst,
                ),
                counters: Counters::default(),
                retry_deadline: RwLock::new(None),
                created: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The normalised endpoint (always ending in exactly one `/`).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Replaces the token for every clone, e.g. after a 401 and a re-read of the secret.
    pub fn set_token(&self, token: Secret) {
        let mut guard = self.inner.token.write().unwrap_or_else(|e| e.into_inner());
        *guard = token;
    }

    /// Stops retrying at `deadline` (for every clone): a pass that must end before the
    /// Lambda's time limit cannot wait out a minute of backoff on one request. `None` lifts it.
    pub fn set_retry_deadline(&self, deadline: Option<Instant>) {
        let mut guard = self
            .inner
            .retry_deadline
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *guard = deadline;
    }

    /// Requests sent so far by this client and its clones.
    pub fn request_counts(&self) -> ScimRequestCounts {
        self.inner.counters.snapshot()
    }

    pub(crate) fn token(&self) -> Secret {
        self.inner
            .token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Remembers an id this client just created, so a 404 on it is retried for a while.
    pub(crate) fn note_created(&self, id: &str) {
        let grace = self.inner.tuning.read_after_write_grace;
        let now = Instant::now();
        let mut map = self.inner.created.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, at| now.duration_since(*at) < grace);
        map.insert(id.to_string(), now);
    }

    /// Forgets a created id once it is deleted: a 404 on it is then final.
    pub(crate) fn note_deleted(&self, id: &str) {
        let mut map = self.inner.created.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// Until when a 404 on `id` is taken for replication lag.
    pub(crate) fn not_found_grace(&self, id: &str) -> Option<Instant> {
        let map = self.inner.created.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .map(|at| *at + self.inner.tuning.read_after_write_grace)
    }

    /// Checks the endpoint and the token with `GET /ServiceProviderConfig` (what Teleport
    /// uses as its ping): a wrong URL or tenant gives [`ScimError::EndpointNotFound`], a bad
    /// token [`ScimError::Unauthorized`]. For start-up checks and the CLI's `check` command.
    pub async fn check_endpoint(&self) -> Result<(), ScimError> {
        let call = super::http::Call::new(
            super::counts::RequestKind::Discovery,
            reqwest::Method::GET,
            self.resource_url(&["ServiceProviderConfig"]),
            "check the SCIM endpoint",
            "ServiceProviderConfig",
        )
        .collection()
        .expect_json();
        let reply = self.send(&call).await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.into_error(&call))
        }
    }

    /// `<base>/<segment>/<segment>`, each segment percent-encoded (ids are opaque).
    pub(crate) fn resource_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn clones_share_one_budget_and_one_token() {
        let a = ScimClient::new(ScimClientConfig::new(
            "http://127.0.0.1:9/scim/v2",
            Secret::new("t1"),
        ))
        .unwrap();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner.pacer, &b.inner.pacer));
        b.set_token(Secret::new("t2"));
        assert_eq!(a.token().expose(), "t2");
        assert_eq!(a.base_url(), "http://127.0.0.1:9/scim/v2/");
        assert!(!format!("{a:?}").contains("t2"));
        assert_eq!(
            a.resource_url(&["Users", "a/b?c"]).as_str(),
            "http://127.0.0.1:9/scim/v2/Users/a%2Fb%3Fc"
        );
    }

    #[test]
    fn created_ids_get_a_grace_until_deleted() {
        let c = ScimClient::new(ScimClientConfig::new(
            "http://127.0.0.1:9/scim/v2/",
            Secret::new("t"),
        ))
        .unwrap();
        assert!(c.not_found_grace("u1").is_none());
        c.note_created("u1");
        assert!(c.not_found_grace("u1").is_some_and(|t| t > Instant::now()));
        c.note_deleted("u1");
        assert!(c.not_found_grace("u1").is_none());
    }
}
