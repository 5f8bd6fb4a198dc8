//! Changes to the set of libraries: `TRIGGER LOAD` and `DELETE`, and a
//! change made on another node.

use std::rc::Rc;

use super::building::{digest, EventNames};
use super::loading;
use super::prepare::{after_change, prepare};
use super::registry::{self, find, find_rule};
use super::rules::{Rule, RuleSpec};
use super::saved::SavedLibrary;
use crate::server;

/// `TRIGGER LOAD [REPLACE] [CONFIG]` by the ACL user `saved.owner`: returns the
/// library's name. With `replace`, loading a library that is already loaded
/// with the same code, owner and configuration changes nothing (a replica
/// or a cluster node can get the same change twice).
pub fn load(saved: SavedLibrary, replace: bool, names: EventNames) -> Result<String, String> {
    loading::commit_staged();
    let digest = digest(&saved.code);
    if replace {
        let same = registry::read(|r| r.same_library(&digest, &saved.owner, &saved.config));
        if let Ok(Some(name)) = same {
            let _ = registry::change(|r| r.note_loaded(&name));
            return Ok(name);
        }
    }
    let result = prepare(saved, digest, replace, names).and_then(|library| {
        let name = library.name.clone();
        registry::change(|r| r.put_library(Rc::new(library)))?;
        Ok(name)
    });
    after_change(result.is_ok());
    result
}

/// A change to the set of libraries, as it travels to the AOF, to replicas
/// and to other cluster nodes.
#[derive(Clone, Debug, bincode::Encode, bincode::Decode)]
pub enum Change {
    /// A library loaded: its owner, code and configuration.
    Load(SavedLibrary),
    Delete {
        name: String,
    },
    AddRule {
        rule: RuleSpec,
    },
    DeleteRule {
        name: String,
    },
}

/// Applies a change that was made elsewhere (on another cluster node):
/// loading replaces, and deleting a library that is not there is done
/// already.
pub fn apply(change: &Change) -> Result<(), String> {
    match change {
        Change::Load(saved) => load(saved.clone(), true, EventNames::Any).map(|_| ()),
        Change::Delete { name } => match find(name)? {
            Some(_) => delete(name),
            None => Ok(()),
        },
        Change::AddRule { rule } => add_rule(rule.clone(), true),
        Change::DeleteRule { name } => match find_rule(name)? {
            Some(_) => delete_rule(name),
            None => Ok(()),
        },
    }
}

/// `TRIGGER DELETE`.
pub fn delete(name: &str) -> Result<(), String> {
    loading::commit_staged();
    registry::change(|r| r.remove_library(name))??;
    after_change(true);
    Ok(())
}

/// `OUTBOX ADD [REPLACE]`: a rule that sends the events it matches to the
/// outbox. An existing rule of the same name is an error unless `replace`
/// (its counters carry over).
pub fn add_rule(spec: RuleSpec, replace: bool) -> Result<(), String> {
    loading::commit_staged();
    let previous = find_rule(&spec.name)?;
    if previous.is_some() && !replace {
        return Err(format!(
            "outbox rule '{}' already exists: use OUTBOX ADD REPLACE to change it",
            spec.name
        ));
    }
    let rule = Rc::new(Rule::new(spec, previous.as_deref())?);
    server::deliver_keyspace_events(rule.notifications())?;
    let added = registry::change(|r| r.put_rule(rule));
    // Its owner is kept between events from now on (`after_change`).
    after_change(false);
    added
}

/// `OUTBOX DELETE`.
pub fn delete_rule(name: &str) -> Result<(), String> {
    loading::commit_staged();
    let deleted = registry::change(|r| r.remove_rule(name)).and_then(|removed| removed);
    // The keyspace events only it needed stop, where they can.
    after_change(false);
    deleted
}
