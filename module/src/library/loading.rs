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

use std::rc::Rc;

use super::building::{digest, EventNames};
use super::prepare::{after_change, prepare, switch_to_optimized_code};
use super::registry::{self, find_rule, Staged};
use super::rules::Rule;
use super::saved::{SavedLibrary, SavedSet};
use super::Library;
use crate::server::{self, redis_log};

/// Redis starts loading data. Until it is loaded, the libraries stay, so
/// that a library loaded again keeps its statistics and compiled code.
pub fn loading_started() {
    let _ = registry::change(|r| r.start_loading());
}

/// Builds the set read from an RDB file, `saved` at `version`: all of its
/// libraries load, or nothing changes and the error names the library that
/// failed. While Redis loads data the set is staged until the load ends;
/// otherwise it replaces the loaded libraries at once. Returns how many
/// libraries and rules the set has.
pub fn stage(saved: SavedSet, version: u64) -> Result<(usize, usize), String> {
    let (libraries, rules) = match build_all(saved) {
        Ok(set) => set,
        Err(e) => {
            after_change(false);
            return Err(e);
        }
    };
    let count = (libraries.len(), rules.len());
    let loading = registry::change(|r| {
        r.stage(Staged {
            libraries,
            rules,
            version,
        })
    })?;
    if !loading {
        commit_staged();
    }
    Ok(count)
}

/// Puts the staged set, if any, in place of the loaded libraries, with its
/// version. Libraries that keep their name keep their triggers' statistics.
pub(super) fn commit_staged() {
    if registry::change(|r| r.commit_staged()) == Ok(true) {
        after_change(true);
        // Optimized code that became ready while the set was staged.
        switch_to_optimized_code();
    }
}

/// The data is loaded: the set it held takes the place of the loaded
/// libraries and rules, and those it did not hold are removed.
pub fn loading_ended() {
    commit_staged();
    let (removed, removed_rules) = registry::change(|r| r.end_loading()).unwrap_or_default();
    if !removed_rules.is_empty() {
        let names: Vec<&str> = removed_rules.iter().map(|l| l.spec.name.as_str()).collect();
        redis_log(
            "notice",
            &format!(
                "removed {} outbox rules that the loaded data does not hold: {}",
                names.len(),
                names.join(", ")
            ),
        );
    }
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
    if let Ok(Some(count)) = registry::change(|r| r.fail_loading()) {
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

/// Replaces every loaded library and rule with `saved` (another cluster
/// node's set): all of them load, or nothing changes and the error names
/// the library that failed. Libraries and rules that keep their name keep
/// their statistics.
pub fn replace_all(saved: SavedSet) -> Result<(), String> {
    commit_staged();
    let result = build_all(saved)
        .and_then(|(libraries, rules)| registry::change(|r| r.replace(libraries, rules)));
    after_change(result.is_ok());
    result
}

type BuiltSet = (Vec<Rc<Library>>, Vec<Rc<Rule>>);

fn build_all(saved: SavedSet) -> Result<BuiltSet, String> {
    let libraries = build_libraries(saved.libraries)?;
    let mut rules: Vec<Rc<Rule>> = Vec::with_capacity(saved.rules.len());
    for spec in saved.rules {
        if rules.iter().any(|r| r.spec.name == spec.name) {
            return Err(format!("outbox rule '{}' appears twice", spec.name));
        }
        let previous = find_rule(&spec.name)?;
        let rule = Rule::new(spec, previous.as_deref())?;
        server::deliver_keyspace_events(rule.notifications())?;
        rules.push(Rc::new(rule));
    }
    rules.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok((libraries, rules))
}

fn build_libraries(saved: Vec<SavedLibrary>) -> Result<Vec<Rc<Library>>, String> {
    let count = saved.len();
    let mut libraries: Vec<Rc<Library>> = Vec::with_capacity(count);
    for (i, saved) in saved.into_iter().enumerate() {
        let digest = digest(&saved.code);
        let library = prepare(saved, digest.clone(), true, EventNames::Any)
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
