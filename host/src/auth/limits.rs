//! Abuse limits for sign-in, registration, refresh and MFA: a rate per
//! client address and per account, and a back-off that doubles with each
//! failure past a threshold. Kept in memory per process.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AuthError;
use crate::config::Config;

/// How many times more failures an address may have than an account.
const IP_SLACK: u32 = 5;

/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);

/// Rate and back-off state of the auth endpoints.
pub struct AuthLimits {
    rate: DefaultKeyedRateLimiter<String>,
    failures: Mutex<HashMap<String, Failures>>,
    max_failures: u32,
    backoff: Duration,
    checks: AtomicU64,
}

impl std::fmt::Debug for AuthLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthLimits")
    }
}

/// The limiter key of a client address.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// The limiter key of an account (by normalised email).
pub fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

impl AuthLimits {
    pub fn from_config(config: &Config) -> Self {
        let per_minute = NonZeroU32::new(config.auth_rate_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            rate: RateLimiter::keyed(Quota::per_minute(per_minute)),
            failures: Mutex::new(HashMap::new()),
            max_failures: config.auth_max_failures.max(1),
            backoff: Duration::from_millis(config.auth_backoff_ms.max(1)),
            checks: AtomicU64::new(0),
        }
    }

    /// Admits one attempt for every key, or says how long to wait.
    pub fn check(&self, keys: &[String]) -> Result<(), AuthError> {
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(1024) {
            self.rate.retain_recent();
        }
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        if let Ok(failures) = self.failures.lock() {
            for key in keys {
                if let Some(until) = failures.get(key).and_then(|f| f.blocked_until).filter(|u| *u > now) {
                    wait = wait.max(until - now);
                }
            }
        }
        if wait.is_zero() {
            for key in keys {
                if let Err(not_until) = self.rate.check_key(key) {
                    wait = wait.max(not_until.wait_time_from(DefaultClock::default().now()));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AuthError::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 })
        }
    }

    /// Records a failed attempt: past the threshold, the keys are blocked
    /// for a delay that doubles with each further failure.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.retain(|_, f| f.blocked_until.is_some_and(|u| u > now));
            }
            for key in keys {
                // An address may be shared by a whole office: it gets more slack than one account.
                let threshold = if key.starts_with("ip:") { self.max_failures * IP_SLACK } else { self.max_failures };
                let entry =
                    failures.entry(key.clone()).or_insert(Failures { count: 0, blocked_until: None, last: now });
                if now.duration_since(entry.last) > FAILURE_MEMORY {
                    entry.count = 0;
                }
                entry.last = now;
                entry.count += 1;
                if entry.count >= threshold {
                    let doublings = (entry.count - threshold).min(20);
                    let delay = self.backoff.saturating_mul(1 << doublings).min(MAX_BACKOFF);
                    entry.blocked_until = Some(now + delay);
                }
            }
        }
    }

    /// Forgets the failures of these keys after a success.
    pub fn succeeded(&self, keys: &[String]) {
        if let Ok(mut failures) = self.failures.lock() {
            for key in keys {
                failures.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_failures: u32, backoff_ms: u64, per_minute: u32) -> AuthLimits {
        AuthLimits::from_config(&Config {
            auth_max_failures: max_failures,
            auth_backoff_ms: backoff_ms,
            auth_rate_per_minute: per_minute,
            ..Config::default()
        })
    }

    #[test]
    fn back_off_grows_and_success_resets_it() {
        let l = limits(2, 1000, 1000);
        let keys = [account_key("A@x.org")];
        l.failed(&keys);
        assert!(l.check(&keys).is_ok(), "one failure is not blocked yet");
        l.failed(&keys);
        let Err(AuthError::RateLimited { retry_after_secs: first }) = l.check(&keys) else { panic!("blocked") };
        l.failed(&keys);
        let Err(AuthError::RateLimited { retry_after_secs: second }) = l.check(&keys) else { panic!("blocked") };
        assert!(second > first, "{second} > {first}");
        l.succeeded(&keys);
        assert!(l.check(&keys).is_ok());
        assert!(l.check(&[account_key("other@x.org")]).is_ok(), "other accounts are not affected");
    }

    #[test]
    fn rate_is_per_key() {
        let l = limits(100, 10, 2);
        let ip = [ip_key("10.0.0.1")];
        assert!(l.check(&ip).is_ok());
        assert!(l.check(&ip).is_ok());
        assert!(matches!(l.check(&ip), Err(AuthError::RateLimited { .. })));
        assert!(l.check(&[ip_key("10.0.0.2")]).is_ok());
    }
}
