//! What the forwarder did, for `INFO triggers`: its state, the backlog and
//! how old its oldest entry is, the messages sent, confirmed, nacked and
//! returned, the rate of confirmations, and the last error. Written by the
//! forwarder's thread, read on the main thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub static SENT: AtomicU64 = AtomicU64::new(0);
pub static CONFIRMED: AtomicU64 = AtomicU64::new(0);
pub static NACKED: AtomicU64 = AtomicU64::new(0);
pub static RETURNED: AtomicU64 = AtomicU64::new(0);
/// Entries of rules the forwarder is not configured to send.
pub static SKIPPED: AtomicU64 = AtomicU64::new(0);
/// Entries of this node's outbox streams not confirmed yet, as last counted.
pub static BACKLOG: AtomicU64 = AtomicU64::new(0);

/// Messages confirmed per second, between the last two samples (a second
/// apart at least).
pub static RATE: AtomicU64 = AtomicU64::new(0);
/// The time (ms since the epoch) of the oldest entry not yet confirmed, as
/// last counted; 0 when there is none.
static OLDEST_WAITING: AtomicU64 = AtomicU64::new(0);
/// When the rate was last sampled, and the confirmations then.
static SAMPLED: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

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

/// Samples the rate of confirmations, at most once a second: each turn of
/// the forwarder and each `INFO` calls it.
pub fn sample_rate() {
    let mut sampled = SAMPLED.lock().unwrap_or_else(PoisonError::into_inner);
    let confirmed = get(&CONFIRMED);
    match *sampled {
        Some((at, _)) if at.elapsed() < Duration::from_secs(1) => {}
        Some((at, before)) => {
            let per_second = confirmed.saturating_sub(before) as f64 / at.elapsed().as_secs_f64();
            RATE.store(per_second.round() as u64, Ordering::Relaxed);
            *sampled = Some((Instant::now(), confirmed));
        }
        None => *sampled = Some((Instant::now(), confirmed)),
    }
}

pub fn set_oldest_waiting(time_ms: Option<u64>) {
    OLDEST_WAITING.store(time_ms.unwrap_or(0), Ordering::Relaxed);
}

/// How long (ms) the oldest entry not yet confirmed has waited, as last
/// counted: 0 with no backlog.
pub fn lag_ms() -> u64 {
    match OLDEST_WAITING.load(Ordering::Relaxed) {
        0 => 0,
        oldest => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |t| t.as_millis() as u64);
            now.saturating_sub(oldest)
        }
    }
}
