//! The libraries as RDB aux data of the module type `wasmtrigr`, written
//! before the keyspace, so every RDB file carries them.
//!
//! The payload, in Redis' module RDB encoding:
//!
//! ```text
//! unsigned  format version (FORMAT_VERSION)
//! unsigned  the set's version, see `library/registry.rs` (from version 3)
//! unsigned  number of libraries
//! then for each library:
//! string    its owner: the ACL user that loaded it (from version 2)
//! string    its component bytes, as TRIGGER LOAD made them
//! string    its configuration, `TRIGGER LOAD … CONFIG` (from version 5)
//! unsigned  number of outbox rules (from version 4)
//! then for each rule:
//! string    its name
//! string    its owner
//! string    its key prefix
//! unsigned  number of events, then each event name or class, a string
//! ```
//!
//! Version 4 is written only when there are outbox rules, and version 5
//! only when a library has a configuration, so that a file without them
//! still loads in a module that predates them.
//!
//! A library's name is not stored: `describe` says it again when the library
//! is loaded. Version 1 files have no owner: their libraries run as the
//! `default` user. Nothing at all is written when no library is loaded
//! (`aux_save2`), so such an RDB file loads on a server without the module;
//! except in a cluster once libraries were loaded, where the set's version
//! matters even when the set is empty.
//!
//! Loading replaces the loaded libraries with the RDB's, all or nothing,
//! and only once the whole load succeeded: the aux data is read before the
//! keyspace, and there every library is built and validated, so that one
//! that fails refuses the file; the set is then staged
//! ([`library::stage`]) and put in place when Redis reports the end of
//! the load ([`library::loading_ended`]). A load that fails later (a
//! replica's full sync cut off during the transfer, a file damaged after
//! the aux data) discards the staged set ([`library::loading_failed`]):
//! the libraries loaded before stay, as the data Redis keeps or restores
//! does. After a `DEBUG RELOAD` the same libraries are back. Libraries
//! that the loaded data does not hold at all (an RDB file saved without
//! libraries, a full sync from a primary without them) are removed once
//! loading ends; an AOF without the RDB preamble holds its libraries as
//! `TRIGGER LOAD` and `TRIGGER DELETE` commands, replayed like any other
//! (after an RDB preamble, the first of them puts the preamble's set in
//! place before it applies).
//!
//! A payload of an unknown version, one that cannot be read, or a library
//! that fails to load is logged and refuses the whole RDB file: the
//! libraries are never dropped silently. (Redis then stops at startup, and
//! `DEBUG RELOAD` replies with an error.)

use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::native_types::RedisType;

use crate::cluster;
use crate::library::{self, RuleSpec, SavedLibrary, SavedSet};
use crate::server::{aux_data_type, redis_log, AuxData, AuxReader, AuxWriter};

/// The type's encoding version, which Redis stores with the aux data.
const ENCODING_VERSION: i32 = 1;

/// The version of the payload's layout, its first field.
const FORMAT_VERSION: u64 = 5;

/// The owner of the libraries of a version 1 payload, which has none.
const OWNER_OF_VERSION_1: &str = "default";

/// The module type that carries the aux data. It has no keys: only the
/// aux callbacks are set.
pub static TRIGGERS_TYPE: RedisType = aux_data_type::<Libraries>("wasmtrigr", ENCODING_VERSION);

/// The libraries and outbox rules, as the aux data of [`TRIGGERS_TYPE`].
struct Libraries;

impl AuxData for Libraries {
    /// Writes the libraries. Never panics into Redis.
    fn save(out: &mut AuxWriter) {
        if catch_unwind(AssertUnwindSafe(|| save(out))).is_err() {
            // Whatever was written is incomplete, so loading this file fails
            // (loudly) rather than dropping libraries.
            redis_log(
                "warning",
                "internal error while saving the trigger libraries to the RDB file",
            );
        }
    }

    /// Reads the libraries and builds them, to replace the loaded ones once
    /// the whole load succeeds. Never panics into Redis; any failure is
    /// logged and fails the whole load.
    fn load(input: &mut AuxReader, encver: i32) -> Result<(), ()> {
        let outcome = catch_unwind(AssertUnwindSafe(|| load(input, encver)));
        let error = match outcome {
            Ok(Ok((count, 0))) => {
                redis_log(
                    "notice",
                    &format!("loaded {count} trigger libraries from the RDB file"),
                );
                return Ok(());
            }
            Ok(Ok((count, rules))) => {
                redis_log(
                    "notice",
                    &format!(
                        "loaded {count} trigger libraries and {rules} outbox rules from the RDB file"
                    ),
                );
                return Ok(());
            }
            Ok(Err(e)) => e,
            Err(_) => "internal error (a panic in the module)".to_string(),
        };
        redis_log(
            "warning",
            &format!(
                "cannot load the trigger libraries from the RDB file: {error}. The RDB file is \
                 refused rather than loaded without them"
            ),
        );
        Err(())
    }
}

fn save(out: &mut AuxWriter) {
    let libraries = match library::all() {
        Ok(libraries) => libraries,
        Err(e) => {
            redis_log(
                "warning",
                &format!("cannot save the trigger libraries to the RDB file: {e}"),
            );
            return;
        }
    };
    let rules = library::all_rules().unwrap_or_default();
    let version = library::version();
    if libraries.is_empty() && rules.is_empty() && !(cluster::enabled() && version > 0) {
        return;
    }
    let configured = libraries.iter().any(|l| !l.config.is_empty());
    let format = match (configured, rules.is_empty()) {
        (true, _) => 5,
        (false, false) => 4,
        (false, true) => 3,
    };
    out.unsigned(format);
    out.unsigned(version);
    out.unsigned(libraries.len() as u64);
    for library in &libraries {
        out.bytes(library.owner.as_bytes());
        out.bytes(&library.code);
        if format >= 5 {
            out.bytes(library.config.as_bytes());
        }
    }
    if format < 4 {
        return;
    }
    out.unsigned(rules.len() as u64);
    for rule in &rules {
        let spec = &rule.spec;
        out.bytes(spec.name.as_bytes());
        out.bytes(spec.owner.as_bytes());
        out.bytes(&spec.prefix);
        out.unsigned(spec.events.len() as u64);
        for event in &spec.events {
            out.bytes(event.as_bytes());
        }
    }
}

fn load(input: &mut AuxReader, encver: i32) -> Result<(usize, usize), String> {
    if encver > ENCODING_VERSION {
        return Err(format!(
            "the data was written by a newer version of the module (encoding version \
             {encver}; this module reads up to {ENCODING_VERSION})"
        ));
    }
    let short = |what: &str| format!("the payload is truncated or damaged (reading {what})");
    let version = input.unsigned().map_err(|_| short("its version"))?;
    if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(format!(
            "unknown payload format version {version} (this module reads versions 1 to \
             {FORMAT_VERSION})"
        ));
    }
    let set_version = if version >= 3 {
        input
            .unsigned()
            .map_err(|_| short("the version of the set"))?
    } else {
        0
    };
    let count = input
        .unsigned()
        .map_err(|_| short("the number of libraries"))?;
    // Not trusted for an allocation: the count comes from the file.
    let mut saved = Vec::with_capacity(count.min(1024) as usize);
    for i in 0..count {
        let library = || format!("library {} of {count}", i + 1);
        let owner = if version == 1 {
            OWNER_OF_VERSION_1.to_owned()
        } else {
            let owner = input
                .bytes()
                .map_err(|_| short(&format!("the owner of {}", library())))?;
            String::from_utf8(owner)
                .map_err(|_| format!("the owner of {} is not valid UTF-8", library()))?
        };
        let code = input.bytes().map_err(|_| short(&library()))?;
        let config = if version >= 5 {
            let config = input
                .bytes()
                .map_err(|_| short(&format!("the configuration of {}", library())))?;
            String::from_utf8(config)
                .map_err(|_| format!("the configuration of {} is not valid UTF-8", library()))?
        } else {
            String::new()
        };
        saved.push(SavedLibrary {
            owner,
            code,
            config,
        });
    }
    let rules = if version >= 4 {
        load_rules(input)?
    } else {
        Vec::new()
    };
    let set = SavedSet {
        libraries: saved,
        rules,
    };
    library::stage(set, set_version)
}

fn load_rules(input: &mut AuxReader) -> Result<Vec<RuleSpec>, String> {
    let short = |what: &str| format!("the payload is truncated or damaged (reading {what})");
    let text = |input: &mut AuxReader, what: &str| -> Result<String, String> {
        let bytes = input.bytes().map_err(|_| short(what))?;
        String::from_utf8(bytes).map_err(|_| format!("{what} is not valid UTF-8"))
    };
    let count = input
        .unsigned()
        .map_err(|_| short("the number of outbox rules"))?;
    let mut rules = Vec::with_capacity(count.min(1024) as usize);
    for i in 0..count {
        let rule = format!("outbox rule {} of {count}", i + 1);
        let name = text(input, &format!("the name of {rule}"))?;
        let owner = text(input, &format!("the owner of {rule}"))?;
        let prefix = input
            .bytes()
            .map_err(|_| short(&format!("the prefix of {rule}")))?;
        let events = input
            .unsigned()
            .map_err(|_| short(&format!("the events of {rule}")))?;
        let events = (0..events)
            .map(|_| text(input, &format!("an event of {rule}")))
            .collect::<Result<Vec<_>, _>>()?;
        rules.push(RuleSpec {
            name,
            owner,
            prefix,
            events,
        });
    }
    Ok(rules)
}
