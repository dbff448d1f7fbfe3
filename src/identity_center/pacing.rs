//! The two brakes every request passes: a bound on requests in flight and a client-side rate
//! limit. Both live behind an `Arc` shared by every clone of a client, so reads and writes,
//! and every worker of the executor, draw from the same budget (Identity Center throttles all
//! SCIM calls of an instance together at 20 TPS).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Concurrency bound plus rate limiter.
#[derive(Debug)]
pub(crate) struct Pacer {
    in_flight: Semaphore,
    limiter: DefaultDirectRateLimiter,
}

impl Pacer {
    /// `concurrency`, `per_sec` and `burst` are clamped to at least 1.
    pub(crate) fn new(concurrency: usize, per_sec: u32, burst: u32) -> Arc<Self> {
        let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self {
            in_flight: Semaphore::new(concurrency.max(1)),
            limiter: RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst)),
        })
    }

    /// Waits for a free slot, then for the rate limiter; hold the permit for one HTTP
    /// request only (never across a backoff sleep, which would starve other callers).
    pub(crate) async fn admit(&self) -> Option<SemaphorePermit<'_>> {
        // The semaphore is never closed, so `acquire` cannot fail; if it did, going on
        // without a permit is better than failing the request.
        let permit = self.in_flight.acquire().await.ok();
        self.limiter.until_ready().await;
        permit
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn rate_limit_spaces_requests() {
        let pacer = Pacer::new(4, 50, 1);
        let start = Instant::now();
        for _ in 0..11 {
            let _p = pacer.admit().await;
        }
        // 10 intervals of 20 ms after the first request.
        assert!(start.elapsed() >= Duration::from_millis(180));
    }

    #[tokio::test]
    async fn concurrency_bound_holds() {
        let pacer = Pacer::new(2, 1000, 1000);
        let a = pacer.admit().await;
        let b = pacer.admit().await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(Duration::from_millis(50), pacer.admit()).await;
        assert!(
            third.is_err(),
            "a third request waits while two are in flight"
        );
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), pacer.admit()).await;
        assert!(third.is_ok());
    }
}
