//! `OUTBOX LIST`: the rules and their counters.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::commands::err;
use crate::library;
use crate::server::Reply;

pub(super) fn list(ctx: &Context, args: &[RedisString]) -> RedisResult {
    if !args.is_empty() {
        return Err(RedisError::WrongArity);
    }
    let rules = library::all_rules().map_err(err)?;
    let reply = Reply::new(ctx);
    reply.array(rules.len());
    for rule in &rules {
        let (spec, stats) = (&rule.spec, &rule.stats);
        reply.map(10);
        reply.field("name");
        reply.bulk(spec.name.as_bytes());
        reply.field("owner");
        reply.bulk(spec.owner.as_bytes());
        reply.field("prefix");
        reply.bulk(&spec.prefix);
        reply.field("events");
        reply.array(spec.events.len());
        for event in &spec.events {
            reply.bulk(event.as_bytes());
        }
        for (name, counter) in [
            ("num_matched", &stats.num_matched),
            ("num_appended", &stats.num_appended),
            ("num_dropped", &stats.num_dropped),
            ("num_failed", &stats.num_failed),
            ("num_denied", &stats.num_denied),
        ] {
            reply.field(name);
            reply.int(counter.get() as i64);
        }
        reply.field("last_error");
        match stats.last_error.borrow().as_deref() {
            Some(error) => reply.bulk(error.as_bytes()),
            None => reply.null(),
        }
    }
    Ok(RedisValue::NoReply)
}
