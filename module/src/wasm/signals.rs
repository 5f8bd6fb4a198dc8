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

use std::sync::OnceLock;

use redis_module::Context;
use redis_module_macros::config_changed_event_handler;

use crate::server::redis_log;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// wasmtime's handlers, saved once the engines exist.
struct Saved([libc::sigaction; 4]);

// SAFETY: plain data (handler addresses, masks and flags), only read.
unsafe impl Send for Saved {}
unsafe impl Sync for Saved {}

static SAVED: OnceLock<Saved> = OnceLock::new();

/// Saves the handlers in place now: call it once the engines exist.
pub fn save_wasmtime_handlers() {
    let mut saved: [libc::sigaction; 4] = unsafe { std::mem::zeroed() };
    for (signal, action) in SIGNALS.iter().zip(saved.iter_mut()) {
        // SAFETY: reads the current action into `action`.
        if unsafe { libc::sigaction(*signal, std::ptr::null(), action) } != 0 {
            redis_log("warning", "cannot read the signal handlers of wasmtime");
            return;
        }
    }
    let _ = SAVED.set(Saved(saved));
}

/// Puts the saved handlers back.
fn restore_wasmtime_handlers() {
    let Some(Saved(saved)) = SAVED.get() else {
        return;
    };
    for (signal, action) in SIGNALS.iter().zip(saved.iter()) {
        // SAFETY: `action` was read from the kernel by `sigaction` above.
        if unsafe { libc::sigaction(*signal, action, std::ptr::null_mut()) } != 0 {
            redis_log("warning", "cannot restore the signal handlers of wasmtime");
        }
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
