//! A library whose triggers take as long, or hand over as much, as their
//! key says:
//!
//! - `slow`, for a key `slow:<anything>:<ms>` (on `set` and `del`): `run`
//!   computes for `<ms>` milliseconds, then appends the key to `slow:done`;
//! - `payload`, for a key `pay:<anything>:<kb>` (on `set`): `on_fired`
//!   returns a payload of `<kb>` KiB, and `run` appends `"<key> <length>"`
//!   to `pay:done`.

use std::time::{Duration, Instant};

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "slow",
    triggers: [
        Trigger::new("slow").prefix("slow:").events(["set", "del"]).run(slow),
        Trigger::new("payload").prefix("pay:").events(["set"]).on_fired(payload).run(record_payload),
    ],
}

/// The number after the key's last `:`.
fn number(event: &Event) -> (String, u64) {
    let key = String::from_utf8_lossy(event.key()).into_owned();
    let n = key
        .rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (key, n)
}

fn slow(event: &Event) -> Result<()> {
    let (key, ms) = number(event);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(ms) {
        n = std::hint::black_box(n.wrapping_add(1));
    }
    call("RPUSH", ("slow:done", key))?;
    Ok(())
}

fn payload(event: &Event) -> Result<Option<String>> {
    let (_, kb) = number(event);
    Ok(Some("x".repeat(kb as usize * 1024)))
}

fn record_payload(event: &Event, payload: String) -> Result<()> {
    let (key, _) = number(event);
    call("RPUSH", ("pay:done", format!("{key} {}", payload.len())))?;
    Ok(())
}
