//! The benchmark's native baseline: what the `last_updated` example trigger
//! does, written as a plain Rust Redis module with no Wasm in between.
//!
//! On every hash event it schedules a post-notification job that calls
//! `TYPE key`, `TIME` and `HSET key __last_updated__ <seconds>`, with the
//! same `RM_Call` flags the Wasm host uses (errors as replies, script mode,
//! RESP3, replicate). This is the physical limit of the approach: a Wasm
//! trigger can only add cost on top of it.

use std::cell::Cell;

use redis_module::{
    redis_module, CallOptionResp, CallOptions, CallOptionsBuilder, CallReply, CallResult, Context,
    NotifyEvent, Status,
};

thread_local! {
    /// Set while our own job runs, so the `HSET` it makes does not schedule
    /// another job (the same per-execution guard the Wasm host uses).
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

fn on_hash_event(ctx: &Context, _kind: NotifyEvent, _event: &str, key: &[u8]) {
    if IN_JOB.get() {
        return;
    }
    let key = key.to_vec();
    // Refused while loading and on replicas: nothing to stamp there.
    let _ = ctx.add_post_notification_job(move |ctx| {
        IN_JOB.set(true);
        stamp(ctx, &key);
        IN_JOB.set(false);
    });
}

fn options() -> CallOptions {
    CallOptionsBuilder::new()
        .errors_as_replies()
        .script_mode()
        .resp(CallOptionResp::Resp3)
        .replicate()
        .build()
}

fn stamp(ctx: &Context, key: &[u8]) {
    let options = options();
    let key_type: CallResult = ctx.call_ext("TYPE", &options, &[key]);
    let is_hash = matches!(&key_type, Ok(CallReply::String(s)) if s.as_bytes() == b"hash");
    if !is_hash {
        return;
    }
    let time: CallResult = ctx.call_ext("TIME", &options, &[] as &[&[u8]]);
    let seconds = match &time {
        Ok(CallReply::Array(a)) => match a.get(0) {
            Some(Ok(CallReply::String(s))) => s.to_string().unwrap_or_default(),
            _ => return,
        },
        _ => return,
    };
    let _: CallResult = ctx.call_ext(
        "HSET",
        &options,
        &[key, b"__last_updated__".as_slice(), seconds.as_bytes()],
    );
}

fn init(_ctx: &Context, _args: &[redis_module::RedisString]) -> Status {
    Status::Ok
}

redis_module! {
    name: "native_last_updated",
    version: 1,
    allocator: (redis_module::alloc::RedisAlloc, redis_module::alloc::RedisAlloc),
    data_types: [],
    init: init,
    commands: [],
    event_handlers: [
        [@HASH: on_hash_event],
    ]
}
