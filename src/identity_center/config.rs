//! How the SCIM client reaches Identity Center and how hard it may drive it.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use super::error::ScimError;
use crate::config::ScimConfig;
use crate::secret::Secret;

/// Defaults, in one place so the docs, the settings layer and the client agree.
pub mod defaults {
    use std::time::Duration;

    /// Requests in flight at once.
    pub const CONCURRENCY: usize = 8;
    /// Identity Center throttles all SCIM calls together at 20 TPS; stay a little below.
    pub const RATE_LIMIT_PER_SEC: u32 = 18;
    /// A burst of one spreads requests evenly, so a one-second window never sees more than
    /// the rate (a bigger burst could briefly exceed AWS's 20 TPS).
    pub const RATE_LIMIT_BURST: u32 = 1;
    pub const MAX_ATTEMPTS: u32 = 5;
    /// Total time one call may spend retrying, waits included.
    pub const MAX_RETRY_TIME: Duration = Duration::from_secs(60);
    /// Full-jitter exponential backoff: the n-th wait is random in `0..=min(cap, base * 2^n)`.
    pub const BACKOFF_BASE: Duration = Duration::from_millis(200);
    pub const BACKOFF_CAP: Duration = Duration::from_secs(20);
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long a 404 on an object this client just created is taken for replication lag
    /// (seen in 2021: a PATCH 100 ms after a create got 404) and retried.
    pub const READ_AFTER_WRITE_GRACE: Duration = Duration::from_secs(5);
    /// Items per list page; Identity Center allows 1..=100.
    pub const PAGE_SIZE: u32 = 100;
}

/// Everything a [`super::ScimClient`] needs. `Debug` is safe to log: the token is a
/// [`Secret`] and prints redacted.
#[derive(Debug, Clone)]
pub struct ScimClientConfig {
    /// The SCIM endpoint as the console shows it (`https://scim.<region>.amazonaws.com/<tenant>/scim/v2/`).
    /// Normalised by the client; `http` is accepted only for loopback test servers.
    pub base_url: String,
    /// The SCIM bearer token; swap it at run time with [`super::ScimClient::set_token`].
    pub token: Secret,
    /// The Secrets Manager id the token came from, named in the 401 message so an operator
    /// knows where to put a new token. Never the token itself.
    pub token_secret_id: Option<String>,
    /// Where the token came from otherwise (`environment variable SCIM_SYNC_TOKEN`), for
    /// the same message.
    pub token_origin: Option<String>,
    /// Requests in flight at once, reads and writes together.
    pub concurrency: usize,
    /// Requests per second across every clone of the client.
    pub rate_limit_per_sec: u32,
    /// Requests the rate limiter lets through back to back before pacing starts.
    pub rate_limit_burst: u32,
    /// Attempts per request, the first included, for 429, 5xx, timeouts and lost connections.
    pub max_attempts: u32,
    /// Upper bound on the time one call spends retrying.
    pub max_retry_time: Duration,
    /// First backoff ceiling; see [`defaults::BACKOFF_BASE`]. Tests use a few ms.
    pub backoff_base: Duration,
    /// Largest wait between two attempts when the server sends no `Retry-After`.
    pub backoff_cap: Duration,
    /// Limit for one HTTP attempt, connection included; a timeout is retried.
    pub request_timeout: Duration,
    /// Limit for establishing the TCP + TLS connection.
    pub connect_timeout: Duration,
    /// See [`defaults::READ_AFTER_WRITE_GRACE`].
    pub read_after_write_grace: Duration,
    /// Items per list page (clamped to 1..=100).
    pub page_size: u32,
}

impl ScimClientConfig {
    /// A config with every default and the given endpoint and token.
    pub fn new(base_url: impl Into<String>, token: Secret) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            token_secret_id: None,
            token_origin: None,
            concurrency: defaults::CONCURRENCY,
            rate_limit_per_sec: defaults::RATE_LIMIT_PER_SEC,
            rate_limit_burst: defaults::RATE_LIMIT_BURST,
            max_attempts: defaults::MAX_ATTEMPTS,
            max_retry_time: defaults::MAX_RETRY_TIME,
            backoff_base: defaults::BACKOFF_BASE,
            backoff_cap: defaults::BACKOFF_CAP,
            request_timeout: defaults::REQUEST_TIMEOUT,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            read_after_write_grace: defaults::READ_AFTER_WRITE_GRACE,
            page_size: defaults::PAGE_SIZE,
        }
    }

    /// The client config for a deployment's resolved settings; what the settings layer does
    /// not carry keeps its default.
    pub fn from_settings(scim: &ScimConfig) -> Self {
        Self {
            token_secret_id: scim.token_secret_id.clone(),
            token_origin: scim.token_origin.clone(),
            concurrency: scim.concurrency,
            rate_limit_per_sec: scim.rate_limit_per_sec,
            max_attempts: scim.max_attempts,
            request_timeout: scim.request_timeout,
            ..Self::new(scim.url.clone(), scim.token.clone())
        }
    }
}

/// Checks and normalises the endpoint: `https` (or `http` on a loopback address only), no
/// query or fragment, no credentials, and a path ending in exactly one `/`, so joining a
/// resource name never yields `v2Users` or `v2//Users` (keycloak-scim #73).
pub fn normalise_base_url(raw: &str) -> Result<Url, ScimError> {
    let invalid = |reason: &str| ScimError::InvalidUrl {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed for loopback test servers (127.0.0.0/8, ::1, \
                 localhost); the bearer token must not cross a network unencrypted: use https",
            ))
        }
        other => return Err(invalid(&format!("scheme {other:?} is not https"))),
    }
    if url.host().is_none() {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials belong in the token, not in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not carry a query or fragment"));
    }
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn one_slash_between_base_and_resource_whatever_the_input() {
        for raw in [
            "https://scim.eu-west-1.amazonaws.com/kE3934e0444-9ba8/scim/v2",
            "https://scim.eu-west-1.amazonaws.com/kE3934e0444-9ba8/scim/v2/",
            "https://scim.eu-west-1.amazonaws.com/kE3934e0444-9ba8/scim/v2//",
        ] {
            let url = normalise_base_url(raw).unwrap();
            assert_eq!(
                url.join("Users").unwrap().as_str(),
                "https://scim.eu-west-1.amazonaws.com/kE3934e0444-9ba8/scim/v2/Users"
            );
        }
    }

    #[test]
    fn http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080/scim/v2/",
            "http://127.8.9.10/scim/v2",
            "http://[::1]:99/scim/v2/",
            "http://localhost:1/scim/v2/",
            "http://LOCALHOST/scim/v2/",
        ] {
            normalise_base_url(ok).unwrap();
        }
        for bad in [
            "http://10.0.0.1/scim/v2/",
            "http://scim.eu-west-1.amazonaws.com/t/scim/v2/",
            "http://localhost.example.com/scim/v2/",
            "http://[::2]/scim/v2/",
            "ftp://127.0.0.1/scim/v2/",
            "https://user:pw@scim.example.com/scim/v2/",
            "https://scim.example.com/scim/v2/?x=1",
            "not a url",
        ] {
            let err = normalise_base_url(bad).unwrap_err();
            assert!(matches!(err, ScimError::InvalidUrl { .. }), "{bad}: {err}");
        }
        let msg = normalise_base_url("http://10.0.0.1/scim/v2/")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("https"), "{msg}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = ScimClientConfig::new("https://x/scim/v2/", Secret::new("tok-abc-123"));
        assert!(!format!("{cfg:?}").contains("tok-abc-123"));
    }
}
