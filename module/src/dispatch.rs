//! Event dispatch: from a keyspace notification to the guest and back.
//!
//! 1. Redis calls [`on_keyspace_event`] for every keyspace event.
//! 2. Each trigger's prefix and event filter are checked; nothing else
//!    happens for an event no trigger wants.
//! 3. For a match on a primary that is not loading data, the trigger's
//!    `on-fired` runs right away, inside the notification, where Redis
//!    refuses writes.
//! 4. Then a post-notification job is scheduled; Redis runs it once the
//!    command (or the whole `MULTI`/`EXEC`, script or function) is done,
//!    atomically with it. The job calls the trigger's `run`, whose writes
//!    are replicated together with the command that fired it.
//!
//! Writes made by a trigger do not fire triggers again: while a guest runs,
//! an [`ExecutionGuard`] is held, and events raised meanwhile are ignored.
//! The guard is scoped to the guest call, not a global switch, so it cannot
//! be left on by mistake.

use std::cell::Cell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, ContextFlags, NotifyEvent, RedisString, Status};

use crate::config;
use crate::host_api::{redis_log, RedisCtx};
use crate::migration;
use crate::registry::{self, Library, Trigger};
use crate::runtime::Event;

thread_local! {
    static EXECUTING: Cell<bool> = const { Cell::new(false) };
}

/// Held while a guest runs: keyspace events raised meanwhile (by the
/// guest's own writes) do not fire triggers.
struct ExecutionGuard {
    was_executing: bool,
}

impl ExecutionGuard {
    fn enter() -> Self {
        ExecutionGuard {
            was_executing: EXECUTING.replace(true),
        }
    }
}

impl Drop for ExecutionGuard {
    fn drop(&mut self) {
        EXECUTING.set(self.was_executing);
    }
}

thread_local! {
    /// A context of the module's own, to subscribe outside a callback.
    static MODULE_CTX: Cell<*mut raw::RedisModuleCtx> = const { Cell::new(std::ptr::null_mut()) };
    /// The notification classes subscribed so far.
    static SUBSCRIBED: Cell<NotifyEvent> = const { Cell::new(NotifyEvent::empty()) };
}

/// At module load: keeps a context to subscribe with later. Nothing is
/// subscribed yet: until a library needs them, keyspace events cost Redis
/// nothing on our account (a subscription makes Redis set up a context for
/// every event of its classes, about 1,300 instructions per event even
/// when no trigger matches).
pub fn init(ctx: &Context) -> Status {
    let Some(detach) = (unsafe { raw::RedisModule_GetDetachedThreadSafeContext }) else {
        return Status::Err;
    };
    let detached = unsafe { detach(ctx.ctx) };
    if detached.is_null() {
        return Status::Err;
    }
    MODULE_CTX.set(detached);
    Status::Ok
}

/// Makes sure Redis delivers the notification classes in `wanted` to
/// [`on_keyspace_event`]. Subscriptions only grow (Redis has no way to
/// take one back); each covers classes not subscribed before, so every
/// event arrives once.
pub fn subscribe_to(wanted: NotifyEvent) -> Result<(), String> {
    let (Some(subscribe), Some(all)) = (
        unsafe { raw::RedisModule_SubscribeToKeyspaceEvents },
        unsafe { raw::RedisModule_GetKeyspaceNotificationFlagsAll },
    ) else {
        return Err("this server cannot subscribe to keyspace events".into());
    };
    // Only the classes this server knows.
    let known = NotifyEvent::from_bits_truncate(unsafe { all() });
    let missing = wanted & known & !SUBSCRIBED.get();
    if missing.is_empty() {
        return Ok(());
    }
    let ctx = MODULE_CTX.get();
    if ctx.is_null() || unsafe { subscribe(ctx, missing.bits(), Some(on_keyspace_event)) } != 0 {
        return Err("cannot subscribe to keyspace events".into());
    }
    SUBSCRIBED.set(SUBSCRIBED.get() | missing);
    Ok(())
}

/// The keyspace notification handler, called by Redis for every event.
/// Never panics into Redis.
extern "C" fn on_keyspace_event(
    ctx: *mut raw::RedisModuleCtx,
    kind: c_int,
    event: *const c_char,
    key: *mut raw::RedisModuleString,
) -> c_int {
    // Events raised by a trigger's own writes: see `ExecutionGuard`.
    if EXECUTING.get() || event.is_null() || key.is_null() {
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        registry::with_libraries(|libraries| {
            // Without libraries, an event costs this check and nothing more.
            if libraries.is_empty() {
                return;
            }
            // Event names are ASCII; one that is not cannot match a filter.
            let Ok(event) = unsafe { CStr::from_ptr(event) }.to_str() else {
                return;
            };
            // A key moving to another cluster node is not a user's change.
            if migration::moving_keys() && migration::raised_by_moving(event) {
                return;
            }
            let key = RedisString::string_as_slice(key);
            let kind = NotifyEvent::from_bits_truncate(kind);
            dispatch(&Context::new(ctx), libraries, kind, event, key);
        })
    }));
    if outcome.is_err() {
        redis_log("warning", "a trigger panicked in the keyspace notification");
    }
    0
}

fn dispatch(ctx: &Context, libraries: &[Rc<Library>], kind: NotifyEvent, event: &str, key: &[u8]) {
    let mut may_fire = None;
    for library in libraries {
        for trigger in &library.triggers {
            if !trigger.matches(kind, event, key) {
                continue;
            }
            // Checked once per event, and only when a trigger matched.
            if !*may_fire.get_or_insert_with(|| may_fire_here(ctx)) {
                return;
            }
            fire(ctx, library, trigger, event, key);
        }
    }
}

/// Triggers fire only on a primary, and never while data is loading.
fn may_fire_here(ctx: &Context) -> bool {
    let flags = ctx.get_flags();
    flags.contains(ContextFlags::MASTER) && !flags.contains(ContextFlags::LOADING)
}

fn selected_db(ctx: &Context) -> i32 {
    match unsafe { raw::RedisModule_GetSelectedDb } {
        Some(get) => unsafe { get(ctx.ctx) },
        None => 0,
    }
}

fn fire(ctx: &Context, library: &Rc<Library>, trigger: &Trigger, event: &str, key: &[u8]) {
    let _guard = ExecutionGuard::enter();
    let stats = &trigger.stats;
    stats.triggered();
    let event = Event {
        name: event.to_owned(),
        key: key.to_vec(),
        db: selected_db(ctx),
    };

    let started = Instant::now();
    let payload = if trigger.has_on_fired {
        let Ok(mut instance) = library.instance.try_borrow_mut() else {
            stats.failed(Duration::ZERO, "the library is busy".into());
            return;
        };
        let result = instance.on_fired(RedisCtx::new(ctx.ctx), trigger.index, &event);
        drop(instance);
        match result {
            // Nothing more to do: `on_fired` did all the work.
            Ok(None) => return stats.succeeded(started.elapsed()),
            Ok(Some(payload)) if payload.len() > config::max_payload_bytes() => {
                return stats.failed(
                    started.elapsed(),
                    format!(
                        "on_fired returned a payload of {} bytes, over the limit of {} bytes \
                         (triggers.max-payload-size)",
                        payload.len(),
                        config::max_payload_bytes()
                    ),
                );
            }
            Ok(Some(payload)) => Some(payload),
            Err(error) => return stats.failed(started.elapsed(), error.into_message()),
        }
    } else {
        None
    };
    let on_fired_time = started.elapsed();

    let job = RunJob {
        library: Rc::clone(library),
        trigger: trigger.index,
        event,
        payload,
        on_fired_time,
    };
    if ctx.add_post_notification_job(move |ctx| job.run(ctx)) == Status::Err {
        stats.failed(
            on_fired_time,
            "Redis refused to schedule the trigger's run (post-notification job)".into(),
        );
    }
}

/// A trigger's `run`, waiting for Redis to call it after the command.
struct RunJob {
    library: Rc<Library>,
    trigger: u32,
    event: Event,
    payload: Option<Vec<u8>>,
    on_fired_time: Duration,
}

impl RunJob {
    fn run(self, ctx: &Context) {
        let outcome = catch_unwind(AssertUnwindSafe(|| self.run_guest(ctx)));
        if outcome.is_err() {
            redis_log("warning", "a trigger panicked in its post-notification job");
        }
    }

    fn run_guest(&self, ctx: &Context) {
        let _guard = ExecutionGuard::enter();
        let Some(trigger) = self.library.triggers.get(self.trigger as usize) else {
            return;
        };
        let stats = &trigger.stats;
        if let Some(select) = unsafe { raw::RedisModule_SelectDb } {
            unsafe { select(ctx.ctx, self.event.db) };
        }
        let started = Instant::now();
        let Ok(mut instance) = self.library.instance.try_borrow_mut() else {
            stats.failed(self.on_fired_time, "the library is busy".into());
            return;
        };
        let result = instance.run(
            RedisCtx::new(ctx.ctx),
            self.trigger,
            &self.event,
            self.payload.as_deref(),
        );
        drop(instance);
        let elapsed = self.on_fired_time + started.elapsed();
        match result {
            Ok(()) => stats.succeeded(elapsed),
            Err(error) => stats.failed(elapsed, error.into_message()),
        }
    }
}
