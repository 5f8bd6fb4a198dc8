//! A library whose `run` reads and writes other keys: for a key `read:*`
//! holding the name of another key, it `GET`s that key (which may expire it
//! there and then) and sets `user:from_trigger`.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "reader",
    triggers: [
        Trigger::new("reader").prefix("read:").events(["set"]).run(run),
    ],
}

fn run(event: &Event) -> Result<()> {
    let target = call("GET", [event.key()])?;
    if let Some(target) = target.as_bytes() {
        call("GET", [target])?;
    }
    call("SET", ("user:from_trigger", "1"))?;
    Ok(())
}
