//! `TRIGGER HELP`.

use redis_module::{Context, RedisResult, RedisString, RedisValue};

const HELP: &[&str] = &[
    "TRIGGER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <component>",
    "    Load a trigger library: the bytes of a Wasm component. Replies with its name.",
    "    REPLACE upgrades an existing library of the same name.",
    "DELETE <library>",
    "    Remove a library and its triggers.",
    "LIST [LIBRARY <name>] [VERBOSE] [WITHCODE]",
    "    List the libraries with their triggers and statistics.",
    "KILL",
    "    Stop the triggers holding the server (other clients then get -BUSY).",
    "HELP",
    "    Print this help.",
];

pub(super) fn help(_ctx: &Context, _args: &[RedisString]) -> RedisResult {
    Ok(RedisValue::Array(
        HELP.iter()
            .map(|l| RedisValue::SimpleStringStatic(l))
            .collect(),
    ))
}
