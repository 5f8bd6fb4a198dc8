//! Running a command from the module (`RM_Call`), its reply as Redis' own
//! RESP3 bytes.
//!
//! A command's arguments reach `RM_Call` as buffers (`b` in its format),
//! which Redis copies into the strings the command runs with: the bytes
//! are read once, and no string is made here only for Redis to take
//! another reference to it. A command with more than [`BUFFER_ARGS`]
//! arguments, or whose bytes cannot stay borrowed until it runs, has them
//! made into Redis strings first and passed as a vector (`v`).

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::c_char;

use redis_module::raw;

use super::{bytes_of, create_string, free_string, RedisCtx};

/// How many arguments at most are passed as buffers; `RM_Call` is a C
/// variadic function, called here once for each count.
pub const BUFFER_ARGS: usize = 8;

/// The `RM_Call` formats for one set of flags (`E`, `3`, …, which must
/// hold `3`, RESP3): `b` for each argument passed as a buffer, or `v` for
/// a vector of Redis strings, then the flags. Made once, not per call.
pub struct CallFormats {
    buffers: [CString; BUFFER_ARGS + 1],
    vector: CString,
}

impl CallFormats {
    pub fn new(flags: &CStr) -> Self {
        let format = |letters: String| {
            let mut bytes = letters.into_bytes();
            bytes.extend_from_slice(flags.to_bytes());
            // The flags are a C string: no NUL inside.
            CString::new(bytes).unwrap_or_default()
        };
        CallFormats {
            buffers: std::array::from_fn(|n| format("b".repeat(n))),
            vector: format("v".into()),
        }
    }
}

/// The buffers of a [`CommandCall`], reused by one call after another so
/// that a call allocates nothing but its reply. Kept by the caller (a
/// library's store), empty between calls.
#[derive(Default)]
pub struct CallBuffers {
    /// The command name, NUL-terminated for `RM_Call`.
    command: Vec<u8>,
    /// The arguments of the call in progress, borrowed for its lifetime
    /// (`CommandCall`'s `'b`), as `b` takes them: a pointer and a length.
    args: Vec<(*const c_char, usize)>,
    /// The arguments as Redis strings owned by the call in progress, when
    /// they are passed as a vector instead.
    argv: Vec<*mut raw::RedisModuleString>,
}

// SAFETY: the pointers `args` and `argv` hold during a call are used on
// Redis' main thread only, and dropped (the strings freed) before the call
// returns; between calls both are empty. (A store's data must be `Send`
// for wasmtime-wasi.)
unsafe impl Send for CallBuffers {}

/// A command being put together, then run by [`CommandCall::reply`]: its
/// arguments borrowed until then (`'b`), or made into Redis strings, which
/// are freed when it is dropped.
pub struct CommandCall<'a, 'b> {
    buffers: &'a mut CallBuffers,
    /// Whether the arguments are Redis strings in `buffers.argv` rather
    /// than buffers in `buffers.args`.
    as_strings: bool,
    borrowed: PhantomData<&'b [u8]>,
}

impl<'a, 'b> CommandCall<'a, 'b> {
    /// A call of `name`, which has no NUL byte.
    #[inline]
    pub fn new(name: &[u8], buffers: &'a mut CallBuffers) -> Result<Self, String> {
        if name.is_empty() || name.contains(&0) {
            let name = String::from_utf8_lossy(name);
            return Err(format!("invalid command name {name:?}"));
        }
        buffers.command.clear();
        buffers.command.extend_from_slice(name);
        buffers.command.push(0);
        Ok(CommandCall {
            buffers,
            as_strings: false,
            borrowed: PhantomData,
        })
    }

    /// Adds an argument, read when the command runs.
    #[inline]
    pub fn arg(&mut self, bytes: &'b [u8]) {
        if self.as_strings || self.buffers.args.len() == BUFFER_ARGS {
            return self.arg_copied(bytes);
        }
        // An empty argument's pointer is a NUL byte's, not a dangling one.
        let ptr = match bytes {
            [] => c"".as_ptr(),
            bytes => bytes.as_ptr() as *const c_char,
        };
        self.buffers.args.push((ptr, bytes.len()));
    }

    /// Adds an argument copied now into a Redis string: for bytes that
    /// cannot stay borrowed until the command runs.
    pub fn arg_copied(&mut self, bytes: &[u8]) {
        if !self.as_strings {
            self.as_strings = true;
            for (ptr, len) in self.buffers.args.drain(..) {
                // SAFETY: pushed by `arg` from a slice borrowed for `'b`,
                // which outlives this call.
                let arg = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
                self.buffers.argv.push(create_string(arg));
            }
        }
        self.buffers.argv.push(create_string(bytes));
    }

    /// Runs the command in the context of the callback in progress, with
    /// the `RM_Call` flags of `formats`, and returns the reply's RESP3
    /// bytes, or the text of the error Redis replied with.
    #[inline]
    pub fn run(self, ctx: RedisCtx, formats: &CallFormats) -> Result<Vec<u8>, String> {
        self.reply(ctx, formats, |proto| match error_text(proto) {
            Some(error) => Err(error),
            None => Ok(proto.to_vec()),
        })?
    }

    /// Runs the command as [`run`](Self::run) does, and hands `read` the
    /// reply's RESP3 bytes, an error reply's included, before they are
    /// freed. Fails only when the command could not be run at all.
    #[inline]
    pub fn reply<R>(
        self,
        ctx: RedisCtx,
        formats: &CallFormats,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, String> {
        let Some(ctx) = ctx.get() else {
            return Err("no command can run here".into());
        };
        let (Some(rm_call), Some(reply_proto), Some(free_reply)) = (
            api!(RedisModule_Call),
            api!(RedisModule_CallReplyProto),
            api!(RedisModule_FreeCallReply),
        ) else {
            return Err("this server cannot run commands from a module".into());
        };
        let command = self.buffers.command.as_ptr() as *const c_char;
        let args = &self.buffers.args;
        let format = match self.as_strings {
            false => formats.buffers[args.len()].as_ptr(),
            true => formats.vector.as_ptr(),
        };
        macro_rules! call_with_buffers {
            ($($i:literal)*) => {
                rm_call(ctx, command, format $(, args[$i].0, args[$i].1)*)
            };
        }
        // SAFETY: `ctx` is the context of the Redis callback in progress
        // (`RedisCtx` is cleared when it returns); `command` and `format`
        // are NUL-terminated, and `format` has one `b` for each buffer
        // passed, as a pointer and a `size_t` length to that many bytes
        // borrowed for the call (`arg`), or a `v` and then the array of
        // live strings and its length; the reply is freed once, after
        // `read` is done with its bytes.
        unsafe {
            let reply = match (self.as_strings, args.len()) {
                (true, _) => {
                    let argv = &self.buffers.argv;
                    rm_call(ctx, command, format, argv.as_ptr(), argv.len())
                }
                (false, 0) => rm_call(ctx, command, format),
                (false, 1) => call_with_buffers!(0),
                (false, 2) => call_with_buffers!(0 1),
                (false, 3) => call_with_buffers!(0 1 2),
                (false, 4) => call_with_buffers!(0 1 2 3),
                (false, 5) => call_with_buffers!(0 1 2 3 4),
                (false, 6) => call_with_buffers!(0 1 2 3 4 5),
                (false, 7) => call_with_buffers!(0 1 2 3 4 5 6),
                // `arg` keeps no more than BUFFER_ARGS.
                (false, _) => call_with_buffers!(0 1 2 3 4 5 6 7),
            };
            if reply.is_null() {
                // With `E`, Redis reports errors as replies; a null reply is
                // rare (an unknown flag, out of memory).
                return Err(format!(
                    "the call failed: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut len = 0;
            let result = read(bytes_of(reply_proto(reply, &mut len), len));
            free_reply(reply);
            Ok(result)
        }
    }
}

impl Drop for CommandCall<'_, '_> {
    /// Lets go of the arguments, freeing those made into Redis strings.
    #[inline]
    fn drop(&mut self) {
        self.buffers.args.clear();
        for &string in &self.buffers.argv {
            free_string(string);
        }
        self.buffers.argv.clear();
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
