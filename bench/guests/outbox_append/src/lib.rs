//! `outbox_append`: benchmark variant (j), a trigger on every hash event
//! that appends the event to the outbox (`outbox::append`), to compare with
//! an outbox rule (i), which needs no Wasm, and with a trigger that does
//! the `XADD` itself (k).

use wasm_triggers_sdk::{library, outbox, Trigger};

library! {
    name: "outbox_append",
    triggers: [
        Trigger::new("append")
            .events(["@hash"])
            .run(|event| outbox::append(event, &[])),
    ],
}
