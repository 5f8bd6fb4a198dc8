//! Building a library: compiled, instantiated, described and validated,
//! without any side effect on the registry or Redis (the fuzz targets call
//! [`check`] without a server, see `fuzzing.rs`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::event_filter::{check_known, EventFilter};
use super::names::{valid_name, MAX_NAME_LEN};
use super::registry::find;
use super::saved::SavedLibrary;
use super::{Library, Trigger};
use crate::server::redis_log;
use crate::wasm::{self, code_cache, CompiledLibrary, Described, LibraryInstance};

/// Longest trigger description, in bytes.
const MAX_DESCRIPTION_LEN: usize = 1024;

/// Turns what the library described into triggers, or says what is wrong.
fn validate(
    described: Described,
    previous: Option<&Library>,
    names: EventNames,
) -> Result<(String, Vec<Trigger>), String> {
    let Described {
        info,
        descriptions,
        removed_value,
    } = described;
    if !valid_name(&info.name) {
        return Err(format!(
            "invalid library name {:?}: use 1 to {MAX_NAME_LEN} characters from [A-Za-z0-9_]",
            info.name
        ));
    }
    if info.triggers.is_empty() {
        return Err(format!("library '{}' declares no trigger", info.name));
    }
    // Libraries built before descriptions existed have none.
    if !descriptions.is_empty() && descriptions.len() != info.triggers.len() {
        return Err(format!(
            "library '{}' describes {} triggers but declares {}",
            info.name,
            descriptions.len(),
            info.triggers.len()
        ));
    }
    if let Some(index) = removed_value
        .iter()
        .find(|&&i| i as usize >= info.triggers.len())
    {
        return Err(format!(
            "library '{}' asks for removed values for trigger {index}, but declares {}",
            info.name,
            info.triggers.len()
        ));
    }
    let mut descriptions = descriptions.into_iter();
    let mut seen = HashSet::new();
    let mut triggers = Vec::with_capacity(info.triggers.len());
    for (index, t) in info.triggers.into_iter().enumerate() {
        if !valid_name(&t.name) {
            return Err(format!(
                "invalid trigger name {:?} in library '{}': use 1 to {MAX_NAME_LEN} characters \
                 from [A-Za-z0-9_]",
                t.name, info.name
            ));
        }
        if !seen.insert(t.name.clone()) {
            return Err(format!(
                "duplicate trigger name '{}' in library '{}'",
                t.name, info.name
            ));
        }
        let in_trigger = |e| format!("trigger '{}' of library '{}': {e}", t.name, info.name);
        if names == EventNames::Known {
            check_known(&t.events).map_err(in_trigger)?;
        }
        let filter = EventFilter::parse(&t.events).map_err(in_trigger)?;
        let description = descriptions.next().unwrap_or_default();
        if description.len() > MAX_DESCRIPTION_LEN {
            return Err(in_trigger(format!(
                "the description is {} bytes, over {MAX_DESCRIPTION_LEN}",
                description.len()
            )));
        }
        // A trigger that survives an upgrade keeps its statistics.
        let stats = previous
            .and_then(|old| old.triggers.iter().find(|o| o.name == t.name))
            .map(|old| Rc::clone(&old.stats))
            .unwrap_or_default();
        triggers.push(Trigger {
            name: t.name,
            description,
            index: index as u32,
            prefix: t.prefix,
            events: t.events,
            filter,
            has_on_fired: t.has_on_fired,
            wants_removed_value: removed_value.contains(&(index as u32)),
            stats,
        });
    }
    Ok((info.name, triggers))
}

/// Which event names a library may declare.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum EventNames {
    /// Only those a server raises: a client's `TRIGGER LOAD`.
    Known,
    /// Any valid name: a library coming back from an RDB file, the AOF, a
    /// primary or another node, which loaded once and must load again.
    Any,
}

/// A library that compiled, instantiated, described itself and passed
/// validation: everything `TRIGGER LOAD` checks before it involves Redis.
pub struct Checked {
    pub name: String,
    pub triggers: Vec<Trigger>,
    pub instance: LibraryInstance,
}

/// Instantiates a compiled library, calls its `describe` and validates what
/// it declares; neither the registry nor Redis is changed (the fuzz targets
/// call this without a server, see `fuzzing.rs`). An existing library of the
/// same name is an error unless `replace` (its triggers' statistics carry
/// over).
pub fn check(
    compiled: CompiledLibrary,
    replace: bool,
    config: &str,
    names: EventNames,
) -> Result<Checked, String> {
    let mut instance = LibraryInstance::new(compiled, "(loading)", config)?;
    let described = instance.describe()?;
    let info = &described.info;
    let previous = find(&info.name)?;
    if previous.is_some() && !replace {
        return Err(format!(
            "library '{}' already exists: use TRIGGER LOAD REPLACE to upgrade it",
            info.name
        ));
    }
    let (name, triggers) = validate(described, previous.as_deref(), names)?;
    Ok(Checked {
        name,
        triggers,
        instance,
    })
}

/// Compiles and checks a library's code ([`check`]) into a library whose
/// calls will run as the ACL user `saved.owner`, with its configuration;
/// `digest` is the code's. Neither the registry nor Redis is changed.
pub(super) fn build(
    saved: SavedLibrary,
    digest: String,
    replace: bool,
    names: EventNames,
) -> Result<Library, String> {
    let SavedLibrary {
        owner,
        code,
        config,
    } = saved;
    let started = Instant::now();
    let compiled = wasm::compile(&code)?;
    let compiled_at = started.elapsed();
    let Checked {
        name,
        triggers,
        mut instance,
    } = check(compiled, replace, &config, names)?;
    let names = triggers.iter().map(|t| t.name.clone()).collect();
    instance.set_identity(&name, &owner, names);
    redis_log(
        "verbose",
        &format!(
            "built library '{name}' in {:.1} ms (compiled in {:.1} ms, {} code)",
            started.elapsed().as_secs_f64() * 1e3,
            compiled_at.as_secs_f64() * 1e3,
            instance.tier().name()
        ),
    );
    Ok(Library {
        name,
        owner,
        code,
        config,
        digest,
        triggers,
        instance: RefCell::new(instance),
    })
}

/// The SHA-256 of a library's code, in hex.
pub(super) fn digest(code: &[u8]) -> String {
    code_cache::hex(&Sha256::digest(code))
}
