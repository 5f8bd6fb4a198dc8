//! Persistence: the loaded libraries are saved with the data and come back
//! with it.
//!
//! - `rdb.rs`: as RDB aux data, in every RDB file (`SAVE`/`BGSAVE`, `DEBUG
//!   RELOAD`, the RDB preamble of the AOF, a replica's full sync);
//! - `aof_rewrite.rs`: an AOF rewrite without the RDB preamble, which has
//!   no place for aux data, gets them as `TRIGGER LOAD` commands;
//! - here: data loads, followed from start to end, so that the set read
//!   from an RDB file replaces the loaded libraries only if the load
//!   succeeds.
//!
//! Libraries that the loaded data does not hold at all (an RDB file saved
//! without libraries, a full sync from a primary without them) are removed
//! once loading ends; an AOF without the RDB preamble holds its libraries
//! as `TRIGGER LOAD` and `TRIGGER DELETE` commands, replayed like any other
//! (after an RDB preamble, the first of them puts the preamble's set in
//! place before it applies). Triggers do not fire while data loads (see
//! `events/dispatch.rs`); the libraries' compiled code comes from the cache
//! when it can (`wasm/code_cache/`).
//!
//! Uses `library`, `replication`, `cluster` (whether the server is in one)
//! and `server`; no other part uses it but `lib.rs`.

use std::panic::catch_unwind;

use redis_module::server_events::LoadingSubevent;
use redis_module::Context;
use redis_module_macros::loading_event_handler;

use crate::library;
use crate::server::redis_log;

mod aof_rewrite;
mod rdb;

pub use aof_rewrite::init;
pub use rdb::TRIGGERS_TYPE;

/// Tells the registry when Redis loads data and how the load ended, so that
/// the set read from an RDB file replaces the loaded libraries only if the
/// load succeeds, and the libraries the data does not hold are dropped (see
/// `library/loading.rs`).
#[loading_event_handler]
fn on_loading(_ctx: &Context, event: LoadingSubevent) {
    let outcome = catch_unwind(|| match event {
        LoadingSubevent::RdbStarted
        | LoadingSubevent::AofStarted
        | LoadingSubevent::ReplStarted => library::loading_started(),
        LoadingSubevent::Ended => library::loading_ended(),
        LoadingSubevent::Failed => library::loading_failed(),
    });
    if outcome.is_err() {
        redis_log("warning", "internal error while following a data load");
    }
}
