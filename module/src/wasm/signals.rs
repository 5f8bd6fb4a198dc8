//! Keeps wasmtime's signal handlers in place.
//!
//! wasmtime turns a guest's out-of-bounds memory access (a fault on the
//! guard pages around its linear memory) into a trap, through the
//! `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` handlers it installs when the
//! engines are created. `CONFIG SET crash-log-enabled` makes Redis install
//! its own crash handler again (or, with `no`, the default action), which
//! would turn that trap into a crash of the whole server.
//!
//! So the module saves wasmtime's handlers when it loads, and puts them
//! back after every change of that setting. A fault outside Wasm still
//! ends in Redis' crash report: wasmtime's handler hands it to the handler
//! that was in place when wasmtime installed its own, Redis' (a server
//! started with `crash-log-enabled no` has none, and faults the default
//! way).

use redis_module::Context;
use redis_module_macros::config_changed_event_handler;

use crate::server::{redis_log, restore_fault_handlers, save_fault_handlers};

/// Saves the handlers in place now: call it once the engines exist.
pub fn save_wasmtime_handlers() {
    if let Err(e) = save_fault_handlers() {
        redis_log("warning", &format!("{e} of wasmtime"));
    }
}

/// Puts the saved handlers back.
fn restore_wasmtime_handlers() {
    if let Err(e) = restore_fault_handlers() {
        redis_log("warning", &format!("{e} of wasmtime"));
    }
}

/// Never panics into Redis.
#[config_changed_event_handler]
fn on_config_changed(_ctx: &Context, names: &[&str]) {
    let outcome = std::panic::catch_unwind(|| {
        if names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("crash-log-enabled"))
        {
            restore_wasmtime_handlers();
        }
    });
    if outcome.is_err() {
        redis_log(
            "warning",
            "internal error while restoring wasmtime's signal handlers",
        );
    }
}
