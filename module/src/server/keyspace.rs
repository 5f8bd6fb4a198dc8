//! Keyspace event subscriptions, and the `Key` server event that tells of
//! a value about to be removed.
//!
//! Nothing is subscribed at `MODULE LOAD`: until a library needs them,
//! keyspace events cost Redis nothing on our account (a subscription makes
//! Redis set up a context for every event of its classes, about 1,300
//! instructions per event even when no trigger matches). Subscriptions only
//! grow, but on Redis 8.6+, which can take one back: there, after each
//! change of the libraries, only the classes still needed stay. Each
//! subscription covers classes not subscribed before, so every event
//! reaches the handler once. The `Key` event is listened to only while it
//! is wanted.

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr};
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context, NotifyEvent, RedisString};

use super::removed_value::{self, RemovedValue};
use super::{deliver_server_event, module_ctx, redis_log, CallbackString};

/// Where keyspace notifications go: [`set_keyspace_handler`].
pub trait KeyspaceHandler {
    /// A keyspace event: its class (with the bits redis-module does not
    /// name, such as `overwritten`'s), its name, and its key, as bytes and
    /// as Redis' own string (valid during the call).
    fn on_event(
        ctx: &Context,
        kind: NotifyEvent,
        event: &str,
        key: &[u8],
        key_string: CallbackString,
    );
}

/// The callback Redis calls for every keyspace event delivered, one per
/// handler type. Never panics into Redis.
extern "C" fn on_keyspace_event<H: KeyspaceHandler>(
    ctx: *mut raw::RedisModuleCtx,
    kind: c_int,
    event: *const c_char,
    key: *mut raw::RedisModuleString,
) -> c_int {
    if event.is_null() || key.is_null() {
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: Redis passes a NUL-terminated event name.
        let event = unsafe { CStr::from_ptr(event) }.to_bytes();
        // Event names are ASCII; one that is not cannot match a filter.
        if !event.is_ascii() {
            return;
        }
        // SAFETY: ASCII is UTF-8 (checked without `from_utf8`'s cost on
        // every event).
        let event = unsafe { std::str::from_utf8_unchecked(event) };
        let kind = NotifyEvent::from_bits_retain(kind);
        // SAFETY: the key is live during the notification.
        let key_string = unsafe { CallbackString::new(key) };
        let key = RedisString::string_as_slice(key);
        H::on_event(&Context::new(ctx), kind, event, key, key_string);
    }));
    if outcome.is_err() {
        redis_log("warning", "a trigger panicked in the keyspace notification");
    }
    0
}

/// Why a key loses its value (the `Key` server event's subevent).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyRemoval {
    Expired,
    Evicted,
    /// Deleted, or overwritten (`SET` over an existing key, `RENAME` onto
    /// one, …).
    Other,
}

/// A key about to lose its value, open for reading during the `Key`
/// server event.
pub struct RemovedKey<'a> {
    key: *mut raw::RedisModuleKey,
    _event: PhantomData<&'a raw::RedisModuleKey>,
}

impl<'a> RemovedKey<'a> {
    /// The key's name.
    pub fn name(&self) -> Option<&'a [u8]> {
        let name_of = api!(RedisModule_GetKeyNameFromModuleKey)?;
        // SAFETY: the key is open for this event; its name lives as long.
        let name = unsafe { name_of(self.key) };
        (!name.is_null()).then(|| RedisString::string_as_slice(name))
    }

    /// Whether it is a list, hash, set, sorted set or stream without
    /// elements: one deleted because its last element was removed.
    pub fn is_emptied(&self) -> bool {
        // SAFETY: the key of the `Key` server event in progress.
        unsafe { removed_value::is_emptied(self.key) }
    }

    /// Its value, if its RESP3 encoding takes at most `max_bytes`.
    pub fn read_value(&self, max_bytes: usize) -> RemovedValue {
        // SAFETY: the key of the `Key` server event in progress.
        unsafe { removed_value::read(self.key, max_bytes) }
    }
}

/// What [`deliver_removals`] delivers the `Key` server event to.
pub type RemovalHandler = fn(&Context, &RemovedKey, KeyRemoval);

/// The `Key` server event. Never panics into Redis.
extern "C" fn on_key_event(
    ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    let Some(handler) = REMOVAL_HANDLER.get() else {
        return;
    };
    if data.is_null() || ctx.is_null() {
        return;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: for this event, Redis passes a `RedisModuleKeyInfoV1`
        // with the key open for reading, valid during the call.
        let key = unsafe { (*(data as *const raw::RedisModuleKeyInfoV1)).key };
        if key.is_null() {
            return;
        }
        let key = RemovedKey {
            key,
            _event: PhantomData,
        };
        let removal = match subevent {
            raw::REDISMODULE_SUBEVENT_KEY_EXPIRED => KeyRemoval::Expired,
            raw::REDISMODULE_SUBEVENT_KEY_EVICTED => KeyRemoval::Evicted,
            _ => KeyRemoval::Other,
        };
        handler(&Context::new(ctx), &key, removal);
    }));
    if outcome.is_err() {
        redis_log("warning", "reading a removed value panicked");
    }
}

/// The callback every subscription delivers to.
type Callback = extern "C" fn(
    *mut raw::RedisModuleCtx,
    c_int,
    *const c_char,
    *mut raw::RedisModuleString,
) -> c_int;

thread_local! {
    /// Where events go: set once, at `MODULE LOAD`.
    static HANDLER: Cell<Option<Callback>> = const { Cell::new(None) };
    /// The notification classes subscribed so far.
    static SUBSCRIBED: Cell<NotifyEvent> = const { Cell::new(NotifyEvent::empty()) };
    /// The mask of each subscription made, to take it back by.
    static SUBSCRIPTIONS: RefCell<Vec<c_int>> = const { RefCell::new(Vec::new()) };
    /// Where `Key` server events go: set once, at `MODULE LOAD`.
    static REMOVAL_HANDLER: Cell<Option<RemovalHandler>> = const { Cell::new(None) };
    /// Whether `Key` server events are delivered.
    static REMOVALS_DELIVERED: Cell<bool> = const { Cell::new(false) };
}

/// At `MODULE LOAD`: the handler of the `Key` server event (a key about to
/// lose its value), once [`deliver_removals`] asks for it.
pub fn set_removal_handler(handler: RemovalHandler) {
    REMOVAL_HANDLER.set(Some(handler));
}

/// Delivers the `Key` server event to its handler while `wanted`, and only
/// then; with it, every class of keyspace notifications, so that the
/// notification of each removal comes too.
pub fn deliver_removals(wanted: bool) -> Result<(), String> {
    if wanted == REMOVALS_DELIVERED.get() {
        return Ok(());
    }
    // Taking back a subscription that does not exist would add one with no
    // handler: hence the flag.
    let handler = if wanted {
        if REMOVAL_HANDLER.get().is_none() {
            return Err("no handler for removed values".into());
        }
        deliver_keyspace_events(removal_classes())?;
        Some(on_key_event as super::context::ServerEventHandler)
    } else {
        None
    };
    deliver_server_event(raw::REDISMODULE_EVENT_KEY, handler, "key")?;
    REMOVALS_DELIVERED.set(wanted);
    Ok(())
}

/// The classes of the notifications that report a removal: `del`,
/// `rename_from`/`rename_to`, `move_from`, `restore`, `copy_to` (generic),
/// `set` (string), `sortstore` (list), `sinterstore`… (set), `zunionstore`,
/// `georadiusstore`… (zset), `expired`, `evicted`, and other modules'
/// events. Hash and stream commands never remove a key but by removing its
/// last element, whose value is not read (its `del`, generic, follows):
/// their classes are left out, so a hash or stream workload costs nothing
/// more while a trigger asks for removed values. (Redis 8.2's
/// `overwritten` and `type_changed` only come where a trigger names them.)
fn removal_classes() -> NotifyEvent {
    NotifyEvent::GENERIC
        | NotifyEvent::STRING
        | NotifyEvent::LIST
        | NotifyEvent::SET
        | NotifyEvent::ZSET
        | NotifyEvent::EXPIRED
        | NotifyEvent::EVICTED
        | NotifyEvent::MODULE
}

/// At `MODULE LOAD`: the handler that every subscription delivers to.
pub fn set_keyspace_handler<H: KeyspaceHandler>() {
    HANDLER.set(Some(on_keyspace_event::<H>));
}

/// Redis 8.4+'s `REDISMODULE_NOTIFY_KEY_TRIMMED`: keys an atomic slot
/// migration took away. Never subscribed: a subscriber makes Redis delete
/// them one by one on its main thread instead of in the background.
const KEY_TRIMMED: c_int = raw::REDISMODULE_NOTIFY_KEY_TRIMMED as c_int;

/// The notification classes this server raises (redis-module does not name
/// the newer ones, such as Redis 8.2's `overwritten` and `type_changed`).
pub fn raised_classes() -> NotifyEvent {
    let Some(all) = api!(RedisModule_GetKeyspaceNotificationFlagsAll) else {
        return NotifyEvent::empty();
    };
    // SAFETY: a plain query, on the main thread.
    let all = unsafe { all() };
    NotifyEvent::from_bits_retain(all & !KEY_TRIMMED)
        - NotifyEvent::LOADED
        - NotifyEvent::KEYSPACE
        - NotifyEvent::KEYEVENT
}

/// Makes sure Redis delivers the notification classes in `wanted` to the
/// keyspace handler.
pub fn deliver_keyspace_events(wanted: NotifyEvent) -> Result<(), String> {
    let Some(subscribe) = api!(RedisModule_SubscribeToKeyspaceEvents) else {
        return Err("this server cannot subscribe to keyspace events".into());
    };
    // Only the classes this server knows.
    // On bits: bitflags' `!` would drop the classes redis-module does not
    // name.
    let missing = NotifyEvent::from_bits_retain(
        wanted.bits() & raised_classes().bits() & !SUBSCRIBED.get().bits(),
    );
    if missing.is_empty() {
        return Ok(());
    }
    let (ctx, Some(handler)) = (module_ctx(), HANDLER.get()) else {
        return Err("cannot subscribe to keyspace events before the module is loaded".into());
    };
    // SAFETY: the module's context, on the main thread; the handler is
    // this file's callback.
    if ctx.is_null() || unsafe { subscribe(ctx, missing.bits(), Some(handler)) } != 0 {
        return Err("cannot subscribe to keyspace events".into());
    }
    SUBSCRIBED.set(SUBSCRIBED.get() | missing);
    SUBSCRIPTIONS.with_borrow_mut(|masks| masks.push(missing.bits()));
    Ok(())
}

/// Where the server can take a subscription back (Redis 8.6+,
/// `RM_UnsubscribeFromKeyspaceEvents`): Redis delivers only the classes in
/// `needed` from now on (with those of removals while they are delivered),
/// so that a trigger deleted costs nothing more. Elsewhere nothing changes:
/// subscriptions only grow.
pub fn keep_only_keyspace_events(needed: NotifyEvent) -> Result<(), String> {
    let Some(unsubscribe) = api!(RedisModule_UnsubscribeFromKeyspaceEvents) else {
        return Ok(());
    };
    let mut needed = needed.bits() & raised_classes().bits();
    if REMOVALS_DELIVERED.get() {
        needed |= removal_classes().bits() & raised_classes().bits();
    }
    if SUBSCRIBED.get().bits() == needed {
        return Ok(());
    }
    let (ctx, Some(handler)) = (module_ctx(), HANDLER.get()) else {
        return Ok(());
    };
    if ctx.is_null() {
        return Ok(());
    }
    // All taken back, then one subscription of what is needed: on the main
    // thread, no event comes in between.
    for mask in SUBSCRIPTIONS.take() {
        // SAFETY: the module's context, on the main thread; `mask` and
        // `handler` are those of a subscription made by
        // `deliver_keyspace_events`, which Redis finds and takes back.
        unsafe { unsubscribe(ctx, mask, Some(handler)) };
    }
    SUBSCRIBED.set(NotifyEvent::empty());
    deliver_keyspace_events(NotifyEvent::from_bits_retain(needed))?;
    Ok(())
}

/// The classes Redis delivers to the module now, in the letters of
/// `notify-keyspace-events` (`g$lshzxetmdn`, and Redis 8.2's `o` and `c`).
pub fn delivered_classes() -> String {
    const LETTERS: [(NotifyEvent, char); 12] = [
        (NotifyEvent::GENERIC, 'g'),
        (NotifyEvent::STRING, '$'),
        (NotifyEvent::LIST, 'l'),
        (NotifyEvent::SET, 's'),
        (NotifyEvent::HASH, 'h'),
        (NotifyEvent::ZSET, 'z'),
        (NotifyEvent::EXPIRED, 'x'),
        (NotifyEvent::EVICTED, 'e'),
        (NotifyEvent::STREAM, 't'),
        (NotifyEvent::MISSED, 'm'),
        (NotifyEvent::MODULE, 'd'),
        (NotifyEvent::NEW, 'n'),
    ];
    let subscribed = SUBSCRIBED.get().bits();
    let mut letters: String = LETTERS
        .iter()
        .filter(|(class, _)| subscribed & class.bits() != 0)
        .map(|(_, letter)| *letter)
        .collect();
    // Redis 8.2's `overwritten` and `type_changed` (bits redis-module does
    // not name).
    for (bit, letter) in [(1 << 15, 'o'), (1 << 16, 'c')] {
        if subscribed & bit != 0 {
            letters.push(letter);
        }
    }
    letters
}
