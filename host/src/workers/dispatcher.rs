//! Event delivery: every event a module (or the host) published reaches
//! each module of that tenant subscribed to its type, at least once, in
//! publish order per subscriber, with retries and back-off, and a
//! dead-letter list an admin can retry from.
//!
//! The dispatcher runs in every serving process and needs no coordination
//! beyond the database: fan-out marks each event once, and a delivery is
//! taken with a lease, so two processes never deliver the same event to the
//! same module at once. A process that dies mid-delivery loses only its
//! lease; the delivery is tried again when the lease runs out.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{Config, RetryPolicy};
use crate::contract::Event;
use crate::db::Db;
use crate::events::deliveries::{self, Attempt, StoredEvent};
use crate::metrics::Metrics;
use crate::modules::Modules;

/// How often the dispatcher looks for work when nothing woke it.
const POLL: Duration = Duration::from_millis(200);
/// Events fanned out per pass.
const FAN_OUT_BATCH: i64 = 500;
/// Delivered events are kept this long for the API, then deleted.
const KEEP_DELIVERED: TimeDelta = TimeDelta::days(7);
/// Passes between two prunings: about an hour.
const PRUNE_EVERY: u64 = 3600 * 1000 / POLL.as_millis() as u64;

/// The dispatcher of one host process.
pub struct Dispatcher {
    modules: Arc<Modules>,
    db: Db,
    metrics: Arc<Metrics>,
    policy: RetryPolicy,
    /// Queues (tenant, module) this process is draining right now.
    busy: Mutex<HashSet<(String, String)>>,
    /// Queues drained at once.
    parallel: Arc<tokio::sync::Semaphore>,
}

impl Dispatcher {
    pub fn new(modules: Arc<Modules>, db: Db, metrics: Arc<Metrics>, config: &Config) -> Arc<Self> {
        let parallel = (config.module_concurrency / 2).max(1) as usize;
        Arc::new(Self {
            modules,
            db,
            metrics,
            policy: RetryPolicy::for_events(config),
            busy: Mutex::new(HashSet::new()),
            parallel: Arc::new(tokio::sync::Semaphore::new(parallel)),
        })
    }

    /// Runs until `stop` says so.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut passes: u64 = 0;
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "event dispatch pass failed; trying again");
            }
            passes += 1;
            if passes.is_multiple_of(PRUNE_EVERY) {
                self.prune().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One pass: fan out new events, then start draining every queue with
    /// something due that this process is not draining already.
    pub async fn pass(self: &Arc<Self>) -> Result<(), crate::db::DbError> {
        'fan_out: loop {
            let batch = deliveries::undispatched(&self.db, FAN_OUT_BATCH).await?;
            for event in &batch {
                // One that must wait holds the later ones: order is kept.
                if !self.fan_out(event).await? {
                    break 'fan_out;
                }
            }
            if (batch.len() as i64) < FAN_OUT_BATCH {
                break;
            }
        }
        for queue in deliveries::pending_queues(&self.db).await? {
            let fresh = self.busy.lock().map(|mut b| b.insert(queue.clone())).unwrap_or(false);
            if !fresh {
                continue;
            }
            let Ok(permit) = Arc::clone(&self.parallel).acquire_owned().await else { return Ok(()) };
            let me = Arc::clone(self);
            tokio::spawn(async move {
                let (tenant, module) = &queue;
                if let Err(e) = me.drain(tenant, module).await {
                    tracing::warn!(tenant, module, error = %e, "event delivery stopped; trying again");
                }
                if let Ok(mut b) = me.busy.lock() {
                    b.remove(&queue);
                }
                drop(permit);
            });
        }
        Ok(())
    }

    /// Queues `event` for the tenant's enabled modules subscribed to its
    /// type; false when it has to wait for the next pass.
    async fn fan_out(&self, event: &StoredEvent) -> Result<bool, crate::db::DbError> {
        let subscribers: Vec<String> = match self.modules.enabled(&event.tenant).await {
            Ok(active) => active
                .loaded()
                .iter()
                .filter(|m| m.manifest.subscriptions.iter().any(|s| s == &event.event_type))
                .map(|m| m.name().to_owned())
                .collect(),
            Err(e) => {
                // The tenant's modules cannot be read now: leave the event for the next pass.
                tracing::warn!(tenant = %event.tenant, error = %e, "event fan-out postponed");
                return Ok(false);
            }
        };
        if deliveries::fan_out(&self.db, event, &subscribers).await? {
            self.metrics.event_published(&event.source);
        }
        Ok(true)
    }

    /// Delivers a queue's due events in order until it is empty or waits.
    async fn drain(&self, tenant: &str, module: &str) -> Result<(), crate::db::DbError> {
        loop {
            let Some(head) = deliveries::head(&self.db, tenant, module).await? else { return Ok(()) };
            let now = Utc::now();
            let stamp = crate::db::format_time(now);
            if head.next_attempt_at > stamp || head.lease_until.as_deref().is_some_and(|l| l >= stamp.as_str()) {
                return Ok(());
            }
            // A disabled module's queue waits (it gets its events if enabled again).
            let active = match self.modules.enabled(tenant).await {
                Ok(active) => active,
                Err(_) => return Ok(()),
            };
            let Some(loaded) = active.get(module).and_then(|a| a.module.as_ref().ok()).cloned() else {
                return Ok(());
            };
            let lease_until = now + crate::runtime::limits::lease(loaded.grant.limits.deadline);
            if !deliveries::take(&self.db, module, &head, now, lease_until).await? {
                return Ok(());
            }
            let Some(event) = deliveries::event(&self.db, &head.event_id).await? else {
                deliveries::release(&self.db, &head.event_id, module).await?;
                continue;
            };
            let attempts = u32::try_from(head.attempts + 1).unwrap_or(u32::MAX);
            let outcome = self.modules.deliver(&loaded, tenant, to_wit(&event)).await;
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(format!("the module refused it: {reason}")),
                Err(e) => Some(format!("the call failed: {e}")),
            };
            match error {
                None => {
                    deliveries::settle(&self.db, &event.id, module, Attempt::Delivered).await?;
                    self.metrics.event_delivered(module, lag_seconds(&event.published_at, Utc::now()));
                }
                Some(error) if attempts >= self.policy.max_attempts => {
                    tracing::warn!(tenant, module, event = %event.id, attempts, %error, "event delivery is dead");
                    deliveries::settle(&self.db, &event.id, module, Attempt::Dead(&error)).await?;
                    self.metrics.event_dead(module);
                }
                Some(error) => {
                    let wait = self.policy.wait_after(attempts);
                    let at = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                    tracing::info!(tenant, module, event = %event.id, attempts, ?wait, %error, "event delivery failed; will retry");
                    deliveries::settle(&self.db, &event.id, module, Attempt::Retry(&error, at)).await?;
                    self.metrics.event_retried(module);
                    return Ok(());
                }
            }
        }
    }

    async fn prune(&self) {
        match deliveries::prune(&self.db, Utc::now() - KEEP_DELIVERED).await {
            Ok(n) if n > 0 => tracing::info!(events = n, "delivered events pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning delivered events failed"),
        }
        // The live streams' items: kept a week for readers resuming.
        match crate::stream::prune(&self.db).await {
            Ok(n) if n > 0 => tracing::info!(items = n, "old stream items pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning stream items failed"),
        }
    }
}

fn to_wit(e: &StoredEvent) -> Event {
    Event {
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        source: e.source.clone(),
        payload: e.payload.clone(),
        published_at: e.published_at.clone(),
    }
}

/// Seconds from publication to delivery.
fn lag_seconds(published_at: &str, now: DateTime<Utc>) -> f64 {
    crate::db::try_parse_time(published_at).map(|p| (now - p).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let p = RetryPolicy { max_attempts: 5, base: Duration::from_secs(1), max_wait: Duration::from_secs(10) };
        let waits: Vec<u64> = (1..=6).map(|a| p.wait_after(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.wait_after(200), Duration::from_secs(10), "no overflow");
    }
}
