//! `expired_orders`: the checkout flow of the Go expiry-notification
//! service, done inside Redis.
//!
//! An order is a key `checkout:<id>` with a TTL. When it expires, the order
//! id is appended to the stream `checkout:expired` (field `id`) and
//! `checkout:expired:count` is incremented, atomically with the expiry.
//! Unlike a `PSUBSCRIBE __keyevent@0__:expired` listener, nothing is lost
//! when no client is connected: consumers read the stream whenever they
//! like (`XREAD`, or `XREADGROUP` for a group of workers).
//!
//! Only expiries fire it: a `DEL` of an order is a cancellation, not an
//! expiry.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

const PREFIX: &str = "checkout:";

library! {
    name: "expired_orders",
    triggers: [
        Trigger::new("order_expired")
            .prefix(PREFIX)
            .events(["expired"])
            .run(record_expiry),
    ],
}

fn record_expiry(event: &Event) -> Result<()> {
    let id = &event.key()[PREFIX.len()..];
    call("XADD", ("checkout:expired", "*", "id", id))?;
    call("INCR", ["checkout:expired:count"])?;
    Ok(())
}
