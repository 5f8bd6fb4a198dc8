//! Which outbox streams this node appended to, in order: a number for each
//! append, so that a consumer asks only for the streams that changed since
//! it last asked (`OUTBOX CHANGED`), and lists them all (`OUTBOX STREAMS`)
//! only now and then, for entries this node did not append itself (a
//! stream loaded from disk, replicated before a failover, or moved here
//! with its slot).
//!
//! The numbers start again when the module loads, under a new epoch: a
//! consumer that sees another epoch lists everything again.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

struct Changes {
    epoch: u64,
    last: u64,
    /// For each stream (database, slot), the number of its last append.
    streams: HashMap<(i32, u16), u64>,
}

/// Behind a lock, not thread-local: the forwarder's thread asks too
/// (`forward/`), under the server lock.
static CHANGES: LazyLock<Mutex<Changes>> = LazyLock::new(|| {
    Mutex::new(Changes {
        epoch: new_epoch(),
        last: 0,
        streams: HashMap::new(),
    })
});

fn changes() -> MutexGuard<'static, Changes> {
    CHANGES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An epoch unlike any before it on this node: the time and the process.
fn new_epoch() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_nanos() as u64);
    nanos ^ ((std::process::id() as u64) << 48)
}

/// An entry was appended to the stream of `slot` in `db`.
pub(super) fn note_append(db: i32, slot: u16) {
    let mut c = changes();
    c.last += 1;
    let last = c.last;
    c.streams.insert((db, slot), last);
}

/// What changed since a consumer last asked.
pub struct Since {
    pub epoch: u64,
    /// The number of the last append: the consumer's next `after`.
    pub last: u64,
    /// The streams (database, slot) appended to after `after`; `None` when
    /// the consumer's epoch is not this one (it must list every stream).
    pub streams: Option<Vec<(i32, u16)>>,
}

/// The streams appended to after append number `after` of `epoch`.
pub fn since(epoch: u64, after: u64) -> Since {
    let c = changes();
    let streams = (epoch == c.epoch).then(|| {
        let mut changed: Vec<(i32, u16)> = c
            .streams
            .iter()
            .filter(|(_, &n)| n > after)
            .map(|(&stream, _)| stream)
            .collect();
        changed.sort_unstable();
        changed
    });
    Since {
        epoch: c.epoch,
        last: c.last,
        streams,
    }
}
