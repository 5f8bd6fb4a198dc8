//! # Wasm Triggers for Redis
//!
//! A Redis module that runs keyspace triggers written as WebAssembly
//! components. Where an event goes, file by file:
//!
//! - [`dispatch`]: the keyspace notification handler, the prefix and event
//!   filters, `on-fired` in the notification and `run` in a
//!   post-notification job;
//! - [`registry`]: the loaded libraries and their triggers;
//! - [`runtime`]: wasmtime, one store and instance per library;
//! - [`host_api`]: what guests import (`call`, `log`, `report-panic`);
//! - [`event_filter`]: event names and classes;
//! - [`commands`]: `TRIGGER LOAD | DELETE | LIST | HELP`;
//! - [`stats`]: per-trigger statistics and `INFO triggers`;
//! - [`config`]: the limits on guests.
//!
//! The contract with guests is the WIT package in `wit/`.

use redis_module::{redis_module, Context, RedisString, Status};

mod commands;
mod config;
mod dispatch;
mod event_filter;
mod host_api;
mod registry;
mod runtime;
mod stats;

fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    // Build the engine now rather than on the first TRIGGER LOAD.
    let _ = runtime::engine();
    runtime::start_epoch_ticker();
    if dispatch::subscribe(ctx) == Status::Err {
        ctx.log_warning("cannot subscribe to keyspace events");
        return Status::Err;
    }
    Status::Ok
}

/// Unloading is refused: wasmtime's signal handlers and compiled code would
/// outlive the module's code.
fn deinit(ctx: &Context) -> Status {
    ctx.log_warning("the triggers module cannot be unloaded; restart the server instead");
    Status::Err
}

redis_module! {
    name: "triggers",
    version: 1,
    // The system allocator: wasmtime and its dependencies need over-aligned
    // allocations that Redis' allocator does not promise.
    allocator: (std::alloc::System, std::alloc::System),
    data_types: [],
    init: init,
    deinit: deinit,
    commands: [
        ["trigger", commands::trigger_command, "deny-script", 0, 0, 0, ""],
    ],
}
