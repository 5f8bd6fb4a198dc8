//! Slot migration in a cluster, as triggers must not see it.
//!
//! Moving a slot moves its keys with `MIGRATE`: the source node deletes
//! each key (a `del` event) and the target creates it with
//! `RESTORE-ASKING` (`new` and `restore` events). To a trigger these would
//! look like a user deleting and creating keys, so they do not fire
//! triggers: a command filter notes whether the command about to run is
//! one of those two, and the dispatch skips their `del`, `new` and
//! `restore` events (see `dispatch.rs`).
//!
//! A command filter sees every command just before it runs, so the note is
//! always about the command in progress. Events raised between commands
//! (expiry, eviction) are never of those three kinds. A `MIGRATE` queued in
//! `MULTI` runs at `EXEC`, which the filter sees instead, so its events do
//! fire triggers.
//!
//! Atomic slot migration (Valkey 9, Redis 8.4+) is followed in
//! `atomic_migration.rs`.

use std::cell::Cell;
use std::os::raw::c_int;

use redis_module::{raw, Context, RedisString};

use super::atomic_migration;
use crate::server::register_command_filter;

thread_local! {
    static MOVING_KEYS: Cell<bool> = const { Cell::new(false) };
}

/// Registers the command filter, and follows atomic slot migrations on
/// the servers that have them; only in a cluster. Returns the module
/// options this needs.
pub fn init(ctx: &Context) -> Result<c_int, String> {
    register_command_filter(ctx, note_command, "notes slot migrations")?;
    atomic_migration::init(ctx)
}

/// Whether the command in progress moves keys between cluster nodes.
#[inline]
pub fn moving_keys() -> bool {
    MOVING_KEYS.get()
}

/// Whether an event is one that moving a key raises.
pub fn raised_by_moving(event: &str) -> bool {
    matches!(event, "del" | "new" | "restore")
}

/// The command filter: runs before every command. Never panics.
extern "C" fn note_command(fctx: *mut raw::RedisModuleCommandFilterCtx) {
    let Some(arg) = (unsafe { raw::RedisModule_CommandFilterArgGet }) else {
        return;
    };
    // SAFETY: `fctx` is the filter context Redis passes; argument 0 is the
    // command name, a string Redis owns.
    let name = unsafe { arg(fctx, 0) };
    let moving = !name.is_null() && {
        let name = RedisString::string_as_slice(name);
        name.eq_ignore_ascii_case(b"migrate") || name.eq_ignore_ascii_case(b"restore-asking")
    };
    MOVING_KEYS.set(moving);
}
