//! The `TRIGGER` command: `LOAD`, `DELETE`, `LIST`, `KILL` and `HELP`.
//!
//! Each is a subcommand of its own, in the `@triggers` ACL category, so
//! that an admin can grant `TRIGGER|LIST` without `TRIGGER|LOAD`. `LOAD`
//! and `DELETE` are write commands: they are refused on a read-only
//! replica, and they are propagated to the AOF and to replicas. A library
//! records the ACL user that loaded it, its owner: its calls run as that
//! user (see `host_api.rs`).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context, ContextFlags, RedisError, RedisResult, RedisString, RedisValue};

use crate::busy;
use crate::cluster;
use crate::config;
use crate::host_api::redis_log;
use crate::registry::{self, Change, Library, Trigger};

/// The ACL category of every `TRIGGER` subcommand.
const ACL_CATEGORY: &str = "triggers";

/// The owner of a library loaded by a client without a user, such as a
/// module's own call.
const DEFAULT_OWNER: &str = "default";

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
            ctx: *mut raw::RedisModuleCtx,
            argv: *mut *mut raw::RedisModuleString,
            argc: c_int,
        ) -> c_int {
            run(ctx, argv, argc, $handler)
        }
        entry
    }};
}

const SUBCOMMANDS: [Subcommand; 5] = [
    Subcommand {
        name: "load",
        flags: "write deny-oom deny-script",
        cmdfunc: entry_point!(load),
    },
    Subcommand {
        name: "delete",
        flags: "write deny-script",
        cmdfunc: entry_point!(delete),
    },
    Subcommand {
        name: "list",
        // Not `readonly`, which would put it in `@read`: listing the
        // libraries (and their code) is granted with `@triggers`.
        flags: "deny-script",
        cmdfunc: entry_point!(list),
    },
    Subcommand {
        name: "kill",
        flags: "allow-busy deny-script",
        cmdfunc: entry_point!(busy::kill),
    },
    Subcommand {
        name: "help",
        flags: "deny-script allow-loading allow-stale",
        cmdfunc: entry_point!(help),
    },
];

/// Registers `TRIGGER` and its subcommands, and the `@triggers` ACL
/// category where the server has module ACL categories (Redis 7.4 and
/// Valkey 8 do). Called from `MODULE LOAD`.
pub fn register(ctx: &Context) -> Result<(), String> {
    // In a cluster, `LOAD` and `DELETE` are taken by any node, replicas
    // too, and reach every node through the cluster bus (`cluster.rs`):
    // not write commands there.
    let cluster = ctx.get_flags().contains(ContextFlags::CLUSTER);
    let (Some(create), Some(get), Some(create_sub)) = (
        unsafe { raw::RedisModule_CreateCommand },
        unsafe { raw::RedisModule_GetCommand },
        unsafe { raw::RedisModule_CreateSubcommand },
    ) else {
        return Err("this server has no subcommands for modules (Redis 7 or later needed)".into());
    };
    let category = CString::new(ACL_CATEGORY).unwrap_or_default();
    let categories = match unsafe { raw::RedisModule_AddACLCategory } {
        Some(add) if unsafe { add(ctx.ctx, category.as_ptr()) } == raw::REDISMODULE_OK as c_int => unsafe {
            raw::RedisModule_SetCommandACLCategories
        },
        _ => {
            redis_log(
                "warning",
                "this server cannot add the @triggers ACL category; grant the TRIGGER \
                 subcommands by name instead",
            );
            None
        }
    };
    // SAFETY: called during `MODULE LOAD` with its context; the names and
    // flags are NUL-terminated strings that outlive the calls.
    unsafe {
        if create(ctx.ctx, c"trigger".as_ptr(), None, c"".as_ptr(), 0, 0, 0)
            != raw::REDISMODULE_OK as c_int
        {
            return Err("cannot create the TRIGGER command".into());
        }
        let parent = get(ctx.ctx, c"trigger".as_ptr());
        if parent.is_null() {
            return Err("cannot find the TRIGGER command".into());
        }
        for sub in &SUBCOMMANDS {
            let name = CString::new(sub.name).unwrap_or_default();
            let flags = match sub.flags.strip_prefix("write ") {
                Some(rest) if cluster => rest,
                _ => sub.flags,
            };
            let flags = CString::new(flags).unwrap_or_default();
            if create_sub(
                parent,
                name.as_ptr(),
                Some(sub.cmdfunc),
                flags.as_ptr(),
                0,
                0,
                0,
            ) != raw::REDISMODULE_OK as c_int
            {
                return Err(format!("cannot create TRIGGER {}", sub.name));
            }
            let full = CString::new(format!("trigger|{}", sub.name)).unwrap_or_default();
            let command = get(ctx.ctx, full.as_ptr());
            if let (Some(set), false) = (categories, command.is_null()) {
                if set(command, category.as_ptr()) != raw::REDISMODULE_OK as c_int {
                    return Err(format!("cannot put TRIGGER {} in @triggers", sub.name));
                }
            }
        }
    }
    Ok(())
}

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

/// Replies to the client of `ctx` with what `reply` returns; a panic in it
/// becomes an error reply. For every callback that replies to a client.
pub fn reply_guarded(
    ctx: *mut raw::RedisModuleCtx,
    reply: impl FnOnce(&Context) -> RedisResult,
) -> c_int {
    let context = Context::new(ctx);
    let result = catch_unwind(AssertUnwindSafe(|| reply(&context))).unwrap_or(Err(
        RedisError::Str("ERR internal error in TRIGGER (see the server log)"),
    ));
    context.reply(result) as c_int
}

fn help(_ctx: &Context, _args: &[RedisString]) -> RedisResult {
    Ok(RedisValue::Array(
        HELP.iter()
            .map(|l| RedisValue::SimpleStringStatic(l))
            .collect(),
    ))
}

fn err(message: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {message}"))
}

/// `TRIGGER LOAD [REPLACE] <component>`. The primary and the AOF also
/// pass `OWNER <user>` and `VERSION <n>` (see [`propagate`]); clients
/// cannot, or they could run code as another user.
fn load(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let Some((code, options)) = args.split_last() else {
        return Err(RedisError::WrongArity);
    };
    let mut replace = false;
    let mut owner = None;
    let mut version = None;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.to_string_lossy().to_ascii_uppercase().as_str() {
            "REPLACE" => replace = true,
            "OWNER" => owner = Some(internal_option(ctx, "OWNER", options.next())?),
            "VERSION" => version = Some(version_option(ctx, options.next())?),
            other => return Err(err(format!("unknown option '{other}'"))),
        }
    }
    let owner = owner.unwrap_or_else(|| current_user(ctx));
    // Checked here, not when loading from an RDB file: a library that was
    // loaded must always come back, even after the limit was lowered.
    let limit = config::max_library_bytes();
    if code.len() > limit {
        return Err(err(format!(
            "the library is {} bytes, over the limit of {limit} bytes (triggers.max-library-size)",
            code.len()
        )));
    }
    let name = match registry::load(code.as_slice().to_vec(), replace, &owner) {
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
    let change = Change::Load {
        owner,
        code: code.as_slice().to_vec(),
    };
    changed(ctx, change, version, RedisValue::BulkString(name))
}

/// `TRIGGER DELETE <library>`; the primary and the AOF also pass
/// `VERSION <n>`, and deleting a library that is not there is then done
/// already.
fn delete(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let (version, name) = match args {
        [name] => (None, name),
        [option, version, name] if option.to_string_lossy().eq_ignore_ascii_case("VERSION") => {
            (Some(version_option(ctx, Some(version))?), name)
        }
        _ => return Err(RedisError::WrongArity),
    };
    let name = name.to_string_lossy();
    let missing = registry::find(&name).map_err(err)?.is_none();
    if !(missing && from_primary_or_aof(ctx)) {
        registry::delete(&name).map_err(err)?;
    }
    changed(
        ctx,
        Change::Delete { name },
        version,
        RedisValue::SimpleStringStatic("OK"),
    )
}

/// The value of an option only the primary and the AOF may pass.
fn internal_option(
    ctx: &Context,
    option: &str,
    value: Option<&RedisString>,
) -> Result<String, RedisError> {
    let Some(value) = value else {
        return Err(err(format!("{option} needs a value")));
    };
    if !from_primary_or_aof(ctx) {
        return Err(err(format!(
            "{option} is only for the primary and the AOF: a library runs as the user that \
             loads it"
        )));
    }
    Ok(value.to_string_lossy())
}

fn version_option(ctx: &Context, value: Option<&RedisString>) -> Result<u64, RedisError> {
    internal_option(ctx, "VERSION", value)?
        .parse()
        .map_err(|_| err("VERSION needs a number"))
}

/// After a change: the set's new version, the change written to the AOF
/// and sent to replicas, or in a cluster to every other node (whose
/// answers the reply then waits for, see `cluster.rs`).
fn changed(ctx: &Context, change: Change, version: Option<u64>, reply: RedisValue) -> RedisResult {
    let version = match version {
        Some(version) => {
            registry::set_version(version, false);
            version
        }
        None => registry::next_version(),
    };
    if !cluster::enabled() {
        propagate(ctx.ctx, &change, version, Propagation::AofAndReplicas);
        return Ok(reply);
    }
    // In a cluster every node, replicas too, gets the change over the
    // cluster bus and writes it to its own AOF.
    propagate(ctx.ctx, &change, version, Propagation::AofOnly);
    if from_primary_or_aof(ctx) {
        return Ok(reply);
    }
    cluster::spread(ctx, change, version, reply)
}

/// Whether the command came from this replica's primary, or from the AOF
/// being loaded.
fn from_primary_or_aof(ctx: &Context) -> bool {
    let flags = ctx.get_flags();
    flags.contains(ContextFlags::REPLICATED) || flags.contains(ContextFlags::LOADING)
}

/// The ACL user of the client running the command.
fn current_user(ctx: &Context) -> String {
    let Some(get) = (unsafe { raw::RedisModule_GetCurrentUserName }) else {
        return DEFAULT_OWNER.to_owned();
    };
    // SAFETY: `ctx` is this command's context; Redis returns a new string,
    // freed below.
    let name = unsafe { get(ctx.ctx) };
    if name.is_null() {
        return DEFAULT_OWNER.to_owned();
    }
    let user = RedisString::string_as_slice(name);
    let user = String::from_utf8_lossy(user).into_owned();
    if let Some(free) = unsafe { raw::RedisModule_FreeString } {
        unsafe { free(ctx.ctx, name) };
    }
    user
}

/// Where [`propagate`] sends a change.
pub enum Propagation {
    AofAndReplicas,
    AofOnly,
}

/// Propagates a change as the command that makes it, whatever the replica
/// or the AOF held before: `TRIGGER LOAD REPLACE OWNER <owner> VERSION
/// <version> <code>` (the same library, with the same owner) or `TRIGGER
/// DELETE VERSION <version> <name>`.
pub fn propagate(
    ctx: *mut raw::RedisModuleCtx,
    change: &Change,
    version: u64,
    propagation: Propagation,
) {
    let version = version.to_string();
    let args: Vec<&[u8]> = match change {
        Change::Load { owner, code } => vec![
            b"LOAD",
            b"REPLACE",
            b"OWNER",
            owner.as_bytes(),
            b"VERSION",
            version.as_bytes(),
            code,
        ],
        Change::Delete { name } => vec![b"DELETE", b"VERSION", version.as_bytes(), name.as_bytes()],
    };
    let format = match propagation {
        Propagation::AofAndReplicas => c"v",
        // `R`: not to replicas.
        Propagation::AofOnly => c"Rv",
    };
    let Some(replicate) = (unsafe { raw::RedisModule_Replicate }) else {
        return;
    };
    let strings: Vec<RedisString> = args
        .iter()
        .map(|a| RedisString::create_from_slice(std::ptr::null_mut(), a))
        .collect();
    let mut argv: Vec<*mut raw::RedisModuleString> = strings.iter().map(|s| s.inner).collect();
    // SAFETY: `v` takes an array of Redis strings and its length; the
    // strings live until after the call (Redis keeps its own references).
    let status = unsafe {
        replicate(
            ctx,
            c"TRIGGER".as_ptr(),
            format.as_ptr(),
            argv.as_mut_ptr(),
            argv.len(),
        )
    };
    if status != raw::REDISMODULE_OK as c_int {
        redis_log(
            "warning",
            "cannot propagate TRIGGER to the AOF and replicas",
        );
    }
}

struct ListOptions {
    library: Option<String>,
    verbose: bool,
    with_code: bool,
}

fn list(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let mut options = ListOptions {
        library: None,
        verbose: false,
        with_code: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.to_string_lossy().to_ascii_uppercase().as_str() {
            "LIBRARY" => {
                let Some(name) = args.next() else {
                    return Err(err("LIBRARY needs a library name"));
                };
                options.library = Some(name.to_string_lossy());
            }
            "VERBOSE" => options.verbose = true,
            "WITHCODE" => options.with_code = true,
            other => return Err(err(format!("unknown option '{other}'"))),
        }
    }
    let libraries = match &options.library {
        Some(name) => registry::find(name).map_err(err)?.into_iter().collect(),
        None => registry::all().map_err(err)?,
    };
    let reply = Reply(ctx.ctx);
    reply.array(libraries.len());
    for library in &libraries {
        reply_library(&reply, library, &options);
    }
    Ok(RedisValue::NoReply)
}

fn reply_library(reply: &Reply, library: &Library, options: &ListOptions) {
    let mut fields = 5;
    if options.verbose {
        fields += 3;
    }
    if options.with_code {
        fields += 1;
    }
    reply.map(fields);
    reply.field("name");
    reply.bulk(library.name.as_bytes());
    reply.field("owner");
    reply.bulk(library.owner.as_bytes());
    reply.field("code_size");
    reply.int(library.code.len() as i64);
    reply.field("digest");
    reply.bulk(library.digest.as_bytes());
    if options.verbose {
        let instance = library.instance.try_borrow();
        reply.field("memory_bytes");
        reply.int(instance.as_ref().map_or(0, |i| i.memory_bytes() as i64));
        reply.field("instance_rebuilds");
        reply.int(instance.as_ref().map_or(0, |i| i.rebuilds as i64));
        reply.field("code_tier");
        let tier = instance.as_ref().map_or("busy", |i| i.tier().name());
        reply.bulk(tier.as_bytes());
    }
    if options.with_code {
        reply.field("code");
        reply.bulk(&library.code);
    }
    reply.field("triggers");
    reply.array(library.triggers.len());
    for trigger in &library.triggers {
        reply_trigger(reply, trigger, options);
    }
}

fn reply_trigger(reply: &Reply, trigger: &Trigger, options: &ListOptions) {
    let stats = trigger.stats.snapshot();
    reply.map(if options.verbose { 13 } else { 12 });
    reply.field("name");
    reply.bulk(trigger.name.as_bytes());
    reply.field("prefix");
    reply.bulk(&trigger.prefix);
    reply.field("events");
    reply.array(trigger.events.len());
    for event in &trigger.events {
        reply.bulk(event.as_bytes());
    }
    if options.verbose {
        reply.field("on_fired");
        reply.int(trigger.has_on_fired as i64);
    }
    reply.field("num_triggered");
    reply.int(stats.num_triggered as i64);
    reply.field("num_finished");
    reply.int(stats.num_finished as i64);
    reply.field("num_success");
    reply.int(stats.num_success as i64);
    reply.field("num_failed");
    reply.int(stats.num_failed as i64);
    reply.field("num_denied");
    reply.int(stats.num_denied as i64);
    reply.field("last_error");
    match &stats.last_error {
        Some(error) => reply.bulk(error.as_bytes()),
        None => reply.null(),
    }
    reply.field("last_execution_time_us");
    reply.int(stats.last_execution_time_us as i64);
    reply.field("total_execution_time_us");
    reply.int(stats.total_execution_time_us as i64);
    reply.field("avg_execution_time_us");
    reply.double(stats.avg_execution_time_us);
}

/// Writes a reply piece by piece, so that maps keep their field order: a
/// map in RESP3, a flat key/value array in RESP2.
struct Reply(*mut raw::RedisModuleCtx);

impl Reply {
    fn array(&self, len: usize) {
        raw::reply_with_array(self.0, len as c_long);
    }
    fn map(&self, len: usize) {
        raw::reply_with_map(self.0, len as c_long);
    }
    fn field(&self, name: &str) {
        self.bulk(name.as_bytes());
    }
    fn bulk(&self, bytes: &[u8]) {
        raw::reply_with_string_buffer(self.0, bytes.as_ptr() as *const c_char, bytes.len());
    }
    fn int(&self, value: i64) {
        raw::reply_with_long_long(self.0, value);
    }
    fn double(&self, value: f64) {
        raw::reply_with_double(self.0, value);
    }
    fn null(&self) {
        raw::reply_with_null(self.0);
    }
}
