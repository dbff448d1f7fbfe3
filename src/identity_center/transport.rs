//! The transport: the one owner of the client's mutable state (connection pool, token, pacing,
//! counters, the read-after-write memory, the pass deadline), and one SCIM request with the
//! retry loop around it. Every field is private to this file; the resource modules (users,
//! groups, members, listings) reach Identity Center only through [`Transport::send`] and the
//! few helpers below, so nothing outside can change how a request is paced or retried.
//!
//! Retried: 429, 500/502/503/504, timeouts, connection errors (including a connection closed
//! before the answer, which is how a lost response looks), a 2xx whose JSON body is
//! unreadable, and a 404 on an object this client created moments ago (read-after-write
//! lag). Waits use exponential backoff with full jitter, or `Retry-After` when the server
//! sends one. Attempts and total time are bounded. Everything else goes back to the caller,
//! which knows what a 400, 404 or 409 means for its operation.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use super::counts::{Counters, RequestKind, ScimRequestCounts};
use super::error::{token_remedy, ScimError};
use super::pacing::{LearnedRates, Pacer};
use super::wire::ErrorBody;
use crate::model::settings::ScimClientConfig;
use crate::secret::Secret;

/// Retry and timing knobs copied out of the config (the token lives apart, swappable).
#[derive(Debug, Clone)]
pub(super) struct Tuning {
    pub max_attempts: u32,
    pub max_retry_time: Duration,
    pub retry_after_unit: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub read_after_write_grace: Duration,
    pub page_size: u32,
    pub concurrency: usize,
}

/// Everything a client's clones share. Only this file touches the fields.
pub(super) struct Transport {
    http: reqwest::Client,
    base: Url,
    token: RwLock<Secret>,
    token_secret_id: Option<String>,
    /// See [`ScimClientConfig::token_origin`].
    token_origin: Option<String>,
    tuning: Tuning,
    pacer: Pacer,
    counters: Counters,
    /// Ids this client created recently, for the read-after-write 404 grace.
    created: Mutex<HashMap<String, Instant>>,
    /// No retry starts after this instant (the pass's deadline), whatever the retry budget.
    retry_deadline: RwLock<Option<Instant>>,
}

impl Transport {
    /// Builds the HTTP client for an already validated endpoint (see
    /// [`ScimEndpoint`](super::ScimEndpoint): the URL is checked once, where it is parsed).
    pub(super) fn new(config: ScimClientConfig) -> Result<Self, ScimError> {
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
            retry_after_unit: config.retry_after_unit,
            backoff_base: config.backoff_base,
            backoff_cap: config.backoff_cap.max(config.backoff_base),
            read_after_write_grace: config.read_after_write_grace,
            page_size: config.page_size.clamp(1, 100),
            concurrency: config.concurrency.max(1),
        };
        Ok(Self {
            http,
            base: config.base_url.url().clone(),
            token: RwLock::new(config.token),
            token_secret_id: config.token_secret_id,
            token_origin: config.token_origin,
            tuning,
            pacer: Pacer::new(
                config.concurrency,
                config.rate_limit_per_sec,
                config.max_rate_per_sec,
                config.rate_limit_burst,
            ),
            counters: Counters::default(),
            retry_deadline: RwLock::new(None),
            created: Mutex::new(HashMap::new()),
        })
    }

    /// The normalised endpoint (always ending in exactly one `/`).
    pub(super) fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The retry and paging knobs, read-only.
    pub(super) fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    pub(super) fn set_token(&self, token: Secret) {
        let mut guard = self.token.write().unwrap_or_else(|e| e.into_inner());
        *guard = token;
    }

    pub(super) fn token(&self) -> Secret {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn set_retry_deadline(&self, deadline: Option<Instant>) {
        let mut guard = self
            .retry_deadline
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *guard = deadline;
    }

    pub(super) fn request_counts(&self) -> ScimRequestCounts {
        self.counters.snapshot()
    }

    pub(super) fn learned_rates(&self) -> LearnedRates {
        self.pacer.learned()
    }

    /// Remembers an id this client just created, so a 404 on it is retried for a while.
    pub(super) fn note_created(&self, id: &str) {
        let grace = self.tuning.read_after_write_grace;
        let now = Instant::now();
        let mut map = self.created.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, at| now.duration_since(*at) < grace);
        map.insert(id.to_string(), now);
    }

    /// Forgets a created id once it is deleted: a 404 on it is then final.
    pub(super) fn note_deleted(&self, id: &str) {
        let mut map = self.created.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// Until when a 404 on `id` is taken for replication lag.
    pub(super) fn not_found_grace(&self, id: &str) -> Option<Instant> {
        let map = self.created.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .map(|at| *at + self.tuning.read_after_write_grace)
    }

    /// `<base>/<segment>/<segment>`, each segment percent-encoded (ids are opaque).
    pub(super) fn resource_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }
}

/// What to send and how to describe it in errors.
#[derive(Debug, Clone)]
pub(super) struct Call<'a> {
    pub kind: RequestKind,
    pub method: Method,
    pub url: Url,
    pub body: Option<Vec<u8>>,
    /// For messages: "create user", "add members".
    pub operation: &'a str,
    /// For messages: "user alice@example.com (S-1-5-21-…)".
    pub object: &'a str,
    /// The URL is a collection (list, create): a 404 there means a wrong endpoint or tenant.
    pub collection: bool,
    /// The success body must be JSON (lists, creates); an unreadable one is retried.
    pub expect_json: bool,
    /// A 404 before this instant is read-after-write lag and retried.
    pub not_found_grace_until: Option<Instant>,
}

impl<'a> Call<'a> {
    pub(super) fn new(
        kind: RequestKind,
        method: Method,
        url: Url,
        operation: &'a str,
        object: &'a str,
    ) -> Self {
        Self {
            kind,
            method,
            url,
            body: None,
            operation,
            object,
            collection: false,
            expect_json: false,
            not_found_grace_until: None,
        }
    }

    pub(super) fn json_body(mut self, body: &impl serde::Serialize) -> Result<Self, ScimError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ScimError::InvalidResponse {
            operation: self.operation.to_string(),
            object: self.object.to_string(),
            reason: format!("could not encode the request: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub(super) fn collection(mut self) -> Self {
        self.collection = true;
        self
    }

    pub(super) fn expect_json(mut self) -> Self {
        self.expect_json = true;
        self
    }

    pub(super) fn grace_until(mut self, until: Option<Instant>) -> Self {
        self.not_found_grace_until = until;
        self
    }
}

/// A final answer: 2xx, or a 400/404/409 for the caller to interpret.
#[derive(Debug, Clone)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The error this reply means for `call`, quoting Identity Center's detail.
    pub(super) fn into_error(self, call: &Call<'_>) -> ScimError {
        let detail = ErrorBody::detail_of(&self.body);
        let operation = call.operation.to_string();
        let object = call.object.to_string();
        match self.status {
            StatusCode::BAD_REQUEST => ScimError::BadRequest {
                operation,
                object,
                detail,
            },
            StatusCode::NOT_FOUND => ScimError::NotFound { operation, object },
            StatusCode::CONFLICT => ScimError::Conflict {
                operation,
                object,
                detail,
            },
            status => ScimError::UnexpectedStatus {
                operation,
                object,
                status: status.as_u16(),
                detail,
            },
        }
    }
}

/// One attempt's result as the loop sees it.
enum Attempt {
    Done(Result<Reply, ScimError>),
    /// A 429: not a failed attempt, retried for as long as time allows.
    Throttled {
        retry_after: Option<Duration>,
    },
    /// A failed attempt worth repeating (5xx, timeout, lost connection, unreadable body).
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    /// A 404 on an object created moments ago: wait and ask again.
    NotYetVisible,
}

impl Transport {
    /// Sends `call`, retrying what is worth retrying. `Ok` holds a 2xx, or a 400, 404 or 409
    /// for the caller; 401, 403, a collection 404 and anything unexpected are errors already.
    pub(super) async fn send(&self, call: &Call<'_>) -> Result<Reply, ScimError> {
        let tuning = &self.tuning;
        let budget = Instant::now() + tuning.max_retry_time;
        let pass_deadline = self.pass_deadline();
        // Failed attempts (5xx, timeouts, lost connections): bounded by `max_attempts`.
        let mut failed: u32 = 0;
        // 429s: the service asking to slow down, bounded only by time.
        let mut throttled: u32 = 0;
        let mut sent: u32 = 0;
        let mut grace_waits: u32 = 0;
        loop {
            let is_retry = sent > 0;
            sent += 1;
            let (why, delay) = match self.attempt(call, is_retry).await {
                Attempt::Done(result) => return result,
                Attempt::Throttled { retry_after } => {
                    throttled += 1;
                    let delay = match retry_after {
                        Some(wait) => self.honour_retry_after(wait),
                        None => full_jitter(tuning.backoff_base, tuning.backoff_cap, throttled)
                            .max(tuning.backoff_base),
                    };
                    ("HTTP 429 (throttled)".to_string(), delay)
                }
                Attempt::Retry { why, retry_after } => {
                    failed += 1;
                    if failed >= tuning.max_attempts {
                        return Err(exhausted(call, sent, why));
                    }
                    let delay = match retry_after {
                        Some(wait) => self.honour_retry_after(wait),
                        None => full_jitter(tuning.backoff_base, tuning.backoff_cap, failed - 1),
                    };
                    (why, delay)
                }
                Attempt::NotYetVisible => {
                    // Bounded by the grace period (checked in `classify`), not by attempts:
                    // the 404 comes back as such once the grace is over.
                    sent -= 1;
                    grace_waits += 1;
                    let delay =
                        full_jitter(tuning.backoff_base, tuning.backoff_cap, grace_waits.min(8))
                            .max(tuning.backoff_base);
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let resume_at = Instant::now() + delay;
            if pass_deadline.is_some_and(|d| resume_at > d && d <= budget) {
                return Err(ScimError::DeadlineReached {
                    operation: call.operation.to_string(),
                    object: call.object.to_string(),
                    detail: format!(
                        "{why} after {sent} attempt(s); the next wait ({} ms) would end after \
                         the pass's deadline",
                        delay.as_millis()
                    ),
                });
            }
            if resume_at > budget {
                return Err(exhausted(
                    call,
                    sent,
                    format!(
                        "{why}; the next wait ({} ms) would pass the retry time limit ({} s)",
                        delay.as_millis(),
                        tuning.max_retry_time.as_secs()
                    ),
                ));
            }
            tracing::debug!(
                operation = call.operation,
                object = call.object,
                attempt = sent,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %why,
                "retrying SCIM request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// The pass's deadline, if one is set.
    fn pass_deadline(&self) -> Option<Instant> {
        *self
            .retry_deadline
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// True once the pass's deadline has passed: a multi-request change stops between its
    /// requests.
    pub(super) fn deadline_passed(&self) -> bool {
        self.pass_deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// The server's `Retry-After` (in [`Tuning::retry_after_unit`]s), plus up to a quarter
    /// of it (at least the backoff base) of jitter, so the requests a 429 turned away do not
    /// all come back in the same instant.
    fn honour_retry_after(&self, wait: Duration) -> Duration {
        let wait = wait.mul_f64(self.tuning.retry_after_unit.as_secs_f64());
        let spread = (wait / 4).max(self.tuning.backoff_base);
        wait + full_jitter(spread, spread, 0)
    }

    async fn attempt(&self, call: &Call<'_>, is_retry: bool) -> Attempt {
        let (sent, ticket) = {
            let (_permit, ticket) = self.pacer.admit(call.kind).await;
            self.counters.sent(call.kind, is_retry);
            let response = match self.request(call).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|b| (status, headers, b.to_vec()))
                }
                Err(e) => Err(e),
            };
            (response, ticket)
        };
        let (status, headers, body) = match sent {
            Ok(parts) => parts,
            Err(e) if e.is_builder() => {
                return Attempt::Done(Err(ScimError::Setup(describe(&e))));
            }
            Err(e) if is_certificate_error(&e) => {
                return Attempt::Done(Err(ScimError::Certificate {
                    operation: call.operation.to_string(),
                    detail: describe(&e),
                }));
            }
            Err(e) => {
                return Attempt::Retry {
                    why: describe(&e),
                    retry_after: None,
                }
            }
        };
        // A 429 teaches the pacer to slow down, any other answer that it may speed up; 5xx
        // and lost connections say nothing about the rate.
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.pacer.throttled(ticket);
        } else if !status.is_server_error() {
            self.pacer.answered(ticket);
        }
        self.classify(call, status, &headers, body)
    }

    fn request(&self, call: &Call<'_>) -> reqwest::RequestBuilder {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {}", self.token().expose())) {
            auth.set_sensitive(true);
            headers.insert(AUTHORIZATION, auth);
        }
        let mut builder = self
            .http
            .request(call.method.clone(), call.url.clone())
            .headers(headers);
        if let Some(body) = &call.body {
            builder = builder
                .header(CONTENT_TYPE, "application/scim+json")
                .body(body.clone());
        }
        builder
    }

    fn classify(
        &self,
        call: &Call<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Attempt {
        let operation = || call.operation.to_string();
        let object = || call.object.to_string();
        if status.is_success() {
            if call.expect_json && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
                return Attempt::Retry {
                    why: format!("HTTP {} with an unreadable JSON body", status.as_u16()),
                    retry_after: None,
                };
            }
            return Attempt::Done(Ok(Reply { status, body }));
        }
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                self.counters.throttled();
                Attempt::Throttled {
                    retry_after: retry_after(headers),
                }
            }
            StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Attempt::Retry {
                why: format!("HTTP {}: {}", status.as_u16(), ErrorBody::detail_of(&body)),
                retry_after: retry_after(headers),
            },
            StatusCode::UNAUTHORIZED => Attempt::Done(Err(ScimError::Unauthorized {
                operation: format!("{} of {}", call.operation, call.object),
                remedy: token_remedy(
                    self.token_secret_id.as_deref(),
                    self.token_origin.as_deref(),
                ),
            })),
            StatusCode::FORBIDDEN => Attempt::Done(Err(ScimError::Forbidden {
                operation: operation(),
                object: object(),
            })),
            StatusCode::NOT_FOUND if call.collection => {
                Attempt::Done(Err(ScimError::EndpointNotFound {
                    operation: operation(),
                    url: strip_query(&call.url),
                    detail: ErrorBody::detail_of(&body),
                }))
            }
            StatusCode::NOT_FOUND
                if call
                    .not_found_grace_until
                    .is_some_and(|until| Instant::now() < until) =>
            {
                Attempt::NotYetVisible
            }
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::CONFLICT => {
                Attempt::Done(Ok(Reply { status, body }))
            }
            other => Attempt::Done(Err(ScimError::UnexpectedStatus {
                operation: operation(),
                object: object(),
                status: other.as_u16(),
                detail: ErrorBody::detail_of(&body),
            })),
        }
    }
}

fn exhausted(call: &Call<'_>, attempts: u32, last: String) -> ScimError {
    ScimError::RetriesExhausted {
        operation: call.operation.to_string(),
        object: call.object.to_string(),
        attempts,
        last,
    }
}

/// The URL without its query, for messages (filters can be long; the base is what matters).
fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// An error and its causes on one line ("connection closed before message completed" sits
/// two levels down in reqwest's chain).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// True when the TLS handshake failed on the server's certificate. rustls's error sits inside
/// an `io::Error`, whose `source()` skips it, so each link is also opened as an `io::Error`.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(err), inner].into_iter().flatten() {
            if let Some(tls) = candidate.downcast_ref::<rustls::Error>() {
                return matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
                );
            }
        }
        // Wrappers that hide the rustls error from downcasting still carry its text.
        let text = err.to_string();
        if text.contains("invalid peer certificate") || text.contains("peer sent no certificates") {
            return true;
        }
        current = err.source();
    }
    false
}

/// Random wait in `0..=min(cap, base * 2^exponent)` ("full jitter").
fn full_jitter(base: Duration, cap: Duration, exponent: u32) -> Duration {
    let factor = 1u32.checked_shl(exponent.min(20)).unwrap_or(u32::MAX);
    let ceiling = base.saturating_mul(factor).min(cap);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    if ceiling_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
}

/// `Retry-After` as delta-seconds or an HTTP date; `None` when absent or unreadable.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn jitter_stays_under_the_exponential_ceiling_and_the_cap() {
        let base = Duration::from_millis(10);
        let cap = Duration::from_millis(50);
        for exponent in 0..40 {
            let ceiling = base.saturating_mul(1 << exponent.min(20)).min(cap);
            for _ in 0..20 {
                assert!(full_jitter(base, cap, exponent) <= ceiling);
            }
        }
        assert_eq!(full_jitter(Duration::ZERO, cap, 3), Duration::ZERO);
    }
}
