//! The `TRIGGER` command: `LOAD`, `DELETE`, `LIST`, `KILL` and `HELP`; and
//! the `OUTBOX` command (`outbox/`).
//!
//! Each is a subcommand of its own, in the `@triggers` ACL category, so
//! that an admin can grant `TRIGGER|LIST` without `TRIGGER|LOAD`. `LOAD`
//! and `DELETE` are write commands: they are refused on a read-only
//! replica, and they are propagated to the AOF and to replicas. A library
//! records the ACL user that loaded it, its owner: its calls run as that
//! user (see `wasm/owner.rs`).
//!
//! One file per subcommand, each with its handler; `change.rs` holds what
//! `LOAD` and `DELETE` share, and `info.rs` the `INFO triggers` section.
//! This is the top of the module: it may use every other part, and no part
//! uses it.

use redis_module::{Context, ContextFlags, RedisError};

use crate::server::{self, command_entry, redis_log, Subcommand};

mod change;
mod delete;
mod help;
mod info;
mod kill;
mod list;
mod load;
mod outbox;

/// The ACL category of every `TRIGGER` and `OUTBOX` subcommand.
const ACL_CATEGORY: &str = "triggers";

/// A command and its subcommands.
struct Command {
    name: &'static str,
    subcommands: &'static [Subcommand],
}

const COMMANDS: [Command; 2] = [
    Command {
        name: "trigger",
        subcommands: &TRIGGER_SUBCOMMANDS,
    },
    Command {
        name: "outbox",
        subcommands: &outbox::SUBCOMMANDS,
    },
];

const TRIGGER_SUBCOMMANDS: [Subcommand; 5] = [
    Subcommand {
        name: "load",
        flags: "write deny-oom deny-script",
        entry: command_entry!(load::load),
    },
    Subcommand {
        name: "delete",
        flags: "write deny-script",
        entry: command_entry!(delete::delete),
    },
    Subcommand {
        name: "list",
        // Not `readonly`, which would put it in `@read`: listing the
        // libraries (and their code) is granted with `@triggers`.
        flags: "deny-script",
        entry: command_entry!(list::list),
    },
    Subcommand {
        name: "kill",
        flags: "allow-busy deny-script",
        entry: command_entry!(kill::kill),
    },
    Subcommand {
        name: "help",
        flags: "deny-script allow-loading allow-stale",
        entry: command_entry!(help::help),
    },
];

/// Registers `TRIGGER`, `OUTBOX` and their subcommands, and the
/// `@triggers` ACL category where the server has module ACL categories
/// (Redis 7.4 and Valkey 8 do). Called from `MODULE LOAD`.
pub fn register(ctx: &Context) -> Result<(), String> {
    // In a cluster, the changes (`LOAD`, `ADD`, `DELETE`) are taken by any
    // node, replicas too, and reach every node through the cluster bus
    // (`cluster/`): not write commands there.
    let cluster = ctx.get_flags().contains(ContextFlags::CLUSTER);
    let category = server::add_acl_category(ctx, ACL_CATEGORY).then_some(ACL_CATEGORY);
    if category.is_none() {
        redis_log(
            "warning",
            "this server cannot add the @triggers ACL category; grant the TRIGGER and \
             OUTBOX subcommands by name instead",
        );
    }
    for command in &COMMANDS {
        let subcommands: Vec<Subcommand> = command
            .subcommands
            .iter()
            .map(|sub| Subcommand {
                flags: match sub.flags.strip_prefix("write ") {
                    Some(rest) if cluster => rest,
                    _ => sub.flags,
                },
                ..*sub
            })
            .collect();
        server::create_command(ctx, command.name, &subcommands, category)?;
    }
    Ok(())
}

pub(super) fn err(message: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {message}"))
}
