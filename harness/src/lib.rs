//! Test a trigger library with `cargo test`, against a real Redis or
//! Valkey with the module loaded: no mock of Redis.
//!
//! ```no_run
//! use wasm_triggers_harness::{redis::Commands, Server};
//!
//! #[test]
//! fn stamps_hashes() -> anyhow::Result<()> {
//!     let server = Server::start()?;
//!     server.load_this_crate()?;
//!     let mut con = server.connect()?;
//!     let _: () = con.hset("h", "x", 1)?;
//!     let stamp: Option<i64> = con.hget("h", "__last_updated__")?;
//!     assert!(stamp.is_some());
//!     Ok(())
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! [`Server::start`] runs a server on a free loopback port, in a directory
//! of its own, killed when the `Server` is dropped. It finds, in order:
//!
//! - the server: `TRIGGERS_SERVER` (a `redis-server` or `valkey-server`),
//!   then the builds of this repository's `scripts/setup.sh` (Redis 8, in
//!   `.cache/`, found from the crate's directory up), then `redis-server`
//!   and `valkey-server` on `PATH`;
//! - the module: `TRIGGERS_MODULE`, then `target/release/libwasm_triggers.so`
//!   from the crate's directory up.
//!
//! [`Launch`] starts a server with other arguments (server options, the
//! module's arguments, environment variables), and [`Server`] restarts it
//! in place.
//!
//! [`Server::load_this_crate`] builds the crate under test for
//! `wasm32-wasip2` (`cargo build --release`, in a target directory of its
//! own so that it never waits for the `cargo test` running it) and loads
//! it with `TRIGGER LOAD`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use redis;

mod build;
mod find;
mod launch;
mod process;
mod server;

pub use build::build_library;
pub use launch::{free_port, Launch};
pub use server::Server;

/// The first of `relative` found in `start` or a directory above it.
fn find_up(start: &Path, relative: &str) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(relative))
        .find(|path| path.exists())
}

/// The directory of the crate being tested: cargo sets
/// `CARGO_MANIFEST_DIR` when it runs tests.
fn manifest_dir() -> anyhow::Result<PathBuf> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .context("CARGO_MANIFEST_DIR is not set: run this under `cargo test`")
}

/// A trigger's statistics, as `TRIGGER LIST` shows them: `num_triggered`,
/// `num_success`, `num_failed`, `last_error`, ….
///
/// ```no_run
/// use wasm_triggers_harness::{Server, Stats};
///
/// let stats: Stats = Server::start()?.stats("last_updated", "consumer")?;
/// println!("{:?}", stats.get("last_error"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub type Stats = HashMap<String, redis::Value>;

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// The entries of a RESP2 or RESP3 map reply.
fn map(value: &redis::Value) -> anyhow::Result<Vec<(String, redis::Value)>> {
    match value {
        redis::Value::Map(entries) => {
            Ok(entries.iter().map(|(k, v)| (text(k), v.clone())).collect())
        }
        redis::Value::Array(flat) => Ok(flat
            .chunks(2)
            .filter_map(|pair| Some((text(pair.first()?), pair.get(1)?.clone())))
            .collect()),
        other => bail!("expected a map, got {other:?}"),
    }
}
