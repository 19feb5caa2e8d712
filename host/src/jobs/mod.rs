//! Scheduled jobs, as stored: what a module's job is ([`JobSpec`], its
//! schedule parsed once, [`schedule`]) and its runs in `job_runs`
//! ([`runs`]). The scheduler that fires them is in `workers/scheduler.rs`,
//! above the modules it calls.

pub mod runs;
pub mod schedule;

use std::time::Duration;

use schedule::Schedule;

/// A job of a loaded module version, its schedule parsed once.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    /// The cron expression as the module wrote it.
    pub expression: String,
    /// IANA time zone; UTC when absent.
    pub timezone: Option<String>,
    pub schedule: Schedule,
    /// The run's deadline: the job's own, capped by the operator.
    pub deadline: Duration,
}
