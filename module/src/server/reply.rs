//! Replies to clients.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context, RedisError, RedisResult, RedisValue};

/// Replies to the client of `ctx` with what `reply` returns; a panic in it
/// becomes an error reply. For every callback that replies to a client.
pub fn reply_guarded(
    ctx: *mut raw::RedisModuleCtx,
    reply: impl FnOnce(&Context) -> RedisResult,
) -> c_int {
    let context = Context::new(ctx);
    let result = catch_unwind(AssertUnwindSafe(|| reply(&context))).unwrap_or(Err(
        RedisError::Str("ERR internal error in TRIGGER (see the server log)"),
    ));
    reply_result(&context, result) as c_int
}

/// Writes `result` as the reply. Error and status lines, which carry the
/// user's and the guest's text (a library's name, a parser's message),
/// are written here, whole: redis-module's `Context::reply` casts each
/// character to one byte, which mangles any non-ASCII text and panics into
/// Redis on a character such as `Ā` (U+0100), whose low byte is 0.
fn reply_result(context: &Context, result: RedisResult) -> raw::Status {
    match result {
        Err(RedisError::String(message)) => reply_error(context, &message),
        Err(RedisError::Str(message)) => reply_error(context, message),
        Err(RedisError::WrongType) => reply_error(context, &RedisError::WrongType.to_string()),
        Ok(RedisValue::StaticError(message)) => reply_error(context, message),
        Ok(RedisValue::SimpleString(status)) => {
            let status = one_line(&status);
            raw::reply_with_simple_string(context.ctx, status.as_ptr())
        }
        Ok(RedisValue::Array(items)) => {
            raw::reply_with_array(context.ctx, items.len() as c_long);
            for item in items {
                reply_result(context, Ok(item));
            }
            raw::Status::Ok
        }
        // Arity errors, numbers, bulk strings, the module's own static
        // status lines, and maps (whose values are never status lines).
        other => context.reply(other),
    }
}

fn reply_error(context: &Context, message: &str) -> raw::Status {
    let message = one_line(message);
    match api!(RedisModule_ReplyWithError) {
        // SAFETY: the context of the command or callback in progress; the
        // message is NUL-terminated and outlives the call.
        Some(reply) => unsafe { reply(context.ctx, message.as_ptr()) }.into(),
        None => raw::Status::Err,
    }
}

/// `text` as one line of RESP (an error or a status): its UTF-8 kept byte
/// for byte, each line break and NUL byte a space, as Redis itself does
/// for the line breaks of its own error replies.
fn one_line(text: &str) -> CString {
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| {
            if matches!(b, b'\r' | b'\n' | 0) {
                b' '
            } else {
                b
            }
        })
        .collect();
    CString::new(bytes).unwrap_or_default()
}

/// Writes a reply piece by piece, so that maps keep their field order: a
/// map in RESP3, a flat key/value array in RESP2.
pub struct Reply(*mut raw::RedisModuleCtx);

impl Reply {
    /// Replies to the client of the command of `ctx`.
    pub fn new(ctx: &Context) -> Self {
        Reply(ctx.ctx)
    }

    pub fn array(&self, len: usize) {
        raw::reply_with_array(self.0, len as c_long);
    }
    pub fn map(&self, len: usize) {
        raw::reply_with_map(self.0, len as c_long);
    }
    pub fn field(&self, name: &str) {
        self.bulk(name.as_bytes());
    }
    pub fn bulk(&self, bytes: &[u8]) {
        raw::reply_with_string_buffer(self.0, bytes.as_ptr() as *const c_char, bytes.len());
    }
    pub fn int(&self, value: i64) {
        raw::reply_with_long_long(self.0, value);
    }
    pub fn double(&self, value: f64) {
        raw::reply_with_double(self.0, value);
    }
    pub fn null(&self) {
        raw::reply_with_null(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_keeps_utf8_and_blanks_line_breaks_and_nul() {
        for (text, line) in [
            ("ERR no library named 'Ā'", "ERR no library named 'Ā'"),
            (
                "instance has no export named `\u{738}\u{10a}`",
                "instance has no export named `\u{738}\u{10a}`",
            ),
            ("a\r\nb\0c", "a  b c"),
            ("", ""),
        ] {
            assert_eq!(one_line(text).to_str(), Ok(line), "{text:?}");
        }
    }
}
