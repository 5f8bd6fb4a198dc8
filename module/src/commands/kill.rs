//! `TRIGGER KILL`: allowed while the server is busy (see `events/busy.rs`).

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::events::busy;

pub(super) fn kill(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    if !busy::kill() {
        return Err(RedisError::Str("NOTBUSY No triggers are running."));
    }
    Ok(RedisValue::SimpleStringStatic("OK"))
}
