//! Appending to the outbox from a trigger: an event with fields of the
//! trigger's own, for consumers to read (see the README's outbox section).
//!
//! ```no_run
//! use wasm_triggers_sdk::{call, outbox, Event, Result};
//!
//! /// In `run`: the expired order, with the cart `on_fired` read.
//! fn record(event: &Event, cart: &[u8]) -> Result<()> {
//!     outbox::append(event, &[("cart", cart)])
//! }
//! ```

use crate::__bindings::redis::triggers::{host, types};
use crate::event_names;
use crate::small_bytes::SmallBytes;
use crate::{Error, Event, Result};

/// Appends an entry for `event` to the outbox, with `fields`: to the
/// stream of the event key's hash slot, atomically with the command that
/// fired the trigger. Only in [`Trigger::run`](crate::Trigger::run).
///
/// Field names may not be `db`, `event`, `key`, `time` or `source`, the
/// entry's own. It fails, writing nothing, when the stream is full of
/// entries consumers have not acknowledged.
///
/// ```no_run
/// use wasm_triggers_sdk::{outbox, Event, Result, Trigger};
///
/// let trigger = Trigger::new("orders").prefix("order:").events(["expired"]).run(|event: &Event| -> Result<()> {
///     let id = event.key_str().unwrap_or_default().trim_start_matches("order:");
///     outbox::append(event, &[("order", id.as_bytes())])
/// });
/// ```
pub fn append(event: &Event, fields: &[(&str, &[u8])]) -> Result<()> {
    // A known name goes back as its enum case, a key of up to 40 bytes in
    // place: the host reads them without either side allocating.
    let event = types::Event {
        name: event_names::to_wit(event.name()),
        key: SmallBytes::to_wit(event.key()),
        db: event.db(),
    };
    host::outbox_append(&event, fields).map_err(Error::new)
}
