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

/// The registry's state, changed only through its methods.
pub(super) struct Registry {
    /// Sorted by name.
    libraries: Vec<Rc<Library>>,
    /// The outbox rules, sorted by name.
    rules: Vec<Rc<Rule>>,
    /// While Redis loads data (see `loading.rs`): the names of the
    /// libraries loaded since it began.
    loaded_while_loading: Option<HashSet<String>>,
    /// The same, for rules.
    rules_loaded_while_loading: Option<HashSet<String>>,
    /// While Redis loads an RDB file: the set it holds, waiting for the
    /// load to succeed (see `loading.rs`).
    staged: Option<Staged>,
    /// The version of the set of libraries: every change made by a client
    /// raises it, and it travels with the change (to the AOF, replicas and
    /// other cluster nodes) and with the set (in the RDB file). Cluster
    /// nodes compare it to find the newest set (`cluster/converge.rs`).
    version: u64,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const { RefCell::new(Registry::new()) };
}

/// Reads the registry; an error while it is being changed.
pub(super) fn read<T>(f: impl FnOnce(&Registry) -> T) -> Result<T, String> {
    REGISTRY.with(|r| Ok(f(&*r.try_borrow().map_err(|_| BUSY.to_string())?)))
}

/// Changes the registry; an error while it is borrowed (by a trigger in
/// progress that called back into the module).
pub(super) fn change<T>(f: impl FnOnce(&mut Registry) -> T) -> Result<T, String> {
    REGISTRY.with(|r| Ok(f(&mut *r.try_borrow_mut().map_err(|_| BUSY.to_string())?)))
}

impl Registry {
    const fn new() -> Self {
        Registry {
            libraries: Vec::new(),
            rules: Vec::new(),
            loaded_while_loading: None,
            rules_loaded_while_loading: None,
            staged: None,
            version: 0,
        }
    }

    pub(super) fn libraries(&self) -> &[Rc<Library>] {
        &self.libraries
    }

    pub(super) fn rules(&self) -> &[Rc<Rule>] {
        &self.rules
    }

    /// The name of the library loaded with this code, owner and
    /// configuration, if any.
    pub(super) fn same_library(&self, digest: &str, owner: &str, config: &str) -> Option<String> {
        self.libraries
            .iter()
            .find(|l| l.digest == digest && l.owner == owner && l.config == config)
            .map(|l| l.name.clone())
    }

    /// Puts `library` in, in place of the one of the same name if any.
    pub(super) fn put_library(&mut self, library: Rc<Library>) {
        note(&mut self.loaded_while_loading, &library.name);
        put(&mut self.libraries, library, library_name);
    }

    pub(super) fn remove_library(&mut self, name: &str) -> Result<(), String> {
        if !remove(
            &mut self.libraries,
            &mut self.loaded_while_loading,
            name,
            library_name,
        ) {
            return Err(format!("no library named '{name}'"));
        }
        Ok(())
    }

    /// Puts `rule` in, in place of the one of the same name if any.
    pub(super) fn put_rule(&mut self, rule: Rc<Rule>) {
        note(&mut self.rules_loaded_while_loading, &rule.spec.name);
        put(&mut self.rules, rule, rule_name);
    }

    pub(super) fn remove_rule(&mut self, name: &str) -> Result<(), String> {
        if !remove(
            &mut self.rules,
            &mut self.rules_loaded_while_loading,
            name,
            rule_name,
        ) {
            return Err(format!("no outbox rule named '{name}'"));
        }
        Ok(())
    }

    /// Replaces the whole set (noting each as loaded while data loads).
    pub(super) fn replace(&mut self, libraries: Vec<Rc<Library>>, rules: Vec<Rc<Rule>>) {
        for library in &libraries {
            self.note_loaded(&library.name);
        }
        for rule in &rules {
            self.note_rule_loaded(&rule.spec.name);
        }
        self.libraries = libraries;
        self.rules = rules;
    }

    /// Redis starts loading data: from now on, what is loaded is noted.
    pub(super) fn start_loading(&mut self) {
        self.loaded_while_loading = Some(HashSet::new());
        self.rules_loaded_while_loading = Some(HashSet::new());
        self.staged = None;
    }

    /// Stages a set read from an RDB file; true while data loads.
    pub(super) fn stage(&mut self, staged: Staged) -> bool {
        self.staged = Some(staged);
        self.loaded_while_loading.is_some()
    }

    /// Puts the staged set, if any, in place, with its version; true if
    /// there was one.
    pub(super) fn commit_staged(&mut self) -> bool {
        let Some(Staged {
            libraries,
            rules,
            version,
        }) = self.staged.take()
        else {
            return false;
        };
        self.replace(libraries, rules);
        self.version = version;
        true
    }

    /// The data is loaded: the libraries and rules it did not hold are
    /// removed, and returned.
    pub(super) fn end_loading(&mut self) -> (Vec<Rc<Library>>, Vec<Rc<Rule>>) {
        let mut removed_rules = Vec::new();
        if let Some(loaded) = self.rules_loaded_while_loading.take() {
            let (kept, removed) = std::mem::take(&mut self.rules)
                .into_iter()
                .partition(|l| loaded.contains(&l.spec.name));
            self.rules = kept;
            removed_rules = removed;
        }
        let Some(loaded) = self.loaded_while_loading.take() else {
            return (Vec::new(), removed_rules);
        };
        let (kept, removed) = std::mem::take(&mut self.libraries)
            .into_iter()
            .partition(|l| loaded.contains(&l.name));
        self.libraries = kept;
        (removed, removed_rules)
    }

    /// Loading failed: the staged set is dropped; returns how many
    /// libraries it had.
    pub(super) fn fail_loading(&mut self) -> Option<usize> {
        self.loaded_while_loading = None;
        self.rules_loaded_while_loading = None;
        self.staged.take().map(|s| s.libraries.len())
    }

    /// While data loads: the library `name` is noted as loaded.
    pub(super) fn note_loaded(&mut self, name: &str) {
        note(&mut self.loaded_while_loading, name);
    }

    fn note_rule_loaded(&mut self, name: &str) {
        note(&mut self.rules_loaded_while_loading, name);
    }
}

fn library_name(library: &Library) -> &str {
    &library.name
}

fn rule_name(rule: &Rule) -> &str {
    &rule.spec.name
}

/// Where `name` is, or would go, in `list`, sorted by `name_of`.
fn position<T>(list: &[Rc<T>], name: &str, name_of: fn(&T) -> &str) -> Result<usize, usize> {
    list.binary_search_by(|item| name_of(item).cmp(name))
}

/// The item named `name` in `list`, if any.
fn find_in<T>(list: &[Rc<T>], name: &str, name_of: fn(&T) -> &str) -> Option<Rc<T>> {
    position(list, name, name_of)
        .ok()
        .map(|i| Rc::clone(&list[i]))
}

/// Puts `item` in `list`, in place of the one of the same name if any.
fn put<T>(list: &mut Vec<Rc<T>>, item: Rc<T>, name_of: fn(&T) -> &str) {
    match position(list, name_of(&item), name_of) {
        Ok(i) => list[i] = item,
        Err(i) => list.insert(i, item),
    }
}

/// Takes the item named `name` out of `list`, and of the names `loaded`
/// while data loads; false if there is none.
fn remove<T>(
    list: &mut Vec<Rc<T>>,
    loaded: &mut Option<HashSet<String>>,
    name: &str,
    name_of: fn(&T) -> &str,
) -> bool {
    let Ok(i) = position(list, name, name_of) else {
        return false;
    };
    list.remove(i);
    if let Some(loaded) = loaded.as_mut() {
        loaded.remove(name);
    }
    true
}

/// While data loads (`loaded` is a set): `name` is noted as loaded.
fn note(loaded: &mut Option<HashSet<String>>, name: &str) {
    if let Some(loaded) = loaded.as_mut() {
        loaded.insert(name.to_owned());
    }
}

const BUSY: &str = "the trigger registry is busy (called from inside a trigger?)";

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
    read(|r| find_in(&r.libraries, name, library_name))
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
    read(|r| find_in(&r.rules, name, rule_name))
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
