//! A trigger written for Redis Cluster: it keeps its writes in the slot of
//! the key that fired it, through the key's hash tag.
//!
//! - `log`: every `new`, `set`, `del` or `restore` event of a key
//!   `user:{<tag>}…` appends the event's name to the list `log:{<tag>}`,
//!   which lives in the same slot (on the same node) as the key, and counts
//!   it per key in the hash `fired:{<tag>}` (field `<event> <key>`).
//! - `foreign`: a `set` of `foreign:…` writes `elsewhere:<key>`, which has
//!   no hash tag, so lives in another slot: refused unless this node also
//!   serves that slot.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "tagged_log",
    triggers: [
        Trigger::new("log").prefix("user:").events(["new", "set", "del", "restore"]).run(log),
        Trigger::new("foreign").prefix("foreign:").events(["set"]).run(write_elsewhere),
    ],
}

/// The key's hash tag, braces included: `{a}` of `user:{a}:1`.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let close = open + 1 + key[open + 1..].iter().position(|&b| b == b'}')?;
    (close > open + 1).then(|| &key[open..=close])
}

fn log(event: &Event) -> Result<()> {
    let tag = hash_tag(event.key()).unwrap_or(event.key());
    let list = [b"log:", tag].concat();
    call("RPUSH", (list, event.name()))?;
    let counts = [b"fired:", tag].concat();
    let field = [event.name().as_bytes(), b" ", event.key()].concat();
    call("HINCRBY", (counts, field, 1))?;
    Ok(())
}

fn write_elsewhere(event: &Event) -> Result<()> {
    let mut key = b"elsewhere:".to_vec();
    key.extend_from_slice(event.key());
    call("SET", (key, "1"))?;
    Ok(())
}
