//! `TRIGGER DELETE`.

use redis_module::{Context, RedisResult, RedisString, RedisValue};

use super::change::{changed, delete_args, from_primary_or_aof};
use super::err;
use crate::library::{self, Change};

/// `TRIGGER DELETE <library>`; the primary and the AOF also pass
/// `VERSION <n>`, and deleting a library that is not there is then done
/// already.
pub(super) fn delete(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let (version, name) = delete_args(ctx, args)?;
    let missing = library::find(&name).map_err(err)?.is_none();
    if !(missing && from_primary_or_aof(ctx)) {
        library::delete(&name).map_err(err)?;
    }
    changed(
        ctx,
        Change::Delete { name },
        version,
        RedisValue::SimpleStringStatic("OK"),
    )
}
