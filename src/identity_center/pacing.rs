//! The brakes every request passes: a bound on requests in flight, and a rate that is learned
//! rather than assumed.
//!
//! Identity Center's SCIM throttle has been documented as one collective limit (20 TPS for
//! every SCIM call together) and as limits per API, and quotas can be raised per account. So
//! the client keeps one rate per API (list users, list groups, create user, patch user, create
//! group, patch group, delete user, delete group) and one overall, each learned by additive
//! increase and multiplicative decrease (AIMD): every request waits for a slot of its API's
//! rate and of the overall rate; each answer that is not a 429 raises both a little (by
//! [`START_UP_GAIN`] of the rate per second of traffic until the first 429, then by about
//! [`INCREASE_PER_SEC`] requests/s per second), a 429 cuts both by
//! [`DECREASE_FACTOR`] (once per round of requests sent at the same rate). Rates start at the
//! configured rate (no hidden margin below it), never exceed `max_rate` and never fall below
//! [`FLOOR_SHARE`] of the configured rate. A 429 then costs a retry, never a failure (see `transport.rs`).
//!
//! Every clone of a client shares one pacer, so every worker of a pass, and every pass of a
//! warm Lambda (the client lives across invocations), draws from and teaches the same rates.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::counts::RequestKind;

/// Requests/s added per second of traffic at the current rate while no 429 comes (each
/// answer adds `INCREASE_PER_SEC / rate`).
pub const INCREASE_PER_SEC: f64 = 1.0;
/// Until its first 429 a rate grows faster (like TCP's slow start): each answer adds this many
/// requests/s, so the rate grows by this share per second of traffic (20 %/s), reaching a
/// limit twice the start in about 4 s instead of 20; after the first 429 it grows additively.
pub const START_UP_GAIN: f64 = 0.2;
/// A 429 multiplies the rate of its API and the overall rate by this.
pub const DECREASE_FACTOR: f64 = 0.85;
/// No rate is cut below this share of the configured (starting) rate, nor below 1/s. The
/// configured rate is what the service is documented to allow; 429s that the client's rate
/// did not cause (another client of the same instance, a service hiccup, an account whose
/// quota was lowered) must slow it, not leave a pass crawling at a fraction of a request per
/// second. Every refused request still waits out its `Retry-After`.
pub const FLOOR_SHARE: f64 = 0.25;
/// The lowest floor, requests/s.
pub const MIN_RATE: f64 = 1.0;

/// The throttled APIs, as Identity Center's per-API limits would name them. Every request
/// kind maps to the API (HTTP method and collection) it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// `GET /Users`, filtered or not (listings, lookups, member reads).
    ListUsers,
    /// `GET /Groups`, filtered or not.
    ListGroups,
    CreateUser,
    PatchUser,
    DeleteUser,
    CreateGroup,
    /// Renames, externalId changes and member changes.
    PatchGroup,
    DeleteGroup,
    /// `GET /ServiceProviderConfig`.
    Discovery,
}

impl Api {
    const ALL: [Api; 9] = [
        Api::ListUsers,
        Api::ListGroups,
        Api::CreateUser,
        Api::PatchUser,
        Api::DeleteUser,
        Api::CreateGroup,
        Api::PatchGroup,
        Api::DeleteGroup,
        Api::Discovery,
    ];

    /// The API a request of this kind calls.
    pub fn of(kind: RequestKind) -> Self {
        match kind {
            RequestKind::ListUsers | RequestKind::ListMembers | RequestKind::FindUser => {
                Api::ListUsers
            }
            RequestKind::ListGroups | RequestKind::FindGroup => Api::ListGroups,
            RequestKind::CreateUser => Api::CreateUser,
            RequestKind::UpdateUser => Api::PatchUser,
            RequestKind::DeleteUser => Api::DeleteUser,
            RequestKind::CreateGroup => Api::CreateGroup,
            RequestKind::UpdateGroup | RequestKind::PatchMembers => Api::PatchGroup,
            RequestKind::DeleteGroup => Api::DeleteGroup,
            RequestKind::Discovery => Api::Discovery,
        }
    }

    /// Stable name, the key of [`LearnedRates::by_api`].
    pub fn as_str(self) -> &'static str {
        match self {
            Api::ListUsers => "list_users",
            Api::ListGroups => "list_groups",
            Api::CreateUser => "create_user",
            Api::PatchUser => "patch_user",
            Api::DeleteUser => "delete_user",
            Api::CreateGroup => "create_group",
            Api::PatchGroup => "patch_group",
            Api::DeleteGroup => "delete_group",
            Api::Discovery => "discovery",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the pacer has learned, for summaries, logs and the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedRates {
    /// The overall rate, requests/s.
    pub overall: f64,
    /// The rate of each API that was used at least once (requests/s).
    pub by_api: BTreeMap<&'static str, f64>,
    /// 429s seen per API.
    pub throttled_by_api: BTreeMap<&'static str, u64>,
    /// The configured starting rate and the ceiling (`scim.maxRate`).
    pub start: f64,
    pub max: f64,
}

/// One learned rate and its schedule.
#[derive(Debug, Clone)]
struct Limiter {
    rate: f64,
    /// When the next request may start (slots are handed out in order, one per 1/rate).
    next: Instant,
    /// Bumped by every decrease: a 429 to a request admitted before the last cut says
    /// nothing new (it was sent at the old rate), so it does not cut again.
    epoch: u64,
    used: bool,
    throttled: u64,
}

impl Limiter {
    fn new(rate: f64, now: Instant) -> Self {
        Self {
            rate,
            next: now,
            epoch: 0,
            used: false,
            throttled: 0,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate)
    }

    /// The earliest start this limiter allows now, `burst` back-to-back slots included.
    fn earliest(&self, now: Instant, burst: u32) -> Instant {
        let allowance = self.interval().saturating_mul(burst.saturating_sub(1));
        self.next.max(now.checked_sub(allowance).unwrap_or(now))
    }

    /// Takes the slot at `at`: the next one is an interval later.
    fn take(&mut self, at: Instant) {
        self.next = at + self.interval();
        self.used = true;
    }

    fn increase(&mut self, max: f64) {
        let step = if self.epoch == 0 {
            START_UP_GAIN
        } else {
            INCREASE_PER_SEC / self.rate
        };
        self.rate = (self.rate + step).min(max);
    }

    /// Cuts the rate unless a cut already answered this request's era.
    fn decrease(&mut self, epoch: u64, floor: f64) {
        self.throttled += 1;
        if epoch == self.epoch {
            self.rate = (self.rate * DECREASE_FACTOR).max(floor);
            self.epoch += 1;
        }
    }
}

#[derive(Debug)]
struct Rates {
    overall: Limiter,
    apis: [Limiter; 9],
    start: f64,
    max: f64,
    burst: u32,
}

/// Which rates a request was admitted under, to credit or blame them with its answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    api: Api,
    overall_epoch: u64,
    api_epoch: u64,
}

/// Concurrency bound plus the learned rates.
#[derive(Debug)]
pub(crate) struct Pacer {
    in_flight: Semaphore,
    rates: Mutex<Rates>,
}

impl Pacer {
    /// Starts every rate at `per_sec`, never above `max_per_sec` (both at least 1);
    /// `concurrency` and `burst` are clamped to at least 1.
    pub(crate) fn new(concurrency: usize, per_sec: u32, max_per_sec: u32, burst: u32) -> Self {
        let max = f64::from(max_per_sec.max(per_sec).max(1));
        let start = f64::from(per_sec.max(1)).min(max);
        let now = Instant::now();
        Self {
            in_flight: Semaphore::new(concurrency.max(1)),
            rates: Mutex::new(Rates {
                overall: Limiter::new(start, now),
                apis: std::array::from_fn(|_| Limiter::new(start, now)),
                start,
                max,
                burst: burst.max(1),
            }),
        }
    }

    fn rates(&self) -> std::sync::MutexGuard<'_, Rates> {
        self.rates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot, then for the request's place under its API's rate and the
    /// overall rate; hold the permit for one HTTP request only (never across a backoff
    /// sleep, which would starve other callers).
    pub(crate) async fn admit(&self, kind: RequestKind) -> (Option<SemaphorePermit<'_>>, Ticket) {
        // The semaphore is never closed, so `acquire` cannot fail; if it did, going on
        // without a permit is better than failing the request.
        let permit = self.in_flight.acquire().await.ok();
        let api = Api::of(kind);
        let (at, ticket) = {
            let mut r = self.rates();
            let now = Instant::now();
            let burst = r.burst;
            let at = r.apis[api.index()]
                .earliest(now, burst)
                .max(r.overall.earliest(now, burst));
            r.apis[api.index()].take(at);
            r.overall.take(at);
            let ticket = Ticket {
                api,
                overall_epoch: r.overall.epoch,
                api_epoch: r.apis[api.index()].epoch,
            };
            (at, ticket)
        };
        tokio::time::sleep_until(at.into()).await;
        (permit, ticket)
    }

    /// An answer that is not a 429: both rates may grow.
    pub(crate) fn answered(&self, ticket: Ticket) {
        let mut r = self.rates();
        let max = r.max;
        r.overall.increase(max);
        r.apis[ticket.api.index()].increase(max);
    }

    /// A 429: both rates are cut (once per era, see [`Limiter::decrease`]).
    pub(crate) fn throttled(&self, ticket: Ticket) {
        let mut r = self.rates();
        let floor = (r.start * FLOOR_SHARE).max(MIN_RATE);
        r.overall.decrease(ticket.overall_epoch, floor);
        r.apis[ticket.api.index()].decrease(ticket.api_epoch, floor);
        tracing::debug!(
            api = ticket.api.as_str(),
            api_rate = r.apis[ticket.api.index()].rate,
            overall_rate = r.overall.rate,
            "throttled (429): rates cut"
        );
    }

    pub(crate) fn learned(&self) -> LearnedRates {
        let r = self.rates();
        let used = || Api::ALL.into_iter().filter(|a| r.apis[a.index()].used);
        LearnedRates {
            overall: r.overall.rate,
            by_api: used()
                .map(|a| (a.as_str(), r.apis[a.index()].rate))
                .collect(),
            throttled_by_api: used()
                .filter(|a| r.apis[a.index()].throttled > 0)
                .map(|a| (a.as_str(), r.apis[a.index()].throttled))
                .collect(),
            start: r.start,
            max: r.max,
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[tokio::test]
    async fn rate_limit_spaces_requests() {
        let pacer = Pacer::new(4, 50, 50, 1);
        let start = Instant::now();
        for _ in 0..11 {
            let _p = pacer.admit(RequestKind::ListUsers).await;
        }
        // 10 intervals of 20 ms after the first request.
        assert!(start.elapsed() >= Duration::from_millis(180));
    }

    #[tokio::test]
    async fn the_overall_rate_binds_across_apis() {
        let pacer = Pacer::new(4, 50, 50, 1);
        let start = Instant::now();
        for i in 0..11 {
            let kind = if i % 2 == 0 {
                RequestKind::CreateUser
            } else {
                RequestKind::ListGroups
            };
            let _p = pacer.admit(kind).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(180));
    }

    #[tokio::test]
    async fn concurrency_bound_holds() {
        let pacer = Pacer::new(2, 1000, 1000, 1000);
        let a = pacer.admit(RequestKind::ListUsers).await;
        let b = pacer.admit(RequestKind::ListUsers).await;
        assert!(a.0.is_some() && b.0.is_some());
        let third = tokio::time::timeout(
            Duration::from_millis(50),
            pacer.admit(RequestKind::ListUsers),
        )
        .await;
        assert!(
            third.is_err(),
            "a third request waits while two are in flight"
        );
        drop(a);
        let third = tokio::time::timeout(
            Duration::from_millis(500),
            pacer.admit(RequestKind::ListUsers),
        )
        .await;
        assert!(third.is_ok());
    }

    #[tokio::test]
    async fn additive_increase_multiplicative_decrease_within_the_bounds() {
        let pacer = Pacer::new(8, 20, 30, 1000);
        let (_, t) = pacer.admit(RequestKind::CreateUser).await;
        for _ in 0..20 {
            pacer.answered(t);
        }
        let up = pacer.learned();
        // Before any 429, 20 answers (a second at 20/s) add 20 % of the rate.
        assert!((up.overall - 24.0).abs() < 1e-9, "{up:?}");
        assert_eq!(up.by_api.get("create_user"), Some(&up.overall));
        assert!(
            !up.by_api.contains_key("list_users"),
            "unused APIs are not listed"
        );
        for _ in 0..10_000 {
            pacer.answered(t);
        }
        assert_eq!(pacer.learned().overall, 30.0, "never above the ceiling");

        // A 429 cuts once per era: a burst of 429s to requests admitted together is one cut.
        let (_, t) = pacer.admit(RequestKind::CreateUser).await;
        pacer.throttled(t);
        pacer.throttled(t);
        pacer.throttled(t);
        let down = pacer.learned();
        assert!(
            (down.overall - 30.0 * DECREASE_FACTOR).abs() < 1e-9,
            "{down:?}"
        );
        assert_eq!(down.throttled_by_api.get("create_user"), Some(&3));
        // Another API's rate is not cut by a 429 on create user.
        let (_, l) = pacer.admit(RequestKind::ListGroups).await;
        assert_eq!(pacer.learned().by_api["list_groups"], 20.0);
        pacer.throttled(l);
        assert_eq!(
            pacer.learned().by_api["list_groups"],
            20.0 * DECREASE_FACTOR
        );
        for _ in 0..200 {
            let t = {
                let r = pacer.rates();
                Ticket {
                    api: Api::CreateUser,
                    overall_epoch: r.overall.epoch,
                    api_epoch: r.apis[Api::CreateUser.index()].epoch,
                }
            };
            pacer.throttled(t);
        }
        assert_eq!(pacer.learned().by_api["create_user"], 20.0 * FLOOR_SHARE);
    }

    #[test]
    fn every_request_kind_has_an_api() {
        for kind in [
            RequestKind::ListMembers,
            RequestKind::FindUser,
            RequestKind::PatchMembers,
            RequestKind::UpdateGroup,
        ] {
            let api = Api::of(kind);
            assert_eq!(Api::ALL[api.index()], api);
        }
        assert_eq!(Api::of(RequestKind::PatchMembers), Api::PatchGroup);
        assert_eq!(Api::of(RequestKind::FindUser), Api::ListUsers);
    }
}
