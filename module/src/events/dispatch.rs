//! Event dispatch: from a keyspace notification to the guest and back.
//!
//! 1. Redis calls [`Dispatch::on_event`] for every keyspace event, through
//!    `server/keyspace.rs` (which keeps panics from reaching Redis).
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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use redis_module::{Context, NotifyEvent, Status};

use super::budget::{self, PendingRun};
use super::event::KeyEvent;
use super::guard::{self, ExecutionGuard};
use super::here::Here;
use super::run::RunJob;
use super::{atomic_migration, busy, migration, removed, to_outbox};
use crate::config;
use crate::library::{self, Library, Trigger};
use crate::outbox;
use crate::server::{redis_log, selected_db, CallbackString, KeyName, KeyspaceHandler, RedisCtx};
use crate::wasm::{CallLimit, Event, Fired};

/// Where Redis delivers keyspace events (`server::set_keyspace_handler`).
pub(super) struct Dispatch;

impl KeyspaceHandler for Dispatch {
    /// Called by Redis for every keyspace event delivered.
    fn on_event(ctx: &Context, kind: NotifyEvent, name: &str, key: &[u8], string: CallbackString) {
        let event = KeyEvent {
            kind,
            name,
            key,
            key_name: KeyName::String(string),
            // The value this event removed, if one was read (`removed.rs`).
            removed: removed::take(ctx, name, key),
        };
        if guard::guest_running() {
            // Raised by a guest's call: see `guard.rs`. A guest's own
            // writes fire no trigger, but go to the outbox like any change.
            if let Some(own) = guard::keep_unless_own(event, || selected_db(ctx)) {
                dispatch_event(ctx, own, None, Fire::OutboxOnly);
            }
            return;
        }
        if name == "evicted" && outbox::is_stream_key(key) {
            outbox::note_evicted(key);
        }
        // A key moving to another cluster node is not a user's change.
        if migration::moving_keys() && migration::raised_by_moving(name) {
            return;
        }
        if atomic_migration::raised_by_moving(ctx, key) {
            return;
        }
        dispatch_event(ctx, event, None, Fire::Triggers);
        fire_deferred(ctx);
    }
}

/// Whether an event fires triggers, or only goes to the outbox (a guest's
/// own write).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fire {
    Triggers,
    OutboxOnly,
}

/// Sends an event to the outbox rules and fires the triggers it matches.
/// `db` is the event's database, or `None` for the context's (looked up
/// only if something matches).
fn dispatch_event(ctx: &Context, event: KeyEvent, db: Option<i32>, fire: Fire) {
    library::with_set(|libraries, rules| {
        // Without libraries and rules, an event costs this check and
        // nothing more.
        if libraries.is_empty() && rules.is_empty() {
            return;
        }
        let mut here = Here::new(ctx, db);
        if !rules.is_empty() {
            to_outbox::send(ctx, rules, &event, &mut here);
        }
        if fire == Fire::Triggers && !libraries.is_empty() {
            dispatch(ctx, libraries, &event, &mut here);
        }
    });
}

/// Fires the events kept while guests ran, once no guest runs; firing them
/// may keep more, which are fired in turn.
fn fire_deferred(ctx: &Context) {
    while let Some(mut kept) = guard::next_kept() {
        let db = kept.db;
        dispatch_event(ctx, kept.event(), Some(db), Fire::Triggers);
    }
}

fn dispatch(ctx: &Context, libraries: &[Rc<Library>], event: &KeyEvent, here: &mut Here) {
    for library in libraries {
        for trigger in &library.triggers {
            if !trigger.matches(event.kind, event.name, event.key) {
                continue;
            }
            if !here.may_act() {
                return;
            }
            let db = here.db();
            fire(ctx, library, trigger, event, db);
        }
    }
}

fn fire(ctx: &Context, library: &Rc<Library>, trigger: &Trigger, event: &KeyEvent, db: i32) {
    let _guard = ExecutionGuard::enter();
    let stats = &trigger.stats;
    let Ok(mut instance) = library.instance.try_borrow_mut() else {
        stats.triggered();
        stats.failed(Duration::ZERO, "the library is busy".into());
        return;
    };
    // The owner's key permission, before any of the library's code runs.
    match instance.owner_may_read(event.key_name) {
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
    // Only a trigger that asked sees the removed value.
    let removed = event
        .removed
        .as_ref()
        .filter(|_| trigger.wants_removed_value);
    let event = Event::new(event.name, event.key, db);

    // The time `on_fired` took, counted with `run`'s; none without it.
    let mut on_fired_time = Duration::ZERO;
    let payload = if trigger.has_on_fired {
        let started = Instant::now();
        if busy::before_guest_call(started).is_err() {
            return stats.failed(Duration::ZERO, busy::killed_message("on_fired"));
        }
        let limit = CallLimit::new(started, time_left).checking(busy::while_running);
        let fired = Fired {
            trigger: trigger.index,
            event: &event,
            removed,
        };
        let result = instance.on_fired(RedisCtx::new(ctx), fired, limit);
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
            Ok(Some(payload)) => {
                on_fired_time = took;
                Some(payload)
            }
            Err(error) => return stats.failed(took, error.into_message()),
        }
    } else {
        drop(instance);
        None
    };

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
