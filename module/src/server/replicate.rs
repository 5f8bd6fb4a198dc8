//! Propagating a command to the AOF and to replicas (`RM_Replicate`).

use std::ffi::CStr;
use std::os::raw::c_int;

use redis_module::{raw, Context, RedisString};

/// Where [`replicate`] sends a command.
pub enum ReplicateTo {
    AofAndReplicas,
    AofOnly,
}

/// Propagates `command` with `args`, as Redis would the command itself;
/// false if the server refused it.
pub fn replicate(ctx: &Context, command: &CStr, args: &[&[u8]], to: ReplicateTo) -> bool {
    let format = match to {
        ReplicateTo::AofAndReplicas => c"v",
        // `R`: not to replicas.
        ReplicateTo::AofOnly => c"Rv",
    };
    let Some(replicate) = api!(RedisModule_Replicate) else {
        return false;
    };
    let strings: Vec<RedisString> = args
        .iter()
        .map(|a| RedisString::create_from_slice(std::ptr::null_mut(), a))
        .collect();
    let mut argv: Vec<*mut raw::RedisModuleString> = strings.iter().map(|s| s.inner).collect();
    // SAFETY: `v` takes an array of Redis strings and its length; the
    // strings live until after the call (Redis keeps its own references).
    let status = unsafe {
        replicate(
            ctx.ctx,
            command.as_ptr(),
            format.as_ptr(),
            argv.as_mut_ptr(),
            argv.len(),
        )
    };
    status == raw::REDISMODULE_OK as c_int
}
