//! The registry while Redis loads data (an RDB file, at startup, by `DEBUG
//! RELOAD` or in a replica's full sync; or an AOF), and whole sets of
//! libraries swapped in at once.
//!
//! The data loaded holds the whole set of libraries, as RDB aux data or as
//! `TRIGGER` commands, so the libraries it does not hold must go once it is
//! loaded, as the keys it does not hold went before ([`loading_ended`]).
//!
//! The set read from an RDB file is built and validated as soon as it is
//! read, so that a library that fails refuses the file, but it is only
//! staged ([`stage`]): it replaces the loaded libraries when the load
//! succeeds. A load that fails after the aux data (a replica's full sync
//! cut off, a file damaged further on) discards it, and the libraries
//! loaded before stay, with the data Redis keeps or restores. A change made
//! while the load goes on (an AOF's `TRIGGER` commands after its RDB
//! preamble, a set taken from another cluster node) applies to the staged
//! set, which it first puts in place ([`commit_staged`]).

use std::collections::HashSet;
use std::rc::Rc;

use super::building::digest;
use super::prepare::{after_change, prepare, switch_to_optimized_code};
use super::registry::{Staged, BUSY, REGISTRY};
use super::Library;
use crate::server::redis_log;

/// A library as the RDB file keeps it.
pub struct SavedLibrary {
    pub owner: String,
    pub code: Vec<u8>,
}

/// Redis starts loading data. Until it is loaded, the libraries stay, so
/// that a library loaded again keeps its statistics and compiled code.
pub fn loading_started() {
    REGISTRY.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            r.loaded_while_loading = Some(HashSet::new());
            r.staged = None;
        }
    });
}

/// Builds the set read from an RDB file, `saved` at `version`: all of its
/// libraries load, or nothing changes and the error names the library that
/// failed. While Redis loads data the set is staged until the load ends;
/// otherwise it replaces the loaded libraries at once. Returns how many
/// libraries the set has.
pub fn stage(saved: Vec<SavedLibrary>, version: u64) -> Result<usize, String> {
    let libraries = match build_all(saved) {
        Ok(libraries) => libraries,
        Err(e) => {
            after_change(false);
            return Err(e);
        }
    };
    let count = libraries.len();
    let loading = REGISTRY.with(|r| {
        let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
        let loading = r.loaded_while_loading.is_some();
        r.staged = Some(Staged { libraries, version });
        Ok::<_, String>(loading)
    })?;
    if !loading {
        commit_staged();
    }
    Ok(count)
}

/// Puts the staged set, if any, in place of the loaded libraries, with its
/// version. Libraries that keep their name keep their triggers' statistics.
pub(super) fn commit_staged() {
    let committed = REGISTRY.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return false;
        };
        let Some(Staged { libraries, version }) = r.staged.take() else {
            return false;
        };
        for library in &libraries {
            r.note_loaded(&library.name);
        }
        r.libraries = libraries;
        r.version = version;
        true
    });
    if committed {
        after_change(true);
        // Optimized code that became ready while the set was staged.
        switch_to_optimized_code();
    }
}

/// The data is loaded: the set it held takes the place of the loaded
/// libraries, and the libraries it did not hold are removed.
pub fn loading_ended() {
    commit_staged();
    let removed = REGISTRY.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return Vec::new();
        };
        let Some(loaded) = r.loaded_while_loading.take() else {
            return Vec::new();
        };
        let (kept, removed): (Vec<_>, Vec<_>) = std::mem::take(&mut r.libraries)
            .into_iter()
            .partition(|l| loaded.contains(&l.name));
        r.libraries = kept;
        removed
    });
    if !removed.is_empty() {
        let names: Vec<&str> = removed.iter().map(|l| l.name.as_str()).collect();
        redis_log(
            "notice",
            &format!(
                "removed {} trigger libraries that the loaded data does not hold: {}",
                names.len(),
                names.join(", ")
            ),
        );
        after_change(true);
    }
}

/// Loading failed: the staged set is discarded and the libraries stay as
/// they are.
pub fn loading_failed() {
    let discarded = REGISTRY.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return None;
        };
        r.loaded_while_loading = None;
        r.staged.take().map(|s| s.libraries.len())
    });
    if let Some(count) = discarded {
        redis_log(
            "warning",
            &format!(
                "loading the data failed: the {count} trigger libraries read from it are \
                 discarded, and the libraries loaded before stay"
            ),
        );
        // Their compiled code leaves the in-memory cache.
        after_change(false);
    }
}

/// Replaces every loaded library with `saved` (another cluster node's
/// set): all of them load, or nothing changes and the error names the
/// library that failed. Libraries that keep their name keep their
/// triggers' statistics.
pub fn replace_all(saved: Vec<SavedLibrary>) -> Result<(), String> {
    commit_staged();
    let result = build_all(saved).and_then(|libraries| {
        REGISTRY.with(|r| {
            let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
            r.libraries = libraries;
            let names: Vec<String> = r.libraries.iter().map(|l| l.name.clone()).collect();
            for name in &names {
                r.note_loaded(name);
            }
            Ok(())
        })
    });
    after_change(result.is_ok());
    result
}

fn build_all(saved: Vec<SavedLibrary>) -> Result<Vec<Rc<Library>>, String> {
    let count = saved.len();
    let mut libraries: Vec<Rc<Library>> = Vec::with_capacity(count);
    for (i, SavedLibrary { owner, code }) in saved.into_iter().enumerate() {
        let digest = digest(&code);
        let library = prepare(code, digest.clone(), true, &owner)
            .map_err(|e| format!("library {} of {count} (sha256 {digest}): {e}", i + 1))?;
        if libraries.iter().any(|l| l.name == library.name) {
            return Err(format!(
                "library '{}' appears twice (the second time as library {} of {count}, \
                 sha256 {digest})",
                library.name,
                i + 1
            ));
        }
        libraries.push(Rc::new(library));
    }
    libraries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(libraries)
}
