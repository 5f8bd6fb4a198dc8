//! A value about to be removed, read from the key Redis hands to the `Key`
//! server event (deleted, expired, evicted, overwritten) before it frees
//! the value, and encoded in RESP3 as `call`'s replies are.
//!
//! It is read with the low-level key API, in place: `StringDMA` for a
//! string, `ListGet` for a list (sequential indexes cost O(1) each), the
//! sorted-set range API for a sorted set (in score order, with scores),
//! `ScanKey` for a hash or a set, and the stream iterator for a stream.

use std::ffi::c_void;
use std::os::raw::{c_int, c_long};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis_module::{raw, RedisString};

use super::free_string;
use super::resp3_writer::{Encoded, Writer};
use super::strings::bytes_of;

/// Why a removed value was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Its RESP3 encoding would exceed the size given to [`read`].
    TooLarge,
    /// Another module's type.
    ModuleType,
}

/// A value read from a key about to be removed.
#[derive(Debug)]
pub struct RemovedValue {
    /// As `TYPE` names it; `module` for another module's type.
    pub type_name: &'static str,
    /// Bytes of a string, elements of the other types, entries of a stream.
    pub length: u64,
    /// The RESP3 encoding (see [`RemovedValue::resp3`]), or why it is not
    /// there.
    encoded: Result<Encoded, Withheld>,
}

/// Bytes of the removed values alive now (see [`RemovedValue::held_bytes`]).
static HELD: AtomicUsize = AtomicUsize::new(0);

impl RemovedValue {
    /// The value in RESP3, or why it was withheld.
    pub fn resp3(&self) -> Result<&[u8], Withheld> {
        match &self.encoded {
            Ok(e) => Ok(&e.bytes[e.start..]),
            Err(why) => Err(*why),
        }
    }

    /// A value withheld for `why`.
    pub fn withheld(type_name: &'static str, length: u64, why: Withheld) -> Self {
        RemovedValue {
            type_name,
            length,
            encoded: Err(why),
        }
    }

    /// The bytes that all the removed values alive hold: memory that Redis
    /// does not count.
    pub fn held_bytes() -> usize {
        HELD.load(Ordering::Relaxed)
    }

    fn size(&self) -> usize {
        self.encoded.as_ref().map_or(0, |e| e.bytes.capacity())
    }
}

impl Drop for RemovedValue {
    fn drop(&mut self) {
        HELD.fetch_sub(self.size(), Ordering::Relaxed);
    }
}

/// Whether `key`, an open key of the `Key` server event, is a list, hash,
/// set, sorted set or stream without elements: one deleted because its
/// last element was removed (Redis notifies `del` before or after it).
///
/// # Safety
/// `key` must be the key of the `Key` server event in progress.
pub(super) unsafe fn is_emptied(key: *mut raw::RedisModuleKey) -> bool {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (Some(key_type), Some(value_length)) =
            (raw::RedisModule_KeyType, raw::RedisModule_ValueLength)
        else {
            return false;
        };
        value_length(key) == 0
            && !matches!(
                key_type(key) as isize,
                raw::REDISMODULE_KEYTYPE_STRING | raw::REDISMODULE_KEYTYPE_MODULE
            )
    }
}

/// Reads the value of `key`, an open key of the `Key` server event, if its
/// RESP3 encoding takes at most `max_bytes`.
///
/// # Safety
/// `key` must be the key of the `Key` server event in progress.
pub(super) unsafe fn read(key: *mut raw::RedisModuleKey, max_bytes: usize) -> RemovedValue {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (Some(key_type), Some(value_length)) =
            (raw::RedisModule_KeyType, raw::RedisModule_ValueLength)
        else {
            return RemovedValue::withheld("none", 0, Withheld::TooLarge);
        };
        let length = value_length(key) as u64;
        // The type, its RESP3 aggregate (none for a string), and its reader,
        // which returns the number of elements it wrote.
        type Reader = unsafe fn(*mut raw::RedisModuleKey, &mut Writer) -> Option<usize>;
        let (type_name, aggregate, read): (_, _, Reader) = match key_type(key) as isize {
            raw::REDISMODULE_KEYTYPE_STRING => ("string", None, read_string),
            raw::REDISMODULE_KEYTYPE_LIST => ("list", Some(b'*'), read_list),
            raw::REDISMODULE_KEYTYPE_HASH => ("hash", Some(b'%'), scan),
            raw::REDISMODULE_KEYTYPE_SET => ("set", Some(b'~'), scan),
            raw::REDISMODULE_KEYTYPE_ZSET => ("zset", Some(b'*'), read_zset),
            raw::REDISMODULE_KEYTYPE_STREAM => ("stream", Some(b'*'), read_stream),
            _ => return RemovedValue::withheld("module", length, Withheld::ModuleType),
        };
        // A string's bytes, or the elements of an aggregate, which take at
        // least four bytes each (`$0\r\n`): more than fits is not read at all.
        let least = if aggregate.is_some() {
            length.saturating_mul(4)
        } else {
            length
        };
        if least > max_bytes as u64 {
            return RemovedValue::withheld(type_name, length, Withheld::TooLarge);
        }
        // A string's size is known, an aggregate's guessed (a short field or
        // member and its value take about 32 bytes): few reallocations.
        let expected = match aggregate {
            None => length as usize + 32,
            Some(_) => (length as usize).saturating_mul(32).min(max_bytes),
        };
        let mut writer = Writer::new(max_bytes, expected);
        let count = read(key, &mut writer);
        match count {
            Some(count) if !writer.overflowed => {
                let encoded = writer.finish(aggregate, count);
                HELD.fetch_add(encoded.bytes.capacity(), Ordering::Relaxed);
                RemovedValue {
                    type_name,
                    length: if aggregate.is_some() {
                        count as u64
                    } else {
                        length
                    },
                    encoded: Ok(encoded),
                }
            }
            _ => RemovedValue::withheld(type_name, length, Withheld::TooLarge),
        }
    }
}

/// The bytes of a string Redis hands out.
///
/// # Safety
/// `s` is a live string, for as long as the bytes are used.
unsafe fn string_bytes<'a>(s: *const raw::RedisModuleString) -> &'a [u8] {
    RedisString::string_as_slice(s)
}

unsafe fn read_string(key: *mut raw::RedisModuleKey, w: &mut Writer) -> Option<usize> {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let dma = raw::RedisModule_StringDMA?;
        let mut len = 0;
        // Read mode: Redis may decode an integer-encoded value first, which
        // its deletion and overwrite paths allow for.
        let ptr = dma(key, &mut len, raw::REDISMODULE_READ as c_int);
        if ptr.is_null() {
            return None;
        }
        w.bulk(bytes_of(ptr, len));
        Some(1)
    }
}

unsafe fn read_list(key: *mut raw::RedisModuleKey, w: &mut Writer) -> Option<usize> {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (get, length) = (raw::RedisModule_ListGet?, raw::RedisModule_ValueLength?);
        let n = length(key);
        for index in 0..n {
            let element = get(key, index as c_long);
            if element.is_null() {
                return None;
            }
            w.bulk(string_bytes(element));
            free_string(element);
            if w.overflowed {
                return None;
            }
        }
        Some(n)
    }
}

/// What `ScanKey`'s callback adds to: the writer, and how many elements.
struct Scan<'a> {
    writer: &'a mut Writer,
    count: usize,
}

extern "C" fn scan_element(
    _key: *mut raw::RedisModuleKey,
    field: *mut raw::RedisModuleString,
    value: *mut raw::RedisModuleString,
    data: *mut c_void,
) {
    // SAFETY: `data` is the `Scan` that `scan` passed to `ScanKey`, and the
    // strings are valid for this call.
    let scan = unsafe { &mut *(data as *mut Scan) };
    if scan.writer.overflowed || field.is_null() {
        return;
    }
    scan.count += 1;
    // SAFETY: the strings are valid for this call.
    unsafe {
        scan.writer.bulk(string_bytes(field));
        if !value.is_null() {
            scan.writer.bulk(string_bytes(value));
        }
    }
}

/// Every field and value of a hash, or member of a set, with `ScanKey`.
unsafe fn scan(key: *mut raw::RedisModuleKey, w: &mut Writer) -> Option<usize> {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (create, scan_key, destroy) = (
            raw::RedisModule_ScanCursorCreate?,
            raw::RedisModule_ScanKey?,
            raw::RedisModule_ScanCursorDestroy?,
        );
        let cursor = create();
        let mut scan = Scan {
            writer: w,
            count: 0,
        };
        let data = &mut scan as *mut Scan as *mut c_void;
        while scan_key(key, cursor, Some(scan_element), data) != 0 && !scan.writer.overflowed {}
        destroy(cursor);
        Some(scan.count)
    }
}

/// Members and scores in score order, as `[member, score]` pairs.
unsafe fn read_zset(key: *mut raw::RedisModuleKey, w: &mut Writer) -> Option<usize> {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (first, end_reached, current, next, stop) = (
            raw::RedisModule_ZsetFirstInScoreRange?,
            raw::RedisModule_ZsetRangeEndReached?,
            raw::RedisModule_ZsetRangeCurrentElement?,
            raw::RedisModule_ZsetRangeNext?,
            raw::RedisModule_ZsetRangeStop?,
        );
        let (min, max) = (
            raw::REDISMODULE_NEGATIVE_INFINITE,
            raw::REDISMODULE_POSITIVE_INFINITE,
        );
        if first(key, min, max, 0, 0) != raw::REDISMODULE_OK as c_int {
            return None;
        }
        let mut count = 0;
        while end_reached(key) == 0 && !w.overflowed {
            let mut score = 0.0;
            let member = current(key, &mut score);
            if member.is_null() {
                break;
            }
            w.raw(b"*2\r\n");
            w.bulk(string_bytes(member));
            w.double(score);
            free_string(member);
            count += 1;
            if next(key) == 0 {
                break;
            }
        }
        stop(key);
        Some(count)
    }
}

/// Entries in id order, as `XRANGE` replies: `[id, [field, value, …]]`.
unsafe fn read_stream(key: *mut raw::RedisModuleKey, w: &mut Writer) -> Option<usize> {
    // SAFETY: the caller's contract: `key` is the key of the `Key` server event
    // in progress, open for reading.
    unsafe {
        let (start, next_id, next_field, stop) = (
            raw::RedisModule_StreamIteratorStart?,
            raw::RedisModule_StreamIteratorNextID?,
            raw::RedisModule_StreamIteratorNextField?,
            raw::RedisModule_StreamIteratorStop?,
        );
        if start(key, 0, ptr::null_mut(), ptr::null_mut()) != raw::REDISMODULE_OK as c_int {
            return None;
        }
        let mut count = 0;
        let mut id = raw::RedisModuleStreamID { ms: 0, seq: 0 };
        let mut fields: c_long = 0;
        while !w.overflowed && next_id(key, &mut id, &mut fields) == raw::REDISMODULE_OK as c_int {
            w.raw(b"*2\r\n");
            w.bulk(format!("{}-{}", id.ms, id.seq).as_bytes());
            w.count_header(b'*', fields.max(0) as usize * 2);
            let (mut field, mut value) = (ptr::null_mut(), ptr::null_mut());
            while next_field(key, &mut field, &mut value) == raw::REDISMODULE_OK as c_int {
                w.bulk(string_bytes(field));
                w.bulk(string_bytes(value));
                free_string(field);
                free_string(value);
            }
            count += 1;
        }
        stop(key);
        Some(count)
    }
}
