//! A library whose `describe` calls Redis and logs: `call` is refused there
//! (there is no Redis context), so its trigger is named `refused`.

use wasm_triggers_sdk::{call, library, log, Event, Result, Trigger};

fn outcome() -> &'static str {
    log::notice("describe calls PING");
    match call("PING", ()) {
        Ok(_) => "called",
        Err(_) => "refused",
    }
}

library! {
    name: "describe_calls",
    triggers: [
        Trigger::new(outcome()).run(|_: &Event| -> Result<()> { Ok(()) }),
    ],
}
