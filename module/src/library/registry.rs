//! The library registry: which libraries are loaded, with their triggers.
//!
//! Loading a library compiles the component, instantiates it, asks it to
//! `describe` itself and validates the answer, all before the registry is
//! touched: a library that fails any step changes nothing. `REPLACE` swaps
//! the whole library in one step, so the old one keeps running if the new
//! one fails.
//!
//! The registry lives on Redis' main thread (commands, keyspace
//! notifications and post-notification jobs all run there).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Instant;

use redis_module::NotifyEvent;
use sha2::{Digest, Sha256};

use crate::code_cache;
use crate::dispatch;
use crate::event_filter::EventFilter;
use crate::host_api::{self, redis_log};
use crate::runtime::{self, CompiledLibrary, LibraryInfo, LibraryInstance};
use crate::stats::TriggerStats;

mod loading;
pub use loading::SavedLibrary;
pub use loading::{loading_ended, loading_failed, loading_started, replace_all, stage};

/// Longest library or trigger name.
const MAX_NAME_LEN: usize = 128;

/// A loaded library: its code, its triggers and its live instance.
pub struct Library {
    pub name: String,
    /// The ACL user that loaded the library: its calls run as this user.
    pub owner: String,
    pub code: Vec<u8>,
    /// SHA-256 of `code`, in hex.
    pub digest: String,
    pub triggers: Vec<Trigger>,
    pub instance: RefCell<LibraryInstance>,
}

/// One trigger of a library, as it declared itself in `describe`.
pub struct Trigger {
    pub name: String,
    /// Position in the library's `describe` list: what the guest is called with.
    pub index: u32,
    pub prefix: Vec<u8>,
    /// The events as declared, for `TRIGGER LIST`.
    pub events: Vec<String>,
    pub filter: EventFilter,
    pub has_on_fired: bool,
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

#[derive(Default)]
struct Registry {
    /// Sorted by name.
    libraries: Vec<Rc<Library>>,
    /// While Redis loads data (see [`loading_started`]): the names of the
    /// libraries loaded since it began.
    loaded_while_loading: Option<HashSet<String>>,
    /// While Redis loads an RDB file: the set it holds, waiting for the
    /// load to succeed (see `loading.rs`).
    staged: Option<loading::Staged>,
    /// The version of the set of libraries: every change made by a client
    /// raises it, and it travels with the change (to the AOF, replicas and
    /// other cluster nodes) and with the set (in the RDB file). Cluster
    /// nodes compare it to find the newest set (`cluster.rs`).
    version: u64,
}

impl Registry {
    fn note_loaded(&mut self, name: &str) {
        if let Some(loaded) = self.loaded_while_loading.as_mut() {
            loaded.insert(name.to_owned());
        }
    }
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

const BUSY: &str = "the trigger registry is busy (called from inside a trigger?)";

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Turns what `describe` returned into triggers, or says what is wrong.
fn validate(
    info: LibraryInfo,
    previous: Option<&Library>,
) -> Result<(String, Vec<Trigger>), String> {
    if !valid_name(&info.name) {
        return Err(format!(
            "invalid library name {:?}: use 1 to {MAX_NAME_LEN} characters from [A-Za-z0-9_]",
            info.name
        ));
    }
    if info.triggers.is_empty() {
        return Err(format!("library '{}' declares no trigger", info.name));
    }
    let mut seen = HashSet::new();
    let mut triggers = Vec::with_capacity(info.triggers.len());
    for (index, t) in info.triggers.into_iter().enumerate() {
        if !valid_name(&t.name) {
            return Err(format!(
                "invalid trigger name {:?} in library '{}': use 1 to {MAX_NAME_LEN} characters \
                 from [A-Za-z0-9_]",
                t.name, info.name
            ));
        }
        if !seen.insert(t.name.clone()) {
            return Err(format!(
                "duplicate trigger name '{}' in library '{}'",
                t.name, info.name
            ));
        }
        let filter = EventFilter::parse(&t.events)
            .map_err(|e| format!("trigger '{}' of library '{}': {e}", t.name, info.name))?;
        // A trigger that survives an upgrade keeps its statistics.
        let stats = previous
            .and_then(|old| old.triggers.iter().find(|o| o.name == t.name))
            .map(|old| Rc::clone(&old.stats))
            .unwrap_or_default();
        triggers.push(Trigger {
            name: t.name,
            index: index as u32,
            prefix: t.prefix,
            events: t.events,
            filter,
            has_on_fired: t.has_on_fired,
            stats,
        });
    }
    Ok((info.name, triggers))
}

/// A library that compiled, instantiated, described itself and passed
/// validation: everything `TRIGGER LOAD` checks before it involves Redis.
pub(crate) struct Checked {
    pub name: String,
    pub triggers: Vec<Trigger>,
    pub instance: LibraryInstance,
}

/// Instantiates a compiled library, calls its `describe` and validates what
/// it declares; neither the registry nor Redis is changed (the fuzz targets
/// call this without a server, see `fuzzing.rs`). An existing library of the
/// same name is an error unless `replace` (its triggers' statistics carry
/// over).
pub(crate) fn check(compiled: CompiledLibrary, replace: bool) -> Result<Checked, String> {
    let mut instance = LibraryInstance::new(compiled, "(loading)")?;
    let info = instance.describe()?;
    let previous = find(&info.name)?;
    if previous.is_some() && !replace {
        return Err(format!(
            "library '{}' already exists: use TRIGGER LOAD REPLACE to upgrade it",
            info.name
        ));
    }
    let (name, triggers) = validate(info, previous.as_deref())?;
    Ok(Checked {
        name,
        triggers,
        instance,
    })
}

/// Compiles and checks `code` ([`check`]), then subscribes to the keyspace
/// events its triggers need; the registry is not changed. The library's
/// calls will run as the ACL user `owner`; `digest` is the code's.
fn build(code: Vec<u8>, digest: String, replace: bool, owner: &str) -> Result<Library, String> {
    let started = Instant::now();
    let compiled = runtime::compile(&code)?;
    let compiled_at = started.elapsed();
    let Checked {
        name,
        triggers,
        mut instance,
    } = check(compiled, replace)?;
    // Redis delivers only the classes of events that some trigger needs.
    let needed = triggers
        .iter()
        .fold(NotifyEvent::empty(), |n, t| n | t.filter.notifications());
    dispatch::subscribe_to(needed)?;
    instance.set_identity(&name, owner);
    instance.optimize(&code, optimized_code_ready);
    redis_log(
        "verbose",
        &format!(
            "built library '{name}' in {:.1} ms (compiled in {:.1} ms, {} code)",
            started.elapsed().as_secs_f64() * 1e3,
            compiled_at.as_secs_f64() * 1e3,
            instance.tier().name()
        ),
    );
    Ok(Library {
        name,
        owner: owner.to_owned(),
        code,
        digest,
        triggers,
        instance: RefCell::new(instance),
    })
}

/// `TRIGGER LOAD [REPLACE]` by the ACL user `owner`: returns the
/// library's name. With `replace`, loading a library that is already loaded
/// with the same code and owner changes nothing (a replica or a cluster
/// node can get the same change twice).
pub fn load(code: Vec<u8>, replace: bool, owner: &str) -> Result<String, String> {
    loading::commit_staged();
    let digest = digest(&code);
    if replace {
        let same = REGISTRY.with(|r| {
            let r = r.try_borrow().ok()?;
            r.libraries
                .iter()
                .find(|l| l.digest == digest && l.owner == owner)
                .map(|l| l.name.clone())
        });
        if let Some(name) = same {
            REGISTRY.with(|r| {
                if let Ok(mut r) = r.try_borrow_mut() {
                    r.note_loaded(&name);
                }
            });
            return Ok(name);
        }
    }
    let result = build(code, digest, replace, owner).and_then(|library| {
        let library = Rc::new(library);
        let name = library.name.clone();
        REGISTRY.with(|r| {
            let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
            match r.libraries.binary_search_by(|l| l.name.as_str().cmp(&name)) {
                Ok(i) => r.libraries[i] = library,
                Err(i) => r.libraries.insert(i, library),
            }
            r.note_loaded(&name);
            Ok(name)
        })
    });
    after_change(result.is_ok());
    result
}

/// Called on the compiler thread when a library's optimized code is ready:
/// asks Redis' main thread to switch the libraries to it between commands,
/// so that idle libraries do not keep both codes until their next event.
fn optimized_code_ready() {
    host_api::run_on_main_thread(switch_to_optimized_code);
}

/// On Redis' main thread: every library whose optimized code is ready
/// switches to it, and that code goes to the on-disk cache.
fn switch_to_optimized_code() {
    with_libraries(|libraries| {
        for library in libraries {
            if let Ok(mut instance) = library.instance.try_borrow_mut() {
                instance.switch_to_optimized_code();
            }
        }
    });
    after_change(false);
}

/// A change to the set of libraries, as it travels to the AOF, to replicas
/// and to other cluster nodes.
#[derive(Clone, Debug, bincode::Encode, bincode::Decode)]
pub enum Change {
    Load { owner: String, code: Vec<u8> },
    Delete { name: String },
}

/// Applies a change that was made elsewhere (on another cluster node):
/// loading replaces, and deleting a library that is not there is done
/// already.
pub fn apply(change: &Change) -> Result<(), String> {
    match change {
        Change::Load { owner, code } => load(code.clone(), true, owner).map(|_| ()),
        Change::Delete { name } => match find(name)? {
            Some(_) => delete(name),
            None => Ok(()),
        },
    }
}

/// `TRIGGER DELETE`.
pub fn delete(name: &str) -> Result<(), String> {
    loading::commit_staged();
    REGISTRY.with(|r| -> Result<(), String> {
        let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
        match r.libraries.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) => {
                r.libraries.remove(i);
                if let Some(loaded) = r.loaded_while_loading.as_mut() {
                    loaded.remove(name);
                }
                Ok(())
            }
            Err(_) => Err(format!("no library named '{name}'")),
        }
    })?;
    after_change(true);
    Ok(())
}

/// After the libraries or their code changed (`changed` when the change
/// succeeded): the compiled-code cache keeps what the loaded libraries use
/// (see [`code_cache::retain`]), and the memory compiling freed goes back
/// to the system, once per change rather than once per library.
fn after_change(changed: bool) {
    REGISTRY.with(|r| {
        if let Ok(r) = r.try_borrow() {
            let loaded: Vec<&str> = r.libraries.iter().map(|l| l.digest.as_str()).collect();
            code_cache::retain(&loaded, changed);
        }
    });
    host_api::release_free_memory();
}

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

/// The SHA-256, in hex, of the set of libraries: each library's name,
/// owner and code digest, in name order. Two nodes with the same digest
/// hold the same libraries.
pub fn set_digest() -> String {
    REGISTRY.with(|r| {
        let mut hasher = Sha256::new();
        if let Ok(r) = r.try_borrow() {
            for l in &r.libraries {
                for field in [&l.name, &l.owner, &l.digest] {
                    hasher.update(field.as_bytes());
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

/// Calls `f` with every loaded library, without cloning the list. Used by
/// the event dispatch on every keyspace event. Does nothing if the registry
/// is being changed.
#[inline]
pub fn with_libraries(f: impl FnOnce(&[Rc<Library>])) {
    REGISTRY.with(|r| {
        if let Ok(r) = r.try_borrow() {
            f(&r.libraries)
        }
    })
}

/// The SHA-256 of a library's code, in hex.
fn digest(code: &[u8]) -> String {
    code_cache::hex(&Sha256::digest(code))
}
