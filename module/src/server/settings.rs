//! The server's own settings, read with `CONFIG GET`.

use redis_module::{Context, RedisValue};

/// The value of the server setting `name`, or `None` if it cannot be read.
pub fn config_get(ctx: &Context, name: &str) -> Option<String> {
    // `CONFIG GET` replies with the name and the value.
    match ctx.call("CONFIG", &["GET", name][..]) {
        Ok(RedisValue::Array(pair)) => pair.get(1).and_then(|v| match v {
            RedisValue::SimpleString(s) | RedisValue::BulkString(s) => Some(s.clone()),
            RedisValue::BulkRedisString(s) => Some(s.to_string_lossy()),
            _ => None,
        }),
        _ => None,
    }
}
