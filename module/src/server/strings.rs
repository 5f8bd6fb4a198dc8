//! Redis strings the module makes and frees itself, and bytes Redis hands
//! over as a pointer and a length.

use std::os::raw::c_char;
use std::ptr;

use redis_module::raw;

/// A new Redis string holding `bytes`, owned by the caller, who frees it
/// with [`free_string`].
pub fn create_string(bytes: &[u8]) -> *mut raw::RedisModuleString {
    // SAFETY: a null context makes a string we own and free ourselves.
    unsafe {
        raw::RedisModule_CreateString.expect("Redis provides RM_CreateString")(
            ptr::null_mut(),
            bytes.as_ptr() as *const c_char,
            bytes.len(),
        )
    }
}

/// Frees a string made by [`create_string`].
pub fn free_string(string: *mut raw::RedisModuleString) {
    // SAFETY: made by `create_string`, freed once.
    unsafe {
        raw::RedisModule_FreeString.expect("Redis provides RM_FreeString")(ptr::null_mut(), string)
    }
}

/// The bytes at `ptr`, or none if it is null.
///
/// # Safety
/// `ptr` must be null or point to `len` readable bytes.
pub unsafe fn bytes_of<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    // SAFETY: the caller's contract: `ptr` is null or points to `len`
    // readable bytes.
    unsafe {
        if ptr.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(ptr as *const u8, len)
        }
    }
}

/// `n` in decimal, written into `buf`, without the formatting machinery
/// (for figures written on every event).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals() {
        let mut buf = [0; 20];
        for n in [0, 7, 10, 1_765_000_000_123, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
