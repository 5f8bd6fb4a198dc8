//! Commands: creating a command and its subcommands, their `extern "C"`
//! entry points ([`command_entry!`]), ACL categories, and the user running
//! a command.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};

use redis_module::{raw, Context, RedisResult, RedisString};

use super::reply_guarded;

/// A subcommand's handler: the command's context, and the arguments after
/// the subcommand's name.
pub type CommandHandler = fn(&Context, &[RedisString]) -> RedisResult;

/// The entry point Redis calls, made by [`command_entry!`].
pub type CommandEntry =
    extern "C" fn(*mut raw::RedisModuleCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// The entry point of a subcommand whose handler is `$handler`, a
/// [`CommandHandler`].
macro_rules! command_entry {
    ($handler:path) => {{
        extern "C" fn entry(
            ctx: *mut redis_module::raw::RedisModuleCtx,
            argv: *mut *mut redis_module::raw::RedisModuleString,
            argc: std::os::raw::c_int,
        ) -> std::os::raw::c_int {
            $crate::server::run_command(ctx, argv, argc, $handler)
        }
        entry as $crate::server::CommandEntry
    }};
}
pub(crate) use command_entry;

/// Runs a subcommand's handler with the arguments after the subcommand's
/// name, and replies. Never panics into Redis.
pub fn run_command(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
    handler: CommandHandler,
) -> c_int {
    reply_guarded(ctx, |context| {
        let args = redis_module::decode_args(ctx, argv, argc);
        handler(context, args.get(2..).unwrap_or_default())
    })
}

/// A subcommand: its name, flags (as `RM_CreateCommand` takes them) and
/// entry point.
pub struct Subcommand {
    pub name: &'static str,
    pub flags: &'static str,
    pub entry: CommandEntry,
}

/// At `MODULE LOAD`: adds the ACL category `name`; false where the server
/// has no module ACL categories (before Redis 7.4 and Valkey 8) or refuses.
pub fn add_acl_category(ctx: &Context, name: &str) -> bool {
    let (Some(add), Ok(name)) = (api!(RedisModule_AddACLCategory), CString::new(name)) else {
        return false;
    };
    // SAFETY: called during `MODULE LOAD` with its context; `name` is a
    // NUL-terminated string that outlives the call.
    unsafe { add(ctx.ctx, name.as_ptr()) == raw::REDISMODULE_OK as c_int }
}

/// At `MODULE LOAD`: creates the command `name` (no handler of its own) and
/// its subcommands, each in the ACL category `category` if given.
pub fn create_command(
    ctx: &Context,
    name: &str,
    subcommands: &[Subcommand],
    category: Option<&str>,
) -> Result<(), String> {
    let (Some(create), Some(get), Some(create_sub)) = (
        api!(RedisModule_CreateCommand),
        api!(RedisModule_GetCommand),
        api!(RedisModule_CreateSubcommand),
    ) else {
        return Err("this server has no subcommands for modules (Redis 7 or later needed)".into());
    };
    let set_category = match category {
        Some(category) => Some((
            api!(RedisModule_SetCommandACLCategories)
                .ok_or("this server has no ACL categories for commands")?,
            cstring(category)?,
        )),
        None => None,
    };
    let upper = name.to_ascii_uppercase();
    let c_name = cstring(name)?;
    // SAFETY: called during `MODULE LOAD` with its context; the names and
    // flags are NUL-terminated strings that outlive the calls; a command's
    // handle is used only when Redis returned one.
    unsafe {
        if create(ctx.ctx, c_name.as_ptr(), None, c"".as_ptr(), 0, 0, 0)
            != raw::REDISMODULE_OK as c_int
        {
            return Err(format!("cannot create the {upper} command"));
        }
        let parent = get(ctx.ctx, c_name.as_ptr());
        if parent.is_null() {
            return Err(format!("cannot find the {upper} command"));
        }
        for sub in subcommands {
            let sub_name = cstring(sub.name)?;
            let flags = cstring(sub.flags)?;
            let entry = sub.entry as unsafe extern "C" fn(_, _, _) -> _;
            if create_sub(
                parent,
                sub_name.as_ptr(),
                Some(entry),
                flags.as_ptr(),
                0,
                0,
                0,
            ) != raw::REDISMODULE_OK as c_int
            {
                return Err(format!("cannot create {upper} {}", sub.name));
            }
            let full = cstring(&format!("{name}|{}", sub.name))?;
            let handle = get(ctx.ctx, full.as_ptr());
            if let (Some((set, category)), false) = (&set_category, handle.is_null()) {
                if set(handle, category.as_ptr() as *const c_char) != raw::REDISMODULE_OK as c_int {
                    return Err(format!(
                        "cannot put {upper} {} in its ACL category",
                        sub.name
                    ));
                }
            }
        }
    }
    Ok(())
}

fn cstring(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("a NUL byte in '{text}'"))
}

/// The name of the ACL user running the command of `ctx`; `None` for a
/// client without one (a module's own call, say).
pub fn current_user_name(ctx: &Context) -> Option<String> {
    let get = api!(RedisModule_GetCurrentUserName)?;
    // SAFETY: `ctx` is a command's context; Redis returns a new string,
    // freed below.
    let name = unsafe { get(ctx.ctx) };
    if name.is_null() {
        return None;
    }
    let user = String::from_utf8_lossy(RedisString::string_as_slice(name)).into_owned();
    if let Some(free) = api!(RedisModule_FreeString) {
        // SAFETY: the string Redis returned above, freed once.
        unsafe { free(ctx.ctx, name) };
    }
    Some(user)
}
