//! `OUTBOX DELETE <rule>`.

use redis_module::{Context, RedisResult, RedisString, RedisValue};

use crate::commands::change::{changed, delete_args, from_primary_or_aof};
use crate::commands::err;
use crate::library::{self, Change};

/// Removes a rule; its stream entries stay. The primary and the AOF also
/// pass `VERSION <n>`, and deleting a rule that is not there is then done
/// already.
pub(super) fn delete(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let (version, name) = delete_args(ctx, args)?;
    let missing = library::find_rule(&name).map_err(err)?.is_none();
    if !(missing && from_primary_or_aof(ctx)) {
        library::delete_rule(&name).map_err(err)?;
    }
    changed(
        ctx,
        Change::DeleteRule { name },
        version,
        RedisValue::SimpleStringStatic("OK"),
    )
}
