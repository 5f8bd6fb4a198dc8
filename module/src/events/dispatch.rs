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
//! The guest calls of one command share a time budget (`budget.rs`); what
//! a guest's own calls raise does not fire triggers (`guard.rs`).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, NotifyEvent, RedisString, Status};

use super::budget::{self, PendingRun};
use super::guard::{self, DeferredEvent, ExecutionGuard};
use super::here::Here;
use super::run::RunJob;
use super::{atomic_migration, busy, migration, removed, to_outbox};
use crate::config;
use crate::library::{self, Library, Trigger};
use crate::server::{redis_log, selected_db, RedisCtx};
use crate::wasm::{CallLimit, Event, KeyName, Removed};

/// The keyspace notification handler, called by Redis for every event.
/// Never panics into Redis.
pub(super) extern "C" fn on_keyspace_event(
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
        // With the classes redis-module does not name (`overwritten`).
        let kind = NotifyEvent::from_bits_retain(kind);
        let ctx = Context::new(ctx);
        // The value this event removed, if one was read (`removed.rs`).
        let removed = removed::take(&ctx, event, key);
        if guard::guest_running() {
            // Raised by a guest's call: see `guard.rs`. A guest's own
            // writes fire no trigger, but go to the outbox like any change.
            let event_of = (kind, event, removed);
            if !guard::keep_unless_own(event_of, key, || selected_db(ctx.ctx)) {
                let key_name = KeyName::String(key_string);
                library::with_set(|_, rules| {
                    if !rules.is_empty() {
                        let mut here = Here::new(&ctx, None);
                        to_outbox::send(&ctx, rules, (kind, event), (key, key_name), &mut here);
                    }
                });
            }
            return;
        }
        if event == "evicted" && crate::outbox::is_stream_key(key) {
            crate::outbox::note_evicted(key);
        }
        // A key moving to another cluster node is not a user's change.
        if migration::moving_keys() && migration::raised_by_moving(event) {
            return;
        }
        if atomic_migration::raised_by_moving(&ctx, key) {
            return;
        }
        let key_name = KeyName::String(key_string);
        dispatch_event(&ctx, (kind, event, removed), (key, key_name), None);
        fire_deferred(&ctx);
    }));
    if outcome.is_err() {
        redis_log("warning", "a trigger panicked in the keyspace notification");
    }
    0
}

/// An event: its class, its name, and the value it removed if one was read.
type EventOf<'a> = (NotifyEvent, &'a str, Option<Removed>);

/// Sends an event to the outbox rules and fires the triggers it matches.
/// `db` is the event's database, or `None` for the context's (looked up
/// only if something matches).
fn dispatch_event(
    ctx: &Context,
    (kind, event, removed): EventOf,
    (key, key_name): (&[u8], KeyName),
    db: Option<i32>,
) {
    library::with_set(|libraries, rules| {
        // Without libraries and rules, an event costs this check and
        // nothing more.
        if libraries.is_empty() && rules.is_empty() {
            return;
        }
        let mut here = Here::new(ctx, db);
        if !rules.is_empty() {
            to_outbox::send(ctx, rules, (kind, event), (key, key_name), &mut here);
        }
        if !libraries.is_empty() {
            dispatch(
                ctx,
                libraries,
                (kind, event, removed),
                (key, key_name),
                &mut here,
            );
        }
    });
}

/// Fires the events kept while guests ran, once no guest runs; firing them
/// may keep more, which are fired in turn.
fn fire_deferred(ctx: &Context) {
    while let Some(deferred) = guard::next_kept() {
        let DeferredEvent {
            kind,
            name,
            key,
            db,
            removed,
        } = deferred;
        let key_name = KeyName::Bytes(&key);
        dispatch_event(ctx, (kind, &name, removed), (&key, key_name), Some(db));
    }
}

fn dispatch(
    ctx: &Context,
    libraries: &[Rc<Library>],
    (kind, event, removed): EventOf,
    (key, key_name): (&[u8], KeyName),
    here: &mut Here,
) {
    for library in libraries {
        for trigger in &library.triggers {
            if !trigger.matches(kind, event, key) {
                continue;
            }
            if !here.may_act() {
                return;
            }
            let db = here.db();
            // Only a trigger that asked sees the removed value.
            let removed = removed.as_ref().filter(|_| trigger.wants_removed_value);
            fire(
                ctx,
                (library, trigger),
                (event, removed),
                (key, key_name),
                db,
            );
        }
    }
}

fn fire(
    ctx: &Context,
    (library, trigger): (&Rc<Library>, &Trigger),
    (event, removed): (&str, Option<&Removed>),
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
    let _firing = budget::Firing(ctx);
    let Some(time_left) = budget::time_left() else {
        return stats.failed(Duration::ZERO, budget::spent_message());
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
        let limit = CallLimit::new(started, time_left).checking(busy::while_running);
        let fired = (trigger.index, &event, removed);
        let result = instance.on_fired(RedisCtx::new(ctx.ctx), fired, limit);
        drop(instance);
        let took = started.elapsed();
        budget::spend(took);
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
        removed: removed.cloned(),
        payload,
        on_fired_time,
    };
    let scheduled = ctx.add_post_notification_job(move |ctx| {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            job.run(ctx);
            fire_deferred(ctx);
        }));
        if outcome.is_err() {
            redis_log("warning", "a trigger panicked in its post-notification job");
        }
    });
    if scheduled == Status::Err {
        stats.failed(
            on_fired_time,
            "Redis refused to schedule the trigger's run (post-notification job)".into(),
        );
    }
}
