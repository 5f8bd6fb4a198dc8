//! The value an event removed, for the triggers that ask for it
//! (`.with_removed_value()` in the SDK).
//!
//! A keyspace notification for `del`, `expired` or `evicted` comes after
//! the key is gone. Redis' `Key` server event comes before: when a key is
//! deleted, expires, is evicted or is overwritten (`SET` over an existing
//! key, `RENAME` onto one, …), with the key open for reading and its value
//! not yet freed.
//!
//! 1. While a loaded trigger asks for removed values, the module listens to
//!    that event (`server::deliver_removals`, after each change of the
//!    libraries); otherwise it costs nothing.
//! 2. On the event, if such a trigger's prefix (and, for an expiry or an
//!    eviction, its event filter) matches the key, the value is read
//!    (`RemovedKey::read_value`) and kept for that key.
//! 3. The keyspace notification that follows for the same key takes it
//!    ([`take`]), and hands it to the triggers that asked, in `on_fired`
//!    and in `run`. In a `RENAME` onto an existing key, `rename_to` takes
//!    the destination's old value, and `rename_from` the source's (now the
//!    destination's). Redis 8.2's `overwritten` and `type_changed` see the
//!    value the overwrite removed without taking it: they come before the
//!    command's own event (`set`), or after the one that took it
//!    (`rename_to`).
//! 4. What no notification took is dropped when the command (the execution
//!    unit) ends, by a post-notification job, or when Redis is back in its
//!    event loop.
//!
//! So that every removal's notification reaches the handler and takes its
//! value, every class of notifications that reports a removal is delivered
//! while removed values are wanted (not hash and stream events, which never
//! do: `server::deliver_removals`), and each removal of a key drops what
//! was kept for it before. Nothing is read on a replica, while data loads, or for a
//! key moving to another cluster node. `FLUSHALL` and `FLUSHDB` raise no
//! event per key: nothing is read, nothing fires.
//!
//! Limits: a value whose RESP3 encoding exceeds
//! `triggers.max-removed-value-size` is withheld (the trigger sees a
//! marker with its type and length), and so is one that would bring the
//! removed values held at once past `triggers.max-payload-size`. Values
//! of other modules' types cannot be read. Each outcome is counted in
//! `INFO triggers`.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

use redis_module::{Context, NotifyEvent};

use super::here::Here;
use super::{atomic_migration, migration};
use crate::config;
use crate::library;
use crate::server::{selected_db, KeyRemoval, RemovedKey, RemovedValue, Withheld};
use crate::wasm::Removed;

/// A value read for a key, until its notification takes it.
struct Kept {
    db: i32,
    key: Vec<u8>,
    value: Removed,
}

thread_local! {
    /// Values read and not yet taken, in the order they were read.
    static KEPT: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
    /// The value taken last, for an `overwritten` event after it.
    static LAST_TAKEN: RefCell<Option<Kept>> = const { RefCell::new(None) };
    /// Whether a job to drop them at the end of the command is scheduled.
    static DROP_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Removed values read, withheld as too large, and of a module's type.
static READ: AtomicU64 = AtomicU64::new(0);
static TOO_LARGE: AtomicU64 = AtomicU64::new(0);
static MODULE_TYPE: AtomicU64 = AtomicU64::new(0);

/// The counts for `INFO triggers`: removed values read, withheld as too
/// large, withheld as another module's type.
pub fn counts() -> (u64, u64, u64) {
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    (get(&READ), get(&TOO_LARGE), get(&MODULE_TYPE))
}

/// The value removed from `key` that the notification in progress (of
/// `event`) reports, if one was read for it. Cheap when none was.
#[inline]
pub(super) fn take(ctx: &Context, event: &str, key: &[u8]) -> Option<Removed> {
    if KEPT.with_borrow(Vec::is_empty) && LAST_TAKEN.with_borrow(Option::is_none) {
        return None;
    }
    let db = selected_db(ctx);
    let is_it = |k: &Kept| k.db == db && k.key == key;
    if matches!(event, "overwritten" | "type_changed") {
        let kept =
            KEPT.with_borrow(|kept| kept.iter().rfind(|k| is_it(k)).map(|k| k.value.clone()));
        return kept.or_else(|| {
            LAST_TAKEN
                .with_borrow(|last| last.as_ref().filter(|k| is_it(k)).map(|k| k.value.clone()))
        });
    }
    let taken = KEPT.with_borrow_mut(|kept| {
        let at = kept.iter().rposition(is_it)?;
        Some(kept.remove(at))
    })?;
    let value = taken.value.clone();
    LAST_TAKEN.set(Some(taken));
    Some(value)
}

/// Drops the values no notification took: at the end of the command (the
/// job [`keep_if_wanted`] schedules) and when Redis is back in its event
/// loop.
pub(super) fn drop_kept() {
    KEPT.with_borrow_mut(Vec::clear);
    LAST_TAKEN.set(None);
    DROP_SCHEDULED.set(false);
}

/// The `Key` server event: a key is about to lose its value.
pub(super) fn on_key_removed(ctx: &Context, key: &RemovedKey, removal: KeyRemoval) {
    if migration::moving_keys() {
        return;
    }
    let Some(name) = key.name() else {
        return;
    };
    let db = selected_db(ctx);
    // Whatever was kept for the key is stale now: only this removal's
    // value may be taken.
    if KEPT.with_borrow(|kept| !kept.is_empty()) {
        KEPT.with_borrow_mut(|kept| kept.retain(|k| !(k.db == db && k.key == name)));
    }
    if !wanted_for(name, removal) || atomic_migration::raised_by_moving(ctx, name) {
        return;
    }
    // A key deleted because its last element went: the element's removal
    // is the event, and `del` may be notified before this.
    if !Here::new(ctx, None).may_act() || key.is_emptied() {
        return;
    }
    let value = read(key);
    KEPT.with_borrow_mut(|kept| {
        kept.push(Kept {
            db,
            key: name.to_vec(),
            value: Removed::new(value),
        });
    });
    if !DROP_SCHEDULED.get()
        && ctx.add_post_notification_job(|_| drop_kept()) == redis_module::Status::Ok
    {
        DROP_SCHEDULED.set(true);
    }
}

/// Whether a trigger that asks for removed values could fire for this
/// removal: its prefix matches, and for an expiry or an eviction, its
/// events include it. A deletion or an overwrite can be reported by many
/// events (`del`, `set`, `rename_to`, `restore`, …).
fn wanted_for(key: &[u8], removal: KeyRemoval) -> bool {
    let event = match removal {
        KeyRemoval::Expired => Some((NotifyEvent::EXPIRED, "expired")),
        KeyRemoval::Evicted => Some((NotifyEvent::EVICTED, "evicted")),
        KeyRemoval::Other => None,
    };
    let mut wanted = false;
    library::with_set(|libraries, _| {
        wanted = libraries.iter().flat_map(|l| &l.triggers).any(|t| {
            t.wants_removed_value
                && match event {
                    Some((kind, name)) => t.matches(kind, name, key),
                    None => key.starts_with(&t.prefix),
                }
        });
    });
    wanted
}

/// Reads the value under the limits, and counts the outcome.
fn read(key: &RemovedKey) -> RemovedValue {
    let room = config::max_payload_bytes().saturating_sub(RemovedValue::held_bytes());
    let limit = config::max_removed_value_bytes().min(room);
    let value = key.read_value(limit);
    let counter = match value.resp3() {
        Ok(_) => &READ,
        Err(Withheld::TooLarge) => &TOO_LARGE,
        Err(Withheld::ModuleType) => &MODULE_TYPE,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    value
}
