//! The Redis log.

use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;

/// Writes `message` to the Redis log. Unlike redis-module's helpers, the
/// message is never used as a printf format, and NUL bytes are replaced, so
/// text from a guest cannot crash the server. Outside Redis (the fuzz
/// targets) it does nothing.
pub fn redis_log(level: &str, message: &str) {
    let Some(log) = api!(RedisModule_Log) else {
        return;
    };
    let Ok(level) = CString::new(level) else {
        return;
    };
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: a null context logs as the module; the format takes one
    // NUL-terminated string, which outlives the call.
    unsafe {
        log(
            ptr::null_mut(),
            level.as_ptr(),
            c"%s".as_ptr(),
            message.as_ptr() as *const c_char,
        )
    };
}
