//! Replies to clients.

use std::os::raw::{c_char, c_int, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context, RedisError, RedisResult};

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
    context.reply(result) as c_int
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
