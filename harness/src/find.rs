//! Finding the server binary and the module that [`Server::start`] starts,
//! as the [crate docs](crate) say.
//!
//! [`Server::start`]: crate::Server::start

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::find_up;

/// `TRIGGERS_SERVER`, then `scripts/setup.sh`'s Redis 8 in `.cache/` from
/// `start` up, then `redis-server` or `valkey-server` on `PATH`.
pub(crate) fn server(start: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TRIGGERS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = find_up(start, ".cache/redis-8/bin/redis-server") {
        return Ok(path);
    }
    for name in ["redis-server", "valkey-server"] {
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file());
        if let Some(path) = on_path {
            return Ok(path);
        }
    }
    bail!(
        "no Redis or Valkey server: set TRIGGERS_SERVER to a redis-server (≥ 7.2) or \
         valkey-server (≥ 8), or put one on PATH"
    )
}

/// `TRIGGERS_MODULE`, then `target/release/libwasm_triggers.so` from
/// `start` up.
pub(crate) fn module(start: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TRIGGERS_MODULE") {
        return Ok(PathBuf::from(path));
    }
    find_up(start, "target/release/libwasm_triggers.so").context(
        "no module: set TRIGGERS_MODULE to libwasm_triggers.so, or build it with \
         `cargo build --release -p wasm-triggers`",
    )
}
