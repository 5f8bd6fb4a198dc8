//! The types and exports of the contract's versions, generated from `wit/`
//! by wasmtime's `bindgen!`: 0.2 (`wit/triggers.wit`), what the SDK builds
//! today, and 0.1 (`wit/0.1/`), which libraries built before it still use.
//! `contract.rs` tells a component's version apart and calls it.

use super::store::HostState;

/// Contract 0.1: the world the host binds is `trigger-library`; the SDK's
/// `sdk-library` adds two exports the host looks up by name.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1",
        world: "trigger-library",
        imports: { default: trappable },
    });

    pub use redis::triggers::types::{LogLevel, Removed, Withheld};
}

/// Contract 0.2.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "trigger-library",
        imports: { default: trappable },
    });

    pub use exports::redis::triggers::library::{Event, LibraryInfo};
    pub use redis::triggers::types::{
        Bytes, EventName, KnownEvent, LogLevel, Removed, Replies, ShortBytes, Withheld,
    };
}

/// What `describe` returns, in 0.1's terms (`contract.rs` makes 0.2's so).
pub use v0_1::LibraryInfo;

// `types` declares types only; `host` is linked by hand in `host/`.
impl v0_1::redis::triggers::types::Host for HostState {}
impl v0_2::redis::triggers::types::Host for HostState {}
