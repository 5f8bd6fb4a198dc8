//! The loaded libraries are saved with the data: as RDB aux data of the
//! module type `wasmtrigr`, written before the keyspace, so every RDB file
//! carries them: `SAVE`/`BGSAVE`, `DEBUG RELOAD`, the RDB preamble of the
//! AOF and a replica's full sync.
//!
//! The payload, in Redis' module RDB encoding:
//!
//! ```text
//! unsigned  format version (FORMAT_VERSION)
//! unsigned  number of libraries (at least 1)
//! string    the component bytes of each library, as TRIGGER LOAD got them
//! ```
//!
//! A library's name is not stored: `describe` says it again when the library
//! is loaded. Nothing at all is written when no library is loaded
//! (`aux_save2`), so such an RDB file loads on a server without the module.
//!
//! Loading replaces the loaded libraries with the RDB's, all or nothing
//! ([`registry::replace_all`]): after a `DEBUG RELOAD` the same libraries
//! are back. A payload of an unknown version, one that cannot be read, or a
//! library that fails to load is logged and refuses the whole RDB file: the
//! libraries are never dropped silently. (Redis then stops at startup, and
//! `DEBUG RELOAD` replies with an error.) Triggers do not fire while data
//! loads (see `dispatch.rs`); the libraries' compiled code comes from the
//! cache when it can (`code_cache.rs`).

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::native_types::RedisType;
use redis_module::raw;

use crate::host_api::redis_log;
use crate::registry;

/// The type's encoding version, which Redis stores with the aux data.
const ENCODING_VERSION: i32 = 1;

/// The version of the payload's layout, its first field.
const FORMAT_VERSION: u64 = 1;

/// The module type that carries the aux data. It has no keys: only the
/// aux callbacks are set.
pub static TRIGGERS_TYPE: RedisType = RedisType::new(
    "wasmtrigr",
    ENCODING_VERSION,
    raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: None,
        rdb_save: None,
        aof_rewrite: None,
        free: None,
        mem_usage: None,
        digest: None,
        aux_load: Some(aux_load),
        // `aux_save2` rather than `aux_save`: when it writes nothing, Redis
        // writes nothing for the type either.
        aux_save: None,
        aux_save2: Some(aux_save),
        aux_save_triggers: raw::Aux::Before as i32,
        free_effort: None,
        unlink: None,
        copy: None,
        defrag: None,
        mem_usage2: None,
        free_effort2: None,
        unlink2: None,
        copy2: None,
    },
);

/// Writes the libraries. Never panics into Redis.
extern "C" fn aux_save(rdb: *mut raw::RedisModuleIO, when: c_int) {
    if when != raw::Aux::Before as c_int {
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| save(rdb))).is_err() {
        // Whatever was written is incomplete, so loading this file fails
        // (loudly) rather than dropping libraries.
        redis_log(
            "warning",
            "internal error while saving the trigger libraries to the RDB file",
        );
    }
}

fn save(rdb: *mut raw::RedisModuleIO) {
    let libraries = match registry::all() {
        Ok(libraries) => libraries,
        Err(e) => {
            redis_log(
                "warning",
                &format!("cannot save the trigger libraries to the RDB file: {e}"),
            );
            return;
        }
    };
    if libraries.is_empty() {
        return;
    }
    raw::save_unsigned(rdb, FORMAT_VERSION);
    raw::save_unsigned(rdb, libraries.len() as u64);
    for library in &libraries {
        raw::save_slice(rdb, &library.code);
    }
}

/// Reads the libraries and loads them in place of the loaded ones. Never
/// panics into Redis; any failure is logged and fails the whole load.
extern "C" fn aux_load(rdb: *mut raw::RedisModuleIO, encver: c_int, when: c_int) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(|| load(rdb, encver, when)));
    let error = match outcome {
        Ok(Ok(count)) => {
            redis_log(
                "notice",
                &format!("loaded {count} trigger libraries from the RDB file"),
            );
            return raw::REDISMODULE_OK as c_int;
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
    raw::REDISMODULE_ERR as c_int
}

fn load(rdb: *mut raw::RedisModuleIO, encver: c_int, when: c_int) -> Result<usize, String> {
    if when != raw::Aux::Before as c_int {
        return Err(format!(
            "unexpected aux data position {when} (expected before the keyspace)"
        ));
    }
    if encver > ENCODING_VERSION {
        return Err(format!(
            "the data was written by a newer version of the module (encoding version \
             {encver}; this module reads up to {ENCODING_VERSION})"
        ));
    }
    let short = |what: &str| format!("the payload is truncated or damaged (reading {what})");
    let version = raw::load_unsigned(rdb).map_err(|_| short("its version"))?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "unknown payload format version {version} (this module reads version \
             {FORMAT_VERSION})"
        ));
    }
    let count = raw::load_unsigned(rdb).map_err(|_| short("the number of libraries"))?;
    // Not trusted for an allocation: the count comes from the file.
    let mut codes = Vec::with_capacity(count.min(1024) as usize);
    for i in 0..count {
        let code = raw::load_string_buffer(rdb)
            .map_err(|_| short(&format!("library {} of {count}", i + 1)))?;
        codes.push(code.as_ref().to_vec());
    }
    let loaded = codes.len();
    registry::replace_all(codes)?;
    Ok(loaded)
}
