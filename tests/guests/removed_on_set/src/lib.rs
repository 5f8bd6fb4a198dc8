//! One trigger on `set` of keys `s:*` that reads removed values: it appends
//! to the list `log:set` what each `set` overwrote (`type/length`), or
//! `none`. Alone on a server, it is all that asks for keyspace events.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "removed_on_set",
    triggers: [
        Trigger::new("overwrites").prefix("s:").events(["set"]).with_removed_value().run(log),
    ],
}

fn log(event: &Event) -> Result<()> {
    let overwrote = match event.removed() {
        Some(removed) => format!("{}/{}", removed.type_name(), removed.len()),
        None => "none".into(),
    };
    call("RPUSH", ("log:set", overwrote))?;
    Ok(())
}
