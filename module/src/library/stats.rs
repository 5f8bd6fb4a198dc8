//! Per-trigger statistics (shown by `TRIGGER LIST`) and the server-wide
//! totals (shown by `INFO triggers`).
//!
//! Everything here is touched only on Redis' main thread, so plain cells are
//! enough; the totals are atomics only because statics must be `Sync`.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::wasm;

/// The statistics of one trigger. Shared (through an `Rc`) between the old
/// and the new version of a library across `TRIGGER LOAD REPLACE`, so that a
/// trigger keeps its history when its library is upgraded.
#[derive(Default)]
pub struct TriggerStats {
    num_triggered: Cell<u64>,
    num_finished: Cell<u64>,
    num_success: Cell<u64>,
    num_failed: Cell<u64>,
    num_denied: Cell<u64>,
    last_error: RefCell<Option<String>>,
    last_execution_ns: Cell<u64>,
    total_execution_ns: Cell<u64>,
}

/// A snapshot of [`TriggerStats`], for replies.
pub struct StatsSnapshot {
    pub num_triggered: u64,
    pub num_finished: u64,
    pub num_success: u64,
    pub num_failed: u64,
    pub num_denied: u64,
    pub last_error: Option<String>,
    pub last_execution_time_us: u64,
    pub total_execution_time_us: u64,
    pub avg_execution_time_us: f64,
}

/// The longest `last_error` kept, in bytes.
pub const MAX_ERROR_BYTES: usize = 1024;

static TOTAL_TRIGGERED: AtomicU64 = AtomicU64::new(0);
static TOTAL_SUCCESS: AtomicU64 = AtomicU64::new(0);
static TOTAL_FAILED: AtomicU64 = AtomicU64::new(0);
static TOTAL_DENIED: AtomicU64 = AtomicU64::new(0);

fn bump(counter: &AtomicU64) {
    // Single writer (the main thread): a load and a store are enough.
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn inc(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

impl TriggerStats {
    /// An event matched the trigger and its execution starts.
    pub fn triggered(&self) {
        inc(&self.num_triggered);
        bump(&TOTAL_TRIGGERED);
    }

    /// The execution ended well; `elapsed` is the time spent in the guest.
    pub fn succeeded(&self, elapsed: Duration) {
        inc(&self.num_success);
        bump(&TOTAL_SUCCESS);
        self.finished(elapsed);
    }

    /// The execution failed; `error` becomes `last_error`.
    pub fn failed(&self, elapsed: Duration, error: String) {
        inc(&self.num_failed);
        bump(&TOTAL_FAILED);
        self.set_last_error(error);
        self.finished(elapsed);
    }

    /// An event matched the trigger, but the library's owner may not read
    /// its key: none of the library's code ran.
    pub fn denied(&self) {
        inc(&self.num_denied);
        bump(&TOTAL_DENIED);
    }

    /// Sets `last_error`, cut at [`MAX_ERROR_BYTES`] (a guest chooses much
    /// of its text).
    pub fn set_last_error(&self, error: String) {
        *self.last_error.borrow_mut() = Some(wasm::truncate(&error, MAX_ERROR_BYTES));
    }

    fn finished(&self, elapsed: Duration) {
        inc(&self.num_finished);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.last_execution_ns.set(ns);
        self.total_execution_ns
            .set(self.total_execution_ns.get().saturating_add(ns));
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let finished = self.num_finished.get();
        let total_ns = self.total_execution_ns.get();
        StatsSnapshot {
            num_triggered: self.num_triggered.get(),
            num_finished: finished,
            num_success: self.num_success.get(),
            num_failed: self.num_failed.get(),
            num_denied: self.num_denied.get(),
            last_error: self.last_error.borrow().clone(),
            last_execution_time_us: self.last_execution_ns.get() / 1000,
            total_execution_time_us: total_ns / 1000,
            avg_execution_time_us: if finished == 0 {
                0.0
            } else {
                total_ns as f64 / finished as f64 / 1000.0
            },
        }
    }
}

/// The server-wide totals, for `INFO triggers`.
pub struct Totals {
    pub triggered: u64,
    pub success: u64,
    pub failed: u64,
    pub denied: u64,
}

pub fn totals() -> Totals {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Totals {
        triggered: load(&TOTAL_TRIGGERED),
        success: load(&TOTAL_SUCCESS),
        failed: load(&TOTAL_FAILED),
        denied: load(&TOTAL_DENIED),
    }
}
