//! A trigger name outside `[A-Za-z0-9_]`: refused at load.

use wasm_triggers_sdk::{library, Event, Result, Trigger};

library! {
    name: "bad_name",
    triggers: [
        Trigger::new("bad-name!").run(|_: &Event| -> Result<()> { Ok(()) }),
    ],
}
