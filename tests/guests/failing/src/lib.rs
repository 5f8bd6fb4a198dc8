//! A trigger that fails on demand, by the end of the key:
//! `f:*err` returns an error, `f:*panic` panics, `f:*trap` aborts,
//! `f:*loop` never ends, `f:*alloc` allocates without end; any other `f:*`
//! key counts into `f:ok`.

use wasm_triggers_sdk::{call, library, Error, Event, Result, Trigger};

library! {
    name: "failing",
    triggers: [
        Trigger::new("flaky").prefix("f:").events(["set"]).run(flaky),
    ],
}

fn flaky(event: &Event) -> Result<()> {
    let key = event.key();
    if key.ends_with(b"err") {
        return Err(Error::new("requested failure"));
    }
    if key.ends_with(b"panic") {
        panic!("requested panic on {}", event.key_str().unwrap_or("?"));
    }
    if key.ends_with(b"trap") {
        std::process::abort();
    }
    if key.ends_with(b"loop") {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    if key.ends_with(b"alloc") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
    call("INCR", ["f:ok"])?;
    Ok(())
}
