//! A trigger on `exipred`, an event no server raises: refused at load
//! (it would never fire), with a hint.

use wasm_triggers_sdk::{library, Event, Result, Trigger};

library! {
    name: "misspelled_event",
    triggers: [
        Trigger::new("orders").prefix("order:").events(["exipred"]).run(|_: &Event| -> Result<()> { Ok(()) }),
    ],
}
