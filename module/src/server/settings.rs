//! The server's own settings and state, read with `CONFIG GET` and `INFO`.

use std::ffi::CStr;

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

/// The unsigned field `field` of `INFO <section>` (`RM_GetServerInfo`), or
/// `None` if it cannot be read.
pub fn server_info_unsigned(ctx: &Context, section: &CStr, field: &CStr) -> Option<u64> {
    let (Some(get_info), Some(get_field), Some(free_info)) = (
        api!(RedisModule_GetServerInfo),
        api!(RedisModule_ServerInfoGetFieldUnsigned),
        api!(RedisModule_FreeServerInfo),
    ) else {
        return None;
    };
    // SAFETY: `ctx` is a live context; the names are NUL-terminated; the
    // info is freed right after.
    unsafe {
        let info = get_info(ctx.ctx, section.as_ptr());
        if info.is_null() {
            return None;
        }
        let mut error = 0;
        let value = get_field(info, field.as_ptr(), &mut error);
        free_info(ctx.ctx, info);
        (error == 0).then_some(value)
    }
}
