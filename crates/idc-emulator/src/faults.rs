//! Per-request fault injection, throttling, authentication and counting for `/scim/v2/`.
//!
//! Order per request: latency, throttle (429: the bucket, then the random rate), dropped connection, 500, 503, bearer token
//! (401), the handler, then for applied writes a lost response, then a malformed body.

use crate::errors::{add_request_id, ScimError};
use crate::server::DropConnection;
use crate::{App, Faults};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Request counters of the SCIM API (admin routes are never counted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// `"<METHOD> <route template> <status>"`, e.g. `"PATCH /Groups/{id} 204"`; the status is
    /// `dropped` for a closed connection and `lost` for a write applied without a response.
    pub by_route: BTreeMap<String, u64>,
    /// Per status label (`"201"`, `"429"`, `"dropped"`, `"lost"`).
    pub by_status: BTreeMap<String, u64>,
    /// Per API ([`api_of`]: `"ListUsers"`, `"CreateUser"`, `"PatchGroup"`, ...): requests
    /// received and 429s answered, whichever bucket (collective or the API's own) refused.
    pub by_api: BTreeMap<String, ApiCount>,
    /// Every SCIM request received.
    pub total: u64,
    /// GET requests.
    pub reads: u64,
    /// POST, PUT, PATCH and DELETE requests (attempts, whatever their outcome).
    pub writes: u64,
    /// Writes that changed or could have changed state (2xx, including lost responses).
    pub applied_writes: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Injected 500 and 503 answers.
    pub injected_errors: u64,
    /// Connections closed before the request was applied.
    pub dropped: u64,
    /// Writes applied whose response was then dropped.
    pub lost_responses: u64,
    /// Responses replaced by invalid JSON.
    pub malformed: u64,
    /// 401 answers.
    pub unauthorized: u64,
}

/// One API's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCount {
    pub requests: u64,
    pub throttled: u64,
}

/// The AWS API name a SCIM request calls, as per-API quotas would name it: `ListUsers`
/// (every `GET /Users`, filters included), `GetUser`, `CreateUser`, `PatchUser`, `PutUser`,
/// `DeleteUser`, the same for groups, and `Other` (discovery endpoints).
pub fn api_of(method: &Method, route: &str) -> &'static str {
    let path = route.split_once(' ').map_or(route, |(_, p)| p);
    let (users, item) = match path {
        "/Users" => (true, false),
        "/Users/{id}" => (true, true),
        "/Groups" => (false, false),
        "/Groups/{id}" => (false, true),
        _ => return "Other",
    };
    match (users, item, method.as_str()) {
        (true, false, "GET") => "ListUsers",
        (true, true, "GET") => "GetUser",
        (true, false, "POST") => "CreateUser",
        (true, true, "PATCH") => "PatchUser",
        (true, true, "PUT") => "PutUser",
        (true, true, "DELETE") => "DeleteUser",
        (false, false, "GET") => "ListGroups",
        (false, true, "GET") => "GetGroup",
        (false, false, "POST") => "CreateGroup",
        (false, true, "PATCH") => "PatchGroup",
        (false, true, "PUT") => "PutGroup",
        (false, true, "DELETE") => "DeleteGroup",
        _ => "Other",
    }
}

impl Counters {
    /// One API's counters (zero if it was never called), e.g. `c.api("CreateUser")`.
    pub fn api(&self, name: &str) -> ApiCount {
        self.by_api.get(name).copied().unwrap_or_default()
    }

    /// Count for one `by_route` key (0 if absent), e.g. `c.route("POST /Users 201")`.
    pub fn route(&self, key: &str) -> u64 {
        self.by_route.get(key).copied().unwrap_or(0)
    }

    /// Sum over every status of one route, e.g. `c.route_total("PATCH /Groups/{id}")`.
    pub fn route_total(&self, route: &str) -> u64 {
        self.by_route
            .iter()
            .filter(|(k, _)| k.rsplit_once(' ').is_some_and(|(r, _)| r == route))
            .map(|(_, v)| *v)
            .sum()
    }

    fn record(&mut self, route: &str, label: &str) {
        *self.by_route.entry(format!("{route} {label}")).or_default() += 1;
        *self.by_status.entry(label.to_string()).or_default() += 1;
    }
}

/// Token bucket for the throttle fault.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    rate: Option<f64>,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(f: &Faults) -> Self {
        Self::with(f.throttle_rps, f.throttle_burst)
    }

    /// The bucket of one API under `f`, whose reads and writes have their own rates.
    pub(crate) fn for_api(f: &Faults, is_write: bool) -> Self {
        let rate = if is_write {
            f.api_write_rps
        } else {
            f.api_read_rps
        };
        Self::with(rate, f.api_burst)
    }

    fn with(rate: Option<f64>, burst: Option<u32>) -> Self {
        let rate = rate.filter(|r| *r > 0.0);
        let burst = match (burst, rate) {
            (Some(b), _) => f64::from(b.max(1)),
            (None, Some(r)) => r.max(1.0),
            (None, None) => 1.0,
        };
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token, or returns how long until one is available.
    fn take(&mut self) -> Result<(), Duration> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

enum Pre {
    Throttle(Option<u64>),
    Drop,
    Error(StatusCode),
    Unauthorized,
    WrongTenant,
    Proceed,
}

fn roll(rng: &mut impl Rng, rate: f64) -> bool {
    rate > 0.0 && rng.random::<f64>() < rate
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The tenant segment of `/<tenant>/scim/v2/...`, `None` for plain `/scim/v2/...`.
fn tenant_of(req: &Request) -> Option<&str> {
    req.extensions()
        .get::<crate::server::PathTenant>()
        .map(|t| t.0.as_str())
}

fn route_of(method: &Method, matched: Option<&MatchedPath>, req: &Request) -> String {
    let template = match matched {
        Some(m) => match m.as_str().split_once("/scim/v2") {
            Some((_, rest)) => rest.to_string(),
            None => m.as_str().to_string(),
        },
        None => req.uri().path().to_string(),
    };
    format!("{method} {template}")
}

fn dropped() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

const MALFORMED: &str =
    r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Resources":[{"id":"#;

/// The middleware wrapped around every SCIM route.
pub(crate) async fn scim_middleware(
    State(app): State<App>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let route = route_of(&method, matched.as_ref(), &req);
    let api = api_of(&method, &route);
    let is_write = method != Method::GET && method != Method::HEAD;
    let latency = {
        let mut g = app.lock();
        g.counters.total += 1;
        g.counters
            .by_api
            .entry(api.to_string())
            .or_default()
            .requests += 1;
        if is_write {
            g.counters.writes += 1;
        } else {
            g.counters.reads += 1;
        }
        g.faults.latency_ms
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let pre = {
        let mut g = app.lock();
        let g = &mut *g;
        let faults = &g.faults;
        let api_bucket = g
            .api_buckets
            .entry(api)
            .or_insert_with(|| Bucket::for_api(faults, is_write));
        if let Err(wait) = g.bucket.take().and_then(|()| api_bucket.take()) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            Pre::Throttle(g.behaviour.retry_after_on_429.then_some(secs))
        } else if roll(&mut g.rng, g.faults.throttle_rate) {
            Pre::Throttle(g.behaviour.retry_after_on_429.then_some(1))
        } else if roll(&mut g.rng, g.faults.drop_connection_rate) {
            Pre::Drop
        } else if roll(&mut g.rng, g.faults.error_500_rate) {
            Pre::Error(StatusCode::INTERNAL_SERVER_ERROR)
        } else if roll(&mut g.rng, g.faults.error_503_rate) {
            Pre::Error(StatusCode::SERVICE_UNAVAILABLE)
        } else if tenant_of(&req) != app.tenant.as_deref() {
            Pre::WrongTenant
        } else if !bearer(&req).is_some_and(|t| g.tokens.accepts(t)) {
            Pre::Unauthorized
        } else {
            Pre::Proceed
        }
    };
    let resp = match pre {
        Pre::Throttle(retry_after) => {
            let mut r =
                ScimError::new(StatusCode::TOO_MANY_REQUESTS, "Rate exceeded").into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            let mut g = app.lock();
            g.counters.throttled += 1;
            g.counters
                .by_api
                .entry(api.to_string())
                .or_default()
                .throttled += 1;
            g.counters.record(&route, "429");
            return r;
        }
        Pre::Drop => {
            let mut g = app.lock();
            g.counters.dropped += 1;
            g.counters.record(&route, "dropped");
            return dropped();
        }
        Pre::Error(status) => {
            let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
                "Service Unavailable"
            } else {
                "Internal Server Error"
            };
            let mut g = app.lock();
            g.counters.injected_errors += 1;
            g.counters.record(&route, status.as_str());
            return ScimError::new(status, detail).into_response();
        }
        Pre::WrongTenant => {
            let mut g = app.lock();
            let (err, label) = if g.behaviour.wrong_tenant_not_found {
                (
                    ScimError::new(StatusCode::NOT_FOUND, "TENANT does not exist."),
                    "404",
                )
            } else {
                (ScimError::unauthorized(), "401")
            };
            if label == "401" {
                g.counters.unauthorized += 1;
            }
            g.counters.record(&route, label);
            return err.into_response();
        }
        Pre::Unauthorized => {
            let mut g = app.lock();
            g.counters.unauthorized += 1;
            g.counters.record(&route, "401");
            return ScimError::unauthorized().into_response();
        }
        Pre::Proceed => next.run(req).await,
    };
    let status = resp.status();
    let mut g = app.lock();
    let g = &mut *g;
    let applied = is_write && status.is_success();
    if applied {
        g.counters.applied_writes += 1;
        if roll(&mut g.rng, g.faults.lost_response_rate) {
            g.counters.lost_responses += 1;
            g.counters.record(&route, "lost");
            return dropped();
        }
    }
    if roll(&mut g.rng, g.faults.malformed_body_rate) {
        g.counters.malformed += 1;
        g.counters.record(&route, "200");
        let mut r = (StatusCode::OK, MALFORMED).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        add_request_id(&mut r);
        return r;
    }
    g.counters.record(&route, status.as_str());
    tracing::debug!(%route, status = status.as_u16(), "scim request");
    resp
}
