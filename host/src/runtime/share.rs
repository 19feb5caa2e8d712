//! Each tenant's fair share of module calls in this process.
//!
//! The instance pool is shared by every tenant; without a share, one busy
//! tenant (a CPU-heavy public route called a hundred times at once) takes
//! every slot and the others wait until their deadlines. So:
//!
//! - a tenant runs at most `tenant_concurrency` calls at once, and one
//!   module of a tenant at most `tenant_module_concurrency`;
//! - beyond that, up to `tenant_queue` calls wait, each at most
//!   `tenant_queue_ms` (and never past its own deadline); the rest are
//!   refused at once with 429 and `Retry-After`;
//! - anonymous calls to a tenant's module routes may be rate limited
//!   (`tenant_anonymous_rate` per second, bursts of twice that).
//!
//! A call's [`Ticket`] is held until the call has released everything it
//! holds, SQL connections included: a call stopped at its deadline whose
//! statement is still being interrupted keeps counting against its tenant.
//! Refusals and waits are counted per tenant in `/metrics`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::metrics::Metrics;

/// The operator's settings.
#[derive(Debug, Clone, Copy)]
pub struct ShareLimits {
    pub tenant: u32,
    pub pair: u32,
    pub queue: u32,
    pub wait: Duration,
    /// Anonymous calls per second per tenant; `None`: unlimited.
    pub anonymous_rate: Option<NonZeroU32>,
}

impl ShareLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            tenant: config.tenant_concurrency.max(1),
            pair: config.tenant_module_concurrency.max(1),
            queue: config.tenant_queue,
            wait: Duration::from_millis(config.tenant_queue_ms),
            anonymous_rate: NonZeroU32::new(config.tenant_anonymous_rate),
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the tenant has {0} module calls waiting already")]
    QueueFull(u32),
    #[error("the tenant's module calls kept every one of its slots busy")]
    Waited,
    #[error("the tenant's anonymous requests are over their rate")]
    Rate,
}

impl Refusal {
    /// The `reason` label of `/metrics`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::QueueFull(_) => "queue_full",
            Refusal::Waited => "waited",
            Refusal::Rate => "rate",
        }
    }
}

/// A call's place in its tenant's share: released when dropped.
#[derive(Debug)]
pub struct Ticket {
    _pair: OwnedSemaphorePermit,
    _tenant: OwnedSemaphorePermit,
}

/// One tenant's (or one tenant-module pair's) slots and waiting calls.
#[derive(Debug)]
struct Lane {
    slots: Arc<Semaphore>,
    waiting: AtomicU32,
}

impl Lane {
    fn new(slots: u32) -> Arc<Self> {
        Arc::new(Self { slots: Arc::new(Semaphore::new(slots as usize)), waiting: AtomicU32::new(0) })
    }
}

/// Lanes kept before idle ones are dropped.
const KEEP_LANES: usize = 4096;

/// The shares of every tenant of this process.
pub struct Share {
    limits: ShareLimits,
    tenants: Mutex<HashMap<String, Arc<Lane>>>,
    pairs: Mutex<HashMap<(String, String), Arc<Lane>>>,
    anonymous: Option<DefaultKeyedRateLimiter<String>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share").field("limits", &self.limits).finish()
    }
}

impl Share {
    pub fn new(limits: ShareLimits, metrics: Arc<Metrics>) -> Self {
        let anonymous = limits.anonymous_rate.map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self { limits, tenants: Mutex::default(), pairs: Mutex::default(), anonymous, metrics }
    }

    pub fn limits(&self) -> &ShareLimits {
        &self.limits
    }

    /// Counts an anonymous request to `tenant`'s module routes against its
    /// rate; refused once the tenant is over it.
    pub fn anonymous_request(&self, tenant: &str) -> Result<(), Refusal> {
        let Some(limiter) = &self.anonymous else { return Ok(()) };
        if limiter.check_key(&tenant.to_owned()).is_ok() {
            return Ok(());
        }
        self.metrics.tenant_call_rejected(tenant, Refusal::Rate.reason());
        if limiter.len() > KEEP_LANES {
            limiter.retain_recent();
        }
        Err(Refusal::Rate)
    }

    /// A place for one background call (a job run, an event delivery): the
    /// same slots as requests, but waited for until `deadline`, in no queue
    /// (their dispatchers bound how many there are), and never refused
    /// sooner: a busy tenant's events are delayed, not dead-lettered.
    pub async fn admit_background(&self, tenant: &str, module: &str, deadline: Duration) -> Result<Ticket, Refusal> {
        let (pair, whole) = self.lanes(tenant, module);
        take(&pair, &whole, deadline).await
    }

    /// The lanes of (`tenant`, `module`) and of the whole `tenant`.
    fn lanes(&self, tenant: &str, module: &str) -> (Arc<Lane>, Arc<Lane>) {
        (
            lane(&self.pairs, (tenant.to_owned(), module.to_owned()), self.limits.pair),
            lane(&self.tenants, tenant.to_owned(), self.limits.tenant),
        )
    }

    /// A place for one call of `module` for `tenant`, waiting at most the
    /// share's wait (and `deadline`) when the tenant's slots are busy.
    pub async fn admit(&self, tenant: &str, module: &str, deadline: Duration) -> Result<Ticket, Refusal> {
        let (pair, whole) = self.lanes(tenant, module);
        if let (Ok(p), Ok(t)) =
            (Arc::clone(&pair.slots).try_acquire_owned(), Arc::clone(&whole.slots).try_acquire_owned())
        {
            return Ok(Ticket { _pair: p, _tenant: t });
        }
        let waiting = whole.waiting.fetch_add(1, Ordering::AcqRel);
        let result = if waiting >= self.limits.queue {
            Err(Refusal::QueueFull(waiting))
        } else {
            self.metrics.tenant_call_queued(tenant);
            take(&pair, &whole, self.limits.wait.min(deadline)).await
        };
        whole.waiting.fetch_sub(1, Ordering::AcqRel);
        if let Err(refusal) = &result {
            self.metrics.tenant_call_rejected(tenant, refusal.reason());
        }
        result
    }

    /// Calls of `tenant` running now (for tests and the usage report).
    pub fn running(&self, tenant: &str) -> u32 {
        let tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.get(tenant).map_or(0, |l| self.limits.tenant.saturating_sub(l.slots.available_permits() as u32))
    }
}

/// Waits up to `wait` for a slot of the pair, then one of the whole tenant
/// (in that order: a call never holds a slot of its tenant while it waits
/// for one of its module).
async fn take(pair: &Lane, whole: &Lane, wait: Duration) -> Result<Ticket, Refusal> {
    let both = async {
        let p = Arc::clone(&pair.slots).acquire_owned().await;
        let t = Arc::clone(&whole.slots).acquire_owned().await;
        p.and_then(|p| t.map(|t| Ticket { _pair: p, _tenant: t }))
    };
    match tokio::time::timeout(wait, both).await {
        Ok(Ok(ticket)) => Ok(ticket),
        _ => Err(Refusal::Waited),
    }
}

/// The lane of `key`, created on first use; idle lanes are dropped when
/// there are many (a lane nobody holds has all its slots free).
fn lane<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Arc<Lane>>>, key: K, slots: u32) -> Arc<Lane> {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= KEEP_LANES && !map.contains_key(&key) {
        map.retain(|_, l| Arc::strong_count(l) > 1 || l.slots.available_permits() < slots as usize);
    }
    Arc::clone(map.entry(key).or_insert_with(|| Lane::new(slots)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn share(tenant: u32, pair: u32, queue: u32, rate: u32) -> Share {
        let limits = ShareLimits {
            tenant,
            pair,
            queue,
            wait: Duration::from_millis(200),
            anonymous_rate: NonZeroU32::new(rate),
        };
        Share::new(limits, Arc::new(Metrics::new(1)))
    }

    const LONG: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_tenant_gets_its_slots_and_no_more_while_others_get_theirs() {
        let s = share(2, 2, 0, 0);
        let a1 = s.admit("a", "m", LONG).await.unwrap();
        let _a2 = s.admit("a", "n", LONG).await.unwrap();
        assert_eq!(s.admit("a", "m", LONG).await.unwrap_err(), Refusal::QueueFull(0), "no queue: refused at once");
        let _b = s.admit("b", "m", LONG).await.expect("another tenant is not held back");
        drop(a1);
        assert!(s.admit("a", "m", LONG).await.is_ok(), "a slot freed is a slot taken");
        assert_eq!(
            s.metrics
                .tenant_calls_rejected
                .get_or_create(&crate::metrics::ShareLabels { tenant: "a".into(), reason: "queue_full".into() })
                .get(),
            1
        );
    }

    #[tokio::test]
    async fn one_module_cannot_take_its_tenants_whole_share() {
        let s = share(4, 1, 0, 0);
        let _m = s.admit("a", "m", LONG).await.unwrap();
        assert!(s.admit("a", "m", LONG).await.is_err(), "the pair has one slot");
        assert!(s.admit("a", "other", LONG).await.is_ok(), "the tenant's other modules still run");
    }

    #[tokio::test]
    async fn queued_calls_wait_for_a_slot_then_give_up() {
        let s = Arc::new(share(1, 1, 1, 0));
        let first = s.admit("a", "m", LONG).await.unwrap();
        let waiter = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.admit("a", "m", LONG).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(s.admit("a", "m", LONG).await.unwrap_err(), Refusal::QueueFull(1), "the queue holds one");
        drop(first);
        assert!(waiter.await.unwrap().is_ok(), "the waiting call got the freed slot");
        let _held = s.admit("a", "m", LONG).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(s.admit("a", "m", LONG).await.unwrap_err(), Refusal::Waited);
        assert!(started.elapsed() >= Duration::from_millis(150), "it waited for the share's wait");
        assert_eq!(s.admit("a", "m", Duration::from_millis(10)).await.unwrap_err(), Refusal::Waited);
    }

    #[tokio::test]
    async fn anonymous_requests_are_rate_limited_per_tenant() {
        let s = share(1, 1, 0, 5);
        let allowed = (0..50).filter(|_| s.anonymous_request("a").is_ok()).count();
        assert!((10..=11).contains(&allowed), "a burst of twice the rate, got {allowed}");
        assert!(s.anonymous_request("b").is_ok(), "another tenant has its own rate");
        assert!(share(1, 1, 0, 0).anonymous_request("a").is_ok(), "0 is no limit");
    }
}
