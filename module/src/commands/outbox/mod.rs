//! `OUTBOX`: the rules that send keyspace events to the outbox (`ADD`,
//! `DELETE`, `LIST`), and the streams a consumer reads (`STREAMS`,
//! `CHANGED`), and the forwarder to RabbitMQ (`CONNECT`, `DISCONNECT`).
//! See `outbox/` for the streams and their entries, `forward/` for the
//! forwarder.

use redis_module::{Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::server::{command_entry, Subcommand};

mod add;
mod changed;
mod delete;
mod forwarding;
mod list;
mod streams;

pub(super) const SUBCOMMANDS: [Subcommand; 9] = [
    Subcommand {
        name: "add",
        flags: "write deny-oom deny-script",
        entry: command_entry!(add::add),
    },
    Subcommand {
        name: "delete",
        flags: "write deny-script",
        entry: command_entry!(delete::delete),
    },
    Subcommand {
        name: "list",
        flags: "deny-script",
        entry: command_entry!(list::list),
    },
    Subcommand {
        name: "streams",
        flags: "deny-script",
        entry: command_entry!(streams::streams),
    },
    Subcommand {
        name: "changed",
        flags: "deny-script",
        entry: command_entry!(changed::changed),
    },
    Subcommand {
        name: "connect",
        flags: "admin deny-script",
        entry: command_entry!(forwarding::connect),
    },
    Subcommand {
        name: "disconnect",
        flags: "admin deny-script",
        entry: command_entry!(forwarding::disconnect),
    },
    Subcommand {
        name: "help",
        flags: "deny-script allow-loading allow-stale",
        entry: command_entry!(help),
    },
    Subcommand {
        // What a command becomes while its slot moves and its outbox entry
        // could not be appended (`events/migration.rs`). Any client may get
        // it, whatever its ACL permissions: hence `no-auth`.
        name: "tryagain",
        flags: "no-auth fast",
        entry: command_entry!(try_again),
    },
];

const HELP: &[&str] = &[
    "OUTBOX <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADD <rule> [REPLACE] [PREFIX <prefix>] [EVENTS <event> ...]",
    "    Send the keyspace events of keys starting with <prefix> (all keys by default)",
    "    and named or of a class listed (@all by default) to the outbox: one stream per",
    "    hash slot, appended atomically with the command. REPLACE changes a rule.",
    "DELETE <rule>",
    "    Remove a rule. Its entries stay in the outbox.",
    "LIST",
    "    List the rules with their counters.",
    "STREAMS",
    "    List this node's outbox streams that hold entries, with the id of their last entry.",
    "CHANGED <epoch> <after>",
    "    The outbox streams this node appended to since append number <after> of <epoch>",
    "    (start with 0 0; nil streams: list them all again with STREAMS).",
    "CONNECT",
    "    Forward this node's outbox to RabbitMQ (triggers.amqp-url), after a DISCONNECT.",
    "DISCONNECT",
    "    Stop forwarding from this node until CONNECT or a restart; entries wait in the outbox.",
    "TRYAGAIN <slot>",
    "    What a command becomes while its slot moves key by key and its event could not be",
    "    appended to the outbox on this node: a -TRYAGAIN error.",
    "HELP",
    "    Print this help.",
];

/// `OUTBOX TRYAGAIN <slot>`: the reply to a command refused while its slot
/// moves key by key.
fn try_again(_ctx: &Context, args: &[RedisString]) -> RedisResult {
    let slot = args
        .first()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    Err(RedisError::String(format!(
        "TRYAGAIN slot {slot} is moving and its outbox stream is on the other node: retry \
         once the move ends"
    )))
}

fn help(_ctx: &Context, _args: &[RedisString]) -> RedisResult {
    Ok(RedisValue::Array(
        HELP.iter()
            .map(|l| RedisValue::SimpleStringStatic(l))
            .collect(),
    ))
}
