//! Libraries: the registry of the loaded libraries and their triggers
//! (`registry.rs`, its state private behind its methods), building and
//! validating a library, the changes made to the set (by a client, another
//! node or a data load), and the triggers' statistics.
//!
//! Its files, from the bottom up (each uses only those before it):
//! `names.rs`, `event_filter.rs`, `stats.rs`, `rules.rs`, `saved.rs`,
//! `registry.rs`, `building.rs`, `prepare.rs`, `loading.rs`, `changes.rs`.
//!
//! Building a library compiles the component, instantiates it, asks it to
//! `describe` itself and validates the answer ([`building`]),
//! all without touching the registry or Redis: a library that fails any
//! step changes nothing. `REPLACE` swaps the whole library in one step, so
//! the old one keeps running if the new one fails.
//!
//! The registry lives on Redis' main thread (commands, keyspace
//! notifications and post-notification jobs all run there). It uses
//! `wasm`, `config` and `server`; it knows nothing of how events reach
//! triggers, nor of how changes travel to disk, replicas and other nodes.

use std::cell::RefCell;
use std::rc::Rc;

use redis_module::NotifyEvent;

use crate::wasm::LibraryInstance;

mod building;
mod changes;
mod event_filter;
mod loading;
mod names;
mod prepare;
mod registry;
mod rules;
mod saved;
pub mod stats;

pub use building::{check, Checked, EventNames};
pub use changes::{add_rule, apply, delete, delete_rule, load, Change};
pub use event_filter::{check_known as check_event_names, set_server_classes, EventFilter};
pub use loading::{loading_ended, loading_failed, loading_started, replace_all, stage};
pub use registry::{
    all, all_rules, counts, find, find_rule, next_version, set_digest, set_version, version,
    with_set,
};
pub use rules::{Rule, RuleSpec, RuleStats};
pub use saved::{SavedLibrary, SavedSet};
use stats::TriggerStats;

/// A loaded library: its code, its triggers and its live instance.
pub struct Library {
    pub name: String,
    /// The ACL user that loaded the library: its calls run as this user.
    pub owner: String,
    pub code: Vec<u8>,
    /// Its configuration from `TRIGGER LOAD … CONFIG`: a JSON object, or
    /// empty when none was given.
    pub config: String,
    /// SHA-256 of `code`, in hex.
    pub digest: String,
    pub triggers: Vec<Trigger>,
    pub instance: RefCell<LibraryInstance>,
}

impl Library {
    /// What it takes to load this library again (the RDB file, the AOF,
    /// replicas, other nodes).
    pub fn saved(&self) -> SavedLibrary {
        SavedLibrary {
            owner: self.owner.clone(),
            code: self.code.clone(),
            config: self.config.clone(),
        }
    }
}

/// One trigger of a library, as it declared itself in `describe`.
pub struct Trigger {
    pub name: String,
    /// What the trigger does, as the library says (`TRIGGER LIST`); empty
    /// for libraries built before descriptions existed.
    pub description: String,
    /// Position in the library's `describe` list: what the guest is called with.
    pub index: u32,
    pub prefix: Vec<u8>,
    /// The events as declared, for `TRIGGER LIST`.
    pub events: Vec<String>,
    pub filter: EventFilter,
    pub has_on_fired: bool,
    /// Whether it reads the value an event removed (`removed-value`).
    pub wants_removed_value: bool,
    pub stats: Rc<TriggerStats>,
}

impl Trigger {
    /// Whether this trigger fires for an event: the prefix and event filters,
    /// checked before any Wasm is entered.
    #[inline]
    pub fn matches(&self, kind: NotifyEvent, event: &str, key: &[u8]) -> bool {
        key.starts_with(&self.prefix) && self.filter.matches(kind, event)
    }
}

impl Library {
    /// The notification classes Redis must deliver for its triggers.
    pub fn notifications(&self) -> NotifyEvent {
        self.triggers
            .iter()
            .fold(NotifyEvent::empty(), |n, t| n | t.filter.notifications())
    }
}
