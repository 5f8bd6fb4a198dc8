//! A library that misbehaves on demand, by key (prefix `x:`):
//!
//! - `x:on_fired_loop`: `on_fired` never returns;
//! - `x:recurse`: `run` recurses until the stack overflows;
//! - `x:run_loop`: `run` never returns;
//! - `x:hoard`: `run` allocates without end;
//! - `x:huge_payload`: `on_fired` returns a 20 MB payload;
//! - `x:refused`: `run` calls commands a trigger may not run and records
//!   each reply in the list `x:replies`;
//! - `x:bad_name`: `run` calls a command whose name is not UTF-8;
//! - `x:many_args`: `run` calls `RPUSH x:many` with 10,000 values;
//! - `x:oob`: `run` reads outside its linear memory.
//!
//! Any other `x:` key counts into `x:ok`.

use wasm_triggers_sdk::{call, library, Event, Result, Trigger};

library! {
    name: "hostile",
    triggers: [
        Trigger::new("hostile").prefix("x:").events(["set"]).on_fired(on_fired).run(run),
    ],
}

fn on_fired(event: &Event) -> Result<Option<String>> {
    match event.key() {
        b"x:on_fired_loop" => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        // A string: bincode writes it in one go (a Vec<u8> goes byte by byte).
        b"x:huge_payload" => Ok(Some("x".repeat(20 << 20))),
        _ => Ok(Some(String::new())),
    }
}

/// `host.call` through the raw canonical ABI, with `strings` split by
/// `lengths` as given: a command whose name is not UTF-8 (`GE\xffT`), or
/// lengths that do not split the strings, what a guest written in another
/// language could hand over and the SDK's `call` cannot. Returns how the
/// call ended: the `replies` case it returned, `refused: ` and the host's
/// message for `refused`.
fn call_raw(strings: &[u8], lengths: &[u32]) -> String {
    #[link(wasm_import_module = "redis:triggers/host@0.2.0")]
    extern "C" {
        #[link_name = "call"]
        fn host_call(
            strings: *const u8,
            strings_len: usize,
            lengths: *const u32,
            lengths_len: usize,
            ret: *mut u8,
        );
    }
    // `replies`: a tag, then the payload, in 64 bytes aligned to 8 (its
    // `resp3` case holds `bytes`, whose `short` case holds five u64).
    let mut ret = [0u64; 9];
    // SAFETY: the import's signature is the canonical ABI lowering of
    // `call: func(strings: list<u8>, lengths: list<u32>) -> replies`. The host either traps (nothing is returned) or writes `ret`.
    unsafe {
        host_call(
            strings.as_ptr(),
            strings.len(),
            lengths.as_ptr(),
            lengths.len(),
            ret.as_mut_ptr() as *mut u8,
        );
    }
    let tag = ret[0] & 0xff;
    if tag != 2 {
        return format!("tag {tag}");
    }
    // `refused(string)`: its address and length, after the tag.
    let (ptr, len) = (ret[1] as u32 as usize, (ret[1] >> 32) as usize);
    // SAFETY: the host lowered the string there, into memory allocated
    // for it through `cabi_realloc`.
    let message = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    format!("refused: {}", String::from_utf8_lossy(message))
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    recurse(depth + 1).wrapping_add(frame[3])
}

fn run(event: &Event, _payload: String) -> Result<()> {
    match event.key() {
        b"x:recurse" => {
            recurse(0);
        }
        b"x:run_loop" => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        b"x:hoard" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        b"x:refused" => {
            let attempts: [(&str, &[&str]); 6] = [
                ("BLPOP", &["x:list", "0"]),
                ("MULTI", &[]),
                ("SHUTDOWN", &["NOSAVE"]),
                ("TRIGGER", &["LIST"]),
                ("WATCH", &["x:ok"]),
                ("SUBSCRIBE", &["x:channel"]),
            ];
            for (command, args) in attempts {
                let reply = match call(command, args) {
                    Ok(value) => format!("{command}: ok {value:?}"),
                    Err(error) => format!("{command}: error {error}"),
                };
                call("RPUSH", ("x:replies", reply))?;
            }
        }
        b"x:bad_name" => {
            let reply = call_raw(b"GE\xffT", &[1, 4]);
            call("SET", ("x:bad_name_reply", reply))?;
            // A command of two strings, but one string.
            let reply = call_raw(b"TIME", &[2, 4]);
            call("SET", ("x:bad_lengths_reply", reply))?;
        }
        b"x:oob" => {
            // Far past the end of linear memory: a trap, never a crash.
            let wild = std::hint::black_box(0xffff_fff0usize) as *const u32;
            // SAFETY: none; reading out of bounds is what this guest is for.
            let value = unsafe { std::ptr::read_volatile(wild) };
            call("SET", ("x:oob_read", value))?;
        }
        b"x:arities" => {
            // Seven to ten arguments: up to eight reach Redis as buffers,
            // more as Redis strings; an empty one among them.
            for count in 7..=10usize {
                let mut args: Vec<String> = vec![format!("x:arity:{count}")];
                args.extend((1..count).map(|i| match i {
                    1 => String::new(),
                    i => i.to_string(),
                }));
                call("RPUSH", args)?;
            }
        }
        b"x:many_args" => {
            let mut args: Vec<String> = vec!["x:many".into()];
            args.extend((0..10_000).map(|i| i.to_string()));
            call("RPUSH", args)?;
        }
        _ => {
            call("INCR", ["x:ok"])?;
        }
    }
    Ok(())
}
