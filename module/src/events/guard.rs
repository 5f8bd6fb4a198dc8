//! While a guest runs: what its own calls raise.
//!
//! What a guest's own calls raise does not fire triggers: while a guest
//! runs, an [`ExecutionGuard`] is held, and the events of its writes (and of
//! its reads: `keymiss`) are ignored. Events that happen to a key rather
//! than being made by the guest — `expired` and `hexpired` (a read that
//! finds a key or hash field past its expiry deletes it) and `evicted` —
//! are not the guest's doing: they are kept, and fired once the guest
//! returns, like any other event. The guard is scoped to the guest call,
//! not a global switch, so it cannot be left on by mistake.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use super::event::{KeptEvent, KeyEvent};

thread_local! {
    static EXECUTING: Cell<bool> = const { Cell::new(false) };
    /// Events raised while a guest ran that are not its own doing, to fire
    /// once it returns.
    static DEFERRED: RefCell<VecDeque<KeptEvent>> = const { RefCell::new(VecDeque::new()) };
}

/// The events a guest's call can raise without having made them: a key or
/// (Redis 7.4+, Valkey 9) a hash field found past its expiry by a read, and
/// an eviction.
fn happens_to_key(event: &str) -> bool {
    matches!(event, "expired" | "hexpired" | "evicted")
}

/// Held while a guest runs: keyspace events raised meanwhile (by the
/// guest's own writes) do not fire triggers.
pub(super) struct ExecutionGuard {
    was_executing: bool,
}

impl ExecutionGuard {
    pub(super) fn enter() -> Self {
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

/// Whether a guest runs now.
#[inline]
pub(super) fn guest_running() -> bool {
    EXECUTING.get()
}

/// An event raised while a guest ran: kept to fire once it returns if it
/// is not the guest's doing (`None`), given back otherwise. `db` gives its
/// database.
pub(super) fn keep_unless_own<'a>(
    event: KeyEvent<'a>,
    db: impl FnOnce() -> i32,
) -> Option<KeyEvent<'a>> {
    if !happens_to_key(event.name) {
        return Some(event);
    }
    let kept = event.kept(db());
    DEFERRED.with(|d| d.borrow_mut().push_back(kept));
    None
}

/// The next event kept while guests ran.
pub(super) fn next_kept() -> Option<KeptEvent> {
    DEFERRED.with(|d| d.borrow_mut().pop_front())
}
