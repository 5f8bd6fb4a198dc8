//! Tries to write inside `on_fired`, where Redis refuses writes.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "read_only",
    triggers: [
        Trigger::new("writer")
            .prefix("ro:")
            .events(["set"])
            .on_fired(write_too_early)
            .run(|_event: &Event, _: ()| -> Result<()> {
                call("SET", ("ro:run_reached", 1))?;
                Ok(())
            }),
    ],
}

fn write_too_early(_event: &Event) -> Result<Option<()>> {
    call("SET", ("ro:written", 1))?;
    Ok(Some(()))
}
