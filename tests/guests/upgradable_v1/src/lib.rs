//! Version 1 of the `upgradable` library: `stamp` fires on `set` of `a:*`.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "upgradable",
    triggers: [
        Trigger::new("stamp").prefix("a:").events(["set"]).run(stamp),
        Trigger::new("dropped").prefix("zz:").run(stamp),
    ],
}

fn stamp(event: &Event) -> Result<()> {
    call(
        "RPUSH",
        ("log:upgrade", [b"v1 ".as_slice(), event.key()].concat()),
    )?;
    Ok(())
}
