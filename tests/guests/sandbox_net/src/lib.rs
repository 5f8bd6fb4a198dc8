//! A library that opens a TCP connection: it imports `wasi:sockets`, which
//! triggers do not get, so `TRIGGER LOAD` refuses it.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "sandbox_net",
    triggers: [
        Trigger::new("connect").prefix("net:").events(["set"]).run(run),
    ],
}

fn run(_event: &Event) -> Result<()> {
    let outcome = std::net::TcpStream::connect("127.0.0.1:6379").map(|_| ());
    call("SET", ("net:outcome", format!("{outcome:?}")))?;
    Ok(())
}
