//! What `TRIGGER LOAD` does with the bytes it is given, callable without a
//! Redis server: the entry points of the fuzz targets in `fuzz/`. Not part
//! of the module's interface.
//!
//! Outside Redis every Redis API pointer is `None`. Nothing on this path
//! uses one: log lines are dropped (`server::redis_log`), and `describe`
//! runs without a Redis context, so a guest's `call` is refused before any
//! Redis function is looked up. The compiled-code cache writes files only
//! for loaded libraries, when the registry changes (`code_cache::retain`),
//! which never happens here.

use std::sync::OnceLock;

use crate::library::{self, Checked};
use crate::wasm::{self, code_cache, ticker, Tier};

/// Creates the engines and starts the epoch ticker (without which an
/// endless `describe` would never stop), as the module does when it loads.
#[doc(hidden)]
pub fn set_up() -> Result<(), String> {
    static SET_UP: OnceLock<Result<(), String>> = OnceLock::new();
    SET_UP
        .get_or_init(|| ticker::start(wasm::engines()))
        .clone()
}

/// `TRIGGER LOAD` up to the point where it involves Redis: the header
/// check, the compiler (the baseline one, or Cranelift's cached code),
/// instantiation, `describe` under the time limit, and the validation of
/// what it declares. Returns a summary of the library (see [`summary`]), or
/// the error `TRIGGER LOAD` would reply with.
#[doc(hidden)]
pub fn check_library(bytes: &[u8]) -> Result<String, String> {
    set_up()?;
    let compiled = wasm::compile(bytes)?;
    library::check(compiled, false, "{}", library::EventNames::Known)
        .map(|checked| summary(&checked))
}

/// [`check_library`] with the code Cranelift compiles in the background
/// after a successful `TRIGGER LOAD`.
#[doc(hidden)]
pub fn check_library_optimized(bytes: &[u8]) -> Result<String, String> {
    set_up()?;
    let compiled = wasm::compile_with(bytes, Tier::Optimized);
    // That code went into the in-memory cache; no library is loaded here,
    // so this empties it (and writes nothing).
    code_cache::retain(&[], false);
    library::check(compiled?, false, "{}", library::EventNames::Known)
        .map(|checked| summary(&checked))
}

/// The library's name and its triggers, as `describe` declared them.
fn summary(checked: &Checked) -> String {
    let triggers: Vec<String> = checked
        .triggers
        .iter()
        .map(|t| {
            format!(
                "{} prefix={:?} events={:?} on_fired={}",
                t.name,
                String::from_utf8_lossy(&t.prefix),
                t.events,
                t.has_on_fired
            )
        })
        .collect();
    format!("{}: {}", checked.name, triggers.join("; "))
}
