//! A trigger without code: `describe` panics, so the load is refused.

use wasm_triggers_sdk::{library, Trigger};

library! {
    name: "no_run",
    triggers: [Trigger::new("forgotten")],
}
