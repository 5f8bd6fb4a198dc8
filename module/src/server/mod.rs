//! The server: the one door to the Redis module API. Only this part calls
//! it (`unsafe`, `raw::`, `extern "C"`: the rest of the module denies
//! unsafe code), and each of its unsafe blocks says why it is sound. It
//! offers the other parts safe wrappers, as redismodule-rs does its users:
//! the log, the module's own context and the context of a callback in
//! progress, tasks for the main thread, Redis strings, replies written
//! piece by piece, commands and their entry points, clients blocked until
//! their reply (unblocked on drop), `RM_Call`, ACL users, propagation to
//! the AOF and replicas, RDB aux data, the cluster bus, keyspace and server
//! events delivered to safe functions, the command filter, atomic slot
//! migrations as either server reports them, the value of a key about to
//! be removed (read and encoded in RESP3), and the process's signal
//! handlers.
//!
//! It holds no state of the product and knows nothing of Wasm, libraries or
//! triggers: it may not use any other part of the module.

/// A function of the Redis module API: `None` where this server lacks it.
macro_rules! api {
    ($name:ident) => {{
        // SAFETY: redis-module sets the API's function pointers once, in
        // `RedisModule_Init` at `MODULE LOAD`, before any of the module's
        // code runs; they are only read after.
        unsafe { redis_module::raw::$name }
    }};
}

mod acl;
mod aux_data;
mod blocked;
mod call;
mod cluster_bus;
mod command_filter;
mod commands;
mod context;
mod keys;
mod keyspace;
mod lifecycle;
mod log;
mod process;
mod removed_value;
mod replicate;
mod reply;
mod resp3_writer;
mod settings;
mod slot_migration;
mod streams;
mod strings;

pub use acl::{watch_acl_changes, CallbackString, KeyName, UserByName};
pub use aux_data::{aux_data_type, AuxData, AuxReader, AuxWriter};
pub use blocked::{BlockedClient, BlockedClientId, BlockedReply};
pub use call::{CallBuffers, CallFormats, CommandCall};
pub use cluster_bus::{
    other_cluster_nodes, receive_cluster_messages, send_cluster_message, NodeId, NODE_ID_LEN,
};
pub use command_filter::{set_command_filter, FilteredCommand};
pub(crate) use commands::command_entry;
pub use commands::{
    add_acl_category, create_command, current_user_name, run_command, CommandEntry, Subcommand,
};
use context::{deliver_server_event, subscribe_to_server_event};
pub use context::{init, module_ctx, run_on_main_thread, yield_to_clients, RedisCtx};
pub use keys::{
    db_size, is_primary, is_served_here, key_exists_in, select_db, selected_db, stream_last_id,
    stream_length, KeyLength,
};
pub use keyspace::{
    deliver_keyspace_events, deliver_removals, delivered_classes, keep_only_keyspace_events,
    raised_classes, set_keyspace_handler, set_removal_handler, KeyRemoval, KeyspaceHandler,
    RemovedKey,
};
pub use lifecycle::{on_before_sleep, on_fork_child_born, on_shutdown};
pub use log::redis_log;
pub use process::{effective_uid, release_free_heap, restore_fault_handlers, save_fault_handlers};
pub use redis_module::raw::ModuleOptions;
pub use removed_value::{RemovedValue, Withheld};
pub use replicate::{replicate, ReplicateTo};
pub use reply::{reply_guarded, Reply};
pub use settings::{config_get, server_info_unsigned, valkey_major_version};
pub use slot_migration::{follow_atomic_slot_migrations, open_slots, SlotMigration};
pub use streams::{stream_append, StreamAppend, Text};
pub use strings::{bytes_of, create_string, decimal, free_string};
