//! `xadd_itself`: benchmark variant (k), a trigger on every hash event that
//! appends the event to a stream with its own `XADD`, the fields the
//! outbox writes, to one stream capped like an outbox stream. What the
//! outbox costs is compared with this.

use wasm_triggers_sdk::{call, library, Trigger};

library! {
    name: "xadd_itself",
    triggers: [
        Trigger::new("xadd").events(["@hash"]).run(|event| {
            let db = event.db().to_string();
            let args: [&[u8]; 13] = [
                b"bench:events",
                b"MAXLEN",
                b"~",
                b"100000",
                b"*",
                b"db",
                db.as_bytes(),
                b"event",
                event.name().as_bytes(),
                b"key",
                event.key(),
                b"source",
                b"trigger:xadd_itself.xadd",
            ];
            call("XADD", args)?;
            Ok(())
        }),
    ],
}
