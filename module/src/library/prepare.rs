//! A built library made ready for the registry, and what follows every
//! change of the registry: the compiled-code cache, the switch to
//! optimized code, the memory compiling freed.

use redis_module::NotifyEvent;

use super::building::{build, EventNames};
use super::registry::{self, with_libraries};
use super::saved::SavedLibrary;
use super::Library;
use crate::server;
use crate::wasm::{self, code_cache};

/// Builds a library ([`build`]) and makes it ready to go in the registry:
/// Redis delivers the keyspace events its triggers need (only the classes
/// some trigger needs), and Cranelift starts compiling its optimized code.
/// The registry is not changed.
pub(super) fn prepare(
    saved: SavedLibrary,
    digest: String,
    replace: bool,
    names: EventNames,
) -> Result<Library, String> {
    let library = build(saved, digest, replace, names)?;
    server::deliver_keyspace_events(library.notifications())?;
    if let Ok(mut instance) = library.instance.try_borrow_mut() {
        instance.optimize(&library.code, optimized_code_ready);
    }
    Ok(library)
}

/// Called on the compiler thread when a library's optimized code is ready:
/// asks Redis' main thread to switch the libraries to it between commands,
/// so that idle libraries do not keep both codes until their next event.
fn optimized_code_ready() {
    server::run_on_main_thread(switch_to_optimized_code);
}

/// On Redis' main thread: every library whose optimized code is ready
/// switches to it, and that code goes to the on-disk cache.
pub(super) fn switch_to_optimized_code() {
    with_libraries(|libraries| {
        for library in libraries {
            if let Ok(mut instance) = library.instance.try_borrow_mut() {
                instance.switch_to_optimized_code();
            }
        }
    });
    after_change(false);
}

/// After the libraries or their code changed (`changed` when the change
/// succeeded): the compiled-code cache keeps what the loaded libraries use
/// (see [`code_cache::retain`]), Redis tells of removed values while a
/// trigger reads them, keyspace events no trigger or rule needs any more
/// stop (where the server can take them back), owners are kept between
/// events while there are any, and the memory compiling
/// freed goes back to the system, once per change rather than once per
/// library.
pub(super) fn after_change(changed: bool) {
    let _ = registry::read(|r| {
        let loaded: Vec<&str> = r.libraries().iter().map(|l| l.digest.as_str()).collect();
        code_cache::retain(&loaded, changed);
        let mut triggers = r.libraries().iter().flat_map(|l| &l.triggers);
        let wanted = triggers.any(|t| t.wants_removed_value);
        if let Err(error) = server::deliver_removals(wanted) {
            server::redis_log(
                "warning",
                &format!("removed values cannot be read: {error}"),
            );
        }
        let needed = r
            .libraries()
            .iter()
            .map(|l| l.notifications())
            .chain(r.rules().iter().map(|rule| rule.notifications()))
            .fold(NotifyEvent::empty(), |all, n| all | n);
        // The owners of libraries and rules are kept between events while
        // a filter watches for ACL changes (`server/acl.rs`).
        let owners = !r.libraries().is_empty() || !r.rules().is_empty();
        if let Err(error) = server::watch_acl_changes(owners) {
            server::redis_log(
                "warning",
                &format!("owners are looked up for every event: {error}"),
            );
        }
        if let Err(error) = server::keep_only_keyspace_events(needed) {
            server::redis_log(
                "warning",
                &format!("keyspace events no longer needed are still delivered: {error}"),
            );
        }
    });
    wasm::release_free_memory();
}
