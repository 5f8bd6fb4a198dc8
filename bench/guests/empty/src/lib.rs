//! `empty`: benchmark variant (c), a trigger that fires on every key and
//! every event and does nothing.
//!
//! It measures the fixed cost of a trigger execution: the filters pass, the
//! post-notification job is scheduled and the guest is entered and left,
//! with no `call` in between.

use wasm_triggers_sdk::{library, Trigger};

library! {
    name: "empty",
    triggers: [
        // No prefix and no event filter: every key, every event.
        Trigger::new("empty").run(|_event| Ok(())),
    ],
}
