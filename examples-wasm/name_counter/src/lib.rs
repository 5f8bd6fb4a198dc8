//! `name_counter`: counts the names written to hashes, even inside
//! `MULTI`/`EXEC` and scripts.
//!
//! The advanced example of the RedisGears keyspace-trigger docs, in Rust.
//! `on_fired` runs inside the keyspace notification, when each `HSET`
//! happens, and reads the hash's `name` field then; `run` runs after the
//! whole transaction and increments `name_<name>`. So
//!
//! ```text
//! MULTI
//! HSET x name tom
//! HSET x name jerry
//! EXEC
//! ```
//!
//! gives `name_tom` = 1 and `name_jerry` = 1. Reading the field in `run`
//! instead would see `jerry` twice.
//!
//! Build and load it (from this folder), either as a wasip2 component:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! redis-cli -x TRIGGER LOAD < ../target/wasm32-wasip2/release/name_counter.wasm
//! ```
//!
//! or with wasm-pack (see the README for its traps):
//!
//! ```text
//! wasm-pack build --no-opt -- --target wasm32-unknown-unknown
//! redis-cli -x TRIGGER LOAD < pkg/name_counter_bg.wasm
//! ```

use wasm_triggers_sdk::{call, call_as, library, Event, KeyType, Result, Trigger};

library! {
    name: "name_counter",
    triggers: [
        Trigger::new("consumer")
            .description("Counts each name a hash's `name` field is set to, in name_<name>")
            .events(["@hash"])
            .on_fired(read_name)
            .run(count_name),
    ],
}

/// At the event: the hash's `name`, if the key is a hash that has one.
fn read_name(event: &Event) -> Result<Option<String>> {
    if call_as::<KeyType>("TYPE", [event.key()])? != KeyType::Hash {
        return Ok(None);
    }
    call_as("HGET", (event.key(), "name"))
}

/// After the command: count that name.
fn count_name(_event: &Event, name: String) -> Result<()> {
    call("INCR", [format!("name_{name}")])?;
    Ok(())
}
