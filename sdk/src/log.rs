//! Writing to the Redis log.
//!
//! Messages appear in the server's log prefixed with the library's name.
//! What a library prints to stdout or stderr goes to the log too, at
//! `debug` level, a line at a time.
//!
//! ```no_run
//! wasm_triggers_sdk::log::notice("order expired");
//! wasm_triggers_sdk::log::warning(&format!("bad payload: {}", 42));
//! ```

use crate::__bindings::redis::triggers::{host, types::LogLevel};

/// Logs at Redis' `debug` level.
///
/// ```no_run
/// wasm_triggers_sdk::log::debug(&format!("saw {} keys", "order:42"));
/// ```
pub fn debug(message: &str) {
    host::log(LogLevel::Debug, message);
}

/// Logs at Redis' `verbose` level.
///
/// ```no_run
/// wasm_triggers_sdk::log::verbose(&format!("skipped {}", "order:42"));
/// ```
pub fn verbose(message: &str) {
    host::log(LogLevel::Verbose, message);
}

/// Logs at Redis' `notice` level (shown with the default `loglevel`).
///
/// ```no_run
/// wasm_triggers_sdk::log::notice(&format!("order {} expired", "order:42"));
/// ```
pub fn notice(message: &str) {
    host::log(LogLevel::Notice, message);
}

/// Logs at Redis' `warning` level.
///
/// ```no_run
/// wasm_triggers_sdk::log::warning(&format!("bad payload in {}", "order:42"));
/// ```
pub fn warning(message: &str) {
    host::log(LogLevel::Warning, message);
}
