//! When guests hold the server: other clients are answered `-BUSY`, as
//! for a slow script, and `TRIGGER KILL` stops the triggers.
//!
//! One command's triggers take at most `triggers.max-execution-time`
//! (`budget.rs`), but many commands can run before Redis serves
//! its other clients again: a pipeline of slow-firing commands, a cycle of
//! expiries. So the time guests run is also counted from the moment Redis
//! last went back to its event loop. Past `max-execution-time`, before each
//! guest call and every [`config::CHECK_INTERVAL`] inside one, Redis is let to
//! process its clients (`RM_Yield`): a command from another client is
//! answered `-BUSY` (except the few allowed while busy, such as `AUTH`,
//! `SHUTDOWN`, and `TRIGGER KILL`), and the guests go on.
//!
//! `TRIGGER KILL` stops the guest call in progress and refuses every guest
//! call until Redis is back in its event loop; the triggers it stopped fail
//! with a `last_error` that says so. Without guests holding the server it
//! replies with an error, like `SCRIPT KILL` with no script running.

use std::cell::Cell;
use std::time::{Duration, Instant};

use redis_module::Context;

use super::budget;
use crate::config;
use crate::server::{on_before_sleep, yield_to_clients};
use crate::wasm::Stopped;

/// What other clients are answered, after `-BUSY`.
const BUSY_REPLY: &std::ffi::CStr =
    c"Redis is busy running triggers. You can only call TRIGGER KILL or SHUTDOWN NOSAVE.";

thread_local! {
    /// When guests began to hold the server, since Redis last was in its
    /// event loop.
    static HELD_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Set by `TRIGGER KILL`, until Redis is back in its event loop.
    static KILLED: Cell<bool> = const { Cell::new(false) };
}

/// At module load: subscribes to the event that tells when Redis is back
/// in its event loop.
pub fn init(ctx: &Context) -> Result<(), String> {
    on_before_sleep(ctx, before_sleep)
}

/// Redis is in its event loop: nobody is held any more.
fn before_sleep() {
    HELD_SINCE.set(None);
    KILLED.set(false);
    budget::close();
    super::removed::drop_kept();
}

/// Why a guest call may not go on.
const KILLED_BY_TRIGGER_KILL: Stopped = Stopped("killed by TRIGGER KILL");

/// Before a guest call starting `now`: starts counting the hold, lets other
/// clients be answered if it lasts, and refuses the call after `TRIGGER
/// KILL`.
pub fn before_guest_call(now: Instant) -> Result<(), Stopped> {
    let since = HELD_SINCE.get().unwrap_or(now);
    HELD_SINCE.set(Some(since));
    check(now.saturating_duration_since(since))
}

/// During a guest call, every [`config::CHECK_INTERVAL`]: as
/// [`before_guest_call`].
pub fn while_running() -> Result<(), Stopped> {
    let held = HELD_SINCE
        .get()
        .map_or(Duration::ZERO, |since| since.elapsed());
    check(held)
}

fn check(held: Duration) -> Result<(), Stopped> {
    if held >= config::max_execution_time() {
        yield_to_clients(BUSY_REPLY);
    }
    if KILLED.get() {
        return Err(KILLED_BY_TRIGGER_KILL);
    }
    Ok(())
}

/// `TRIGGER KILL`: stops the guests holding the server, until Redis is
/// back in its event loop. False if none hold it.
pub fn kill() -> bool {
    if HELD_SINCE.get().is_none() {
        return false;
    }
    KILLED.set(true);
    true
}

/// A guest call refused after `TRIGGER KILL`, as `last_error` says it.
pub fn killed_message(export: &str) -> String {
    format!("{export} was not run: killed by TRIGGER KILL")
}
