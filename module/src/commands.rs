//! The `TRIGGER` command: `LOAD`, `DELETE`, `LIST` and `HELP`.

use std::os::raw::{c_char, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, Context, RedisError, RedisResult, RedisString, RedisValue};

use crate::config;
use crate::registry::{self, Library, Trigger};

const HELP: &[&str] = &[
    "TRIGGER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <component>",
    "    Load a trigger library: the bytes of a Wasm component. Replies with its name.",
    "    REPLACE upgrades an existing library of the same name.",
    "DELETE <library>",
    "    Remove a library and its triggers.",
    "LIST [LIBRARY <name>] [VERBOSE] [WITHCODE]",
    "    List the libraries with their triggers and statistics.",
    "HELP",
    "    Print this help.",
];

/// Entry point of `TRIGGER`. Never panics into Redis.
pub fn trigger_command(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    match catch_unwind(AssertUnwindSafe(|| dispatch(ctx, &args))) {
        Ok(result) => result,
        Err(_) => Err(RedisError::Str(
            "ERR internal error in TRIGGER (see the server log)",
        )),
    }
}

fn dispatch(ctx: &Context, args: &[RedisString]) -> RedisResult {
    let Some(subcommand) = args.get(1) else {
        return Err(RedisError::WrongArity);
    };
    let subcommand = subcommand.to_string_lossy().to_ascii_uppercase();
    let rest = &args[2..];
    match subcommand.as_str() {
        "LOAD" => load(rest),
        "DELETE" => delete(rest),
        "LIST" => list(ctx, rest),
        "HELP" => Ok(RedisValue::Array(
            HELP.iter()
                .map(|l| RedisValue::SimpleStringStatic(l))
                .collect(),
        )),
        _ => Err(RedisError::String(format!(
            "ERR unknown subcommand '{subcommand}'. Try TRIGGER HELP."
        ))),
    }
}

fn err(message: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {message}"))
}

fn load(args: &[RedisString]) -> RedisResult {
    let (replace, code) = match args {
        [code] => (false, code),
        [flag, code] if flag.to_string_lossy().eq_ignore_ascii_case("REPLACE") => (true, code),
        [flag, _] => return Err(err(format!("unknown option '{}'", flag.to_string_lossy()))),
        _ => return Err(RedisError::WrongArity),
    };
    // Checked here, not when loading from an RDB file: a library that was
    // loaded must always come back, even after the limit was lowered.
    let limit = config::max_library_bytes();
    if code.len() > limit {
        return Err(err(format!(
            "the library is {} bytes, over the limit of {limit} bytes (triggers.max-library-size)",
            code.len()
        )));
    }
    let name = registry::load(code.as_slice().to_vec(), replace).map_err(err)?;
    Ok(RedisValue::BulkString(name))
}

fn delete(args: &[RedisString]) -> RedisResult {
    let [name] = args else {
        return Err(RedisError::WrongArity);
    };
    registry::delete(&name.to_string_lossy()).map_err(err)?;
    Ok(RedisValue::SimpleStringStatic("OK"))
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
    let mut fields = 4;
    if options.verbose {
        fields += 3;
    }
    if options.with_code {
        fields += 1;
    }
    reply.map(fields);
    reply.field("name");
    reply.bulk(library.name.as_bytes());
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
    reply.map(if options.verbose { 12 } else { 11 });
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
