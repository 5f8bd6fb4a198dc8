//! The server's life as events: back in its event loop, a child forked,
//! shutting down. Each is delivered to one safe function, set at `MODULE
//! LOAD`.

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context};

use super::{redis_log, subscribe_to_server_event};

thread_local! {
    static BEFORE_SLEEP: Cell<Option<fn()>> = const { Cell::new(None) };
    static FORK_CHILD_BORN: Cell<Option<fn(&Context)>> = const { Cell::new(None) };
    static SHUTDOWN: Cell<Option<fn()>> = const { Cell::new(None) };
}

/// At `MODULE LOAD`: `f` runs each time Redis is back in its event loop,
/// about to sleep, after it served its clients.
pub fn on_before_sleep(ctx: &Context, f: fn()) -> Result<(), String> {
    BEFORE_SLEEP.set(Some(f));
    subscribe_to_server_event(
        ctx,
        raw::REDISMODULE_EVENT_EVENTLOOP,
        event_loop,
        "event loop",
    )
}

/// At `MODULE LOAD`: `f` runs in the parent once Redis forked a child (for
/// an RDB save or an AOF rewrite).
pub fn on_fork_child_born(ctx: &Context, f: fn(&Context)) -> Result<(), String> {
    FORK_CHILD_BORN.set(Some(f));
    subscribe_to_server_event(ctx, raw::REDISMODULE_EVENT_FORK_CHILD, fork_child, "fork")
}

/// At `MODULE LOAD`: `f` runs when the server shuts down.
pub fn on_shutdown(ctx: &Context, f: fn()) -> Result<(), String> {
    SHUTDOWN.set(Some(f));
    subscribe_to_server_event(ctx, raw::REDISMODULE_EVENT_SHUTDOWN, shutdown, "shutdown")
}

extern "C" fn event_loop(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    _data: *mut c_void,
) {
    if subevent == raw::REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP {
        super::acl::event_loop_reached();
        if let Some(f) = BEFORE_SLEEP.get() {
            guarded("the event loop", f);
        }
    }
}

extern "C" fn fork_child(
    ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    _data: *mut c_void,
) {
    if subevent != raw::REDISMODULE_SUBEVENT_FORK_CHILD_BORN || ctx.is_null() {
        return;
    }
    if let Some(f) = FORK_CHILD_BORN.get() {
        guarded("a fork", || f(&Context::new(ctx)));
    }
}

extern "C" fn shutdown(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    _subevent: u64,
    _data: *mut c_void,
) {
    if let Some(f) = SHUTDOWN.get() {
        guarded("the shutdown", f);
    }
}

/// Runs `f`; never panics into Redis.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        redis_log("warning", &format!("internal error while following {what}"));
    }
}
