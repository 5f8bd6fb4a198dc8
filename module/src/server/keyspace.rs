//! Keyspace event subscriptions.
//!
//! Nothing is subscribed at `MODULE LOAD`: until a library needs them,
//! keyspace events cost Redis nothing on our account (a subscription makes
//! Redis set up a context for every event of its classes, about 1,300
//! instructions per event even when no trigger matches). Subscriptions only
//! grow (Redis has no way to take one back); each covers classes not
//! subscribed before, so every event reaches the handler once.

use std::cell::Cell;
use std::os::raw::{c_char, c_int};

use redis_module::{raw, NotifyEvent};

use super::module_ctx;

/// The keyspace notification handler: context, event class, event name
/// and key, as Redis passes them.
pub type KeyspaceHandler = extern "C" fn(
    *mut raw::RedisModuleCtx,
    c_int,
    *const c_char,
    *mut raw::RedisModuleString,
) -> c_int;

thread_local! {
    /// Where events go: set once, at `MODULE LOAD`.
    static HANDLER: Cell<Option<KeyspaceHandler>> = const { Cell::new(None) };
    /// The notification classes subscribed so far.
    static SUBSCRIBED: Cell<NotifyEvent> = const { Cell::new(NotifyEvent::empty()) };
}

/// At `MODULE LOAD`: the handler that every subscription delivers to.
pub fn set_keyspace_handler(handler: KeyspaceHandler) {
    HANDLER.set(Some(handler));
}

/// Makes sure Redis delivers the notification classes in `wanted` to the
/// keyspace handler.
pub fn deliver_keyspace_events(wanted: NotifyEvent) -> Result<(), String> {
    let (Some(subscribe), Some(all)) = (
        unsafe { raw::RedisModule_SubscribeToKeyspaceEvents },
        unsafe { raw::RedisModule_GetKeyspaceNotificationFlagsAll },
    ) else {
        return Err("this server cannot subscribe to keyspace events".into());
    };
    // Only the classes this server knows.
    let known = NotifyEvent::from_bits_truncate(unsafe { all() });
    let missing = wanted & known & !SUBSCRIBED.get();
    if missing.is_empty() {
        return Ok(());
    }
    let (ctx, Some(handler)) = (module_ctx(), HANDLER.get()) else {
        return Err("cannot subscribe to keyspace events before the module is loaded".into());
    };
    if ctx.is_null() || unsafe { subscribe(ctx, missing.bits(), Some(handler)) } != 0 {
        return Err("cannot subscribe to keyspace events".into());
    }
    SUBSCRIBED.set(SUBSCRIBED.get() | missing);
    Ok(())
}
