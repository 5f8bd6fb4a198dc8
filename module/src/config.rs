//! Limits and settings of the module.
//!
//! Every guest call runs under an execution-time limit and every library's
//! linear memory under a size limit, so that a trigger that loops or
//! allocates without end is stopped instead of stopping Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the epoch ticker thread advances wasmtime's epoch. A guest
/// past its time limit is interrupted within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Default time limit of one `on_fired` or `run` call, in milliseconds.
pub const DEFAULT_MAX_EXECUTION_TIME_MS: u64 = 500;

/// Limit of one library's linear memory, in bytes.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

/// The Wasm stack a guest may use, in bytes.
pub const MAX_WASM_STACK_BYTES: usize = 512 << 10;

/// A library is one component: a few instances, tables and memories.
pub const MAX_INSTANCES: usize = 64;
pub const MAX_TABLES: usize = 64;
pub const MAX_MEMORIES: usize = 16;

/// Largest payload `on_fired` may hand to `run`, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

static MAX_EXECUTION_TIME_MS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_EXECUTION_TIME_MS);

/// The current time limit of one guest call, in milliseconds.
pub fn max_execution_time_ms() -> u64 {
    MAX_EXECUTION_TIME_MS.load(Ordering::Relaxed)
}

/// The epoch deadline, in ticks, that enforces [`max_execution_time_ms`].
/// One tick is added because the first one may come at once.
pub fn deadline_ticks() -> u64 {
    let tick_ms = EPOCH_TICK.as_millis().max(1) as u64;
    max_execution_time_ms().div_ceil(tick_ms) + 1
}
