//! What the commands that change the set share (`TRIGGER LOAD` and
//! `DELETE`, `OUTBOX ADD` and `DELETE`): the owner, the options only the
//! primary and the AOF may pass, and where a change goes once it is made.

use redis_module::{Context, ContextFlags, RedisError, RedisResult, RedisString, RedisValue};

use super::err;
use crate::cluster;
use crate::library::{self, Change};
use crate::replication::propagate;
use crate::server::{current_user_name, ReplicateTo};

/// The value of an option only the primary and the AOF may pass.
pub(super) fn internal_option(
    ctx: &Context,
    option: &str,
    value: Option<&RedisString>,
) -> Result<String, RedisError> {
    let Some(value) = value else {
        return Err(err(format!("{option} needs a value")));
    };
    if !from_primary_or_aof(ctx) {
        return Err(err(format!(
            "{option} is only for the primary and the AOF: a library or an outbox rule \
             belongs to the user that sends it"
        )));
    }
    Ok(value.to_string_lossy())
}

/// The arguments of a `DELETE`: `<name>`, or `VERSION <n> <name>` from
/// the primary or the AOF.
pub(super) fn delete_args(
    ctx: &Context,
    args: &[RedisString],
) -> Result<(Option<u64>, String), RedisError> {
    match args {
        [name] => Ok((None, name.to_string_lossy())),
        [option, version, name] if option.to_string_lossy().eq_ignore_ascii_case("VERSION") => {
            Ok((
                Some(version_option(ctx, Some(version))?),
                name.to_string_lossy(),
            ))
        }
        _ => Err(RedisError::WrongArity),
    }
}

pub(super) fn version_option(
    ctx: &Context,
    value: Option<&RedisString>,
) -> Result<u64, RedisError> {
    internal_option(ctx, "VERSION", value)?
        .parse()
        .map_err(|_| err("VERSION needs a number"))
}

/// After a change: the set's new version, the change written to the AOF
/// and sent to replicas, or in a cluster to every other node (whose
/// answers the reply then waits for, see `cluster/`).
pub(super) fn changed(
    ctx: &Context,
    change: Change,
    version: Option<u64>,
    reply: RedisValue,
) -> RedisResult {
    let version = match version {
        Some(version) => {
            library::set_version(version, false);
            version
        }
        None => library::next_version(),
    };
    if !cluster::enabled() {
        propagate(ctx, &change, version, ReplicateTo::AofAndReplicas);
        return Ok(reply);
    }
    // In a cluster every node, replicas too, gets the change over the
    // cluster bus and writes it to its own AOF.
    propagate(ctx, &change, version, ReplicateTo::AofOnly);
    if from_primary_or_aof(ctx) {
        return Ok(reply);
    }
    cluster::spread(ctx, change, version, reply)
}

/// Whether the command came from this replica's primary, or from the AOF
/// being loaded.
pub(super) fn from_primary_or_aof(ctx: &Context) -> bool {
    let flags = ctx.get_flags();
    flags.contains(ContextFlags::REPLICATED) || flags.contains(ContextFlags::LOADING)
}

/// The owner of a library or rule sent by a client without a user, such
/// as a module's own call.
const DEFAULT_OWNER: &str = "default";

/// The ACL user of the client running the command.
pub(super) fn current_user(ctx: &Context) -> String {
    current_user_name(ctx).unwrap_or_else(|| DEFAULT_OWNER.to_owned())
}
