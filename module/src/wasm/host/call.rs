//! `host.call`: commands run with `RM_Call`, their arguments read in place
//! from the guest's memory, their replies Redis' own RESP3 encoding. 0.1
//! takes one command and returns its reply as a list; 0.2 takes one or more
//! (`request.rs`) and returns their replies in place when they fit.

use std::sync::LazyLock;
use std::time::Instant;

use wasmtime::component::{WasmList, WasmStr};
use wasmtime::StoreContextMut;

use super::request::{check, malformed, Parser};
use crate::server::{CallBuffers, CallFormats, CommandCall, RedisCtx};
use crate::wasm::bindings::v0_2::{Bytes, Replies};
use crate::wasm::contract::{bytes, SHORT_BYTES};
use crate::wasm::store::{CallMode, HostState};

/// `RM_Call` formats (after the arguments' letters, see [`CallFormats`]):
/// `E` errors as replies, `S` script mode (refuses `noscript` commands such
/// as `MULTI` or `TRIGGER`, never blocks), `3` RESP3 replies, `C` as the
/// context's user (the library's owner, see [`CallUser`](crate::wasm::CallUser))
/// with its ACL checked, then `W` refuse writes or `!` replicate writes.
fn call_formats(mode: CallMode) -> &'static CallFormats {
    static FORMATS: LazyLock<[CallFormats; 2]> =
        LazyLock::new(|| [CallFormats::new(c"ES3CW"), CallFormats::new(c"ES3C!")]);
    match mode {
        CallMode::ReadOnly => &FORMATS[0],
        CallMode::Write => &FORMATS[1],
    }
}

/// Whether commands may run now: the context, with the library's owner
/// attached to it.
#[inline]
fn ready(store: &mut StoreContextMut<'_, HostState>) -> Result<RedisCtx, String> {
    let ctx = store.data().ctx;
    if !ctx.is_set() {
        return Err(
            "call is not available in describe: describe must only declare triggers".into(),
        );
    }
    let Some(user) = store.data_mut().user.as_mut() else {
        return Err("call is not available while the library loads".into());
    };
    user.attach(ctx)?;
    Ok(ctx)
}

/// 0.1's `host.call`: runs a command with `RM_Call` and returns its RESP3
/// reply, or its error's text.
pub(super) fn call(
    mut store: StoreContextMut<'_, HostState>,
    command: WasmStr,
    args: WasmList<WasmList<u8>>,
) -> Result<Vec<u8>, String> {
    let ctx = ready(&mut store)?;
    let mode = store.data().mode;
    // Taken rather than borrowed, for the next argument to be lifted with
    // the store while they fill; put back for the next call.
    let mut buffers = std::mem::take(store.data_mut().call_buffers.get_mut());
    let result = (|| {
        let name = command
            .to_str(&store)
            .map_err(|_| "the command name is not valid UTF-8".to_string())?;
        let mut call = CommandCall::new(name.as_bytes(), &mut buffers)?;
        for index in 0..args.len() {
            let arg = match args.get(&mut store, index) {
                Some(Ok(arg)) => arg,
                _ => return Err(format!("argument {index} is out of the library's memory")),
            };
            // Copied now: the next argument is lifted with the store.
            call.arg_copied(arg.as_le_slice(&store));
        }
        call.run(ctx, call_formats(mode))
    })();
    *store.data_mut().call_buffers.get_mut() = buffers;
    result
}

/// Why a pipeline stopped before its end: its time was up. The guest traps,
/// as it would in its own code.
pub(super) struct OutOfTime;

/// 0.2's `host.call`: runs the request's commands one after the other, and
/// returns their replies, error replies included, in place when they fit;
/// or why none ran (`replies::refused`).
pub(super) fn call_v0_2(
    mut store: StoreContextMut<'_, HostState>,
    strings: WasmList<u8>,
    lengths: WasmList<u32>,
) -> Result<Result<Replies, String>, OutOfTime> {
    let ctx = match ready(&mut store) {
        Ok(ctx) => ctx,
        Err(e) => return Ok(Err(e)),
    };
    // The buffers borrowed from the store while the guest's memory is read
    // in place: both are shared borrows of the store.
    let data = store.data();
    let (Ok(mut buffers), Ok(mut replies)) = (
        data.call_buffers.try_borrow_mut(),
        data.pipeline_replies.try_borrow_mut(),
    ) else {
        return Ok(Err("call: the library's calls are busy".into()));
    };
    let (formats, deadline) = (call_formats(data.mode), data.call_deadline);
    let (strings, lengths) = (strings.as_le_slice(&store), lengths.as_le_slice(&store));
    // One command, the usual case (its count of strings covers all of
    // `lengths`): read once, straight into the call. More are checked
    // whole, then run one by one.
    let single = lengths.first().map(|&n| n as usize + 1) == Some(lengths.len());
    if single {
        let mut parser = Parser::new(strings, lengths);
        Ok(match next_command(&mut parser, &mut buffers) {
            Ok(call) if parser.at_end() => call.reply(ctx, formats, single_reply),
            // Bytes left after the command's strings.
            Ok(_) => check(strings, lengths).and(Err("call: a malformed request".into())),
            Err(e) => Err(malformed(1, e)),
        })
    } else {
        pipeline(
            (strings, lengths),
            &mut buffers,
            &mut replies,
            ctx,
            formats,
            deadline,
        )
    }
}

/// The commands of a request of more than one, checked first.
fn pipeline(
    (strings, lengths): (&[u8], &[u32]),
    buffers: &mut CallBuffers,
    replies: &mut Vec<u8>,
    ctx: RedisCtx,
    formats: &CallFormats,
    deadline: Instant,
) -> Result<Result<Replies, String>, OutOfTime> {
    let count = match check(strings, lengths) {
        Ok(count) => count,
        Err(e) => return Ok(Err(e)),
    };
    let mut parser = Parser::new(strings, lengths);
    replies.clear();
    for index in 0..count {
        // A long pipeline runs in the host, where the epoch deadline cannot
        // stop it: its time is checked between commands.
        if index > 0 && Instant::now() >= deadline {
            return Err(OutOfTime);
        }
        let ran = next_command(&mut parser, buffers)
            .map_err(|e| malformed(index + 1, e))
            .and_then(|call| call.reply(ctx, formats, |proto| replies.extend_from_slice(proto)));
        // The request was checked: what fails here is Redis not running a
        // command at all (no reply, out of memory), and the commands
        // before it have run, as a guest's own calls would have.
        if let Err(e) = ran {
            return Ok(Err(e));
        }
    }
    // Short replies go in place and the buffer is kept for the next
    // pipeline; long ones take it along (a large one is not kept).
    Ok(Ok(Replies::Resp3(match replies.len() <= SHORT_BYTES {
        true => bytes(replies),
        false => Bytes::Long(std::mem::take(replies)),
    })))
}

/// A single command's reply: an integer as the number, anything else as
/// its RESP3 bytes.
#[inline]
fn single_reply(proto: &[u8]) -> Replies {
    match proto.strip_prefix(b":").and_then(integer) {
        Some(n) => Replies::Integer(n),
        None => Replies::Resp3(bytes(proto)),
    }
}

/// The number of an integer reply's `<n>\r\n`, if it is all of it: an
/// optional `-` and 1 to 19 digits, read by hand rather than through
/// `str::from_utf8` and `str::parse`. Anything else, a number out of range
/// included, is left to the guest as bytes.
#[inline]
fn integer(line: &[u8]) -> Option<i64> {
    let line = line.strip_suffix(b"\r\n")?;
    let (negative, digits) = match line.split_first()? {
        (b'-', digits) => (true, digits),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    // Summed towards the sign, down to i64::MIN; 19 digits may pass the
    // range, so each step is checked.
    let mut n: i64 = 0;
    for &digit in digits {
        let digit = digit.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        let digit = i64::from(digit);
        n = n.checked_mul(10)?;
        n = if negative {
            n.checked_sub(digit)?
        } else {
            n.checked_add(digit)?
        };
    }
    Some(n)
}

/// The request's next command, ready to run (its arguments read from the
/// request when it runs).
#[inline]
fn next_command<'b, 's>(
    parser: &mut Parser<'s>,
    buffers: &'b mut CallBuffers,
) -> Result<CommandCall<'b, 's>, &'static str> {
    let strings = parser.command()?;
    let name = parser.string()?;
    // ASCII, as command names are, is UTF-8 without a closer look.
    if !name.is_ascii() && std::str::from_utf8(name).is_err() {
        return Err("the command name is not valid UTF-8");
    }
    let mut call = CommandCall::new(name, buffers)
        .map_err(|_| "the command name is empty or holds a NUL byte")?;
    for _ in 1..strings {
        call.arg(parser.string()?);
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_reply_is_the_number_and_any_other_its_bytes() {
        let integer = |proto: &[u8]| match single_reply(proto) {
            Replies::Integer(n) => Some(n),
            Replies::Resp3(_) | Replies::Refused(_) => None,
        };
        assert_eq!(integer(b":0\r\n"), Some(0));
        assert_eq!(integer(b":-9223372036854775808\r\n"), Some(i64::MIN));
        assert_eq!(integer(b":12\r\n:3\r\n"), None);
        assert_eq!(integer(b"+OK\r\n"), None);
        assert_eq!(integer(b":99999999999999999999\r\n"), None);
        assert_eq!(integer(b":1"), None);
        assert_eq!(integer(b":9223372036854775807\r\n"), Some(i64::MAX));
        assert_eq!(integer(b":9223372036854775808\r\n"), None);
        assert_eq!(integer(b":9999999999999999999\r\n"), None);
        assert_eq!(integer(b":-9223372036854775809\r\n"), None);
        assert_eq!(integer(b":-\r\n"), None);
        assert_eq!(integer(b":1x\r\n"), None);
        assert_eq!(integer(b":-0\r\n"), Some(0));
    }
}
