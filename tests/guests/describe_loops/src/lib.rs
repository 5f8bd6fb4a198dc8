//! A library whose `describe` never returns: the load is stopped at the
//! time limit and refused.

use wasm_triggers_sdk::{library, Event, Result, Trigger};

fn endless_name() -> String {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

library! {
    name: "describe_loops",
    triggers: [
        Trigger::new(endless_name()).run(|_: &Event| -> Result<()> { Ok(()) }),
    ],
}
