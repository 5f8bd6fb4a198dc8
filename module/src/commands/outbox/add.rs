//! `OUTBOX ADD <rule> [REPLACE] [PREFIX <prefix>] [EVENTS <event> ...]`.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::commands::change::{
    changed, current_user, from_primary_or_aof, internal_option, version_option,
};
use crate::commands::err;
use crate::library::{self, Change, RuleSpec};
use crate::server::{config_get, redis_log};

/// Adds (or with `REPLACE` changes) a rule. The primary and the AOF also
/// pass `OWNER <user>` and `VERSION <n>`, as for `TRIGGER LOAD`.
pub(super) fn add(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let Some((name, options)) = args.split_first() else {
        return Err(RedisError::WrongArity);
    };
    let mut replace = false;
    let mut owner = None;
    let mut version = None;
    let mut prefix = Vec::new();
    let mut events = Vec::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.to_string_lossy().to_ascii_uppercase().as_str() {
            "REPLACE" => replace = true,
            "OWNER" => owner = Some(internal_option(ctx, "OWNER", options.next())?),
            "VERSION" => version = Some(version_option(ctx, options.next())?),
            "PREFIX" => {
                let Some(value) = options.next() else {
                    return Err(err("PREFIX needs a key prefix"));
                };
                prefix = value.as_slice().to_vec();
            }
            "EVENTS" => {
                events = options.by_ref().map(|e| e.to_string_lossy()).collect();
                if events.is_empty() {
                    return Err(err("EVENTS needs at least one event name or @class"));
                }
            }
            other => return Err(err(format!("unknown option '{other}'"))),
        }
    }
    let rule = RuleSpec {
        name: name.to_string_lossy(),
        owner: owner.unwrap_or_else(|| current_user(ctx)),
        prefix,
        events,
    };
    // Event names are checked for clients only: what the AOF or a primary
    // sends was accepted once.
    if !from_primary_or_aof(ctx) {
        library::check_event_names(&rule.events).map_err(err)?;
    }
    library::add_rule(rule.clone(), replace).map_err(err)?;
    warn_if_evictable(ctx);
    changed(
        ctx,
        Change::AddRule { rule },
        version,
        RedisValue::SimpleStringStatic("OK"),
    )
}

/// An `allkeys-*` eviction policy can evict outbox streams: said in the
/// log when a rule is added (and counted when it happens, see `outbox/`).
fn warn_if_evictable(ctx: &Context) {
    if let Some(policy) = config_get(ctx, "maxmemory-policy").filter(|p| p.starts_with("allkeys-"))
    {
        redis_log(
            "warning",
            &format!(
                "maxmemory-policy is {policy}: Redis may evict outbox streams, and their \
                 entries with them. Use a volatile-* policy or noeviction with outbox rules"
            ),
        );
    }
}
