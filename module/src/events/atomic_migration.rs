//! Valkey 9's atomic slot migration (`CLUSTER MIGRATESLOTS`), as triggers
//! and the outbox must not see it.
//!
//! It moves whole slots at once, the outbox streams with them: the source
//! sends the target a snapshot of the slots and then its writes to them,
//! and hands them over once the target has caught up. Two kinds of events
//! come from the move itself, not from a user:
//! - on the target, while it imports: the replay of the source's keys and
//!   writes. No client can reach an importing slot, so every event of one
//!   is skipped until the import ends.
//! - on the source, once the target serves the slots: the `del` of every
//!   key it had. From the start of an export, an event of a key in its
//!   slots fires only if this node still serves the key (one `EXISTS`,
//!   refused for a key of another node's slot).
//!
//! Valkey refuses such a migration unless every module loaded declares it
//! handles it ([`HANDLES_ATOMIC_SLOT_MIGRATION`]); this one does. Events of
//! slots no migration touched cost one test of an empty set.

use std::cell::RefCell;
use std::os::raw::{c_char, c_int, c_void};

use redis_module::{raw, Context};

use crate::outbox::key_slot;
use crate::server::{is_served_here, subscribe_to_server_event};

/// Valkey's `VALKEYMODULE_OPTIONS_HANDLE_ATOMIC_SLOT_MIGRATION`.
const HANDLES_ATOMIC_SLOT_MIGRATION: c_int = 0x20;
/// Valkey's `VALKEYMODULE_EVENT_ATOMIC_SLOT_MIGRATION` and its subevents.
const ATOMIC_SLOT_MIGRATION_EVENT: u64 = 19;
const IMPORT_STARTED: u64 = 0;
const EXPORT_STARTED: u64 = 1;
const IMPORT_ABORTED: u64 = 2;
const EXPORT_ABORTED: u64 = 3;
const IMPORT_COMPLETED: u64 = 4;

/// `ValkeyModuleSlotRange`.
#[repr(C)]
struct SlotRange {
    start: c_int,
    end: c_int,
}

/// `ValkeyModuleAtomicSlotMigrationInfoV1`.
#[repr(C)]
struct MigrationInfo {
    version: u64,
    job_name: [c_char; 41],
    slot_ranges: *const SlotRange,
    num_slot_ranges: u32,
}

/// A set of slots, one bit each; empty (no allocation) when no slot is in.
#[derive(Default)]
struct Slots(Vec<u64>);

impl Slots {
    fn contains(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        !self.0.is_empty() && self.0[slot / 64] & (1 << (slot % 64)) != 0
    }

    fn set(&mut self, ranges: &[SlotRange], member: bool) {
        self.0.resize(16384 / 64, 0);
        for range in ranges {
            let (start, end) = (range.start.clamp(0, 16383), range.end.clamp(0, 16383));
            for slot in start as usize..=end as usize {
                if member {
                    self.0[slot / 64] |= 1 << (slot % 64);
                } else {
                    self.0[slot / 64] &= !(1 << (slot % 64));
                }
            }
        }
        if self.0.iter().all(|&word| word == 0) {
            self.0 = Vec::new();
        }
    }
}

thread_local! {
    /// The slots this node imports now.
    static IMPORTING: RefCell<Slots> = RefCell::default();
    /// The slots this node exports or exported.
    static EXPORTED: RefCell<Slots> = RefCell::default();
}

/// Subscribes to the migration event; returns the module option that
/// declares this module handles atomic slot migrations.
pub(super) fn init(ctx: &Context) -> Result<c_int, String> {
    subscribe_to_server_event(
        ctx,
        ATOMIC_SLOT_MIGRATION_EVENT,
        on_atomic_slot_migration,
        "atomic slot migration",
    )?;
    Ok(HANDLES_ATOMIC_SLOT_MIGRATION)
}

/// Whether an event of `key` comes from an atomic migration rather than a
/// user: a key being imported, or a key of an exported slot this node no
/// longer serves.
pub fn raised_by_moving(ctx: &Context, key: &[u8]) -> bool {
    let empty = |set: &RefCell<Slots>| set.borrow().0.is_empty();
    if IMPORTING.with(empty) && EXPORTED.with(empty) {
        return false;
    }
    let slot = key_slot(key);
    IMPORTING.with_borrow(|importing| importing.contains(slot))
        || (EXPORTED.with_borrow(|exported| exported.contains(slot)) && !is_served_here(ctx, key))
}

/// The migration server event. Never panics.
extern "C" fn on_atomic_slot_migration(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    if data.is_null() {
        return;
    }
    // SAFETY: Valkey passes its `ValkeyModuleAtomicSlotMigrationInfo`, whose
    // ranges live for the call.
    let info = unsafe { &*(data as *const MigrationInfo) };
    if info.version != 1 || info.slot_ranges.is_null() {
        return;
    }
    let ranges =
        unsafe { std::slice::from_raw_parts(info.slot_ranges, info.num_slot_ranges as usize) };
    match subevent {
        IMPORT_STARTED => {
            IMPORTING.with_borrow_mut(|slots| slots.set(ranges, true));
            EXPORTED.with_borrow_mut(|slots| slots.set(ranges, false));
        }
        // The node serves the slots now, or will not from this import.
        IMPORT_COMPLETED | IMPORT_ABORTED => {
            IMPORTING.with_borrow_mut(|slots| slots.set(ranges, false))
        }
        EXPORT_STARTED => EXPORTED.with_borrow_mut(|slots| slots.set(ranges, true)),
        // The node still serves the slots.
        EXPORT_ABORTED => EXPORTED.with_borrow_mut(|slots| slots.set(ranges, false)),
        // A finished export stays: the source deletes the keys after it.
        // Should the slots come back other than by an atomic import, their
        // events cost an `EXISTS` each from then on.
        _ => {}
    }
}
