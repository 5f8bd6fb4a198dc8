//! Changes to the set of libraries: `TRIGGER LOAD` and `DELETE`, and a
//! change made on another node.

use std::rc::Rc;

use super::building::digest;
use super::loading;
use super::prepare::{after_change, prepare};
use super::registry::{find, BUSY, REGISTRY};

/// `TRIGGER LOAD [REPLACE]` by the ACL user `owner`: returns the
/// library's name. With `replace`, loading a library that is already loaded
/// with the same code and owner changes nothing (a replica or a cluster
/// node can get the same change twice).
pub fn load(code: Vec<u8>, replace: bool, owner: &str) -> Result<String, String> {
    loading::commit_staged();
    let digest = digest(&code);
    if replace {
        let same = REGISTRY.with(|r| {
            let r = r.try_borrow().ok()?;
            r.libraries
                .iter()
                .find(|l| l.digest == digest && l.owner == owner)
                .map(|l| l.name.clone())
        });
        if let Some(name) = same {
            REGISTRY.with(|r| {
                if let Ok(mut r) = r.try_borrow_mut() {
                    r.note_loaded(&name);
                }
            });
            return Ok(name);
        }
    }
    let result = prepare(code, digest, replace, owner).and_then(|library| {
        let library = Rc::new(library);
        let name = library.name.clone();
        REGISTRY.with(|r| {
            let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
            match r.libraries.binary_search_by(|l| l.name.as_str().cmp(&name)) {
                Ok(i) => r.libraries[i] = library,
                Err(i) => r.libraries.insert(i, library),
            }
            r.note_loaded(&name);
            Ok(name)
        })
    });
    after_change(result.is_ok());
    result
}

/// A change to the set of libraries, as it travels to the AOF, to replicas
/// and to other cluster nodes.
#[derive(Clone, Debug, bincode::Encode, bincode::Decode)]
pub enum Change {
    Load { owner: String, code: Vec<u8> },
    Delete { name: String },
}

/// Applies a change that was made elsewhere (on another cluster node):
/// loading replaces, and deleting a library that is not there is done
/// already.
pub fn apply(change: &Change) -> Result<(), String> {
    match change {
        Change::Load { owner, code } => load(code.clone(), true, owner).map(|_| ()),
        Change::Delete { name } => match find(name)? {
            Some(_) => delete(name),
            None => Ok(()),
        },
    }
}

/// `TRIGGER DELETE`.
pub fn delete(name: &str) -> Result<(), String> {
    loading::commit_staged();
    REGISTRY.with(|r| -> Result<(), String> {
        let mut r = r.try_borrow_mut().map_err(|_| BUSY.to_string())?;
        match r.libraries.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) => {
                r.libraries.remove(i);
                if let Some(loaded) = r.loaded_while_loading.as_mut() {
                    loaded.remove(name);
                }
                Ok(())
            }
            Err(_) => Err(format!("no library named '{name}'")),
        }
    })?;
    after_change(true);
    Ok(())
}
