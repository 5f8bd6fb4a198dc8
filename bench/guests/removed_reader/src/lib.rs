//! `removed_reader`: what reading a removed value costs (`bench/removed-value.sh`).
//!
//! Three triggers on `del`, whose `run` does no Redis call:
//! - `plain` (keys `a:*`) never asks for the removed value;
//! - `held` (keys `b:*`) asks, so the server reads it, but `run` leaves it;
//! - `read` (keys `c:*`) asks and `run` takes it into the guest
//!   (`Event::removed_value`) and counts its fields.
//!
//! Loaded with `CONFIG '{"ask": false}'`, no trigger asks: the server then
//! does not listen for removed values at all, the baseline.

use std::sync::OnceLock;

use serde::Deserialize;
use wasm_triggers_sdk::{config, library, Event, Result, Trigger, Value};

#[derive(Deserialize)]
struct Settings {
    #[serde(default = "yes")]
    ask: bool,
}

fn yes() -> bool {
    true
}

fn ask() -> bool {
    static ASK: OnceLock<bool> = OnceLock::new();
    *ASK.get_or_init(|| config::<Settings>().map_or(true, |s| s.ask))
}

/// The trigger, asking for removed values when the configuration says so.
fn asking(trigger: Trigger) -> Trigger {
    if ask() {
        trigger.with_removed_value()
    } else {
        trigger
    }
}

library! {
    name: "removed_reader",
    triggers: [
        Trigger::new("plain").prefix("a:").events(["del"]).run(|_: &Event| -> Result<()> { Ok(()) }),
        asking(Trigger::new("held").prefix("b:").events(["del"])).run(|_: &Event| -> Result<()> { Ok(()) }),
        asking(Trigger::new("read").prefix("c:").events(["del"])).run(count_fields),
    ],
}

fn count_fields(event: &Event) -> Result<()> {
    let fields = match event.removed_value() {
        Some(Value::Map(fields)) => fields.len(),
        _ => 0,
    };
    std::hint::black_box(fields);
    Ok(())
}
