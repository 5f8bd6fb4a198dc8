//! # Wasm Triggers SDK
//!
//! Write Redis keyspace triggers in plain Rust. A library of triggers is
//! compiled to a WebAssembly component and loaded into Redis with
//! `TRIGGER LOAD`; the Redis module calls it on the keyspace events it asked
//! for, atomically with the command that fired them.
//!
//! ```no_run
//! use wasm_triggers_sdk::{call, call_as, library, Event, KeyType, Result, Trigger};
//!
//! library! {
//!     name: "last_updated",
//!     triggers: [
//!         Trigger::new("consumer").events(["@hash"]).run(touch),
//!     ],
//! }
//!
//! /// Sets `__last_updated__` on every hash that changes.
//! fn touch(event: &Event) -> Result<()> {
//!     if call_as::<KeyType>("TYPE", [event.key()])? != KeyType::Hash {
//!         return Ok(());
//!     }
//!     let (seconds, _micros): (i64, i64) = call_as("TIME", ())?;
//!     call("HSET", (event.key(), "__last_updated__", seconds))?;
//!     Ok(())
//! }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (the crate
//! must be a `cdylib`) and load it with
//! `redis-cli -x TRIGGER LOAD < target/wasm32-wasip2/release/my_trigger.wasm`.
//!
//! ## Where each part runs
//!
//! - [`Trigger::run`] runs in a Redis post-notification job, after the
//!   command that fired the event (or the whole `MULTI`/`EXEC` or script),
//!   atomically with it. [`call`] may write there; the writes are replicated
//!   and written to the AOF together with that command.
//! - [`Trigger::on_fired`] runs inside the keyspace notification itself, so
//!   it sees the data as it was right after the event, even inside a
//!   transaction. Redis refuses writes there. What it returns is handed to
//!   `run` (see [`OnFired`]).
//!
//! Writes made by a trigger do not fire triggers again.
//!
//! ## Running commands
//!
//! [`call`] runs one command and returns its reply as a [`Value`];
//! [`call_as`] reads the reply straight into a Rust type (see
//! [`FromValue`]). Each crosses from the library into Redis and back; a
//! [`Pipeline`] sends several commands that do not depend on each other's
//! replies in one crossing (see [`pipeline`]).
//!
//! ## Which events fire a trigger
//!
//! [`Trigger::prefix`] takes a literal byte prefix of the keys (empty, the
//! default, means every key). [`Trigger::events`] takes event names
//! (`"hset"`, `"del"`, `"expired"`, …, as in Redis' keyspace notifications)
//! and classes (`"@hash"`, `"@string"`, `"@generic"`, `"@expired"`,
//! `"@new"`, `"@keymiss"`, `"@all"`, …). No events means `"@all"` (which,
//! as in Redis, leaves out `"new"` and `"keymiss"`). `TRIGGER LOAD` refuses
//! a name no server raises, such as `"exipred"`. Redis checks both
//! filters before your code runs, so an event you did not ask for costs next
//! to nothing.
//!
//! ## Errors and panics
//!
//! A trigger returns [`Result`]; an error, a panic or a trap is counted in the
//! trigger's `num_failed` with its message in `last_error` (see
//! `TRIGGER LIST`). The command that fired the trigger still succeeds.

// Lets the generated bindings name this crate the same way from inside and
// from the libraries that use it.
extern crate self as wasm_triggers_sdk;

#[cfg(test)]
mod alloc_tests;
mod args;
mod call;
mod config;
mod error;
mod event;
mod event_names;
mod exports;
mod from_value;
mod key_type;
pub mod log;
pub mod outbox;
pub mod pipeline;
mod removed;
mod request;
mod resp3;
mod small_bytes;
mod trigger;
mod typed_reply;
mod value;

pub use args::{Arg, IntoArgs};
pub use call::{call, call_as};
pub use config::{config, config_json};
pub use error::{Error, Result};
pub use event::Event;
pub use from_value::FromValue;
pub use key_type::KeyType;
pub use pipeline::{Pipeline, Replies};
pub use removed::{Removed, Withheld};
pub use trigger::{Library, OnFired, Trigger};
pub use value::Value;

/// The guest bindings generated from `wit/` by wit-bindgen. Not part of the
/// API: use [`library!`] instead.
#[doc(hidden)]
#[allow(clippy::all)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "trigger-library",
        pub_export_macro: true,
        export_macro_name: "__export_trigger_library",
        default_bindings_module: "::wasm_triggers_sdk::__bindings",
        runtime_path: "::wasm_triggers_sdk::__wit_bindgen::rt",
        // `call` borrows its arguments: no copy before the host reads them.
        ownership: Borrowing { duplicate_if_necessary: false },
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

#[doc(hidden)]
pub mod __private {
    pub use crate::exports::{describe, install_panic_hook, on_fired, run};
    pub use crate::typed_reply::Reader;
}

/// Declares the library this crate builds: its name and its triggers.
///
/// Use it once, at the top level of a `cdylib` crate. The name and the
/// trigger names are made of `[A-Za-z0-9_]`.
///
/// ```no_run
/// use wasm_triggers_sdk::{library, Event, Result, Trigger};
///
/// library! {
///     name: "audit",
///     triggers: [
///         Trigger::new("deleted").prefix("user:").events(["del"]).run(on_delete),
///     ],
/// }
///
/// fn on_delete(event: &Event) -> Result<()> {
///     wasm_triggers_sdk::call("XADD", ("audit", "*", "deleted", event.key()))?;
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! library {
    (name: $name:expr, triggers: [$($trigger:expr),* $(,)?] $(,)?) => {
        #[doc(hidden)]
        fn __wasm_triggers_library() -> &'static $crate::Library {
            static LIBRARY: ::std::sync::OnceLock<$crate::Library> = ::std::sync::OnceLock::new();
            LIBRARY.get_or_init(|| $crate::Library::new($name, ::std::vec![$($trigger),*]))
        }

        #[doc(hidden)]
        struct __WasmTriggersLibrary;

        impl $crate::__bindings::exports::redis::triggers::library::Guest for __WasmTriggersLibrary {
            fn describe() -> $crate::__bindings::redis::triggers::types::LibraryInfo {
                // Before the library is made: its triggers may read the
                // configuration, and a panic there must be reported.
                $crate::__private::install_panic_hook();
                $crate::__private::describe(__wasm_triggers_library())
            }

            fn on_fired(
                trigger: u32,
                event: $crate::__bindings::redis::triggers::types::Event,
            ) -> ::std::result::Result<::std::option::Option<::std::vec::Vec<u8>>, ::std::string::String> {
                $crate::__private::on_fired(__wasm_triggers_library(), trigger, event)
            }

            fn run(
                trigger: u32,
                event: $crate::__bindings::redis::triggers::types::Event,
                payload: ::std::option::Option<::std::vec::Vec<u8>>,
            ) -> ::std::result::Result<(), ()> {
                $crate::__private::run(__wasm_triggers_library(), trigger, event, payload)
            }
        }

        $crate::__bindings::__export_trigger_library!(__WasmTriggersLibrary);
    };
}
