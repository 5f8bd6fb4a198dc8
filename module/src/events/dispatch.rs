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
//! Before any of a library's code runs for an event, its owner's ACL must
//! allow reading the event's key; an event it may not read is counted
//! (`num_denied`) and goes no further.
//!
//! The guest calls of one command share a time budget
//! (`command_budget.rs`).
//!
//! What a guest's own calls raise does not fire triggers: while a guest
//! runs, an [`ExecutionGuard`] is held, and the events of its writes (and of
//! its reads: `keymiss`) are ignored. Events that happen to a key rather
//! than being made by the guest — `expired` and `hexpired` (a read that
//! finds a key or hash field past its expiry deletes it) and `evicted` —
//! are not the guest's doing: they
//! are kept, and fired once the guest returns, like any other event. The
//! guard is scoped to the guest call, not a global switch, so it cannot be
//! left on by mistake.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, ContextFlags, NotifyEvent, RedisString, Status};

use crate::busy;
use crate::command_budget::{self, PendingRun};
use crate::config;
use crate::host_api::{redis_log, KeyName, RedisCtx};
use crate::migration;
use crate::registry::{self, Library, Trigger};
use crate::runtime::{CallLimit, Event};

thread_local! {
    static EXECUTING: Cell<bool> = const { Cell::new(false) };
    /// Events raised while a guest ran that are not its own doing, to fire
    /// once it returns.
    static DEFERRED: RefCell<VecDeque<DeferredEvent>> = RefCell::default();
}

/// An event kept while a guest ran.
struct DeferredEvent {
    kind: NotifyEvent,
    name: String,
    key: Vec<u8>,
    db: i32,
}

/// The events a guest's call can raise without having made them: a key or
/// (Redis 7.4+, Valkey 9) a hash field found past its expiry by a read, and
/// an eviction.
fn happens_to_key(event: &str) -> bool {
    matches!(event, "expired" | "hexpired" | "evicted")
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

/// The module's own context (detached from any client), for work outside
/// a callback's context; null before `MODULE LOAD` set it.
pub fn module_ctx() -> *mut raw::RedisModuleCtx {
    MODULE_CTX.get()
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
    if event.is_null() || key.is_null() {
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // Event names are ASCII; one that is not cannot match a filter.
        let Ok(event) = unsafe { CStr::from_ptr(event) }.to_str() else {
            return;
        };
        let key_string = key;
        let key = RedisString::string_as_slice(key_string);
        let kind = NotifyEvent::from_bits_truncate(kind);
        let ctx = Context::new(ctx);
        if EXECUTING.get() {
            // Raised by a guest's call: see `ExecutionGuard`.
            if happens_to_key(event) {
                DEFERRED.with(|d| {
                    d.borrow_mut().push_back(DeferredEvent {
                        kind,
                        name: event.to_owned(),
                        key: key.to_vec(),
                        db: selected_db(&ctx),
                    })
                });
            }
            return;
        }
        // A key moving to another cluster node is not a user's change.
        if migration::moving_keys() && migration::raised_by_moving(event) {
            return;
        }
        dispatch_event(&ctx, kind, event, key, KeyName::String(key_string), None);
        fire_deferred(&ctx);
    }));
    if outcome.is_err() {
        redis_log("warning", "a trigger panicked in the keyspace notification");
    }
    0
}

/// Fires the triggers an event matches. `db` is the event's database, or
/// `None` for the context's (looked up only if a trigger matches).
fn dispatch_event(
    ctx: &Context,
    kind: NotifyEvent,
    event: &str,
    key: &[u8],
    key_name: KeyName,
    db: Option<i32>,
) {
    registry::with_libraries(|libraries| {
        // Without libraries, an event costs this check and nothing more.
        if !libraries.is_empty() {
            dispatch(ctx, libraries, (kind, event), key, key_name, db);
        }
    });
}

/// Fires the events kept while guests ran, once no guest runs; firing them
/// may keep more, which are fired in turn.
fn fire_deferred(ctx: &Context) {
    while let Some(deferred) = DEFERRED.with(|d| d.borrow_mut().pop_front()) {
        let DeferredEvent {
            kind,
            name,
            key,
            db,
        } = deferred;
        dispatch_event(ctx, kind, &name, &key, KeyName::Bytes(&key), Some(db));
    }
}

fn dispatch(
    ctx: &Context,
    libraries: &[Rc<Library>],
    (kind, event): (NotifyEvent, &str),
    key: &[u8],
    key_name: KeyName,
    db: Option<i32>,
) {
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
            let db = db.unwrap_or_else(|| selected_db(ctx));
            fire(ctx, library, trigger, event, (key, key_name), db);
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

fn fire(
    ctx: &Context,
    library: &Rc<Library>,
    trigger: &Trigger,
    event: &str,
    (key, key_name): (&[u8], KeyName),
    db: i32,
) {
    let _guard = ExecutionGuard::enter();
    let stats = &trigger.stats;
    let Ok(mut instance) = library.instance.try_borrow_mut() else {
        stats.triggered();
        stats.failed(Duration::ZERO, "the library is busy".into());
        return;
    };
    // The owner's key permission, before any of the library's code runs.
    match instance.owner_may_read(key_name) {
        Ok(true) => {}
        Ok(false) => return stats.denied(),
        Err(error) => {
            stats.denied();
            return stats.set_last_error(error);
        }
    }
    stats.triggered();
    let _firing = command_budget::Firing(ctx);
    let Some(time_left) = command_budget::time_left() else {
        return stats.failed(Duration::ZERO, command_budget::spent_message());
    };
    let event = Event {
        name: event.to_owned(),
        key: key.to_vec(),
        db,
    };

    let started = Instant::now();
    let payload = if trigger.has_on_fired {
        if busy::before_guest_call(started).is_err() {
            return stats.failed(Duration::ZERO, busy::killed_message("on_fired"));
        }
        let limit = CallLimit::new(started, time_left);
        let result = instance.on_fired(RedisCtx::new(ctx.ctx), trigger.index, &event, limit);
        drop(instance);
        let took = started.elapsed();
        command_budget::spend(took);
        match result {
            // Nothing more to do: `on_fired` did all the work.
            Ok(None) => return stats.succeeded(took),
            Ok(Some(payload)) if payload.len() > config::max_payload_bytes() => {
                return stats.failed(
                    took,
                    format!(
                        "on_fired returned a payload of {} bytes, over the limit of {} bytes \
                         (triggers.max-payload-size)",
                        payload.len(),
                        config::max_payload_bytes()
                    ),
                );
            }
            Ok(Some(payload)) => Some(payload),
            Err(error) => return stats.failed(took, error.into_message()),
        }
    } else {
        drop(instance);
        None
    };
    let on_fired_time = started.elapsed();

    let pending = match PendingRun::new(payload.as_ref().map_or(0, Vec::len)) {
        Ok(pending) => pending,
        Err(error) => return stats.failed(on_fired_time, error),
    };
    let job = RunJob {
        _pending: pending,
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
    /// Counted until the job has run (`command_budget.rs`).
    _pending: PendingRun,
    library: Rc<Library>,
    trigger: u32,
    event: Event,
    payload: Option<Vec<u8>>,
    on_fired_time: Duration,
}

impl RunJob {
    fn run(self, ctx: &Context) {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.run_guest(ctx);
            fire_deferred(ctx);
        }));
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
        let Some(time_left) = command_budget::time_left() else {
            return stats.failed(self.on_fired_time, command_budget::spent_message());
        };
        let started = Instant::now();
        if busy::before_guest_call(started).is_err() {
            return stats.failed(self.on_fired_time, busy::killed_message("run"));
        }
        let Ok(mut instance) = self.library.instance.try_borrow_mut() else {
            stats.failed(self.on_fired_time, "the library is busy".into());
            return;
        };
        let result = instance.run(
            RedisCtx::new(ctx.ctx),
            self.trigger,
            &self.event,
            self.payload.as_deref(),
            CallLimit::new(started, time_left),
        );
        drop(instance);
        let took = started.elapsed();
        command_budget::spend(took);
        let elapsed = self.on_fired_time + took;
        match result {
            Ok(()) => stats.succeeded(elapsed),
            Err(error) => stats.failed(elapsed, error.into_message()),
        }
    }
}
