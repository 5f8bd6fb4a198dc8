//! `last_updated` written with a `Pipeline`: `TYPE` and `TIME` in one
//! crossing into Redis, then `HSET`. The same work as the example (`TIME`
//! also runs when the key is no longer a hash, which changes nothing), for
//! `bench/tax.sh` to show what batching saves on top of the example as it
//! is written.

use wasm_triggers_sdk::{call, library, Event, KeyType, Pipeline, Result, Trigger};

library! {
    name: "last_updated_pipelined",
    triggers: [
        Trigger::new("consumer").events(["@hash"]).run(stamp),
    ],
}

fn stamp(event: &Event) -> Result<()> {
    let mut pipeline = Pipeline::new();
    pipeline.call("TYPE", [event.key()]).call("TIME", ());
    let mut replies = pipeline.run()?;
    if replies.next_as::<KeyType>()? != KeyType::Hash {
        return Ok(());
    }
    let (seconds, _micros): (i64, i64) = replies.next_as()?;
    call("HSET", (event.key(), "__last_updated__", seconds))?;
    Ok(())
}
