//! `TRIGGER LIST`: the libraries, their triggers and statistics.

use redis_module::{Context, RedisResult, RedisString, RedisValue};

use super::err;
use crate::library::{self, Library, Trigger};
use crate::server::Reply;

struct ListOptions {
    library: Option<String>,
    verbose: bool,
    with_code: bool,
}

pub(super) fn list(ctx: &Context, args: &[RedisString]) -> RedisResult {
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
        Some(name) => library::find(name).map_err(err)?.into_iter().collect(),
        None => library::all().map_err(err)?,
    };
    let reply = Reply::new(ctx);
    reply.array(libraries.len());
    for library in &libraries {
        reply_library(&reply, library, &options);
    }
    Ok(RedisValue::NoReply)
}

fn reply_library(reply: &Reply, library: &Library, options: &ListOptions) {
    let mut fields = 6;
    if options.verbose {
        fields += 4;
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
    reply.field("config");
    reply.bulk(library.config.as_bytes());
    if options.verbose {
        let instance = library.instance.try_borrow();
        reply.field("memory_bytes");
        reply.int(instance.as_ref().map_or(0, |i| i.memory_bytes() as i64));
        reply.field("instance_rebuilds");
        reply.int(instance.as_ref().map_or(0, |i| i.rebuilds as i64));
        reply.field("code_tier");
        let tier = instance.as_ref().map_or("busy", |i| i.tier().name());
        reply.bulk(tier.as_bytes());
        reply.field("contract");
        let contract = instance.as_ref().map_or("busy", |i| i.contract());
        reply.bulk(contract.as_bytes());
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
    reply.map(if options.verbose { 15 } else { 13 });
    reply.field("name");
    reply.bulk(trigger.name.as_bytes());
    reply.field("description");
    reply.bulk(trigger.description.as_bytes());
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
        reply.field("removed_value");
        reply.int(trigger.wants_removed_value as i64);
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
