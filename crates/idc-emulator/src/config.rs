//! Start-up and run-time configuration: which AWS quirks to reproduce and which faults to inject.
//!
//! Everything here is `serde`-friendly so the admin API, the CLI and tests share one vocabulary.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Everything needed to start one emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Loopback address to bind; port 0 picks a free port (what tests want).
    pub listen: SocketAddr,
    /// The first valid bearer token (AWS calls it the SCIM access token).
    pub token: String,
    /// Behaviour switches for what the spec marks as unknown.
    pub behaviour: Behaviour,
    /// Faults active from the first request on.
    pub faults: Faults,
    /// Seed for every random decision (faults, short pages, ids); `None` = from the OS.
    pub seed: Option<u64>,
    /// Bearer token the admin API requires; `None` = admin API open (loopback only anyway).
    pub admin_token: Option<String>,
    /// Tenant id in the URL (`/<tenant>/scim/v2/`, like AWS); `None` = plain `/scim/v2/`.
    pub tenant: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "test-token".to_string(),
            behaviour: Behaviour::default(),
            faults: Faults::default(),
            seed: None,
            admin_token: None,
            tenant: None,
        }
    }
}

impl EmulatorConfig {
    /// A loopback, free-port config with AWS-like defaults and the given token.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            ..Self::default()
        }
    }
}

/// How `PUT /Groups/{id}` is answered; AWS has no PutGroup, the exact refusal is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PutGroupAnswer {
    /// 400 ValidationException (default).
    #[default]
    BadRequest,
    /// 404, as keycloak-scim saw.
    NotFound,
    /// 405 Method Not Allowed.
    MethodNotAllowed,
}

/// Switches for AWS behaviour the spec marks unknown (⚠); defaults are the AWS-like guesses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behaviour {
    /// userName/email/externalId/displayName uniqueness and `eq` filters ignore case (default true).
    pub case_insensitive_uniqueness: bool,
    /// Send `Retry-After` on 429 (default false: no source saw one from AWS).
    pub retry_after_on_429: bool,
    /// Adding a user who is already a member gives 400 instead of a no-op (default false).
    pub duplicate_member_add_is_error: bool,
    /// Removing a user who is not a member gives 400 instead of a no-op (default false).
    pub remove_non_member_is_error: bool,
    /// Group reads carry `externalId` (default true).
    pub echo_group_external_id: bool,
    /// Accept `"true"`/`"True"` strings where booleans belong (default true, AWS coerces them).
    pub lenient_booleans: bool,
    /// Cursor pages are sometimes shorter than `count` while `nextCursor` is present (default false).
    pub short_pages: bool,
    /// Probability of a short page when `short_pages` is on (default 0.3).
    pub short_page_rate: f64,
    /// Shuffle non-cursor list results, since AWS guarantees no order (default false).
    pub shuffle_unpaged: bool,
    /// Answer to `PUT /Groups/{id}`.
    pub put_group: PutGroupAnswer,
    /// Hand out legacy `<10 hex>-<uuid>` ids instead of plain UUIDs (default false).
    pub legacy_ids: bool,
    /// A wrong tenant id gets 404 "TENANT does not exist." (seen in 2022) instead of the
    /// documented 401 (default false).
    pub wrong_tenant_not_found: bool,
    /// `replace` on members answers 204 and changes nothing, as in April 2024, instead of the
    /// current 400 (default false).
    pub legacy_replace_members_noop: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            case_insensitive_uniqueness: true,
            retry_after_on_429: false,
            duplicate_member_add_is_error: false,
            remove_non_member_is_error: false,
            echo_group_external_id: true,
            lenient_booleans: true,
            short_pages: false,
            short_page_rate: 0.3,
            shuffle_unpaged: false,
            put_group: PutGroupAnswer::BadRequest,
            legacy_ids: false,
            wrong_tenant_not_found: false,
            legacy_replace_members_noop: false,
        }
    }
}

/// Injected faults; all rates are probabilities in 0..=1 per SCIM request. Default: none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Faults {
    /// Added latency per SCIM request, in milliseconds.
    pub latency_ms: u64,
    /// Token-bucket refill rate; requests beyond it get 429. `None` = unthrottled.
    pub throttle_rps: Option<f64>,
    /// Token-bucket size; defaults to `max(1, throttle_rps)`.
    pub throttle_burst: Option<u32>,
    /// Per-API throttle: every read API (`GET /Users`, `GET /Groups`, ...; see
    /// [`api_of`](crate::api_of)) gets its own token bucket refilled at this rate. `None` =
    /// no per-API limit on reads. Combines with `throttle_rps` (the collective bucket): set
    /// one, the other or both.
    pub api_read_rps: Option<f64>,
    /// The same for every write API (`POST /Users`, `PATCH /Groups/{id}`, ...).
    pub api_write_rps: Option<f64>,
    /// Size of each per-API bucket; defaults to `max(1, rate)`.
    pub api_burst: Option<u32>,
    /// Probability of a 429 whatever the rate (request not applied), answered with
    /// `Retry-After: 1` when [`Behaviour::retry_after_on_429`] is on.
    pub throttle_rate: f64,
    /// Probability of a 500 InternalServerException (request not applied).
    pub error_500_rate: f64,
    /// Probability of a 503 (request not applied).
    pub error_503_rate: f64,
    /// Probability of closing the connection without a response (request not applied).
    pub drop_connection_rate: f64,
    /// Probability, for writes, of applying the write and then closing the connection.
    pub lost_response_rate: f64,
    /// Probability of answering 200 with an invalid JSON body (the request is still applied).
    pub malformed_body_rate: f64,
    /// Writes become visible to reads only after this many milliseconds (0 = immediately).
    pub visibility_delay_ms: u64,
}
