//! A trigger's `run`: the post-notification job that Redis runs once the
//! command that fired the trigger is done, atomically with it.

use std::rc::Rc;
use std::time::{Duration, Instant};

use redis_module::Context;

use super::budget::{self, PendingRun};
use super::busy;
use super::guard::ExecutionGuard;
use crate::library::Library;
use crate::server::{select_db, RedisCtx};
use crate::wasm::{CallLimit, Event, Fired, Removed};

/// A trigger's `run`, waiting for Redis to call it after the command.
pub(super) struct RunJob {
    /// Counted until the job has run (`budget.rs`).
    pub(super) _pending: PendingRun,
    pub(super) library: Rc<Library>,
    pub(super) trigger: u32,
    pub(super) event: Event,
    /// The value the event removed, for a trigger that reads it.
    pub(super) removed: Option<Removed>,
    pub(super) payload: Option<Vec<u8>>,
    pub(super) on_fired_time: Duration,
}

impl RunJob {
    /// Runs the trigger's `run`, as the post-notification job.
    pub(super) fn run(&self, ctx: &Context) {
        let _guard = ExecutionGuard::enter();
        let Some(trigger) = self.library.triggers.get(self.trigger as usize) else {
            return;
        };
        let stats = &trigger.stats;
        select_db(ctx, self.event.db);
        let Some(time_left) = budget::time_left() else {
            return stats.failed(self.on_fired_time, budget::spent_message());
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
            RedisCtx::new(ctx),
            Fired {
                trigger: self.trigger,
                event: &self.event,
                removed: self.removed.as_ref(),
            },
            self.payload.as_deref(),
            CallLimit::new(started, time_left).checking(busy::while_running),
        );
        drop(instance);
        let took = started.elapsed();
        budget::spend(took);
        let elapsed = self.on_fired_time + took;
        match result {
            Ok(()) => stats.succeeded(elapsed),
            Err(error) => stats.failed(elapsed, error.into_message()),
        }
    }
}
