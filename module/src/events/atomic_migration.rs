//! Atomic slot migration — Valkey 9's `CLUSTER MIGRATESLOTS` and Redis
//! 8.4+'s `CLUSTER MIGRATION IMPORT` — as triggers and the outbox must not
//! see it.
//!
//! It moves whole slots at once, the outbox streams with them: the source
//! sends the target a snapshot of the slots and then its writes to them,
//! and hands them over once the target has caught up. Three kinds of events
//! come from the move itself, not from a user:
//! - on the target, while it imports: the replay of the source's keys and
//!   writes. No client can reach an importing slot, so every event of one
//!   is skipped until the import ends.
//! - on the source, once the target serves the slots: the `del` of every
//!   key it had (Valkey). From the start of an export, an event of a key in
//!   its slots fires only if this node still serves the key (one `EXISTS`,
//!   refused for a key of another node's slot).
//! - Redis deletes the keys of slots it gave away, or of a failed import,
//!   with a notification of its own that the module does not subscribe
//!   to; when it does so on its main thread, the values it deletes are not
//!   read for triggers either (`removed.rs`).
//!
//! Valkey refuses such a migration unless every module loaded declares it
//! handles it (`server::follow_atomic_slot_migrations` does). Events of
//! slots no migration touched cost one test of two empty sets.

use redis_module::Context;
use std::cell::RefCell;

use super::slot_set::Slots;
use crate::outbox::key_slot;
use crate::server::{follow_atomic_slot_migrations, is_served_here, ModuleOptions, SlotMigration};

thread_local! {
    /// The slots this node imports now.
    static IMPORTING: RefCell<Slots> = const { RefCell::new(Slots::new()) };
    /// The slots this node exports or exported.
    static EXPORTED: RefCell<Slots> = const { RefCell::new(Slots::new()) };
    /// The slots whose keys Redis deletes now, one by one.
    static TRIMMING: RefCell<Slots> = const { RefCell::new(Slots::new()) };
}

/// Follows the server's atomic migrations, if it has them; returns the
/// module options it needs to allow them.
pub(super) fn init(ctx: &Context) -> Result<ModuleOptions, String> {
    follow_atomic_slot_migrations(ctx, on_migration)
}

/// Whether an event of `key` comes from an atomic migration rather than a
/// user: a key being imported or trimmed, or a key of an exported slot
/// this node no longer serves.
pub fn raised_by_moving(ctx: &Context, key: &[u8]) -> bool {
    let empty = |set: &RefCell<Slots>| set.borrow().is_empty();
    if IMPORTING.with(empty) && EXPORTED.with(empty) && TRIMMING.with(empty) {
        return false;
    }
    let slot = key_slot(key);
    let within = |set: &RefCell<Slots>| set.borrow().contains(slot);
    IMPORTING.with(within)
        || TRIMMING.with(within)
        || (EXPORTED.with(within) && !is_served_here(ctx, key))
}

fn on_migration(what: SlotMigration, ranges: &[(u16, u16)]) {
    let mark = |set: &'static std::thread::LocalKey<RefCell<Slots>>, member: bool| {
        set.with_borrow_mut(|slots| slots.set(ranges, member))
    };
    match what {
        SlotMigration::ImportStarted => {
            mark(&IMPORTING, true);
            mark(&EXPORTED, false);
        }
        // The node serves the slots now, or will not from this import.
        SlotMigration::ImportEnded => mark(&IMPORTING, false),
        SlotMigration::ExportStarted => mark(&EXPORTED, true),
        // The node still serves the slots.
        SlotMigration::ExportAborted => mark(&EXPORTED, false),
        // A finished export stays: the source deletes the keys after it.
        // Should the slots come back other than by an atomic import, their
        // events cost an `EXISTS` each from then on.
        SlotMigration::ExportCompleted => {}
        SlotMigration::TrimStarted => mark(&TRIMMING, true),
        SlotMigration::TrimEnded => mark(&TRIMMING, false),
    }
}
