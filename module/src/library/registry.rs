//! The registry: the loaded libraries, sorted by name, and the version of
//! the set. Read by every event; its libraries change only in `changes.rs`
//! and `loading.rs`.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::rules::Rule;
use super::Library;
use crate::wasm::code_cache;

/// A set read from an RDB file, waiting for the end of the load
/// (`loading.rs`).
pub(super) struct Staged {
    pub(super) libraries: Vec<Rc<Library>>,
    pub(super) rules: Vec<Rc<Rule>>,
    pub(super) version: u64,
}

#[derive(Default)]
pub(super) struct Registry {
    /// Sorted by name.
    pub(super) libraries: Vec<Rc<Library>>,
    /// The outbox rules, sorted by name.
    pub(super) rules: Vec<Rc<Rule>>,
    /// While Redis loads data (see `loading.rs`): the names of the
    /// libraries loaded since it began.
    pub(super) loaded_while_loading: Option<HashSet<String>>,
    /// The same, for rules.
    pub(super) rules_loaded_while_loading: Option<HashSet<String>>,
    /// While Redis loads an RDB file: the set it holds, waiting for the
    /// load to succeed (see `loading.rs`).
    pub(super) staged: Option<Staged>,
    /// The version of the set of libraries: every change made by a client
    /// raises it, and it travels with the change (to the AOF, replicas and
    /// other cluster nodes) and with the set (in the RDB file). Cluster
    /// nodes compare it to find the newest set (`cluster/converge.rs`).
    pub(super) version: u64,
}

impl Registry {
    pub(super) fn note_loaded(&mut self, name: &str) {
        if let Some(loaded) = self.loaded_while_loading.as_mut() {
            loaded.insert(name.to_owned());
        }
    }

    pub(super) fn note_rule_loaded(&mut self, name: &str) {
        if let Some(loaded) = self.rules_loaded_while_loading.as_mut() {
            loaded.insert(name.to_owned());
        }
    }
}

thread_local! {
    pub(super) static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

pub(super) const BUSY: &str = "the trigger registry is busy (called from inside a trigger?)";

/// The version of the set of libraries (see `Registry::version`).
pub fn version() -> u64 {
    REGISTRY.with(|r| r.try_borrow().map_or(0, |r| r.version))
}

/// After a change made by a client: the set's new version.
pub fn next_version() -> u64 {
    REGISTRY.with(|r| match r.try_borrow_mut() {
        Ok(mut r) => {
            r.version += 1;
            r.version
        }
        Err(_) => 0,
    })
}

/// After a change or a set that came with its version (from the AOF, a
/// primary, another cluster node or an RDB file): the set is at least
/// that new, or exactly that version with `exact`.
pub fn set_version(version: u64, exact: bool) {
    REGISTRY.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            r.version = if exact {
                version
            } else {
                r.version.max(version)
            };
        }
    });
}

/// The SHA-256, in hex, of the set: each library's name, owner, code
/// digest and configuration, in name order, then each rule's name, owner,
/// prefix and events.
/// Two nodes with the same digest hold the same libraries and rules.
pub fn set_digest() -> String {
    REGISTRY.with(|r| {
        let mut hasher = Sha256::new();
        if let Ok(r) = r.try_borrow() {
            for l in &r.libraries {
                for field in [&l.name, &l.owner, &l.digest] {
                    hasher.update(field.as_bytes());
                    hasher.update([0]);
                }
                // Only when there is one: a set without configurations
                // keeps the digest older modules compute.
                if !l.config.is_empty() {
                    hasher.update(b"config\0");
                    hasher.update(l.config.as_bytes());
                    hasher.update([0]);
                }
            }
            for rule in &r.rules {
                let spec = &rule.spec;
                hasher.update(b"rule\0");
                for field in [spec.name.as_bytes(), spec.owner.as_bytes(), &spec.prefix] {
                    hasher.update((field.len() as u64).to_le_bytes());
                    hasher.update(field);
                }
                for event in &spec.events {
                    hasher.update(event.as_bytes());
                    hasher.update([0]);
                }
            }
        }
        code_cache::hex(&hasher.finalize())
    })
}

/// The library named `name`, if loaded.
pub fn find(name: &str) -> Result<Option<Rc<Library>>, String> {
    REGISTRY.with(|r| {
        let r = r.try_borrow().map_err(|_| BUSY.to_string())?;
        Ok(r.libraries
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| Rc::clone(&r.libraries[i])))
    })
}

/// Every loaded library, sorted by name.
pub fn all() -> Result<Vec<Rc<Library>>, String> {
    REGISTRY.with(|r| {
        let r = r.try_borrow().map_err(|_| BUSY.to_string())?;
        Ok(r.libraries.clone())
    })
}

/// How many libraries and triggers are loaded.
pub fn counts() -> (usize, usize) {
    REGISTRY.with(|r| match r.try_borrow() {
        Ok(r) => (
            r.libraries.len(),
            r.libraries.iter().map(|l| l.triggers.len()).sum(),
        ),
        Err(_) => (0, 0),
    })
}

/// The outbox rule named `name`, if any.
pub fn find_rule(name: &str) -> Result<Option<Rc<Rule>>, String> {
    REGISTRY.with(|r| {
        let r = r.try_borrow().map_err(|_| BUSY.to_string())?;
        Ok(r.rules
            .binary_search_by(|l| l.spec.name.as_str().cmp(name))
            .ok()
            .map(|i| Rc::clone(&r.rules[i])))
    })
}

/// Every outbox rule, sorted by name.
pub fn all_rules() -> Result<Vec<Rc<Rule>>, String> {
    REGISTRY.with(|r| {
        let r = r.try_borrow().map_err(|_| BUSY.to_string())?;
        Ok(r.rules.clone())
    })
}

/// Calls `f` with every loaded library and every outbox rule, without
/// cloning the lists. Used by the event dispatch on every keyspace event.
/// Does nothing if the registry is being changed.
#[inline]
pub fn with_set(f: impl FnOnce(&[Rc<Library>], &[Rc<Rule>])) {
    REGISTRY.with(|r| {
        if let Ok(r) = r.try_borrow() {
            f(&r.libraries, &r.rules)
        }
    })
}

/// Calls `f` with every loaded library, without cloning the list. Does
/// nothing if the registry is being changed.
#[inline]
pub fn with_libraries(f: impl FnOnce(&[Rc<Library>])) {
    REGISTRY.with(|r| {
        if let Ok(r) = r.try_borrow() {
            f(&r.libraries)
        }
    })
}
