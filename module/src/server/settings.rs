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

/// The major version of Valkey, or `None` on Redis (`INFO server` has a
/// `valkey_version` line on Valkey only).
pub fn valkey_major_version(ctx: &Context) -> Option<u32> {
    let info = match ctx.call("INFO", &["server"][..]) {
        Ok(RedisValue::SimpleString(info) | RedisValue::BulkString(info)) => info,
        Ok(RedisValue::VerbatimString((_, info))) => String::from_utf8_lossy(&info).into_owned(),
        Ok(RedisValue::BulkRedisString(info)) => info.to_string_lossy(),
        _ => return None,
    };
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("valkey_version:"))?;
    version.split('.').next()?.trim().parse().ok()
}
