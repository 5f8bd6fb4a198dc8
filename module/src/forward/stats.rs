//! What the forwarder did, for `INFO triggers`: its state, the backlog,
//! the messages sent, confirmed, nacked and returned, and the last error.
//! Written by the forwarder's thread, read on the main thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub static SENT: AtomicU64 = AtomicU64::new(0);
pub static CONFIRMED: AtomicU64 = AtomicU64::new(0);
pub static NACKED: AtomicU64 = AtomicU64::new(0);
pub static RETURNED: AtomicU64 = AtomicU64::new(0);
/// Entries of rules the forwarder is not configured to send.
pub static SKIPPED: AtomicU64 = AtomicU64::new(0);
/// Entries of this node's outbox streams not confirmed yet, as last counted.
pub static BACKLOG: AtomicU64 = AtomicU64::new(0);

static STATE: Mutex<&'static str> = Mutex::new("disabled");
/// The last error and when it happened (Unix seconds).
static LAST_ERROR: Mutex<Option<(String, u64)>> = Mutex::new(None);

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// `disabled` (no URL), `disconnected` (`OUTBOX DISCONNECT`), `replica`,
/// `connecting`, `connected`, or `retrying` after an error.
pub fn set_state(state: &'static str) {
    *STATE.lock().unwrap_or_else(PoisonError::into_inner) = state;
}

pub fn state() -> &'static str {
    *STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn set_error(error: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let error: String = error.chars().take(512).collect();
    *LAST_ERROR.lock().unwrap_or_else(PoisonError::into_inner) = Some((error, now));
}

pub fn last_error() -> Option<(String, u64)> {
    LAST_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
