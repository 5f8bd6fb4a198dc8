//! The compiled-code cache: a restart, a `DEBUG RELOAD` or a `TRIGGER LOAD
//! REPLACE` of the same bytes does not compile a library again.
//!
//! Two levels, both keyed by the SHA-256 of the component's bytes:
//!
//! - in memory, the compiled [`Component`] of every loaded library (a
//!   `Component` is shared with the library's instance, so this costs
//!   nothing more); entries no loaded library uses are dropped after every
//!   change of the registry ([`retain`]);
//! - on disk, `triggers-cache/<digest>-<engine>.cwasm` in Redis' working
//!   directory (its `dir`), where `<engine>` fingerprints the wasmtime
//!   version and the engine's compilation settings
//!   ([`Engine::precompile_compatibility_hash`]). A file is written once its
//!   library is loaded, and removed when the library is deleted or replaced.
//!
//! A file starts with a header of ours: a magic string, the digest of the
//! component it was compiled from and the SHA-256 of the compiled code that
//! follows. A file that is truncated, overwritten or compiled from other
//! bytes fails these checks before wasmtime sees it; wasmtime then checks
//! its own header (version, target, settings).
//!
//! The cache only ever saves time: any failure (a directory that cannot be
//! created, a file that cannot be written or fails a check) logs a notice
//! and falls back to compiling. It is never an error for the user.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::server::redis_log;

mod file;

use file::{read, remove, write, DIR};

/// Whether an entry's compiled code is in a file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    /// Not yet: written once the library is loaded.
    No,
    /// Read from or written to its file.
    Yes,
    /// Writing failed (already logged); not tried again for this entry.
    Failed,
}

struct Entry {
    component: Component,
    on_disk: OnDisk,
}

/// An entry's key: the hex SHA-256 of the component's bytes, and the
/// fingerprint of the engine that compiled them.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    digest: String,
    engine: String,
}

/// The compiled components of the loaded libraries.
static MEMORY: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

static MEMORY_HITS: AtomicU64 = AtomicU64::new(0);
static DISK_HITS: AtomicU64 = AtomicU64::new(0);
static COMPILES: AtomicU64 = AtomicU64::new(0);

/// How often a component came from memory, from disk, or was compiled, for
/// `INFO triggers`.
pub fn counts() -> (u64, u64, u64) {
    (
        MEMORY_HITS.load(Ordering::Relaxed),
        DISK_HITS.load(Ordering::Relaxed),
        COMPILES.load(Ordering::Relaxed),
    )
}

fn memory() -> std::sync::MutexGuard<'static, HashMap<Key, Entry>> {
    // A panic while the lock was held leaves a map that is still valid.
    MEMORY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The compiled component of `bytes`: from memory, from disk, or compiled
/// with [`Component::new`] (whose error is returned unchanged).
pub fn component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    if let Some(component) = cached(engine, bytes) {
        return Ok(component);
    }
    let (key, _) = key_of(engine, bytes);
    let component = Component::new(engine, bytes)?;
    COMPILES.fetch_add(1, Ordering::Relaxed);
    insert(key, &component, OnDisk::No);
    Ok(component)
}

/// The compiled component of `bytes` if it is in memory or on disk.
pub fn cached(engine: &Engine, bytes: &[u8]) -> Option<Component> {
    let (key, digest) = key_of(engine, bytes);
    if let Some(entry) = memory().get(&key) {
        MEMORY_HITS.fetch_add(1, Ordering::Relaxed);
        return Some(entry.component.clone());
    }
    let component = read(engine, &key, &digest)?;
    DISK_HITS.fetch_add(1, Ordering::Relaxed);
    insert(key, &component, OnDisk::Yes);
    Some(component)
}

fn key_of(engine: &Engine, bytes: &[u8]) -> (Key, [u8; 32]) {
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    let key = Key {
        digest: hex(&digest),
        engine: engine_fingerprint(engine),
    };
    (key, digest)
}

fn insert(key: Key, component: &Component, on_disk: OnDisk) {
    memory().insert(
        key,
        Entry {
            component: component.clone(),
            on_disk,
        },
    );
}

/// Called after every change of the registry, with the digests of the
/// loaded libraries: entries of libraries that are loaded get their file,
/// the others leave memory. With `forget`, set when the change succeeded,
/// the files of libraries no longer loaded are removed too; after a failed
/// change they stay (a failed load from an RDB must not cost the next
/// start its cache).
pub fn retain(loaded: &[&str], forget: bool) {
    let mut memory = memory();
    memory.retain(|key, entry| {
        if loaded.contains(&key.digest.as_str()) {
            return true;
        }
        if forget && entry.on_disk == OnDisk::Yes {
            remove(&key.path());
        }
        false
    });
    for (key, entry) in memory.iter_mut() {
        if entry.on_disk == OnDisk::No {
            entry.on_disk = match write(key, &entry.component) {
                Ok(()) => OnDisk::Yes,
                Err(e) => {
                    redis_log(
                        "notice",
                        &format!(
                            "cannot write the compiled code of library sha256 {} to \
                             {DIR}/: {e}; it will be compiled again at the next start",
                            key.digest
                        ),
                    );
                    OnDisk::Failed
                }
            };
        }
    }
}

/// The engine's fingerprint: the same on every start of the same build
/// with the same settings, different when wasmtime or a setting that
/// changes the compiled code changes.
fn engine_fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex(&hasher.0.finalize()[..8])
}

/// Feeds a [`Hash`] into SHA-256, which (unlike `DefaultHasher`) is the
/// same in every build.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let digest: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(unhex(&hex(&digest)), Some(digest));
        assert_eq!(unhex("zz"), None);
    }
}
