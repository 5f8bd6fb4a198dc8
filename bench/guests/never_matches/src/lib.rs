//! `never_matches`: benchmark variant (d), a trigger whose prefix no
//! benchmark key has.
//!
//! It measures the cost of the native filter alone: every event is checked
//! against the prefix and rejected before any Wasm runs. Should the filter
//! let an event through by mistake, `run` increments `never:matches:count`,
//! so the mistake shows in the keyspace as well as in `num_triggered`.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "never_matches",
    triggers: [
        Trigger::new("never_matches")
            .prefix("never:matches:")
            .events(["@all"])
            .run(count),
    ],
}

fn count(_event: &Event) -> Result<()> {
    call("INCR", ["never:matches:count"])?;
    Ok(())
}
