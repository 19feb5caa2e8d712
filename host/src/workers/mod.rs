//! The background work of a serving process: the job scheduler and the
//! event dispatcher. They call modules, so they sit above `modules/`; what
//! they read and write (job runs, event deliveries) is in `jobs/` and
//! `events/`, below it, where the modules' lifecycle and the HTTP API read
//! it too.

pub mod dispatcher;
pub mod scheduler;

pub use dispatcher::Dispatcher;
pub use scheduler::{JobError, JobInfo, Scheduler, list as list_jobs, run_now};
