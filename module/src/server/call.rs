//! Running a command from the module (`RM_Call`), its reply as Redis' own
//! RESP3 bytes.

use std::ffi::CStr;
use std::os::raw::c_char;

use redis_module::raw;

use super::{bytes_of, create_string, free_string, RedisCtx};

/// The buffers of a [`CommandCall`], reused by one call after another so
/// that a call allocates nothing but its reply. Kept by the caller (a
/// library's store), empty between calls.
#[derive(Default)]
pub struct CallBuffers {
    /// The command name, NUL-terminated for `RM_Call`.
    command: Vec<u8>,
    /// The arguments, as Redis strings owned by the call in progress.
    argv: Vec<*mut raw::RedisModuleString>,
}

// SAFETY: the strings `argv` holds during a call are used on Redis' main
// thread only, and freed before the call returns; between calls it is
// empty. (A store's data must be `Send` for wasmtime-wasi.)
unsafe impl Send for CallBuffers {}

/// A command being put together in [`CallBuffers`], then run by
/// [`CommandCall::run`]; its arguments are freed when it is dropped.
pub struct CommandCall<'a> {
    buffers: &'a mut CallBuffers,
}

impl<'a> CommandCall<'a> {
    /// A call of `name`, which has no NUL byte.
    #[inline]
    pub fn new(name: &str, buffers: &'a mut CallBuffers) -> Result<Self, String> {
        if name.is_empty() || name.contains('\0') {
            return Err(format!("invalid command name {name:?}"));
        }
        buffers.command.clear();
        buffers.command.extend_from_slice(name.as_bytes());
        buffers.command.push(0);
        Ok(CommandCall { buffers })
    }

    #[inline]
    pub fn arg(&mut self, bytes: &[u8]) {
        self.buffers.argv.push(create_string(bytes));
    }

    /// Runs the command in the context of the callback in progress, with
    /// the `RM_Call` format `format` (which must take `v`, the arguments as
    /// an array, and `3`, RESP3), and returns the reply's RESP3 bytes, or
    /// the text of the error Redis replied with.
    #[inline]
    pub fn run(self, ctx: RedisCtx, format: &CStr) -> Result<Vec<u8>, String> {
        self.reply(ctx, format, |proto| match error_text(proto) {
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
        format: &CStr,
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
        let argv = &self.buffers.argv;
        // SAFETY: `ctx` is the context of the Redis callback in progress
        // (`RedisCtx` is cleared when it returns); `command` is
        // NUL-terminated and `argv` holds live strings; the reply is freed
        // once, after `read` is done with its bytes.
        unsafe {
            let reply = rm_call(
                ctx,
                self.buffers.command.as_ptr() as *const c_char,
                format.as_ptr(),
                argv.as_ptr(),
                argv.len(),
            );
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

impl Drop for CommandCall<'_> {
    /// Frees the arguments.
    #[inline]
    fn drop(&mut self) {
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
