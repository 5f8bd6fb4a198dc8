//! `TRIGGER LOAD`: a library's bytes, loaded as the ACL user that sent
//! them.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use super::change::{changed, current_user, from_primary_or_aof, internal_option, version_option};
use super::err;
use crate::config;
use crate::library::{self, Change, SavedLibrary};
use crate::server::redis_log;
use crate::wasm;

/// `TRIGGER LOAD [REPLACE] [CONFIG <json object>] <component>`. The
/// primary and the AOF also pass `OWNER <user>` and `VERSION <n>` (see
/// `replication.rs`); clients cannot, or they could run code as another
/// user.
pub(super) fn load(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let Some((code, options)) = args.split_last() else {
        return Err(RedisError::WrongArity);
    };
    let mut replace = false;
    let mut owner = None;
    let mut version = None;
    let mut config = String::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.to_string_lossy().to_ascii_uppercase().as_str() {
            "REPLACE" => replace = true,
            "OWNER" => owner = Some(internal_option(ctx, "OWNER", options.next())?),
            "VERSION" => version = Some(version_option(ctx, options.next())?),
            "CONFIG" => config = config_option(options.next())?,
            other => return Err(err(format!("unknown option '{other}'"))),
        }
    }
    let owner = owner.unwrap_or_else(|| current_user(ctx));
    // Checked here, not when loading from an RDB file: a library that was
    // loaded must always come back, even after the limit was lowered.
    let limit = config::max_library_bytes();
    let within_limit = |size: usize| {
        if size <= limit {
            return Ok(());
        }
        Err(err(format!(
            "the library is {size} bytes, over the limit of {limit} bytes (triggers.max-library-size)"
        )))
    };
    within_limit(code.len())?;
    // A core module built by wasm-pack becomes a component here: the
    // registry, the RDB file, the AOF, replicas and other nodes only ever
    // see the component.
    let code = if wasm::is_core_module(code.as_slice()) {
        wasm::componentize(code.as_slice()).map_err(err)?
    } else {
        code.as_slice().to_vec()
    };
    within_limit(code.len())?;
    // Event names are checked for clients only, as the size above.
    let names = if from_primary_or_aof(ctx) {
        library::EventNames::Any
    } else {
        library::EventNames::Known
    };
    let saved = SavedLibrary {
        owner,
        code,
        config,
    };
    let name = match library::load(saved.clone(), replace, names) {
        Ok(name) => name,
        Err(e) => {
            // Redis drops the error reply of a command from the AOF or the
            // primary: the log must say that a library is missing.
            if from_primary_or_aof(ctx) {
                redis_log(
                    "warning",
                    &format!("cannot load a trigger library sent by the primary or the AOF: {e}"),
                );
            }
            return Err(err(e));
        }
    };
    let change = Change::Load(saved);
    changed(ctx, change, version, RedisValue::BulkString(name))
}

/// The longest configuration, in bytes.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// `CONFIG <json>`: a JSON object, which the library reads with
/// `host.config`.
fn config_option(value: Option<&RedisString>) -> Result<String, RedisError> {
    let value = value.ok_or_else(|| err("CONFIG needs a JSON object"))?;
    let text = value
        .try_as_str()
        .map_err(|_| err("the CONFIG value is not UTF-8 text"))?;
    if text.len() > MAX_CONFIG_BYTES {
        return Err(err(format!(
            "the CONFIG value is {} bytes, over {MAX_CONFIG_BYTES}",
            text.len()
        )));
    }
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map_err(|e| err(format!("CONFIG must be a JSON object: {e}")))?;
    Ok(text.to_owned())
}
