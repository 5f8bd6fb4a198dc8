//! `OUTBOX CONNECT` and `OUTBOX DISCONNECT`: this node's forwarder to
//! RabbitMQ goes on or pauses (`forward/`). Paused, the outbox keeps the
//! entries; a restart forwards again.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::commands::err;
use crate::forward;

pub(super) fn connect(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    if !forward::settings::Settings::now().enabled() {
        return Err(err("no broker: set triggers.amqp-url first"));
    }
    forward::connect();
    Ok(RedisValue::SimpleStringStatic("OK"))
}

pub(super) fn disconnect(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    forward::disconnect();
    Ok(RedisValue::SimpleStringStatic("OK"))
}
