//! Two triggers with one name: refused at load. The library is named
//! `upgradable` so that a `REPLACE` with it fails after `describe`.

use wasm_triggers_sdk::{library, Event, Result, Trigger};

fn nothing(_: &Event) -> Result<()> {
    Ok(())
}

library! {
    name: "upgradable",
    triggers: [
        Trigger::new("same").run(nothing),
        Trigger::new("same").run(nothing),
    ],
}
