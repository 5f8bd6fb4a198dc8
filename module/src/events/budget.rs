//! What the triggers of one command may take, together: time and queued
//! payloads.
//!
//! One command can raise any number of events: `DEL` of many keys, a
//! `MULTI`/`EXEC`, a script or a function, an expiry cycle. Each guest call
//! has its own time limit, but without a budget twenty calls of 300 ms each
//! would hold the server for six seconds. So the guest calls of one
//! *execution unit* — what Redis runs before it runs the post-notification
//! jobs, which is the whole command, transaction, script or function, or one
//! key's expiry or eviction — share one budget of
//! `triggers.max-execution-time`: each call's deadline is the time left, and
//! once it is spent the unit's other triggers do not run; they fail, with
//! a `last_error` that says so, and are counted (`INFO triggers`,
//! `num_over_budget`).
//!
//! A unit opens at its first fired trigger and closes when its last `run`
//! has run (Redis runs the jobs that jobs add in the same pass). A unit
//! whose triggers left no `run` to wait for (`on_fired` did all the work)
//! is closed by a marker job instead, which schedules itself again behind
//! any `run` still waiting; and any unit is closed when Redis is back in its
//! event loop (`busy.rs`).
//!
//! The payloads `on-fired` hands to `run` wait in memory Redis does not
//! count, until the unit's jobs run: their total is held under
//! `triggers.max-payload-size` ([`PendingRun`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis_module::{Context, Status};

use crate::config;

thread_local! {
    /// The time spent by the guests of the open unit, if one is open.
    static SPENT: Cell<Option<Duration>> = const { Cell::new(None) };
    /// Whether the marker job is scheduled.
    static MARKER: Cell<bool> = const { Cell::new(false) };
    /// `run` jobs scheduled and not yet run.
    static PENDING_RUNS: Cell<u64> = const { Cell::new(0) };
    /// Bytes of payloads waiting for their `run`.
    static PENDING_PAYLOAD_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Triggers not run because their unit's budget was spent.
static OVER_BUDGET: AtomicU64 = AtomicU64::new(0);

/// How many triggers did not run because their unit's budget was spent,
/// for `INFO triggers` (`num_over_budget`).
pub fn over_budget() -> u64 {
    OVER_BUDGET.load(Ordering::Relaxed)
}

/// The time the guests of the current unit may still take, opening a unit
/// if none is open; `None` when the budget is spent (counted).
pub fn time_left() -> Option<Duration> {
    let budget = config::max_execution_time();
    let spent = SPENT.get().unwrap_or_default();
    SPENT.set(Some(spent));
    let left = budget.saturating_sub(spent);
    if left.is_zero() {
        OVER_BUDGET.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    Some(left)
}

/// Adds the time of a guest call to the open unit's.
pub fn spend(elapsed: Duration) {
    if let Some(spent) = SPENT.get() {
        SPENT.set(Some(spent.saturating_add(elapsed)));
    }
}

/// The error of a trigger that did not run because the budget was spent.
pub fn spent_message() -> String {
    format!(
        "not run: the triggers of this command (or transaction, script, expiry) already used \
         their time budget of {} ms (triggers.max-execution-time)",
        config::max_execution_time_ms()
    )
}

/// Held while a trigger fires in a notification: when it is dropped and no
/// `run` waits to close the unit (the trigger's `on_fired` did all the work,
/// or failed), the marker job is scheduled to close it.
pub struct Firing<'a>(pub &'a Context);

impl Drop for Firing<'_> {
    fn drop(&mut self) {
        if PENDING_RUNS.get() == 0 && !MARKER.get() && SPENT.get().is_some() {
            // Without the marker the unit would close only in the event loop.
            if self.0.add_post_notification_job(close_when_done) == Status::Ok {
                MARKER.set(true);
            }
        }
    }
}

/// The marker job: closes the unit once no `run` is waiting, or comes
/// back after them.
fn close_when_done(ctx: &Context) {
    if PENDING_RUNS.get() > 0 && ctx.add_post_notification_job(close_when_done) == Status::Ok {
        return;
    }
    MARKER.set(false);
    close();
}

/// Ends the open unit, if any.
pub fn close() {
    SPENT.set(None);
}

/// A `run` job waiting for Redis; dropped when it has run (or is dropped
/// unrun), with its payload's bytes.
pub struct PendingRun {
    payload_bytes: usize,
}

impl PendingRun {
    /// Counts a `run` about to be scheduled, with a payload of
    /// `payload_bytes`; refused when the payloads waiting in this unit
    /// would exceed `triggers.max-payload-size`.
    #[inline]
    pub fn new(payload_bytes: usize) -> Result<PendingRun, String> {
        let waiting = PENDING_PAYLOAD_BYTES.get();
        let limit = config::max_payload_bytes();
        if waiting.saturating_add(payload_bytes) > limit {
            return Err(format!(
                "on_fired returned a payload of {payload_bytes} bytes while {waiting} bytes of \
                 payloads already wait for run in this command: over the limit of {limit} bytes \
                 (triggers.max-payload-size)"
            ));
        }
        PENDING_PAYLOAD_BYTES.set(waiting + payload_bytes);
        PENDING_RUNS.set(PENDING_RUNS.get() + 1);
        Ok(PendingRun { payload_bytes })
    }
}

impl Drop for PendingRun {
    /// The last `run` of a unit closes it (unless the marker will).
    #[inline]
    fn drop(&mut self) {
        PENDING_PAYLOAD_BYTES.set(
            PENDING_PAYLOAD_BYTES
                .get()
                .saturating_sub(self.payload_bytes),
        );
        let left = PENDING_RUNS.get().saturating_sub(1);
        PENDING_RUNS.set(left);
        if left == 0 && !MARKER.get() {
            close();
        }
    }
}
