//! Keys read in place, without running a command.

use std::os::raw::c_int;

use redis_module::{raw, Context, RedisValue};

use super::{create_string, free_string, module_ctx};

/// What a key holds, as far as the outbox needs to know.
pub enum KeyLength {
    Missing,
    /// A stream, with its number of entries.
    Stream(usize),
    /// Another type.
    Other,
}

/// What `key` holds in the database selected in `ctx`.
pub fn stream_length(ctx: &Context, key: &[u8]) -> KeyLength {
    let (Some(open), Some(key_type), Some(length), Some(close)) = (
        api!(RedisModule_OpenKey),
        api!(RedisModule_KeyType),
        api!(RedisModule_ValueLength),
        api!(RedisModule_CloseKey),
    ) else {
        return KeyLength::Missing;
    };
    let name = create_string(key);
    // SAFETY: `ctx` is the context of the callback in progress; the key is
    // opened for reading and closed before `name` is freed.
    let found = unsafe {
        let handle = open(ctx.ctx, name, raw::REDISMODULE_READ as c_int);
        let found = if handle.is_null() {
            KeyLength::Missing
        } else {
            match key_type(handle) as isize {
                raw::REDISMODULE_KEYTYPE_EMPTY => KeyLength::Missing,
                raw::REDISMODULE_KEYTYPE_STREAM => KeyLength::Stream(length(handle)),
                _ => KeyLength::Other,
            }
        };
        if !handle.is_null() {
            close(handle);
        }
        found
    };
    free_string(name);
    found
}

/// The id (`ms`, `seq`) of the last entry of the stream `key`, in the
/// database selected in `ctx`; `None` if it is not a stream with entries.
pub fn stream_last_id(ctx: &Context, key: &[u8]) -> Option<(u64, u64)> {
    let (Some(open), Some(close), Some(start), Some(next), Some(stop)) = (
        api!(RedisModule_OpenKey),
        api!(RedisModule_CloseKey),
        api!(RedisModule_StreamIteratorStart),
        api!(RedisModule_StreamIteratorNextID),
        api!(RedisModule_StreamIteratorStop),
    ) else {
        return None;
    };
    let name = create_string(key);
    // SAFETY: as in `stream_length`; the iterator is stopped before the
    // key is closed.
    let last = unsafe {
        let handle = open(ctx.ctx, name, raw::REDISMODULE_READ as c_int);
        let mut last = None;
        if !handle.is_null() {
            let reverse = raw::REDISMODULE_STREAM_ITERATOR_REVERSE as c_int;
            let ok = raw::REDISMODULE_OK as c_int;
            if start(handle, reverse, std::ptr::null_mut(), std::ptr::null_mut()) == ok {
                let mut id = raw::RedisModuleStreamID { ms: 0, seq: 0 };
                let mut fields = 0;
                if next(handle, &mut id, &mut fields) == ok {
                    last = Some((id.ms, id.seq));
                }
                stop(handle);
            }
            close(handle);
        }
        last
    };
    free_string(name);
    last
}

/// Selects database `db` in `ctx`; false if there is no such database.
pub fn select_db(ctx: &Context, db: i32) -> bool {
    match api!(RedisModule_SelectDb) {
        // SAFETY: `ctx` is the context of the callback in progress.
        Some(select) => (unsafe { select(ctx.ctx, db as c_int) }) == raw::REDISMODULE_OK as c_int,
        None => false,
    }
}

/// The database selected in `ctx`.
pub fn selected_db(ctx: &Context) -> i32 {
    match api!(RedisModule_GetSelectedDb) {
        // SAFETY: as above.
        Some(get) => unsafe { get(ctx.ctx) },
        None => 0,
    }
}

/// The number of keys in the database selected in `ctx`.
pub fn db_size(ctx: &Context) -> u64 {
    match api!(RedisModule_DbSize) {
        // SAFETY: as above.
        Some(size) => unsafe { size(ctx.ctx) },
        None => 0,
    }
}

/// Whether this cluster node serves `key` now: a module's command on a key
/// of a slot another node serves is refused, as a client's would be
/// redirected. One `EXISTS`; for rare checks only.
pub fn is_served_here(ctx: &Context, key: &[u8]) -> bool {
    // An error reply comes back as a value.
    matches!(ctx.call("EXISTS", &[key][..]), Ok(RedisValue::Integer(_)))
}

/// Whether `key` is in database `db`, looked up without side effects: an
/// expired key is not deleted, nothing is counted or notified. Uses the
/// module's own context, so it may be called where Redis gives none (a
/// command filter).
pub fn key_exists_in(db: i32, key: &[u8]) -> bool {
    let (Some(open), Some(key_type), Some(close)) = (
        api!(RedisModule_OpenKey),
        api!(RedisModule_KeyType),
        api!(RedisModule_CloseKey),
    ) else {
        return false;
    };
    let ctx = module_ctx();
    if ctx.is_null() {
        return false;
    }
    let ctx = Context::new(ctx);
    let before = selected_db(&ctx);
    if !select_db(&ctx, db) {
        return false;
    }
    let mode = raw::REDISMODULE_READ
        | raw::REDISMODULE_OPEN_KEY_NOTOUCH
        | raw::REDISMODULE_OPEN_KEY_NONOTIFY
        | raw::REDISMODULE_OPEN_KEY_NOSTATS
        | raw::REDISMODULE_OPEN_KEY_NOEXPIRE;
    let name = create_string(key);
    // SAFETY: the module's context, on the main thread; the key is opened
    // for reading and closed before `name` is freed.
    let exists = unsafe {
        let handle = open(ctx.ctx, name, mode as c_int);
        let exists =
            !handle.is_null() && key_type(handle) as isize != raw::REDISMODULE_KEYTYPE_EMPTY;
        if !handle.is_null() {
            close(handle);
        }
        exists
    };
    free_string(name);
    select_db(&ctx, before);
    exists
}

/// Whether this server is a primary (not a replica), as its role is now.
pub fn is_primary() -> bool {
    let (Some(flags), ctx) = (api!(RedisModule_GetContextFlags), module_ctx()) else {
        return false;
    };
    // SAFETY: the module's context, on the main thread.
    !ctx.is_null() && unsafe { flags(ctx) } & raw::REDISMODULE_CTX_FLAGS_MASTER as c_int != 0
}
