//! `OUTBOX CHANGED <epoch> <after>`: the outbox streams this node appended
//! to since a consumer last asked, so that it reads only those (see
//! `outbox/changes.rs`). `OUTBOX CHANGED 0 0` starts.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::commands::err;
use crate::outbox;
use crate::server::Reply;

/// Replies `epoch`, `last` (the next `<after>`) and `streams`: each
/// stream's `db`, `slot` and `stream`, or nil when `<epoch>` is not this
/// node's (the module restarted, or this is another node): then every
/// stream must be listed again with `OUTBOX STREAMS`.
pub(super) fn changed(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let [epoch, after] = args else {
        return Err(RedisError::WrongArity);
    };
    let number = |value: &RedisString, what: &str| {
        value
            .to_string_lossy()
            .parse::<u64>()
            .map_err(|_| err(format!("{what} must be a number")))
    };
    let since = outbox::since(
        number(epoch, "the epoch")?,
        number(after, "the append number")?,
    );
    let reply = Reply::new(ctx);
    reply.map(3);
    reply.field("epoch");
    reply.bulk(since.epoch.to_string().as_bytes());
    reply.field("last");
    reply.bulk(since.last.to_string().as_bytes());
    reply.field("streams");
    match &since.streams {
        None => reply.null(),
        Some(streams) => {
            reply.array(streams.len());
            for &(db, slot) in streams {
                reply.map(3);
                reply.field("db");
                reply.int(db as i64);
                reply.field("slot");
                reply.int(slot as i64);
                reply.field("stream");
                reply.bulk(&outbox::stream_key(slot));
            }
        }
    }
    Ok(RedisValue::NoReply)
}
