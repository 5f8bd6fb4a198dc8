//! When guests hold the server: other clients are answered `-BUSY`, as
//! for a slow script, and `TRIGGER KILL` stops the triggers.
//!
//! One command's triggers take at most `triggers.max-execution-time`
//! (`command_budget.rs`), but many commands can run before Redis serves
//! its other clients again: a pipeline of slow-firing commands, a cycle of
//! expiries. So the time guests run is also counted from the moment Redis
//! last went back to its event loop. Past `max-execution-time`, before each
//! guest call and every [`CHECK_INTERVAL`] inside one, Redis is let to
//! process its clients (`RM_Yield`): a command from another client is
//! answered `-BUSY` (except the few allowed while busy, such as `AUTH`,
//! `SHUTDOWN`, and `TRIGGER KILL`), and the guests go on.
//!
//! `TRIGGER KILL` stops the guest call in progress and refuses every guest
//! call until Redis is back in its event loop; the triggers it stopped fail
//! with a `last_error` that says so. Without guests holding the server it
//! replies with an error, like `SCRIPT KILL` with no script running.

use std::cell::Cell;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::command_budget;
use crate::config;
use crate::dispatch;

/// How often a long guest call checks its deadline, yields and looks for
/// `TRIGGER KILL`.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(20);

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
    let Some(subscribe) = (unsafe { raw::RedisModule_SubscribeToServerEvent }) else {
        return Err("this server has no server events".into());
    };
    let event_loop = raw::RedisModuleEvent {
        id: raw::REDISMODULE_EVENT_EVENTLOOP,
        dataver: 1,
    };
    // SAFETY: called during `MODULE LOAD` with its context.
    if unsafe { subscribe(ctx.ctx, event_loop, Some(on_event_loop)) }
        != raw::REDISMODULE_OK as c_int
    {
        return Err("cannot subscribe to event loop events".into());
    }
    Ok(())
}

/// Redis is in its event loop: nobody is held any more.
extern "C" fn on_event_loop(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    _data: *mut std::ffi::c_void,
) {
    if subevent == raw::REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP {
        HELD_SINCE.set(None);
        KILLED.set(false);
        command_budget::close();
    }
}

/// Why a guest call may not go on.
#[derive(Debug)]
pub struct Killed;

impl std::fmt::Display for Killed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("killed by TRIGGER KILL")
    }
}

impl std::error::Error for Killed {}

/// Before a guest call starting `now`: starts counting the hold, lets other
/// clients be answered if it lasts, and refuses the call after `TRIGGER
/// KILL`.
pub fn before_guest_call(now: Instant) -> Result<(), Killed> {
    let since = HELD_SINCE.get().unwrap_or(now);
    HELD_SINCE.set(Some(since));
    check(now.saturating_duration_since(since))
}

/// During a guest call, every [`CHECK_INTERVAL`]: as [`before_guest_call`].
pub fn while_running() -> Result<(), Killed> {
    let held = HELD_SINCE
        .get()
        .map_or(Duration::ZERO, |since| since.elapsed());
    check(held)
}

fn check(held: Duration) -> Result<(), Killed> {
    if held >= config::max_execution_time() {
        // The module's own context: Redis lets a context yield once it is
        // `busy-reply-threshold` old, and then every 1/hz seconds.
        let ctx = dispatch::module_ctx();
        if let (Some(yield_now), false) = (unsafe { raw::RedisModule_Yield }, ctx.is_null()) {
            // SAFETY: a context of our own, on Redis' main thread; the
            // reply is a static string.
            unsafe {
                yield_now(
                    ctx,
                    raw::REDISMODULE_YIELD_FLAG_CLIENTS as c_int,
                    BUSY_REPLY.as_ptr(),
                )
            };
        }
    }
    if KILLED.get() {
        return Err(Killed);
    }
    Ok(())
}

/// `TRIGGER KILL`: allowed while the server is busy.
pub fn kill(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    if HELD_SINCE.get().is_none() {
        return Err(RedisError::Str("NOTBUSY No triggers are running."));
    }
    KILLED.set(true);
    Ok(RedisValue::SimpleStringStatic("OK"))
}

/// A guest call refused after `TRIGGER KILL`, as `last_error` says it.
pub fn killed_message(export: &str) -> String {
    format!("{export} was not run: killed by TRIGGER KILL")
}
