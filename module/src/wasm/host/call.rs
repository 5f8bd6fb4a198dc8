//! `host.call`: a command run with `RM_Call`, its arguments read in place
//! from the guest's memory, its reply Redis' own RESP3 encoding.

use std::cell::RefCell;
use std::os::raw::c_char;

use redis_module::raw;
use wasmtime::component::{WasmList, WasmStr};
use wasmtime::StoreContextMut;

use crate::server::{bytes_of, create_string, free_string};
use crate::wasm::store::HostState;

/// What `call` may do in the guest call in progress. (In `describe` there
/// is no Redis context at all, so `call` is refused before the mode matters.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallMode {
    /// `on-fired`: inside the keyspace notification; Redis refuses writes.
    ReadOnly,
    /// `run`: inside a post-notification job; writes are replicated.
    Write,
}

/// `RM_Call` format strings: `v` arguments as an array of Redis strings,
/// `E` errors as replies, `S` script mode (refuses `noscript` commands such
/// as `MULTI` or `TRIGGER`, never blocks), `3` RESP3 replies, `C` as the
/// context's user (the library's owner, see [`CallUser`](super::CallUser))
/// with its ACL checked, then `W` refuse writes or `!` replicate writes.
fn call_format(mode: CallMode) -> &'static std::ffi::CStr {
    match mode {
        CallMode::ReadOnly => c"vES3CW",
        CallMode::Write => c"vES3C!",
    }
}

/// Buffers reused by every `call`, so that a call allocates nothing on the
/// host but the reply it hands to the guest.
#[derive(Default)]
struct Scratch {
    /// The command name, NUL-terminated for `RM_Call`.
    command: Vec<u8>,
    /// The arguments, as Redis strings owned by this call.
    argv: Vec<*mut raw::RedisModuleString>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// `host.call`: runs a command with `RM_Call` and returns its RESP3 reply.
pub(super) fn call(
    mut store: StoreContextMut<'_, HostState>,
    command: WasmStr,
    args: WasmList<WasmList<u8>>,
) -> Result<Vec<u8>, String> {
    let Some(ctx) = store.data().ctx.get() else {
        return Err(
            "call is not available in describe: describe must only declare triggers".into(),
        );
    };
    let mode = store.data().mode;
    let Some(user) = store.data_mut().user.as_mut() else {
        return Err("call is not available while the library loads".into());
    };
    user.attach(ctx)?;
    // Taken rather than borrowed: nothing re-enters `call` while Redis runs
    // the command (triggers do not fire from a trigger's own writes), but a
    // fresh buffer would be correct if something did.
    let mut scratch = SCRATCH.with(|s| s.take());
    let result = (|| {
        let name = command
            .to_str(&store)
            .map_err(|_| "the command name is not valid UTF-8".to_string())?;
        if name.is_empty() || name.contains('\0') {
            return Err(format!("invalid command name {name:?}"));
        }
        scratch.command.clear();
        scratch.command.extend_from_slice(name.as_bytes());
        scratch.command.push(0);
        for index in 0..args.len() {
            let arg = match args.get(&mut store, index) {
                Some(Ok(arg)) => arg,
                _ => return Err(format!("argument {index} is out of the library's memory")),
            };
            let bytes = arg.as_le_slice(&store);
            scratch.argv.push(create_string(bytes));
        }
        run_command(ctx, &scratch.command, &scratch.argv, mode)
    })();
    for string in scratch.argv.drain(..) {
        free_string(string);
    }
    SCRATCH.with(|s| *s.borrow_mut() = scratch);
    result
}

/// Runs `command` (NUL-terminated) with `argv` and returns the reply's
/// RESP3 bytes, or the text of the error Redis replied with.
fn run_command(
    ctx: *mut raw::RedisModuleCtx,
    command: &[u8],
    argv: &[*mut raw::RedisModuleString],
    mode: CallMode,
) -> Result<Vec<u8>, String> {
    // SAFETY: `ctx` is the context of the Redis callback in progress (the
    // runtime clears it when the guest call returns); `command` is
    // NUL-terminated and `argv` holds live strings.
    unsafe {
        let rm_call = raw::RedisModule_Call.expect("Redis provides RM_Call");
        let reply = rm_call(
            ctx,
            command.as_ptr() as *const c_char,
            call_format(mode).as_ptr(),
            argv.as_ptr(),
            argv.len(),
        );
        if reply.is_null() {
            // With `E`, Redis reports errors as replies; a null reply is rare
            // (an unknown flag, out of memory).
            return Err(format!(
                "the call failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut len = 0;
        let proto = raw::RedisModule_CallReplyProto.expect("Redis provides RM_CallReplyProto")(
            reply, &mut len,
        );
        let proto = bytes_of(proto, len);
        // The protocol's first byte tells an error reply apart, without
        // making Redis parse the reply (as `RM_CallReplyType` would).
        let result = match error_text(proto) {
            Some(error) => Err(error),
            None => Ok(proto.to_vec()),
        };
        raw::RedisModule_FreeCallReply.expect("Redis provides RM_FreeCallReply")(reply);
        result
    }
}

/// The message of a RESP3 error reply (`-ERR …` or a blob error
/// `!<len>\r\nERR …`), or `None` if `proto` is not an error.
fn error_text(proto: &[u8]) -> Option<String> {
    let text = match proto.first()? {
        b'-' => &proto[1..],
        b'!' => {
            let start = proto.iter().position(|&b| b == b'\n')? + 1;
            &proto[start..]
        }
        _ => return None,
    };
    let text = text.strip_suffix(b"\r\n").unwrap_or(text);
    Some(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies() {
        assert_eq!(error_text(b"-ERR no\r\n").as_deref(), Some("ERR no"));
        assert_eq!(
            error_text(b"!21\r\nSYNTAX invalid syntax\r\n").as_deref(),
            Some("SYNTAX invalid syntax")
        );
        assert_eq!(error_text(b"+OK\r\n"), None);
        assert_eq!(error_text(b"*1\r\n-ERR nested\r\n"), None);
        assert_eq!(error_text(b""), None);
    }
}
