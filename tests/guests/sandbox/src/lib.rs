//! A library that reaches for what a trigger may not have, by key (prefix
//! `s:`), and records what it got in the list `s:results` as
//! `"<case>: <outcome>"`:
//!
//! - `s:sleep`: `std::thread::sleep` for 10 s (refused: the call traps);
//! - `s:sleep_zero`: a sleep of zero (completes at once);
//! - `s:print`: a line on stdout and one on stderr (to the Redis log);
//! - `s:flood`: 1,000 lines on stdout (rate-limited in the log);
//! - `s:files`: reads `/etc/passwd`, writes `/tmp/…`, lists `/` (no files);
//! - `s:env`: the environment variables and arguments (none);
//! - `s:stdin`: reads standard input (empty);
//! - `s:clocks`: wall and monotonic clocks (both read);
//! - `s:random`: random bytes through `RandomState` (available);
//! - `s:exit`: `std::process::exit(3)` (the call traps).

use std::io::Read;

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "sandbox",
    triggers: [
        Trigger::new("sandbox").prefix("s:").events(["set"]).run(run),
    ],
}

fn record(case: &str, outcome: impl std::fmt::Display) -> Result<()> {
    call("RPUSH", ("s:results", format!("{case}: {outcome}")))?;
    Ok(())
}

fn run(event: &Event) -> Result<()> {
    match event.key() {
        b"s:sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(10));
            record("sleep", "slept")
        }
        b"s:sleep_zero" => {
            std::thread::sleep(std::time::Duration::ZERO);
            record("sleep_zero", "ok")
        }
        b"s:print" => {
            println!("hello from stdout");
            eprintln!("hello from stderr");
            record("print", "ok")
        }
        b"s:flood" => {
            for i in 0..1000 {
                println!("flood line {i}");
            }
            record("flood", "ok")
        }
        b"s:files" => {
            let read = std::fs::read("/etc/passwd").map(|b| b.len());
            let write = std::fs::write("/tmp/sandbox-escape", b"x");
            let list = std::fs::read_dir("/").map(|d| d.count());
            record(
                "files",
                format!("read {read:?}, write {write:?}, list {list:?}"),
            )
        }
        b"s:env" => {
            let vars = std::env::vars_os().count();
            let args = std::env::args_os().count();
            record("env", format!("{vars} variables, {args} arguments"))
        }
        b"s:stdin" => {
            let mut input = Vec::new();
            let read = std::io::stdin().read_to_end(&mut input);
            record("stdin", format!("{read:?}"))
        }
        b"s:clocks" => {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() > 1_700_000_000);
            let start = std::time::Instant::now();
            let later = std::time::Instant::now();
            record(
                "clocks",
                format!("wall {wall:?}, monotonic {}", later >= start),
            )
        }
        b"s:random" => {
            use std::hash::BuildHasher;
            let a = std::collections::hash_map::RandomState::new().hash_one(1u8);
            let b = std::collections::hash_map::RandomState::new().hash_one(1u8);
            record("random", if a != b { "differs" } else { "same" })
        }
        b"s:exit" => std::process::exit(3),
        _ => Ok(()),
    }
}
