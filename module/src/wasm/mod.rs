//! Wasm: everything wasmtime does for the module. The engines and their
//! compiler tiers, compiling and the compiled-code cache, the versions of
//! the contract a library may be built against (`contract.rs`: 0.1 and
//! 0.2, told apart at load), a library's store and live instance, the ACL
//! user its calls run as (`owner.rs`), the host API guests import (`host/`,
//! which uses `store.rs`, never the reverse) and the WASI they get, what
//! guests log, the epoch ticker behind the time limit, and the signal
//! handlers that turn a guest's faults into traps.
//!
//! It runs what it is asked to run, under the limits it is given. It knows
//! nothing of keyspace events, the registry of libraries, persistence or
//! the cluster: it uses only `config`, `server` and `outbox` (for the host
//! API's `outbox-append`).
//!
//! Hot-path rules (see the README's design notes):
//! - a library is compiled and instantiated at `TRIGGER LOAD` (with the
//!   fast baseline compiler), and once more when Cranelift's optimized code,
//!   compiled on a background thread, replaces it ([`Tier`]);
//! - every event reuses the same store and instance, with a fresh epoch
//!   deadline set before each call;
//! - after a trap the instance is poisoned, so it is rebuilt from the
//!   pre-instantiated component before the next call.

mod bindings;
pub mod code_cache;
mod compile;
mod componentize;
mod contract;
mod engine;
mod event;
mod event_names;
mod guest_log;
mod host;
mod instance;
mod owner;
pub mod signals;
mod store;
pub mod ticker;
mod wasi;

pub use compile::{compile, compile_with, release_free_memory, CompiledLibrary};
pub use componentize::{componentize, is_core_module};
pub use contract::Described;
pub use engine::{engines, Tier};
pub use event::Event;
#[cfg(test)]
pub use event_names::known as known_event;
pub use guest_log::truncate;
pub use instance::{Fired, LibraryInstance};
pub use owner::CallUser;
pub use store::{CallLimit, Removed, Stopped};
