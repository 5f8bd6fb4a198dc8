//! AOF rewrites without the RDB preamble: the rewrite writes the keyspace
//! as commands and has no place for aux data, so as Redis forks it, the
//! libraries are written at the head of the new AOF increment, as the
//! `TRIGGER LOAD` commands that load them ([`on_fork`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use redis_module::Context;

use crate::library::{self, Change};
use crate::replication::propagate;
use crate::server::{config_get, on_fork_child_born, redis_log, server_info_unsigned, ReplicateTo};

/// Subscribes to the fork of AOF rewrites (see [`on_fork`]).
pub fn init(ctx: &Context) -> Result<(), String> {
    on_fork_child_born(ctx, on_fork)
}

/// Redis forked a child. If it rewrites the AOF without the RDB preamble,
/// the rewrite will not hold the libraries, so they must go into the AOF
/// increment that Redis just opened: see [`write_libraries_to_aof`].
fn on_fork(ctx: &Context) {
    let has_rules = library::all_rules().is_ok_and(|r| !r.is_empty());
    if (library::counts().0 > 0 || has_rules) && rewrites_aof_without_preamble(ctx) {
        // Not right here: the command that started the rewrite
        // (`BGREWRITEAOF`, `CONFIG SET appendonly yes`) would then count as
        // a write and be propagated itself.
        ctx.create_timer(Duration::ZERO, write_libraries_to_aof, ());
    }
}

/// Writes every library and outbox rule to the AOF (not to replicas, which
/// have them), as the `TRIGGER LOAD` or `OUTBOX ADD` that makes it. Runs from a timer, between commands,
/// right after an AOF rewrite without the preamble started; the libraries
/// of that moment, so commands run since the fork do not matter.
fn write_libraries_to_aof(ctx: &Context, _: ()) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let libraries = library::all().unwrap_or_default();
        let version = library::version();
        for library in &libraries {
            let change = Change::Load(library.saved());
            propagate(ctx, &change, version, ReplicateTo::AofOnly);
        }
        let rules = library::all_rules().unwrap_or_default();
        for rule in &rules {
            let change = Change::AddRule {
                rule: rule.spec.clone(),
            };
            propagate(ctx, &change, version, ReplicateTo::AofOnly);
        }
        let rules = match rules.len() {
            0 => String::new(),
            n => format!(" and {n} outbox rules"),
        };
        redis_log(
            "notice",
            &format!(
                "AOF rewrite without the RDB preamble: {} trigger libraries{rules} written to the \
                 new AOF increment",
                libraries.len()
            ),
        );
    }));
    if outcome.is_err() {
        redis_log(
            "warning",
            "internal error while writing the trigger libraries for an AOF rewrite",
        );
    }
}

/// Whether the child just forked rewrites the AOF, without the preamble.
fn rewrites_aof_without_preamble(ctx: &Context) -> bool {
    let rewriting =
        server_info_unsigned(ctx, c"persistence", c"aof_rewrite_in_progress") == Some(1);
    if !rewriting {
        return false;
    }
    // Unknown: write them; at worst the same libraries load twice.
    config_get(ctx, "aof-use-rdb-preamble").is_none_or(|preamble| preamble != "yes")
}
