//! Outbox rules: which keyspace events go to the outbox, declared with the
//! same filters as triggers (a key prefix; event names and `@classes`) and
//! no Wasm. Rules are part of the set, with the libraries: they are saved,
//! replicated and spread over a cluster the same way, under the same
//! version. Appending the entries is `outbox/`'s work.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use redis_module::NotifyEvent;

use super::event_filter::EventFilter;
use super::names::{valid_name, MAX_NAME_LEN};
use crate::wasm::{self, CallUser};

/// A rule as it is declared, saved and sent to other nodes.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RuleSpec {
    pub name: String,
    /// The ACL user that added it: it may only send events of keys that
    /// user may read.
    pub owner: String,
    pub prefix: Vec<u8>,
    /// Event names and classes; empty means `@all`.
    pub events: Vec<String>,
}

/// A rule in the registry.
pub struct Rule {
    pub spec: RuleSpec,
    pub filter: EventFilter,
    /// `spec.owner`, looked up for its key permissions.
    pub owner: RefCell<CallUser>,
    pub stats: Rc<RuleStats>,
}

impl Rule {
    /// Checks a rule's declaration. `previous` is the rule it replaces,
    /// whose counters carry over.
    pub(super) fn new(spec: RuleSpec, previous: Option<&Rule>) -> Result<Rule, String> {
        if !valid_name(&spec.name) {
            return Err(format!(
                "invalid rule name {:?}: use 1 to {MAX_NAME_LEN} characters from [A-Za-z0-9_]",
                spec.name
            ));
        }
        let filter =
            EventFilter::parse(&spec.events).map_err(|e| format!("rule '{}': {e}", spec.name))?;
        Ok(Rule {
            owner: RefCell::new(CallUser::new(&spec.owner)),
            stats: previous.map(|p| Rc::clone(&p.stats)).unwrap_or_default(),
            spec,
            filter,
        })
    }

    /// The notification classes Redis must deliver for the rule: those of
    /// its filter, and evictions, so that an evicted outbox stream is
    /// counted (see `outbox/append.rs`).
    pub fn notifications(&self) -> NotifyEvent {
        self.filter.notifications() | NotifyEvent::EVICTED
    }

    /// Whether an event goes to the outbox by this rule.
    #[inline]
    pub fn matches(&self, kind: NotifyEvent, event: &str, key: &[u8]) -> bool {
        key.starts_with(&self.spec.prefix) && self.filter.matches(kind, event)
    }
}

/// A rule's counters, shown by `OUTBOX LIST`. Main thread only.
#[derive(Default)]
pub struct RuleStats {
    /// Events that matched the rule.
    pub num_matched: Cell<u64>,
    /// Entries written to the outbox.
    pub num_appended: Cell<u64>,
    /// Entries not written because their stream was full of entries a
    /// consumer group had not acknowledged (see `outbox/append.rs`).
    pub num_dropped: Cell<u64>,
    /// Entries not written because the append failed (`last_error`).
    pub num_failed: Cell<u64>,
    /// Events of keys the rule's owner may not read.
    pub num_denied: Cell<u64>,
    pub last_error: RefCell<Option<String>>,
}

/// The longest `last_error` kept, in bytes.
const MAX_ERROR_BYTES: usize = 1024;

impl RuleStats {
    pub fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }

    pub fn set_last_error(&self, error: &str) {
        *self.last_error.borrow_mut() = Some(wasm::truncate(error, MAX_ERROR_BYTES));
    }
}
