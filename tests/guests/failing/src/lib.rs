//! A trigger that fails on demand, by the end of the key:
//! `f:*err` returns an error, `f:*panic` panics, `f:*trap` aborts; any
//! other `f:*` key counts into `f:ok`.

use wasm_triggers_sdk::{call, library, Error, Event, Result, Trigger};

library! {
    name: "failing",
    triggers: [
        Trigger::new("flaky").prefix("f:").events(["set"]).run(flaky),
    ],
}

fn flaky(event: &Event) -> Result<()> {
    let key = event.key();
    if key.ends_with(b"err") {
        return Err(Error::new("requested failure"));
    }
    if key.ends_with(b"panic") {
        panic!("requested panic on {}", event.key_str().unwrap_or("?"));
    }
    if key.ends_with(b"trap") {
        std::process::abort();
    }
    call("INCR", ["f:ok"])?;
    Ok(())
}
