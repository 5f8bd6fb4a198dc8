//! A core Wasm module made into a component: what `wasm-pack build`
//! gives (`pkg/<crate>_bg.wasm`, built for wasm32-unknown-unknown) is a
//! core module that keeps the `component-type` section wit-bindgen writes,
//! which says what the module imports and exports in the contract's
//! terms. `wit-component` wraps it into the component `TRIGGER LOAD`
//! takes. The result depends only on the bytes, so the same module always
//! gives the same component (and digest).
//!
//! Modules for wasm32-wasip1 are refused rather than adapted: the adapter
//! would add a WASI preview 1 shim to every library (stored in the RDB
//! file and the AOF and sent to every replica), for a target whose users
//! can build for wasm32-wasip2 as well (stable since Rust 1.82).

use wasmparser::{Parser, Payload};
use wit_component::ComponentEncoder;

/// How to build a library, for the errors.
pub(super) const HOW: &str =
    "build the library with `cargo build --release --target wasm32-wasip2`, or with \
                   `wasm-pack build --no-opt -- --target wasm32-unknown-unknown` (see the README)";

/// Whether `bytes` is a core module, not a component: bytes 4..8 are the
/// version and layer, 01 00 00 00 for a core module, 0d 00 01 00 for a
/// component.
pub fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// The component for a core module built with the SDK (wit-bindgen), or
/// an error that says how to build one.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    let mut has_component_type = false;
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| format!("invalid core Wasm module: {e}"))? {
            Payload::CustomSection(section) if section.name().starts_with("component-type") => {
                has_component_type = true;
            }
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| format!("invalid core Wasm module: {e}"))?;
                    if import.module.starts_with("wasi_snapshot_preview1") {
                        return Err(format!(
                            "this is a wasm32-wasip1 module (it imports WASI preview 1), which is \
                             not taken: {HOW}"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if !has_component_type {
        return Err(format!(
            "this is a core Wasm module without the component-type section the SDK writes, \
             not a component: {HOW}"
        ));
    }
    ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| format!("cannot make a component of this core Wasm module: {e:#}"))
}
