//! Redis 8.2's `overwritten` and `type_changed` events, with the value the
//! overwrite removed: one trigger on those two and on `set` and `rename_to`
//! of keys `o:*` appends `<event> <type>/<length>` (or `<event> none`) to
//! the list `log:o`, in the order the events come.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "removed_on_overwrite",
    triggers: [
        Trigger::new("overwrites")
            .prefix("o:")
            .events(["overwritten", "type_changed", "set", "rename_to"])
            .with_removed_value()
            .run(log),
    ],
}

fn log(event: &Event) -> Result<()> {
    let removed = match event.removed() {
        Some(removed) => format!("{}/{}", removed.type_name(), removed.len()),
        None => "none".into(),
    };
    call("RPUSH", ("log:o", format!("{} {removed}", event.name())))?;
    Ok(())
}
