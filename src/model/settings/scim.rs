//! The SCIM endpoint and how hard a client may drive it: the one settings type of the
//! Identity Center side. `config` builds it once from SSM or a file (validating and
//! defaulting every value there) and the client takes it as it is. The endpoint is a
//! [`ScimEndpoint`], which only [`ScimEndpoint::parse`] makes: the one place a SCIM URL is
//! checked.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use super::defaults;
use crate::secret::Secret;

/// A validated SCIM endpoint: `https` (or `http` on a loopback address only), no query or
/// fragment, no credentials, and a path ending in exactly one `/`, so joining a resource name
/// never yields `v2Users` or `v2//Users` (keycloak-scim #73).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimEndpoint(Url);

impl ScimEndpoint {
    /// Checks and normalises `raw` (surrounding whitespace is ignored). The error is the
    /// reason, naming the URL, for the caller to wrap with the setting's name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shown = raw.trim().to_string();
        let invalid = |reason: String| format!("{shown:?}: {reason}");
        let mut url = Url::parse(raw.trim()).map_err(|e| {
            invalid(format!(
                "not a URL ({e}); expected the SCIM endpoint from the IAM Identity Center \
                 console, like https://scim.eu-west-1.amazonaws.com/<tenant>/scim/v2/"
            ))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "plain http:// is accepted only for a loopback test endpoint (127.0.0.0/8, \
                     ::1, localhost), since the bearer token must not cross a network \
                     unencrypted: the SCIM endpoint must use https://"
                        .to_string(),
                ))
            }
            other => {
                return Err(invalid(format!(
                    "scheme {other:?}: the SCIM endpoint must use https://"
                )))
            }
        }
        if url.host().is_none() {
            return Err(invalid("no host name".to_string()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "the URL must not contain credentials: the token belongs in its own secret"
                    .to_string(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "the URL must not have a query (?…) or fragment (#…)".to_string(),
            ));
        }
        let path = format!("{}/", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Ok(Self(url))
    }

    /// The normalised URL, always ending in exactly one `/`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The normalised URL.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for ScimEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a the SCIM client (`identity_center::ScimClient`) needs, and the SCIM part of the deployment's settings.
/// `Debug` is safe to log: the token is a [`Secret`] and prints redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimClientConfig {
    /// The SCIM endpoint as the console shows it (`https://scim.<region>.amazonaws.com/<tenant>/scim/v2/`),
    /// validated and normalised.
    pub base_url: ScimEndpoint,
    /// The SCIM bearer token; swap it at run time with `ScimClient::set_token`.
    pub token: Secret,
    /// The Secrets Manager id the token came from, named in the 401 message so an operator
    /// knows where to put a new token. Never the token itself.
    pub token_secret_id: Option<String>,
    /// Where the token came from otherwise (`environment variable SCIM_SYNC_TOKEN`), for
    /// the same message.
    pub token_origin: Option<String>,
    /// Requests in flight at once, reads and writes together.
    pub concurrency: usize,
    /// Requests per second the client starts at, overall and per API, across every clone;
    /// from there the rates are learned (raised while no 429 comes, cut on a 429).
    pub rate_limit_per_sec: u32,
    /// The ceiling of every learned rate (at least `rate_limit_per_sec`).
    pub max_rate_per_sec: u32,
    /// Requests the rate limiter lets through back to back before pacing starts.
    pub rate_limit_burst: u32,
    /// Attempts per request, the first included, for 5xx, timeouts and lost connections. A
    /// 429 is not a failed attempt and does not count (see `max_retry_time`).
    pub max_attempts: u32,
    /// Upper bound on the time one call spends retrying; a 429 is retried until this (or
    /// the pass's deadline) runs out, whatever the number of attempts.
    pub max_retry_time: Duration,
    /// How long one second of a `Retry-After` header lasts: one second, except in tests
    /// that run many throttled passes on a scaled clock (they say so where they set it).
    pub retry_after_unit: Duration,
    /// First backoff ceiling; see [`defaults::SCIM_BACKOFF_BASE`]. Tests use a few ms.
    pub backoff_base: Duration,
    /// Largest wait between two attempts when the server sends no `Retry-After`.
    pub backoff_cap: Duration,
    /// Limit for one HTTP attempt, connection included; a timeout is retried.
    pub request_timeout: Duration,
    /// Limit for establishing the TCP + TLS connection.
    pub connect_timeout: Duration,
    /// See [`defaults::SCIM_READ_AFTER_WRITE_GRACE`].
    pub read_after_write_grace: Duration,
    /// Items per list page (clamped to 1..=100).
    pub page_size: u32,
}

impl ScimClientConfig {
    /// A config with every default and the given (validated) endpoint and token.
    pub fn with_endpoint(base_url: ScimEndpoint, token: Secret) -> Self {
        Self {
            base_url,
            token,
            token_secret_id: None,
            token_origin: None,
            concurrency: defaults::SCIM_CONCURRENCY,
            rate_limit_per_sec: defaults::SCIM_RATE_LIMIT_PER_SEC,
            max_rate_per_sec: defaults::SCIM_MAX_RATE,
            rate_limit_burst: defaults::SCIM_RATE_LIMIT_BURST,
            max_attempts: defaults::SCIM_MAX_ATTEMPTS,
            max_retry_time: defaults::SCIM_MAX_RETRY_TIME,
            retry_after_unit: Duration::from_secs(1),
            backoff_base: defaults::SCIM_BACKOFF_BASE,
            backoff_cap: defaults::SCIM_BACKOFF_CAP,
            request_timeout: defaults::SCIM_REQUEST_TIMEOUT,
            connect_timeout: defaults::SCIM_CONNECT_TIMEOUT,
            read_after_write_grace: defaults::SCIM_READ_AFTER_WRITE_GRACE,
            page_size: defaults::SCIM_PAGE_SIZE,
        }
    }

    /// [`Self::with_endpoint`] for a URL still to be checked by [`ScimEndpoint::parse`].
    pub fn new(base_url: &str, token: Secret) -> Result<Self, String> {
        Ok(Self::with_endpoint(ScimEndpoint::parse(base_url)?, token))
    }
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
            let url = ScimEndpoint::parse(raw).unwrap().url().clone();
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
            ScimEndpoint::parse(ok).unwrap();
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
            let err = ScimEndpoint::parse(bad).unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
        let msg = ScimEndpoint::parse("http://10.0.0.1/scim/v2/")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("https"), "{msg}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = ScimClientConfig::new("https://x/scim/v2/", Secret::new("tok-abc-123")).unwrap();
        assert!(!format!("{cfg:?}").contains("tok-abc-123"));
    }
}
