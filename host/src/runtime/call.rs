//! One call into a module: a fresh store from the pool, the call's limits
//! armed, the export called, and every way it can go wrong told apart.
//!
//! Deadlines are enforced twice: the epoch callback interrupts guest code
//! (yielding to the executor every tick so a spinning module never holds a
//! worker thread), and a timer around the whole call cancels host work the
//! module is waiting on (a slow query, an outbound request).

use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::Runtime;
use super::limits::{Limiter, MemoryCapExceeded};
use crate::contract::{CallLimits, Event, JobRun, Manifest, ModulePre, Request, Response};

/// What a call's store holds, as far as the runtime is concerned: its
/// limits, its memory limiter, and how to end it. The capabilities' state
/// of the call is the rest, and the runtime does not look at it.
pub trait CallData: Send + 'static {
    fn limits(&self) -> &CallLimits;
    fn limiter(&mut self) -> &mut Limiter;
    /// Stops the call's host work that runs outside its task (a SQL
    /// statement), once its deadline has passed.
    fn interrupt(&self);
    /// Ends the call: what it left open is closed, and what waits for its
    /// success (events published outside a transaction) kept only if
    /// `success`.
    fn finish(&mut self, success: bool) -> impl Future<Output = ()> + Send;
}

/// What to call.
#[derive(Debug)]
pub enum Invocation {
    Manifest,
    Handle(Request),
    Event(Event),
    Job(JobRun),
}

/// What the module answered.
#[derive(Debug)]
pub enum Output {
    Manifest(Box<Manifest>),
    Response(Response),
    /// `on-event` and `run-job`: the module's own verdict.
    Done(Result<(), String>),
}

/// Why a call did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("did not finish within {} ms", .0.as_millis())]
    Deadline(Duration),
    #[error("tried to grow its memory to {desired} bytes, above its limit of {limit}")]
    Memory { desired: usize, limit: usize },
    #[error("trapped: {0}")]
    Trap(String),
    #[error("answered with {size} bytes, above the limit of {limit}")]
    ResponseTooLarge { size: usize, limit: usize },
    #[error("too many module calls are running; try again")]
    Busy,
    #[error("{0}; try again")]
    TenantBusy(super::share::Refusal),
    #[error("could not be started: {0}")]
    Instantiate(String),
}

impl CallError {
    /// The `outcome` label of `/metrics`.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::Deadline(_) => "deadline",
            CallError::Memory { .. } => "memory",
            CallError::Trap(_) => "trap",
            CallError::ResponseTooLarge { .. } => "response_too_large",
            CallError::Busy => "busy",
            CallError::TenantBusy(_) => "tenant_busy",
            CallError::Instantiate(_) => "instantiate",
        }
    }
}

/// Raised by the epoch callback once the deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

impl Runtime {
    /// Calls `invocation` on a fresh instance of `pre`, with `state` (which
    /// carries the call's scope and limits). The call's SQL session is
    /// closed before returning: an open transaction is rolled back, and
    /// events wait for success.
    pub async fn invoke<T: CallData>(
        &self,
        pre: &ModulePre<T>,
        state: T,
        invocation: Invocation,
    ) -> Result<Output, CallError> {
        let limits = *state.limits();
        let started = Instant::now();
        let deadline = started + limits.deadline;
        // Wait for a pool slot, but not past the deadline.
        let slot =
            match tokio::time::timeout(limits.deadline, std::sync::Arc::clone(self.slots()).acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(CallError::Busy),
            };
        let mut store = self.store(state, deadline);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let run = async {
            let instance = pre.instantiate_async(&mut store).await.map_err(Failure::Instantiate)?;
            let out = match invocation {
                Invocation::Manifest => {
                    Output::Manifest(Box::new(instance.call_manifest(&mut store).await.map_err(Failure::Call)?))
                }
                Invocation::Handle(r) => {
                    Output::Response(instance.call_handle(&mut store, &r).await.map_err(Failure::Call)?)
                }
                Invocation::Event(e) => {
                    Output::Done(instance.call_on_event(&mut store, &e).await.map_err(Failure::Call)?)
                }
                Invocation::Job(j) => Output::Done(instance.call_run_job(&mut store, &j).await.map_err(Failure::Call)?),
            };
            Ok::<_, Failure>(out)
        };
        let result = match tokio::time::timeout(remaining, run).await {
            Err(_) => {
                // The answer goes out now; what the call still holds is
                // released in the background: its SQLite statement is
                // interrupted, its transaction rolled back, and only then
                // are its pool slot and its tenant's share given back.
                store.data().interrupt();
                tokio::spawn(async move {
                    store.data_mut().finish(false).await;
                    drop(store);
                    drop(slot);
                });
                return Err(CallError::Deadline(limits.deadline));
            }
            Ok(Ok(out)) => match out {
                Output::Response(r) if r.body.len() > limits.response_bytes => {
                    Err(CallError::ResponseTooLarge { size: r.body.len(), limit: limits.response_bytes })
                }
                other => Ok(other),
            },
            Ok(Err(Failure::Instantiate(e))) => Err(classify(&e, &mut store, limits.deadline, true)),
            Ok(Err(Failure::Call(e))) => Err(classify(&e, &mut store, limits.deadline, false)),
        };
        let success = match &result {
            Ok(Output::Response(r)) => r.status < 500,
            Ok(Output::Done(r)) => r.is_ok(),
            Ok(Output::Manifest(_)) => true,
            Err(_) => false,
        };
        store.data_mut().finish(success).await;
        drop(store);
        drop(slot);
        result
    }

    /// The store of one call: `state`, its memory limiter, and the epoch
    /// callback that yields every tick and ends guest code at `deadline`.
    /// (Public for the per-call benchmark, which times each stage.)
    pub fn store<T: CallData>(&self, state: T, deadline: Instant) -> Store<T> {
        let mut store = Store::new(self.engine(), state);
        store.limiter(|s| s.limiter());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

enum Failure {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

/// Tells the ways a call fails apart, from the error and the store's state.
fn classify<T: CallData>(
    e: &wasmtime::Error,
    store: &mut Store<T>,
    deadline: Duration,
    instantiating: bool,
) -> CallError {
    if e.downcast_ref::<DeadlineExceeded>().is_some() {
        return CallError::Deadline(deadline);
    }
    if let Some((desired, limit)) = store.data_mut().limiter().exceeded {
        return CallError::Memory { desired, limit };
    }
    if let Some(m) = e.downcast_ref::<MemoryCapExceeded>() {
        return CallError::Memory { desired: m.desired, limit: m.limit };
    }
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        tracing::warn!(error = ?e, "module trapped");
        return CallError::Trap(trap.to_string());
    }
    if instantiating {
        // The pooling allocator is full: a capacity problem, not a module bug.
        if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return CallError::Busy;
        }
        return CallError::Instantiate(format!("{e:#}"));
    }
    tracing::warn!(error = ?e, "module call failed");
    // A host function trapped on purpose (e.g. crypto used without being
    // declared): its message is the root cause.
    CallError::Trap(e.root_cause().to_string())
}
