//! The cache's files: `triggers-cache/<digest>-<engine>.cwasm`, their
//! header, and the checks a file passes before wasmtime sees it.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::{unhex, Key};
use crate::server::redis_log;

/// The directory, relative to Redis' working directory (its `dir`).
pub(super) const DIR: &str = "triggers-cache";

/// The first bytes of a cache file; the digit is the header's version.
const MAGIC: &[u8; 8] = b"WTCWASM1";

/// Magic, then the component's SHA-256, then the compiled code's SHA-256.
const HEADER_LEN: usize = MAGIC.len() + 32 + 32;

impl Key {
    /// The entry's cache file.
    pub(super) fn path(&self) -> PathBuf {
        Path::new(DIR).join(format!("{}-{}.cwasm", self.digest, self.engine))
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
    let euid = crate::server::effective_uid();
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
pub(super) fn read(engine: &Engine, key: &Key, digest: &[u8; 32]) -> Option<Component> {
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
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize(engine, code) };
    match loaded {
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
pub(super) fn write(key: &Key, component: &Component) -> Result<(), String> {
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
pub(super) fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => redis_log(
            "notice",
            &format!("cannot remove the cache file {}: {e}", path.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
