//! Slot migration key by key (`CLUSTER SETSLOT … MIGRATING|IMPORTING`, then
//! `MIGRATE` in batches, as `redis-cli --cluster reshard` does), as
//! triggers and the outbox must see it.
//!
//! **Moving a key is not a change.** The source deletes each key it sends
//! (a `del` event) and the target creates it with `RESTORE-ASKING` (`new`
//! and `restore` events). A command filter notes whether the command about
//! to run is one of those two, and the dispatch skips their `del`, `new`
//! and `restore` events (`dispatch.rs`). A filter sees every command just
//! before it runs, so the note is always about the command in progress;
//! events raised between commands (expiry, eviction) are never of those
//! kinds. A `MIGRATE` queued in `MULTI` runs at `EXEC`, which the filter
//! sees instead, so its events do fire triggers.
//!
//! **No event falls between two nodes.** A slot's outbox stream is a key
//! of the slot: it moves in one of the batches, and an entry can only be
//! appended where it is. So while this node moves a slot, a command on a
//! key an outbox rule matches is refused before it runs, with `-TRYAGAIN`
//! (what Redis answers a command whose keys are split between the two
//! nodes), when its entry could not be appended: on the target, until the
//! slot is its own; on the source, once the stream has left (or if the
//! slot has none yet) while the command's keys are still here. The filter
//! replaces such a command with `OUTBOX TRYAGAIN`; clients retry it, and it
//! succeeds once the move ends. Inside `MULTI` every command on the slot is
//! refused, so that a transaction does all or nothing.
//!
//! Which slots move is read from this node's line of `CLUSTER NODES`: at
//! start, and every second while a slot moves. A `CLUSTER SETSLOT` counts
//! from the moment the filter sees it (`MIGRATING` and `IMPORTING` open the
//! slot, `NODE` and `STABLE` close it) and prevails for a few seconds, then
//! `CLUSTER NODES` says again (it tells whether the command failed). Atomic slot migration (Valkey 9, Redis 8.4+) is followed
//! in `atomic_migration.rs`.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis_module::Context;

use super::atomic_migration;
use super::slot_set::Slots;
use crate::library;
use crate::outbox::{is_stream_key, key_slot, stream_key};
use crate::server::{
    is_primary, key_exists_in, module_ctx, open_slots, set_command_filter, FilteredCommand,
    ModuleOptions,
};

thread_local! {
    static MOVING_KEYS: Cell<bool> = const { Cell::new(false) };
    /// The slots this node sends to another, key by key.
    static MIGRATING: RefCell<Slots> = const { RefCell::new(Slots::new()) };
    /// The slots this node receives from another, key by key.
    static IMPORTING: RefCell<Slots> = const { RefCell::new(Slots::new()) };
    /// Whether the timer that reads the open slots is armed.
    static TIMER_ARMED: Cell<bool> = const { Cell::new(false) };
    /// The slots a `CLUSTER SETSLOT` changed lately, and when.
    static RECENT: RefCell<Vec<(u16, SlotState, Instant)>> = const { RefCell::new(Vec::new()) };
}

/// Commands refused with `-TRYAGAIN` while their slot moved.
static HELD: AtomicU64 = AtomicU64::new(0);

/// How often the open slots are read again while one is open.
const CHECK_PERIOD: Duration = Duration::from_secs(1);
/// How long a `CLUSTER SETSLOT` seen by the filter prevails over what
/// `CLUSTER NODES` says.
const GRACE: Duration = Duration::from_secs(5);

/// Registers the command filter, reads the slots this node moves, and
/// follows atomic slot migrations on the servers that have them; only in a
/// cluster. Returns the module options this needs.
pub fn init(ctx: &Context) -> Result<ModuleOptions, String> {
    set_command_filter(note_command, true, "notes slot migrations")?;
    TIMER_ARMED.set(true);
    ctx.create_timer(Duration::ZERO, check_open_slots, ());
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

/// The number of commands refused with `-TRYAGAIN` while their slot moved
/// key by key, for `INFO triggers`.
pub fn held() -> u64 {
    HELD.load(Ordering::Relaxed)
}

/// The command filter: runs before every command.
fn note_command(command: &mut FilteredCommand) {
    let name = command.arg(0).unwrap_or_default();
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    let moving = is(b"migrate") || is(b"restore-asking");
    MOVING_KEYS.set(moving);
    if moving {
        return;
    }
    if is(b"cluster") {
        return note_setslot(command);
    }
    let none = |slots: &RefCell<Slots>| slots.borrow().is_empty();
    if MIGRATING.with(none) && IMPORTING.with(none) {
        return;
    }
    hold_if_split(command);
}

/// `CLUSTER SETSLOT <slot> MIGRATING|IMPORTING|NODE|STABLE` counts at
/// once, and for [`GRACE`]: `CLUSTER NODES` may not show it yet (Valkey
/// waits for the replicas before it applies one).
fn note_setslot(command: &FilteredCommand) {
    let word = |i: usize| command.arg(i).map(|a| a.to_ascii_lowercase());
    if word(1).as_deref() != Some(b"setslot") {
        return;
    }
    let Some(slot) = command
        .arg(2)
        .and_then(|a| std::str::from_utf8(a).ok()?.parse::<u16>().ok())
        .filter(|&slot| slot < 16384)
    else {
        return;
    };
    let state = match word(3).as_deref() {
        Some(b"migrating") => SlotState::Migrating,
        Some(b"importing") => SlotState::Importing,
        // The move ends: the slot is this node's, or another's.
        Some(b"node" | b"stable") => SlotState::Stable,
        _ => return,
    };
    state.apply(slot);
    RECENT.with_borrow_mut(|recent| {
        recent.retain(|&(s, _, _)| s != slot);
        recent.push((slot, state, Instant::now()));
    });
    arm_timer(&Context::new(module_ctx()));
}

/// What a `CLUSTER SETSLOT` made of a slot.
#[derive(Clone, Copy)]
enum SlotState {
    Migrating,
    Importing,
    Stable,
}

impl SlotState {
    fn apply(self, slot: u16) {
        let mark = |set: &RefCell<Slots>, member| set.borrow_mut().set(&[(slot, slot)], member);
        MIGRATING.with(|s| mark(s, matches!(self, SlotState::Migrating)));
        IMPORTING.with(|s| mark(s, matches!(self, SlotState::Importing)));
    }
}

fn arm_timer(ctx: &Context) {
    if !TIMER_ARMED.replace(true) {
        ctx.create_timer(CHECK_PERIOD, check_open_slots, ());
    }
}

/// The timer: reads the slots this node moves from `CLUSTER NODES`, but
/// for those a `SETSLOT` changed less than [`GRACE`] ago; again in a second
/// while any is open or recent.
fn check_open_slots(ctx: &Context, (): ()) {
    TIMER_ARMED.set(false);
    let set = |slots: &[u16]| {
        let mut set = Slots::default();
        set.set(&slots.iter().map(|&s| (s, s)).collect::<Vec<_>>(), true);
        set
    };
    if let Some((migrating, importing)) = open_slots(ctx) {
        MIGRATING.set(set(&migrating));
        IMPORTING.set(set(&importing));
    }
    let recent = RECENT.with_borrow_mut(|recent| {
        recent.retain(|&(_, _, at)| at.elapsed() < GRACE);
        for &(slot, state, _) in recent.iter() {
            state.apply(slot);
        }
        !recent.is_empty()
    });
    let open = |slots: &RefCell<Slots>| !slots.borrow().is_empty();
    if recent || MIGRATING.with(open) || IMPORTING.with(open) {
        arm_timer(ctx);
    }
}

/// Refuses a command whose outbox entry could not be appended here while
/// its slot moves, as the opening comment says.
fn hold_if_split(command: &mut FilteredCommand) {
    let keys = command.keys();
    let Some(first) = keys.first() else {
        return;
    };
    let slot = key_slot(first);
    let importing = IMPORTING.with_borrow(|s| s.contains(slot));
    if !importing && !MIGRATING.with_borrow(|s| s.contains(slot)) {
        return;
    }
    // A replica applies what its primary sent.
    if !is_primary() {
        return;
    }
    let Some(client) = command.client() else {
        return;
    };
    let mut watched = false;
    library::with_set(|_, rules| {
        watched = !rules.is_empty()
            && keys.iter().any(|key| {
                !is_stream_key(key)
                    && (client.in_multi || rules.iter().any(|r| key.starts_with(&r.spec.prefix)))
            });
    });
    if !watched {
        return;
    }
    let held = importing
        || (!key_exists_in(client.db, &stream_key(slot))
            && keys.iter().any(|key| key_exists_in(client.db, key)));
    if held {
        HELD.fetch_add(1, Ordering::Relaxed);
        command.replace(&[b"OUTBOX", b"TRYAGAIN", slot.to_string().as_bytes()]);
    }
}
