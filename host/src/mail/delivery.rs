//! The mail worker: hands stored messages to their tenant's SMTP relay.
//!
//! It runs in every serving process with workers on, and needs no
//! coordination beyond the database: a message is taken with a lease, so two
//! processes never send it at once, and a process that dies mid-send loses
//! only its lease (the message is tried again when it runs out: at least
//! once, like every relay). A transient failure (the relay down, a 4xx
//! reply) is retried with back-off; a permanent one (a 5xx reply), or the
//! last attempt, marks the message failed with the relay's reply.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Notify;

use super::settings;
use crate::config::{Config, RetryPolicy};
use crate::db::{Db, format_time};

/// How often the worker looks for due messages when nothing woke it.
const POLL: Duration = Duration::from_millis(500);
/// Messages taken per pass, sent concurrently.
const BATCH: i64 = 10;
/// How long a taken message is this process's: longer than one SMTP session.
const LEASE: TimeDelta = TimeDelta::minutes(5);
/// One SMTP session's timeout (connect, each command).
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Sent and failed messages are kept this long (status, history), then deleted.
const KEEP: TimeDelta = TimeDelta::days(30);
/// Passes between two prunings: about an hour.
const PRUNE_EVERY: u64 = 3600 * 1000 / POLL.as_millis() as u64;

/// A message taken for delivery.
struct Taken {
    id: String,
    tenant: String,
    sender: String,
    recipients: String,
    raw: Vec<u8>,
    attempts: i64,
}

/// How one attempt ended.
enum Outcome {
    Sent,
    /// Worth another attempt (relay unreachable, 4xx).
    Transient(String),
    /// Not worth another attempt (5xx, a recipient the relay refuses).
    Permanent(String),
}

/// The mail worker of one process.
pub struct Worker {
    db: Db,
    config: Arc<Config>,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    /// The operator's relay, built once (`None` without `smtp_url`).
    operator: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|b| b.timeout(Some(SMTP_TIMEOUT)).build())
        .map_err(|e| format!("the SMTP URL is not usable: {e}"))
}

impl Worker {
    /// `wake` is notified when a message is stored, so it goes out at once.
    pub fn new(db: Db, config: Arc<Config>, wake: Arc<Notify>) -> Arc<Self> {
        let operator = (!config.smtp_url.is_empty()).then(|| transport(&config.smtp_url)).and_then(|t| {
            t.inspect_err(|e| tracing::error!(error = %e, "PLAZA_SMTP_URL: modules' mail has no default relay")).ok()
        });
        let policy = RetryPolicy::for_mail(&config);
        Arc::new(Self { db, config, policy, wake, operator })
    }

    /// Runs until `stop` says so.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut passes: u64 = 0;
        loop {
            let full = match self.pass().await {
                Ok(taken) => taken == BATCH as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery pass failed; trying again");
                    false
                }
            };
            passes += 1;
            if passes.is_multiple_of(PRUNE_EVERY) {
                self.prune().await;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Takes the due messages and sends them; returns how many it took.
    pub async fn pass(&self) -> Result<usize, sqlx::Error> {
        let now = Utc::now();
        let taken: Vec<(String, String, String, String, Vec<u8>, i64)> = sqlx::query_as(
            "UPDATE mail_messages SET lease_until = $1 \
             WHERE state = 'queued' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
             AND id IN (SELECT id FROM mail_messages WHERE state = 'queued' AND next_attempt_at <= $2 \
                        AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at LIMIT $3) \
             RETURNING id, tenant_id, sender, recipients, raw, attempts",
        )
        .bind(format_time(now + LEASE))
        .bind(format_time(now))
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await?;
        let count = taken.len();
        let sends = taken.into_iter().map(|(id, tenant, sender, recipients, raw, attempts)| {
            self.deliver(Taken { id, tenant, sender, recipients, raw, attempts })
        });
        futures_util::future::join_all(sends).await;
        Ok(count)
    }

    async fn deliver(&self, message: Taken) {
        let outcome = self.attempt(&message).await;
        let attempts = message.attempts.saturating_add(1);
        let now = Utc::now();
        let (state, error, next) = match outcome {
            Outcome::Sent => ("sent", None, now),
            Outcome::Permanent(e) => ("failed", Some(e), now),
            Outcome::Transient(e) if attempts >= i64::from(self.policy.max_attempts) => ("failed", Some(e), now),
            Outcome::Transient(e) => {
                let wait = self.policy.wait_after(u32::try_from(attempts).unwrap_or(u32::MAX));
                ("queued", Some(e), now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1)))
            }
        };
        if let Some(e) = &error {
            tracing::warn!(tenant = %message.tenant, mail = %message.id, attempts, state, error = %e, "mail not delivered");
        }
        let sent_at = (state == "sent").then(|| format_time(now));
        let stored = sqlx::query(
            "UPDATE mail_messages SET state = $1, attempts = $2, last_error = $3, next_attempt_at = $4, \
             sent_at = $5, lease_until = NULL WHERE id = $6",
        )
        .bind(state)
        .bind(attempts)
        .bind(error)
        .bind(format_time(next))
        .bind(sent_at)
        .bind(&message.id)
        .execute(self.db.pool())
        .await;
        if let Err(e) = stored {
            // The lease runs out and the message is tried again: at least once.
            tracing::error!(mail = %message.id, error = %e, "mail outcome not stored");
        }
    }

    async fn attempt(&self, message: &Taken) -> Outcome {
        let envelope = match envelope(message) {
            Ok(envelope) => envelope,
            Err(e) => return Outcome::Permanent(e),
        };
        let url = match settings::relay_url(&self.db, &self.config, &message.tenant).await {
            Ok(Some(url)) => url,
            Ok(None) => return Outcome::Transient("no SMTP relay is configured for this tenant".into()),
            Err(e) => return Outcome::Transient(e.to_string()),
        };
        let own;
        let relay = match &self.operator {
            Some(operator) if url == self.config.smtp_url => operator,
            _ => match transport(&url) {
                Ok(t) => {
                    own = t;
                    &own
                }
                Err(e) => return Outcome::Permanent(e),
            },
        };
        match relay.send_raw(&envelope, &message.raw).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(e.to_string()),
            Err(e) => Outcome::Transient(e.to_string()),
        }
    }

    /// Deletes sent and failed messages past [`KEEP`].
    async fn prune(&self) {
        let before = format_time(Utc::now() - KEEP);
        if let Err(e) = sqlx::query("DELETE FROM mail_messages WHERE state <> 'queued' AND created_at < $1")
            .bind(before)
            .execute(self.db.pool())
            .await
        {
            tracing::warn!(error = %e, "old mail not pruned");
        }
    }
}

fn envelope(message: &Taken) -> Result<Envelope, String> {
    let sender: Address = message.sender.parse().map_err(|e| format!("sender: {e}"))?;
    let recipients: Vec<String> = serde_json::from_str(&message.recipients).map_err(|e| e.to_string())?;
    let recipients =
        recipients.iter().map(|r| r.parse::<Address>()).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    Envelope::new(Some(sender), recipients).map_err(|e| e.to_string())
}
