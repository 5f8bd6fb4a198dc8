//! Records what fires each trigger, to test the prefix and event filters.
//!
//! Every trigger appends `"<event> <key>"` to the list `log:<trigger>` in
//! `run`; `binary` appends the raw key bytes instead, `db_index` the
//! database the key lives in, and `replies` the shapes of a few replies.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "recorder",
    triggers: [
        Trigger::new("by_prefix").prefix("user:").run(|e: &Event| record("by_prefix", e)),
        Trigger::new("expired_only").prefix("session:").events(["expired"]).run(|e: &Event| record("expired_only", e)),
        Trigger::new("evicted_only").prefix("cache:").events(["evicted"]).run(|e: &Event| record("evicted_only", e)),
        Trigger::new("hash_class").prefix("h:").events(["@hash"]).run(|e: &Event| record("hash_class", e)),
        Trigger::new("named_events").prefix("ev:").events(["set", "del"]).run(|e: &Event| record("named_events", e)),
        Trigger::new("new_keys").prefix("n:").events(["@new"]).run(|e: &Event| record("new_keys", e)),
        Trigger::new("key_misses").prefix("miss:").events(["keymiss"]).run(|e: &Event| record("key_misses", e)),
        Trigger::new("binary").prefix(b"\xffbin\x00").events(["set"]).run(record_binary),
        Trigger::new("db_index").prefix("db:").events(["set"]).run(record_db),
        Trigger::new("replies").prefix("reply:go").events(["set"]).run(record_replies),
    ],
}

fn record(trigger: &str, event: &Event) -> Result<()> {
    // Standard output and error go nowhere, but must not fail the trigger.
    println!("{trigger} fired");
    eprintln!("{trigger} fired");
    wasm_triggers_sdk::log::verbose(&format!("{trigger} fired by {} %s%n", event.name()));
    let mut entry = event.name().as_bytes().to_vec();
    entry.push(b' ');
    entry.extend_from_slice(event.key());
    call("RPUSH", (format!("log:{trigger}"), entry))?;
    Ok(())
}

fn record_binary(event: &Event) -> Result<()> {
    call("RPUSH", ("log:binary", event.key()))?;
    let utf8 = if event.key_str().is_some() {
        "utf8"
    } else {
        "not utf8"
    };
    call("RPUSH", ("log:binary", utf8))?;
    Ok(())
}

fn record_db(event: &Event) -> Result<()> {
    // The job runs in the key's database; the log goes there too.
    call("RPUSH", ("log:db_index", event.db()))?;
    Ok(())
}

/// Records how a few replies look through `call`: maps, doubles, nil,
/// nested arrays, sets, integers and an error reply.
fn record_replies(_event: &Event) -> Result<()> {
    let replies = [
        call("HGETALL", ["reply:hash"]),
        call("ZSCORE", ("reply:zset", "m")),
        call("GET", ["reply:missing"]),
        call("XRANGE", ("reply:stream", "-", "+")),
        call("SMEMBERS", ["reply:set"]),
        call("INCRBY", ("reply:n", 5)),
        call("HGET", ("reply:zset", "f")),
    ];
    for reply in replies {
        let shown = match reply {
            Ok(value) => format!("{value:?}"),
            Err(error) => format!("error: {error}"),
        };
        call("RPUSH", ("log:replies", shown))?;
    }
    Ok(())
}
