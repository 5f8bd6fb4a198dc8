//! Events: from a keyspace notification to the guest and back. The event,
//! borrowed as the notification brings it and owned when kept for later
//! (`event.rs`); the notification handler and the dispatch to the outbox
//! rules and triggers an event matches (`dispatch.rs`), the `run` job after the command (`run.rs`), the events
//! a guest's own calls raise (`guard.rs`), the time and payloads one
//! command's triggers share (`budget.rs`), `-BUSY` and `TRIGGER KILL` while
//! guests hold the server (`busy.rs`), slot migrations, which fire no
//! triggers and let no outbox event fall between two nodes (`migration.rs`
//! key by key, `atomic_migration.rs` whole slots, `slot_set.rs`),
//! events sent to the outbox by its rules (`to_outbox.rs`), and the values
//! removed keys held, read for the triggers that ask (`removed.rs`).
//!
//! It reads the registry (`library`) and calls guests through `wasm`; it
//! never changes the set of libraries, and knows nothing of how changes
//! travel to disk, replicas and other nodes.

use redis_module::{Context, ContextFlags};

use crate::server::ModuleOptions;

use crate::{library, server};

mod atomic_migration;
mod budget;
pub mod busy;
mod dispatch;
mod event;
mod guard;
mod here;
mod migration;
mod removed;
mod run;
mod slot_set;
mod to_outbox;

pub use budget::over_budget;
pub use migration::held as held_while_slots_move;
pub use removed::counts as removed_value_counts;

/// At `MODULE LOAD`: keyspace events go to the dispatch (once a library
/// needs them), Redis tells when it is back in its event loop, and in a
/// cluster, slot migrations are noted. Returns the module options (a
/// `ModuleOptions` bit set) this needs.
pub fn init(ctx: &Context) -> Result<ModuleOptions, String> {
    library::set_server_classes(server::raised_classes());
    server::set_keyspace_handler::<dispatch::Dispatch>();
    server::set_removal_handler(removed::on_key_removed);
    busy::init(ctx)?;
    if ctx.get_flags().contains(ContextFlags::CLUSTER) {
        return migration::init(ctx);
    }
    Ok(ModuleOptions::empty())
}
