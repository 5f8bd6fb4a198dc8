//! The soak test's trigger (`bench/soak.py`): on `soak:` keys, fails for
//! one key in ten (those whose last digit is 0) and counts the others.

use wasm_triggers_sdk::{call, library, Error, Event, Result, Trigger};

library! {
    name: "flaky",
    triggers: [
        Trigger::new("flaky").prefix("soak:").events(["set"]).run(flaky),
    ],
}

fn flaky(event: &Event) -> Result<()> {
    if event.key().last() == Some(&b'0') {
        return Err(Error::new("requested failure (keys ending in 0)"));
    }
    call("INCR", ["soak:count"])?;
    Ok(())
}
