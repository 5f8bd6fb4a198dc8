//! The types and exports of the `trigger-library` world, generated from
//! `wit/` by wasmtime's `bindgen!`.

use super::store::HostState;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "trigger-library",
    imports: { default: trappable },
});

pub use redis::triggers::types::LogLevel;

// `types` declares types only; `host` is linked by hand in `host/`.
impl redis::triggers::types::Host for HostState {}
