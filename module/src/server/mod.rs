//! The server: a thin layer of safe wrappers over the Redis module API,
//! which the rest of the module goes through for what several parts need —
//! the log, the module's own context and the context of a callback in
//! progress, tasks for the main thread, Redis strings, replies written
//! piece by piece, subscriptions to keyspace and server events, atomic
//! slot migrations as either server reports them, and the value of a key
//! about to be removed, read and encoded in RESP3.
//!
//! It holds no state of the product and knows nothing of Wasm, libraries or
//! triggers: it may not use any other part of the module.

mod command_filter;
mod context;
mod keys;
mod keyspace;
mod log;
mod removed_value;
mod reply;
mod resp3_writer;
mod settings;
mod slot_migration;
mod streams;
mod strings;

pub use command_filter::{set_command_filter, FilteredCommand};
pub use context::{
    deliver_server_event, init, module_ctx, run_on_main_thread, subscribe_to_server_event,
    RedisCtx, ServerEventHandler,
};
pub use keys::{
    db_size, is_primary, is_served_here, key_exists_in, select_db, selected_db, stream_last_id,
    stream_length, KeyLength,
};
pub use keyspace::{
    deliver_keyspace_events, deliver_removals, delivered_classes, keep_only_keyspace_events,
    raised_classes, set_keyspace_handler, set_removal_handler,
};
pub use log::redis_log;
pub use removed_value::{
    is_emptied as removed_value_is_emptied, read as read_removed_value, RemovedValue, Withheld,
};
pub use reply::{reply_guarded, Reply};
pub use settings::{config_get, valkey_major_version};
pub use slot_migration::{follow_atomic_slot_migrations, open_slots, SlotMigration};
pub use streams::{stream_append, StreamAppend, Text};
pub use strings::{bytes_of, create_string, decimal, free_string};
