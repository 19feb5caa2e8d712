//! How the host's background work retries: attempts and back-off, from the
//! operator's settings. Event delivery and mail delivery each have theirs.

use std::time::Duration;

use super::Config;

/// Attempts, and the waits between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before giving up (a dead letter, a failed message).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Event delivery: `event_max_attempts`, `event_retry_base_ms`.
    pub fn for_events(config: &Config) -> Self {
        Self::new(config.event_max_attempts, config.event_retry_base_ms)
    }

    /// Mail delivery: `mail_max_attempts`, `mail_retry_base_ms`.
    pub fn for_mail(config: &Config) -> Self {
        Self::new(config.mail_max_attempts, config.mail_retry_base_ms)
    }

    fn new(max_attempts: u32, base_ms: u64) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base: Duration::from_millis(base_ms.max(1)),
            max_wait: Duration::from_secs(3600),
        }
    }

    /// The wait after the `attempts`-th failed attempt: base × 2^(attempts−1), capped.
    pub fn wait_after(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max_wait)
    }
}
