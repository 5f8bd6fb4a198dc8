//! Stream entries appended in place (`RM_StreamAdd`), without running a
//! command, and propagated as the `XADD` of a client would be.

use std::cell::RefCell;
use std::os::raw::{c_char, c_int};

use redis_module::{raw, Context};

use super::{create_string, decimal, free_string};

/// A field's name or value.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// Text many entries repeat (a field's name, an event's, a rule's): its
    /// Redis string is made once and kept.
    Shared(&'a [u8]),
    /// Text of this entry only (a key, a time).
    Own(&'a [u8]),
}

/// Slots for shared texts: each text has one, by a cheap hash; a text whose
/// slot another holds is made each time.
const SHARED_SLOTS: usize = 64;

type Slot = Option<(Box<[u8]>, *mut raw::RedisModuleString)>;

thread_local! {
    /// The Redis strings of shared texts, on the main thread; kept for the
    /// life of the process, never freed.
    static SHARED: RefCell<[Slot; SHARED_SLOTS]> = const { RefCell::new([const { None }; SHARED_SLOTS]) };
}

/// Redis strings holding `texts`, and whether the caller must free each:
/// the shared ones looked up in one borrow of the table.
fn strings_of(texts: &[Text]) -> (Vec<*mut raw::RedisModuleString>, Vec<bool>) {
    let mut strings = Vec::with_capacity(texts.len());
    let mut owned = Vec::with_capacity(texts.len());
    SHARED.with_borrow_mut(|shared| {
        for &text in texts {
            let (string, own) = string_of(shared, text);
            strings.push(string);
            owned.push(own);
        }
    });
    (strings, owned)
}

/// A Redis string holding `text`, and whether the caller must free it.
fn string_of(shared: &mut [Slot; SHARED_SLOTS], text: Text) -> (*mut raw::RedisModuleString, bool) {
    let bytes = match text {
        Text::Own(bytes) => return (create_string(bytes), true),
        Text::Shared(bytes) => bytes,
    };
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return (create_string(bytes), true);
    };
    let slot = (bytes.len() * 31 + first as usize * 7 + last as usize) % SHARED_SLOTS;
    match &shared[slot] {
        Some((held, string)) if **held == *bytes => (*string, false),
        Some(_) => (create_string(bytes), true),
        None => {
            let string = create_string(bytes);
            shared[slot] = Some((bytes.into(), string));
            (string, false)
        }
    }
}

/// What [`stream_append`] did.
pub enum StreamAppend {
    /// Added, with this id (`ms`, `seq`).
    Added(u64, u64),
    /// Not added: the stream holds this many entries, `max_length` or more.
    Full(usize),
    /// Not added: the key holds another type.
    NotAStream,
    /// Not added: the server refused it (the last id is taken, or an
    /// element is too large), with `errno`'s text.
    Refused(String),
}

/// Appends an entry with the fields `fields` (names and values, one after
/// the other) and an id the server chooses to the stream `key` in the
/// database selected in `ctx`, creating it if it is missing, unless it
/// holds `max_length` entries or more. As `XADD` does, it then signals the
/// key as modified (`WATCH`, client tracking), raises the `xadd` keyspace
/// event and propagates `XADD key <id> fields…` to the AOF and replicas,
/// with the command in progress (in its `MULTI`/`EXEC`).
///
/// `ctx` must be the context of a callback in progress on the main thread
/// that may write: a command or a post-notification job.
pub fn stream_append(
    ctx: &Context,
    key: &[u8],
    max_length: usize,
    fields: &[Text],
) -> StreamAppend {
    let (Some(open), Some(key_type), Some(length), Some(add), Some(close)) = (
        api!(RedisModule_OpenKey),
        api!(RedisModule_KeyType),
        api!(RedisModule_ValueLength),
        api!(RedisModule_StreamAdd),
        api!(RedisModule_CloseKey),
    ) else {
        return StreamAppend::Refused("the server has no stream API for modules".into());
    };
    let name = create_string(key);
    let (mut values, owned) = strings_of(fields);
    // SAFETY: `ctx` is the context of the callback in progress (the
    // caller's promise); the key is opened for writing and closed before
    // `name` is freed; `values` holds `fields.len()` strings that live
    // until the end of this function, and `RM_StreamAdd` copies them.
    let appended = unsafe {
        let handle = open(
            ctx.ctx,
            name,
            (raw::REDISMODULE_READ | raw::REDISMODULE_WRITE) as c_int,
        );
        let appended = if handle.is_null() {
            StreamAppend::Refused("the key could not be opened for writing".into())
        } else {
            let entries = match key_type(handle) as isize {
                raw::REDISMODULE_KEYTYPE_EMPTY => Some(0),
                raw::REDISMODULE_KEYTYPE_STREAM => Some(length(handle)),
                _ => None,
            };
            match entries {
                None => StreamAppend::NotAStream,
                Some(entries) if entries >= max_length => StreamAppend::Full(entries),
                Some(_) => {
                    let mut id = raw::RedisModuleStreamID { ms: 0, seq: 0 };
                    let added = add(
                        handle,
                        raw::REDISMODULE_STREAM_ADD_AUTOID as c_int,
                        &mut id,
                        values.as_mut_ptr(),
                        (values.len() / 2) as std::os::raw::c_long,
                    );
                    if added == raw::REDISMODULE_OK as c_int {
                        StreamAppend::Added(id.ms, id.seq)
                    } else {
                        StreamAppend::Refused(std::io::Error::last_os_error().to_string())
                    }
                }
            }
        };
        if !handle.is_null() {
            close(handle);
        }
        appended
    };
    if let StreamAppend::Added(ms, seq) = appended {
        announce(ctx.ctx, name, ms, seq, &mut values);
    }
    for (value, owned) in values.into_iter().zip(owned) {
        if owned {
            free_string(value);
        }
    }
    free_string(name);
    appended
}

/// What `XADD` does after it added an entry: the key signalled as
/// modified, the `xadd` event, the command propagated with its id.
fn announce(
    ctx: *mut raw::RedisModuleCtx,
    name: *mut raw::RedisModuleString,
    ms: u64,
    seq: u64,
    values: &mut [*mut raw::RedisModuleString],
) {
    let mut id = [0; 41];
    let mut buf = [0; 20];
    let ms = decimal(ms, &mut buf);
    id[..ms.len()].copy_from_slice(ms);
    id[ms.len()] = b'-';
    let length = ms.len() + 1;
    let seq = decimal(seq, &mut buf);
    id[length..length + seq.len()].copy_from_slice(seq);
    let id = &id[..length + seq.len()];
    // SAFETY: `ctx` is the caller's context of a callback in progress;
    // `name` and `values` are live strings; the format "sbv" takes a
    // string, a buffer with its length and an array of strings with its
    // length, and the arguments given match it. Each function copies or
    // retains what it keeps.
    unsafe {
        if let Some(signal) = raw::RedisModule_SignalModifiedKey {
            signal(ctx, name);
        }
        if let Some(notify) = raw::RedisModule_NotifyKeyspaceEvent {
            notify(
                ctx,
                raw::REDISMODULE_NOTIFY_STREAM as c_int,
                c"xadd".as_ptr(),
                name,
            );
        }
        if let Some(replicate) = raw::RedisModule_Replicate {
            replicate(
                ctx,
                c"XADD".as_ptr(),
                c"sbv".as_ptr(),
                name,
                id.as_ptr() as *const c_char,
                id.len(),
                values.as_mut_ptr(),
                values.len(),
            );
        }
    }
}
