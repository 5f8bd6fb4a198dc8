//! Version 2 of the `upgradable` library: `stamp` moves to `b:*` and also
//! fires on `del`; `dropped` is gone and `added` is new.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "upgradable",
    triggers: [
        Trigger::new("stamp").prefix("b:").events(["set", "del"]).run(stamp),
        Trigger::new("added").prefix("c:").events(["set"]).run(stamp),
    ],
}

fn stamp(event: &Event) -> Result<()> {
    call(
        "RPUSH",
        ("log:upgrade", [b"v2 ".as_slice(), event.key()].concat()),
    )?;
    Ok(())
}
