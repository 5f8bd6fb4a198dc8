//! `last_updated`: stamps every hash that changes with the server's time.
//!
//! The first example of the RedisGears keyspace-trigger docs, in Rust. When a
//! hash is modified, its field `__last_updated__` is set to the seconds of
//! Redis' `TIME`, atomically with the command that modified it. Other keys
//! are left alone.
//!
//! ```text
//! 127.0.0.1:6379> HSET h x 1
//! (integer) 1
//! 127.0.0.1:6379> HGETALL h
//! 1) "x"
//! 2) "1"
//! 3) "__last_updated__"
//! 4) "1658390831"
//! ```
//!
//! Build and load it (from this folder), either as a wasip2 component:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! redis-cli -x TRIGGER LOAD < ../target/wasm32-wasip2/release/last_updated.wasm
//! ```
//!
//! or with wasm-pack (see the README for its traps):
//!
//! ```text
//! wasm-pack build --no-opt -- --target wasm32-unknown-unknown
//! redis-cli -x TRIGGER LOAD < pkg/last_updated_bg.wasm
//! ```

use wasm_triggers_sdk::{call, call_as, library, Event, KeyType, Result, Trigger};

library! {
    name: "last_updated",
    triggers: [
        // Every key; hash events only, filtered by Redis before any Wasm runs.
        Trigger::new("consumer")
            .description("Sets __last_updated__ to the server's time on every hash that changes")
            .events(["@hash"])
            .run(stamp),
    ],
}

fn stamp(event: &Event) -> Result<()> {
    // An HDEL of the last field deletes the hash: nothing left to stamp.
    if call_as::<KeyType>("TYPE", [event.key()])? != KeyType::Hash {
        return Ok(());
    }
    let (seconds, _micros): (i64, i64) = call_as("TIME", ())?;
    call("HSET", (event.key(), "__last_updated__", seconds))?;
    Ok(())
}
