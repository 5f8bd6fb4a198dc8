//! # Wasm Triggers for Redis
//!
//! A Redis module that runs keyspace triggers written as WebAssembly
//! components. Where an event goes, file by file:
//!
//! - `dispatch.rs`: the keyspace notification handler, the prefix and event
//!   filters, the owner's key permission, `on-fired` in the notification and
//!   `run` in a post-notification job;
//! - `command_budget.rs`: the time and payloads one command's triggers may
//!   take together; `busy.rs`: `-BUSY` for other clients while guests hold
//!   the server longer, and `TRIGGER KILL`;
//! - `registry.rs`: the loaded libraries and their triggers;
//! - `runtime.rs`: wasmtime, one store and instance per library, compiled
//!   first by the fast baseline compiler, then by Cranelift in the background;
//! - `code_cache.rs`: compiled code kept in memory and in `triggers-cache/`,
//!   so that a restart does not compile the libraries again;
//! - `persistence.rs`: the libraries saved in the RDB file (aux data) and
//!   loaded from it, data loads, and AOF rewrites;
//! - `host_api.rs`: what guests import (`call`, run as the library's owner,
//!   `log`, `report-panic`);
//! - `event_filter.rs`: event names and classes;
//! - `cluster.rs`: in a cluster, the same libraries on every node;
//! - `migration.rs`: in a cluster, slot migrations do not fire triggers;
//! - `commands.rs`: `TRIGGER LOAD | DELETE | LIST | HELP`, their ACL
//!   category, and their propagation to the AOF and replicas;
//! - `stats.rs`: per-trigger statistics and `INFO triggers`;
//! - `config.rs`: the limits on guests;
//! - `ticker.rs`: the epoch ticker behind the time limit;
//! - `wasi.rs`: the WASI guests get, in which nothing waits; `guest_log.rs`:
//!   what guests write to the Redis log, cut and rate-limited;
//! - `signals.rs`: wasmtime's trap handlers, kept in place when
//!   `CONFIG SET crash-log-enabled` reinstalls Redis' crash handler;
//! - `fuzzing.rs`: `TRIGGER LOAD`'s checks without a server, for the fuzz
//!   targets in `fuzz/`.
//!
//! The contract with guests is the WIT package in `wit/`.

use redis_module::configuration::ConfigurationFlags;
use redis_module::raw::ModuleOptions;
use redis_module::{redis_module, Context, RedisString, Status};

use config::LIMITS;
use persistence::TRIGGERS_TYPE;

mod busy;
mod cluster;
mod code_cache;
mod command_budget;
mod commands;
mod config;
mod dispatch;
mod event_filter;
#[doc(hidden)]
pub mod fuzzing;
mod guest_log;
mod host_api;
mod migration;
mod persistence;
mod registry;
mod runtime;
mod signals;
mod stats;
mod ticker;
mod wasi;

/// `MODULE LOAD`. Never panics into Redis: a panic refuses the load.
fn init(ctx: &Context, args: &[RedisString]) -> Status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_module(ctx, args)))
        .unwrap_or_else(|_| {
            host_api::redis_log(
                "warning",
                "internal error while loading the triggers module",
            );
            Status::Err
        })
}

fn load_module(ctx: &Context, args: &[RedisString]) -> Status {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy()).collect();
    if let Err(e) = config::apply_module_args(&args) {
        host_api::redis_log("warning", &e);
        return Status::Err;
    }
    // Build the engines now rather than on the first TRIGGER LOAD; a failure
    // refuses the load.
    let Ok(engines) = std::panic::catch_unwind(runtime::engines) else {
        host_api::redis_log("warning", "cannot create the WebAssembly engine");
        return Status::Err;
    };
    // wasmtime's trap handlers exist now; keep them if Redis replaces them.
    signals::save_wasmtime_handlers();
    if let Err(e) = ticker::start(engines) {
        host_api::redis_log("warning", &e);
        return Status::Err;
    }
    if let Err(e) = commands::register(ctx)
        .and_then(|()| persistence::init(ctx))
        .and_then(|()| cluster::init(ctx))
    {
        host_api::redis_log("warning", &e);
        return Status::Err;
    }
    // The aux data loader checks every read (`persistence.rs`): without
    // this, a module type would also turn off diskless replica loading.
    ctx.set_module_options(ModuleOptions::HANDLE_IO_ERRORS);
    if dispatch::init(ctx) == Status::Err {
        host_api::redis_log("warning", "cannot get a context for keyspace events");
        return Status::Err;
    }
    if let Err(e) = busy::init(ctx) {
        host_api::redis_log("warning", &e);
        return Status::Err;
    }
    config::check_node_timeout(ctx);
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
    data_types: [TRIGGERS_TYPE],
    init: init,
    deinit: deinit,
    // `CONFIG SET triggers.<name>` and `redis.conf`; `init` applies the
    // `MODULE LOAD` arguments. See `config.rs` (`config::LIMITS`).
    configurations: [
        i64: [
            [LIMITS[0].name, LIMITS[0].value, LIMITS[0].default, LIMITS[0].min, LIMITS[0].max, ConfigurationFlags::DEFAULT, Some(Box::new(config::on_time_limit_set))],
            [LIMITS[1].name, LIMITS[1].value, LIMITS[1].default, LIMITS[1].min, LIMITS[1].max, ConfigurationFlags::DEFAULT, None],
            [LIMITS[2].name, LIMITS[2].value, LIMITS[2].default, LIMITS[2].min, LIMITS[2].max, ConfigurationFlags::MEMORY, None],
            [LIMITS[3].name, LIMITS[3].value, LIMITS[3].default, LIMITS[3].min, LIMITS[3].max, ConfigurationFlags::MEMORY, None],
        ],
        // redis-module's macro wants every kind listed. Its own parsing of
        // module arguments does not take units nor name the bad argument:
        // `init` does it (`config::apply_module_args`).
        string: [],
        bool: [],
        enum: [],
        module_args_as_configuration: false,
    ]
}
