//! The limits of one call: what a module asks for in its manifest (the
//! WIT's `limits` record), capped by the operator's settings.

use std::time::Duration;

use super::Limits;
use crate::config::Config;

/// The limits of one call of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall-clock time of the whole call, host capabilities included.
    pub deadline: Duration,
    /// Size of each linear memory.
    pub memory_bytes: usize,
    /// Size of the response body.
    pub response_bytes: usize,
    /// SQL statements run in the call.
    pub sql_statements: u32,
    /// Rows the call's queries may return in total.
    pub sql_rows: u32,
    /// Outbound HTTP requests in the call.
    pub http_requests: u32,
    /// SQLite virtual-machine steps the call's statements may run (rows
    /// scanned and produced): the operator's, a module cannot ask for more.
    pub sql_work: u64,
}

impl CallLimits {
    /// The operator's caps.
    pub fn caps(config: &Config) -> Self {
        Self {
            deadline: Duration::from_millis(config.module_deadline_ms),
            memory_bytes: usize::try_from(config.module_memory_bytes).unwrap_or(usize::MAX),
            response_bytes: usize::try_from(config.module_response_bytes).unwrap_or(usize::MAX),
            sql_statements: config.module_sql_statements,
            sql_rows: config.module_sql_rows,
            http_requests: config.module_http_requests,
            sql_work: config.module_sql_work,
        }
    }

    /// The module's wishes (absent: the cap itself), never above the caps.
    pub fn capped(wanted: &Limits, caps: &CallLimits) -> Self {
        fn min<T: Ord + Copy>(want: Option<T>, cap: T) -> T {
            want.map_or(cap, |w| w.min(cap))
        }
        Self {
            deadline: min(wanted.deadline_ms.map(|ms| Duration::from_millis(ms.into())), caps.deadline),
            memory_bytes: min(wanted.memory_bytes.and_then(|b| usize::try_from(b).ok()), caps.memory_bytes),
            response_bytes: min(wanted.response_bytes.and_then(|b| usize::try_from(b).ok()), caps.response_bytes),
            sql_statements: min(wanted.sql_statements, caps.sql_statements),
            sql_rows: min(wanted.sql_rows, caps.sql_rows),
            http_requests: min(wanted.http_requests, caps.http_requests),
            sql_work: caps.sql_work,
        }
    }

    /// Tight limits for reading a manifest in the publish-time sandbox.
    pub fn sandbox(caps: &CallLimits) -> Self {
        Self {
            deadline: caps.deadline.min(Duration::from_secs(2)),
            memory_bytes: caps.memory_bytes.min(32 << 20),
            response_bytes: 1 << 20,
            sql_statements: 0,
            sql_rows: 0,
            http_requests: 0,
            sql_work: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> CallLimits {
        CallLimits {
            deadline: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            response_bytes: 1 << 20,
            sql_statements: 100,
            sql_rows: 1000,
            http_requests: 5,
            sql_work: 1_000_000,
        }
    }

    #[test]
    fn caps_win_over_wishes() {
        let wanted = Limits {
            deadline_ms: Some(60_000),
            memory_bytes: Some(1 << 30),
            response_bytes: Some(u32::MAX),
            sql_statements: Some(1_000_000),
            sql_rows: None,
            http_requests: Some(1),
        };
        let l = CallLimits::capped(&wanted, &caps());
        assert_eq!(l.deadline, Duration::from_secs(5));
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.response_bytes, 1 << 20);
        assert_eq!(l.sql_statements, 100);
        assert_eq!(l.sql_rows, 1000);
        assert_eq!(l.http_requests, 1, "a smaller wish is honoured");
    }
}
