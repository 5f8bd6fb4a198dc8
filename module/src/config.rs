//! Limits and settings of the module.
//!
//! Every guest call runs under an execution-time limit and every library's
//! linear memory under a size limit, so that a trigger that loops or
//! allocates without end is stopped instead of stopping Redis.

use std::time::Duration;

/// How often the epoch ticker thread advances wasmtime's epoch. A guest
/// past its time limit is interrupted within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Time limit of one `describe`, `on_fired` or `run` call, in milliseconds.
pub const MAX_EXECUTION_TIME_MS: u64 = 500;

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

/// The epoch deadline, in ticks, that enforces [`MAX_EXECUTION_TIME_MS`].
/// One tick is added because the first one may come at once.
pub fn deadline_ticks() -> u64 {
    let tick_ms = EPOCH_TICK.as_millis().max(1) as u64;
    MAX_EXECUTION_TIME_MS.div_ceil(tick_ms) + 1
}
