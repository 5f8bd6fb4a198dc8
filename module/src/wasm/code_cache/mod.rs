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
use std::fs::{self, DirBuilder, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::host_api::redis_log;

/// The directory, relative to Redis' working directory (its `dir`).
const DIR: &str = "triggers-cache";

/// The first bytes of a cache file; the digit is the header's version.
const MAGIC: &[u8; 8] = b"WTCWASM1";

/// Magic, then the component's SHA-256, then the compiled code's SHA-256.
const HEADER_LEN: usize = MAGIC.len() + 32 + 32;

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

impl Key {
    /// The entry's cache file.
    fn path(&self) -> PathBuf {
        Path::new(DIR).join(format!("{}-{}.cwasm", self.digest, self.engine))
    }
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

/// Whether `triggers-cache/` may be trusted: a real directory (not a
/// symbolic link), owned by the user the server runs as, that no one else
/// can write to.
fn trusted_dir() -> Result<(), String> {
    let meta = fs::symlink_metadata(DIR).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(format!(
            "owned by uid {}, not by the server's uid {euid}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by other users (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// The component compiled from the bytes whose SHA-256 is `digest`, if a
/// cache file holds it and passes every check. A missing file is a plain
/// miss; a file that fails a check is logged and ignored (it is replaced
/// once the library is compiled and loaded).
fn read(engine: &Engine, key: &Key, digest: &[u8; 32]) -> Option<Component> {
    let path = key.path();
    let file = match fs::read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notice_ignored(&path, &e.to_string());
            return None;
        }
    };
    if let Err(e) = trusted_dir() {
        notice_ignored(&path, &format!("{DIR}/ is {e}"));
        return None;
    }
    let code = match check(&file, digest) {
        Ok(code) => code,
        Err(e) => {
            notice_ignored(&path, e);
            return None;
        }
    };
    // SAFETY: `Component::deserialize` runs the native code it is given, so
    // it must come from wasmtime. These bytes were written by `write` below:
    // the directory lives in Redis' own data directory, was created by the
    // server with mode 0700 and is checked above to be owned by the server's
    // user and writable by no one else, so it is as trusted as the RDB and
    // AOF files next to it (whoever can write there can already act as the
    // server's user). The header checks above rule out a truncated or
    // damaged file and a file compiled from other bytes; wasmtime checks its
    // own header (version, target, settings) before using the code.
    match unsafe { Component::deserialize(engine, code) } {
        Ok(component) => Some(component),
        Err(e) => {
            notice_ignored(&path, &format!("{e:#}"));
            None
        }
    }
}

/// Checks a cache file's header; returns the compiled code that follows it.
fn check<'a>(file: &'a [u8], digest: &[u8; 32]) -> Result<&'a [u8], &'static str> {
    if file.len() < HEADER_LEN || &file[..MAGIC.len()] != MAGIC {
        return Err("not a cache file of this module");
    }
    let (stored_digest, rest) = file[MAGIC.len()..].split_at(32);
    let (code_digest, code) = rest.split_at(32);
    if stored_digest != digest {
        return Err("compiled from other bytes");
    }
    if Sha256::digest(code).as_slice() != code_digest {
        return Err("damaged (checksum mismatch)");
    }
    Ok(code)
}

fn notice_ignored(path: &Path, why: &str) {
    redis_log(
        "notice",
        &format!(
            "ignoring the compiled-code cache file {}: {why}; compiling instead",
            path.display()
        ),
    );
}

/// Writes the cache file of `component`: to a temporary file, then renamed,
/// so that a reader never sees a partial file. (No fsync: a file damaged by
/// a crash fails the checksum and is compiled again.)
fn write(key: &Key, component: &Component) -> Result<(), String> {
    match DirBuilder::new().mode(0o700).create(DIR) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {DIR}/: {e}")),
    }
    trusted_dir().map_err(|e| format!("{DIR}/ is {e}"))?;
    let code = component.serialize().map_err(|e| format!("{e:#}"))?;
    let digest = unhex(&key.digest).ok_or("bad digest")?;
    let path = key.path();
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(&digest)?;
        file.write_all(&Sha256::digest(&code))?;
        file.write_all(&code)?;
        drop(file);
        fs::rename(&temporary, &path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(e.to_string());
    }
    Ok(())
}

/// Removes the cache file of a library that is no longer loaded.
fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => redis_log(
            "notice",
            &format!("cannot remove the cache file {}: {e}", path.display()),
        ),
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

    #[test]
    fn header_checks() {
        let digest: [u8; 32] = Sha256::digest(b"component").into();
        let code = b"compiled code";
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&digest);
        file.extend_from_slice(&Sha256::digest(code));
        file.extend_from_slice(code);
        assert_eq!(check(&file, &digest), Ok(&code[..]));

        let other: [u8; 32] = Sha256::digest(b"other").into();
        assert_eq!(check(&file, &other), Err("compiled from other bytes"));
        let mut damaged = file.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(check(&damaged, &digest), Err("damaged (checksum mismatch)"));
        assert!(check(&file[..HEADER_LEN - 1], &digest).is_err());
        assert!(check(b"garbage", &digest).is_err());
    }
}
