//! One SCIM request, with the retry loop around it.
//!
//! Retried: 429, 500/502/503/504, timeouts, connection errors (including a connection closed
//! before the answer, which is how a lost response looks), a 2xx whose JSON body is
//! unreadable, and a 404 on an object this client created moments ago (read-after-write
//! lag). Waits use exponential backoff with full jitter, or `Retry-After` when the server
//! sends one. Attempts and total time are bounded. Everything else goes back to the caller,
//! which knows what a 400, 404 or 409 means for its operation.

use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use super::client::ScimClient;
use super::counts::RequestKind;
use super::error::{token_remedy, ScimError};
use super::wire::ErrorBody;

/// What to send and how to describe it in errors.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
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
    pub(crate) fn new(
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

    pub(crate) fn json_body(mut self, body: &impl serde::Serialize) -> Result<Self, ScimError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ScimError::InvalidResponse {
            operation: self.operation.to_string(),
            object: self.object.to_string(),
            reason: format!("could not encode the request: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub(crate) fn collection(mut self) -> Self {
        self.collection = true;
        self
    }

    pub(crate) fn expect_json(mut self) -> Self {
        self.expect_json = true;
        self
    }

    pub(crate) fn grace_until(mut self, until: Option<Instant>) -> Self {
        self.not_found_grace_until = until;
        self
    }
}

/// A final answer: 2xx, or a 400/404/409 for the caller to interpret.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The error this reply means for `call`, quoting Identity Center's detail.
    pub(crate) fn into_error(self, call: &Call<'_>) -> ScimError {
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
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    /// A 404 on an object created moments ago: wait and ask again.
    NotYetVisible,
}

impl ScimClient {
    /// Sends `call`, retrying what is worth retrying. `Ok` holds a 2xx, or a 400, 404 or 409
    /// for the caller; 401, 403, a collection 404 and anything unexpected are errors already.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Reply, ScimError> {
        let tuning = &self.inner.tuning;
        let budget = Instant::now() + tuning.max_retry_time;
        let pass_deadline = *self
            .inner
            .retry_deadline
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let deadline = pass_deadline.map_or(budget, |d| d.min(budget));
        let mut attempt: u32 = 0;
        let mut grace_waits: u32 = 0;
        loop {
            attempt += 1;
            let is_retry = attempt > 1 || grace_waits > 0;
            let (why, retry_after) = match self.attempt(call, is_retry).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { why, retry_after } => (why, retry_after),
                Attempt::NotYetVisible => {
                    // Bounded by the grace period (checked in `classify`), not by attempts:
                    // the 404 comes back as such once the grace is over.
                    attempt -= 1;
                    grace_waits += 1;
                    let delay =
                        full_jitter(tuning.backoff_base, tuning.backoff_cap, grace_waits.min(8))
                            .max(tuning.backoff_base);
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let exhausted = |last: String| ScimError::RetriesExhausted {
                operation: call.operation.to_string(),
                object: call.object.to_string(),
                attempts: attempt,
                last,
            };
            if attempt >= tuning.max_attempts {
                return Err(exhausted(why));
            }
            let delay = match retry_after {
                // Honour the server's wish, plus a little jitter so waiters do not stampede.
                Some(wait) => wait + full_jitter(tuning.backoff_base, tuning.backoff_base, 0),
                None => full_jitter(tuning.backoff_base, tuning.backoff_cap, attempt - 1),
            };
            if Instant::now() + delay > deadline {
                return Err(exhausted(format!(
                    "{why}; the next wait ({} ms) would pass the retry time limit ({} s) or \
                     the pass's deadline",
                    delay.as_millis(),
                    tuning.max_retry_time.as_secs()
                )));
            }
            tracing::debug!(
                operation = call.operation,
                object = call.object,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %why,
                "retrying SCIM request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, call: &Call<'_>, is_retry: bool) -> Attempt {
        let sent = {
            let _permit = self.inner.pacer.admit().await;
            self.inner.counters.sent(call.kind, is_retry);
            let response = self.request(call).send().await;
            match response {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|b| (status, headers, b.to_vec()))
                }
                Err(e) => Err(e),
            }
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
            .inner
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
                self.inner.counters.throttled();
                Attempt::Retry {
                    why: "HTTP 429 (throttled)".to_string(),
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
                    self.inner.token_secret_id.as_deref(),
                    self.inner.token_origin.as_deref(),
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
