//! # Wasm Triggers for Redis
//!
//! A Redis module that runs keyspace triggers written as WebAssembly
//! components. The contract with guests is the WIT package in `wit/`.
//!
//! The module's parts, from the bottom up; each uses only the parts above
//! it in this list, and opens with what it owns and may not touch:
//!
//! - `server/`: the one door to the Redis module API, the only part with
//!   unsafe code: safe wrappers (the log, contexts, main-thread tasks,
//!   strings, replies, commands, blocked clients, `RM_Call`, ACL users,
//!   aux data, the cluster bus) and Redis' callbacks turned into safe
//!   functions (keyspace and server events, the command filter);
//! - `config.rs`: the limits on guests and other settings;
//! - `outbox/`: the outbox streams, one per hash slot, and appending to
//!   them;
//! - `wasm/`: wasmtime — engines and compiler tiers, the compiled-code
//!   cache, a library's store and instance, the host API and WASI guests
//!   get, the epoch ticker, signal handlers;
//! - `library/`: the registry of libraries and their triggers, and of
//!   outbox rules, building and validating a library, changes to the set,
//!   statistics;
//! - `events/`: keyspace notifications to guests and to the outbox, the
//!   time one command's triggers share, `-BUSY` and `TRIGGER KILL`, slot
//!   migrations;
//! - `forward/`: the forwarder to RabbitMQ, a thread of its own that reads
//!   the outbox streams with a consumer group (under the server lock, only
//!   the reads and acknowledgements) and publishes them with confirms;
//! - `replication.rs`, `cluster/`, `persistence/`: how a change to the set
//!   travels to replicas and the AOF, to other cluster nodes, and to disk;
//! - `commands/`: `TRIGGER` and `OUTBOX` and their subcommands, one file
//!   each, and `INFO triggers`;
//! - `fuzzing.rs`: `TRIGGER LOAD`'s checks without a server, for `fuzz/`.
//!
//! ## An event's path
//!
//! Redis raises a keyspace event → `events/dispatch.rs` (the registry's
//! triggers, `library/`: prefix and event filter, before any Wasm runs; the
//! owner's key permission; the command's time budget, `events/budget.rs`)
//! → `on-fired` inside the notification (`wasm/instance.rs`, under the
//! limits of `wasm/store.rs`) → `events/run.rs`, a post-notification job,
//! → `run`, whose `call`s (`wasm/host/call.rs`) write as the library's
//! owner, atomically with the command and replicated with it. An event an
//! outbox rule matches goes, from `events/to_outbox.rs`, to a job that
//! appends it to its slot's stream (`outbox/append.rs`), from which the
//! forwarder (`forward/`) publishes it to RabbitMQ.
//!
//! ## A change's path
//!
//! `TRIGGER LOAD` (`commands/load.rs`) → `library/` builds and validates
//! the library (`building.rs`), then puts it in the registry (`changes.rs`)
//! → `commands/change.rs` gives the set a new version and sends the change
//! on: to the AOF and replicas as a `TRIGGER` command (`replication.rs`),
//! or in a cluster to every other node (`cluster/spread.rs`, with
//! `cluster/converge.rs` for nodes that missed it). The set is saved in
//! every RDB file (`persistence/rdb.rs`) and in AOF rewrites
//! (`persistence/aof_rewrite.rs`), and comes back with the data
//! (`library/loading.rs`).

// Only `server/` calls into the Redis module API; every other part is safe
// Rust over its wrappers. (The one other unsafe call is wasmtime's, in
// `wasm/code_cache/file.rs`: loading compiled code from the cache.)
#![deny(unsafe_code)]

use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, Context, RedisString, Status};

use config::limits::{
    MAX_EXECUTION_TIME, MAX_LIBRARY_SIZE, MAX_MEMORY, MAX_PAYLOAD_SIZE, MAX_REMOVED_VALUE_SIZE,
    OUTBOX_MAX_LENGTH,
};
use persistence::TRIGGERS_TYPE;
use server::{redis_log, ModuleOptions};

mod cluster;
mod commands;
mod config;
mod events;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod library;
mod outbox;
mod persistence;
mod replication;
#[allow(unsafe_code)]
mod server;
mod wasm;

/// `MODULE LOAD`. Never panics into Redis: a panic refuses the load.
fn init(ctx: &Context, args: &[RedisString]) -> Status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_module(ctx, args)))
        .unwrap_or_else(|_| {
            redis_log(
                "warning",
                "internal error while loading the triggers module",
            );
            Status::Err
        })
}

fn load_module(ctx: &Context, args: &[RedisString]) -> Status {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy()).collect();
    if let [.., last] = &args[..] {
        if !args.len().is_multiple_of(2) {
            redis_log(
                "warning",
                &format!(
                    "module arguments come in pairs, a name and its value: '{last}' has no value"
                ),
            );
            return Status::Err;
        }
    }
    // The forwarder's settings (`amqp-…`) are its own; the rest are limits.
    let (amqp, limits): (Vec<&[String]>, Vec<&[String]>) = args
        .chunks(2)
        .partition(|pair| pair[0].to_ascii_lowercase().starts_with("amqp-"));
    let amqp: Vec<(String, String)> = amqp
        .iter()
        .filter_map(|pair| Some((pair[0].to_ascii_lowercase(), pair.get(1)?.clone())))
        .collect();
    let limits: Vec<String> = limits.concat();
    if let Err(e) = config::apply_module_args(&limits)
        .and_then(|()| forward::settings::apply_module_args(&amqp))
    {
        redis_log("warning", &e);
        return Status::Err;
    }
    // Build the engines now rather than on the first TRIGGER LOAD; a failure
    // refuses the load.
    let Ok(engines) = std::panic::catch_unwind(wasm::engines) else {
        redis_log("warning", "cannot create the WebAssembly engine");
        return Status::Err;
    };
    // wasmtime's trap handlers exist now; keep them if Redis replaces them.
    wasm::signals::save_wasmtime_handlers();
    if let Err(e) = wasm::ticker::start(engines) {
        redis_log("warning", &e);
        return Status::Err;
    }
    if let Err(e) = commands::register(ctx)
        .and_then(|()| persistence::init(ctx))
        .and_then(|()| cluster::init(ctx))
    {
        redis_log("warning", &e);
        return Status::Err;
    }
    let needed = match server::init(ctx).and_then(|()| events::init(ctx)) {
        Ok(needed) => needed,
        Err(e) => {
            redis_log("warning", &e);
            return Status::Err;
        }
    };
    // The aux data loader checks every read (`persistence/rdb.rs`): without
    // this, a module type would also turn off diskless replica loading.
    ctx.set_module_options(ModuleOptions::HANDLE_IO_ERRORS | needed);
    if let Err(e) = forward::init(ctx) {
        redis_log("warning", &e);
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
    // `MODULE LOAD` arguments. See `config.rs` (`config::limits`).
    configurations: [
        i64: [
            [MAX_EXECUTION_TIME.name, MAX_EXECUTION_TIME.value, MAX_EXECUTION_TIME.default, MAX_EXECUTION_TIME.min, MAX_EXECUTION_TIME.max, MAX_EXECUTION_TIME.flags(), Some(Box::new(config::on_time_limit_set))],
            [MAX_MEMORY.name, MAX_MEMORY.value, MAX_MEMORY.default, MAX_MEMORY.min, MAX_MEMORY.max, MAX_MEMORY.flags(), None],
            [MAX_PAYLOAD_SIZE.name, MAX_PAYLOAD_SIZE.value, MAX_PAYLOAD_SIZE.default, MAX_PAYLOAD_SIZE.min, MAX_PAYLOAD_SIZE.max, MAX_PAYLOAD_SIZE.flags(), None],
            [MAX_LIBRARY_SIZE.name, MAX_LIBRARY_SIZE.value, MAX_LIBRARY_SIZE.default, MAX_LIBRARY_SIZE.min, MAX_LIBRARY_SIZE.max, MAX_LIBRARY_SIZE.flags(), None],
            [OUTBOX_MAX_LENGTH.name, OUTBOX_MAX_LENGTH.value, OUTBOX_MAX_LENGTH.default, OUTBOX_MAX_LENGTH.min, OUTBOX_MAX_LENGTH.max, OUTBOX_MAX_LENGTH.flags(), None],
            [MAX_REMOVED_VALUE_SIZE.name, MAX_REMOVED_VALUE_SIZE.value, MAX_REMOVED_VALUE_SIZE.default, MAX_REMOVED_VALUE_SIZE.min, MAX_REMOVED_VALUE_SIZE.max, MAX_REMOVED_VALUE_SIZE.flags(), None],
            ["amqp-heartbeat", &forward::settings::HEARTBEAT, 30, 0, 3600, ConfigurationFlags::DEFAULT, None],
        ],
        // redis-module's macro wants every kind listed. Its own parsing of
        // module arguments does not take units nor name the bad argument:
        // `init` does it (`config::apply_module_args`).
        // The forwarder's (`forward/settings.rs`).
        string: [
            ["amqp-url", &forward::settings::URL, "", ConfigurationFlags::SENSITIVE, None],
            ["amqp-exchange", &forward::settings::EXCHANGE, "amq.direct", ConfigurationFlags::DEFAULT, None],
            ["amqp-routing-key", &forward::settings::ROUTING_KEY, "redis_keyspace_events", ConfigurationFlags::DEFAULT, None],
            ["amqp-rules", &forward::settings::RULES, "*", ConfigurationFlags::DEFAULT, None],
            ["amqp-tls-ca-file", &forward::settings::TLS_CA_FILE, "", ConfigurationFlags::DEFAULT, None],
            ["amqp-tls-cert-file", &forward::settings::TLS_CERT_FILE, "", ConfigurationFlags::DEFAULT, None],
            ["amqp-tls-key-file", &forward::settings::TLS_KEY_FILE, "", ConfigurationFlags::DEFAULT, None],
        ],
        bool: [],
        enum: [
            ["amqp-format", &forward::settings::FORMAT, forward::settings::Format::key_evt_amqp, ConfigurationFlags::DEFAULT, None],
            ["amqp-delivery-mode", &forward::settings::DELIVERY_MODE, forward::settings::DeliveryMode::persistent, ConfigurationFlags::DEFAULT, None],
        ],
        module_args_as_configuration: false,
    ]
}
