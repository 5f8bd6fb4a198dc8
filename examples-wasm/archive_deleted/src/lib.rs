//! `archive_deleted`: a soft delete for hashes. When a hash `user:*` is
//! deleted (`DEL`, `UNLINK`, `GETDEL`…), its fields are kept in
//! `archive:<key>` for a week, with `__deleted_at__` (Unix seconds), in the
//! same command: a user who deleted by mistake can have it back with
//! `COPY archive:<key> <key>` (and `HDEL <key> __deleted_at__`), and
//! nothing depends on a client that listens.
//!
//! A keyspace notification comes after the key is gone; this trigger is
//! declared `with_removed_value()`, so the server hands it the hash it
//! deleted. A hash over `triggers.max-removed-value-size` (1 MB by
//! default) is not archived: the library logs a warning instead.
//!
//! In a cluster, the archive must be in the key's hash slot: give the keys
//! a hash tag (`user:{42}`), which `archive:user:{42}` shares.
//!
//! Loaded with a configuration, the same build serves other keys:
//! `TRIGGER LOAD CONFIG '{"prefix": "doc:", "archive_prefix": "trash:",
//! "retention_seconds": 86400}' <library>`.
//!
//! Build and load it (from this folder), either as a wasip2 component:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! redis-cli -x TRIGGER LOAD < ../target/wasm32-wasip2/release/archive_deleted.wasm
//! ```
//!
//! or with wasm-pack (see the README for its traps):
//!
//! ```text
//! wasm-pack build --no-opt -- --target wasm32-unknown-unknown
//! redis-cli -x TRIGGER LOAD < pkg/archive_deleted_bg.wasm
//! ```

use std::sync::OnceLock;

use serde::Deserialize;
use wasm_triggers_sdk::{call, call_as, config, library, log, Event, Result, Trigger, Value};

/// The library's configuration (`TRIGGER LOAD CONFIG <json>`).
#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    /// The keys whose deletion is archived.
    prefix: String,
    /// What the archive's key starts with, before the deleted key.
    archive_prefix: String,
    /// How long an archive is kept.
    retention_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prefix: "user:".into(),
            archive_prefix: "archive:".into(),
            retention_seconds: 7 * 24 * 3600,
        }
    }
}

/// Read once, when the library is loaded: a bad configuration fails the
/// load with serde's message.
fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| config().unwrap_or_else(|e| panic!("{e}")))
}

library! {
    name: "archive_deleted",
    triggers: [
        Trigger::new("archive")
            .description("Keeps each deleted hash in archive:<key> for a while, with __deleted_at__")
            .prefix(&settings().prefix)
            .events(["del"])
            .with_removed_value()
            .run(archive),
    ],
}

fn archive(event: &Event) -> Result<()> {
    let Some(removed) = event.removed() else {
        return Ok(()); // the hash lost its last field: nothing to keep
    };
    let Some(Value::Map(fields)) = removed.value() else {
        if removed.type_name() == "hash" {
            log::warning(&format!(
                "not archived: {} ({} fields) is over triggers.max-removed-value-size",
                String::from_utf8_lossy(event.key()),
                removed.len()
            ));
        }
        return Ok(()); // not a hash
    };
    let settings = settings();
    let mut archive = settings.archive_prefix.as_bytes().to_vec();
    archive.extend_from_slice(event.key());
    let (now, _micros): (i64, i64) = call_as("TIME", ())?;
    // One HSET: the deleted fields, then the time of deletion.
    let mut args: Vec<&[u8]> = vec![&archive];
    for (field, value) in fields {
        if let (Some(field), Some(value)) = (field.as_bytes(), value.as_bytes()) {
            args.extend([field, value]);
        }
    }
    let now = now.to_string();
    args.extend([b"__deleted_at__".as_slice(), now.as_bytes()]);
    call("DEL", [&archive])?; // an older archive of the same key
    call("HSET", args)?;
    call("EXPIRE", (&archive, settings.retention_seconds))?;
    Ok(())
}
