//! `OUTBOX STREAMS`: the outbox streams this node holds, with entries: for
//! each, its database, slot, name, length and the id of its last entry.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::outbox;
use crate::server::{config_get, Reply};

pub(super) fn streams(ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    let streams = outbox::non_empty(ctx, databases(ctx));
    let reply = Reply::new(ctx);
    reply.array(streams.len());
    for stream in &streams {
        reply.map(5);
        reply.field("db");
        reply.int(stream.db as i64);
        reply.field("slot");
        reply.int(stream.slot as i64);
        reply.field("stream");
        reply.bulk(&stream.key);
        reply.field("length");
        reply.int(stream.length as i64);
        reply.field("last_id");
        reply.bulk(stream.last_id.as_bytes());
    }
    Ok(RedisValue::NoReply)
}

/// The server's number of databases (`databases`).
fn databases(ctx: &Context) -> i32 {
    config_get(ctx, "databases")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
