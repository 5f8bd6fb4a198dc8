//! The `TRIGGER` command: `LOAD`, `DELETE`, `LIST`, `KILL` and `HELP`; and
//! the `OUTBOX` command (`outbox/`).
//!
//! Each is a subcommand of its own, in the `@triggers` ACL category, so
//! that an admin can grant `TRIGGER|LIST` without `TRIGGER|LOAD`. `LOAD`
//! and `DELETE` are write commands: they are refused on a read-only
//! replica, and they are propagated to the AOF and to replicas. A library
//! records the ACL user that loaded it, its owner: its calls run as that
//! user (see `wasm/host/`).
//!
//! One file per subcommand, each with its handler; `change.rs` holds what
//! `LOAD` and `DELETE` share, and `info.rs` the `INFO triggers` section.
//! This is the top of the module: it may use every other part, and no part
//! uses it.

use std::ffi::CString;
use std::os::raw::c_int;

use redis_module::{raw, Context, ContextFlags, RedisError, RedisResult, RedisString};

use crate::server::{redis_log, reply_guarded};

mod change;
mod delete;
mod help;
mod info;
mod kill;
mod list;
mod load;

/// The ACL category of every `TRIGGER` and `OUTBOX` subcommand.
const ACL_CATEGORY: &str = "triggers";

type Handler = fn(&Context, &[RedisString]) -> RedisResult;

/// A subcommand: its name, flags and entry point.
struct Subcommand {
    name: &'static str,
    flags: &'static str,
    cmdfunc: unsafe extern "C" fn(
        *mut raw::RedisModuleCtx,
        *mut *mut raw::RedisModuleString,
        c_int,
    ) -> c_int,
}

/// An `extern "C"` entry point for a subcommand's handler.
macro_rules! entry_point {
    ($handler:path) => {{
        extern "C" fn entry(
            ctx: *mut redis_module::raw::RedisModuleCtx,
            argv: *mut *mut redis_module::raw::RedisModuleString,
            argc: std::os::raw::c_int,
        ) -> std::os::raw::c_int {
            $crate::commands::run(ctx, argv, argc, $handler)
        }
        entry
    }};
}

mod outbox;

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
        cmdfunc: entry_point!(load::load),
    },
    Subcommand {
        name: "delete",
        flags: "write deny-script",
        cmdfunc: entry_point!(delete::delete),
    },
    Subcommand {
        name: "list",
        // Not `readonly`, which would put it in `@read`: listing the
        // libraries (and their code) is granted with `@triggers`.
        flags: "deny-script",
        cmdfunc: entry_point!(list::list),
    },
    Subcommand {
        name: "kill",
        flags: "allow-busy deny-script",
        cmdfunc: entry_point!(kill::kill),
    },
    Subcommand {
        name: "help",
        flags: "deny-script allow-loading allow-stale",
        cmdfunc: entry_point!(help::help),
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
    let category = CString::new(ACL_CATEGORY).unwrap_or_default();
    let categories = match unsafe { raw::RedisModule_AddACLCategory } {
        Some(add) if unsafe { add(ctx.ctx, category.as_ptr()) } == raw::REDISMODULE_OK as c_int => unsafe {
            raw::RedisModule_SetCommandACLCategories
        },
        _ => {
            redis_log(
                "warning",
                "this server cannot add the @triggers ACL category; grant the TRIGGER and \
                 OUTBOX subcommands by name instead",
            );
            None
        }
    };
    for command in &COMMANDS {
        register_command(ctx, command, cluster, categories, &category)?;
    }
    Ok(())
}

type SetCategories =
    unsafe extern "C" fn(*mut raw::RedisModuleCommand, *const std::os::raw::c_char) -> c_int;

/// Registers one command and its subcommands.
fn register_command(
    ctx: &Context,
    command: &Command,
    cluster: bool,
    categories: Option<SetCategories>,
    category: &CString,
) -> Result<(), String> {
    let (Some(create), Some(get), Some(create_sub)) = (
        unsafe { raw::RedisModule_CreateCommand },
        unsafe { raw::RedisModule_GetCommand },
        unsafe { raw::RedisModule_CreateSubcommand },
    ) else {
        return Err("this server has no subcommands for modules (Redis 7 or later needed)".into());
    };
    let upper = command.name.to_ascii_uppercase();
    let name = CString::new(command.name).unwrap_or_default();
    // SAFETY: called during `MODULE LOAD` with its context; the names and
    // flags are NUL-terminated strings that outlive the calls.
    unsafe {
        if create(ctx.ctx, name.as_ptr(), None, c"".as_ptr(), 0, 0, 0)
            != raw::REDISMODULE_OK as c_int
        {
            return Err(format!("cannot create the {upper} command"));
        }
        let parent = get(ctx.ctx, name.as_ptr());
        if parent.is_null() {
            return Err(format!("cannot find the {upper} command"));
        }
        for sub in command.subcommands {
            let sub_name = CString::new(sub.name).unwrap_or_default();
            let flags = match sub.flags.strip_prefix("write ") {
                Some(rest) if cluster => rest,
                _ => sub.flags,
            };
            let flags = CString::new(flags).unwrap_or_default();
            if create_sub(
                parent,
                sub_name.as_ptr(),
                Some(sub.cmdfunc),
                flags.as_ptr(),
                0,
                0,
                0,
            ) != raw::REDISMODULE_OK as c_int
            {
                return Err(format!("cannot create {upper} {}", sub.name));
            }
            let full = CString::new(format!("{}|{}", command.name, sub.name)).unwrap_or_default();
            let handle = get(ctx.ctx, full.as_ptr());
            if let (Some(set), false) = (categories, handle.is_null()) {
                if set(handle, category.as_ptr()) != raw::REDISMODULE_OK as c_int {
                    return Err(format!("cannot put {upper} {} in @triggers", sub.name));
                }
            }
        }
    }
    Ok(())
}

/// Runs a subcommand's handler with the arguments after the subcommand's
/// name, and replies. Never panics into Redis.
fn run(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
    handler: Handler,
) -> c_int {
    reply_guarded(ctx, |context| {
        let args = redis_module::decode_args(ctx, argv, argc);
        handler(context, args.get(2..).unwrap_or_default())
    })
}

pub(super) fn err(message: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {message}"))
}
