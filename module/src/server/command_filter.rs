//! The command filter: every command a client (or a script, or another
//! module) sends, just before Redis looks it up, seen through
//! [`FilteredCommand`] by the module's handlers, which may replace it.
//!
//! One filter is registered with Redis while some handler is on; it calls
//! each handler in the order they were added (after one replaced the
//! command, the others see the replacement).

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;

use redis_module::{raw, RedisString};

use super::{create_string, module_ctx};

/// The command about to run.
pub struct FilteredCommand {
    fctx: *mut raw::RedisModuleCommandFilterCtx,
}

/// The client that sent a command.
pub struct Client {
    /// Its selected database.
    pub db: i32,
    /// Whether it is inside `MULTI`: the command is being queued.
    pub in_multi: bool,
}

impl FilteredCommand {
    /// The number of arguments, the command's name included.
    pub fn len(&self) -> usize {
        let Some(count) = api!(RedisModule_CommandFilterArgsCount) else {
            return 0;
        };
        // SAFETY: the filter context of the call in progress.
        usize::try_from(unsafe { count(self.fctx) }).unwrap_or(0)
    }

    /// Argument `index` (0 is the command's name).
    pub fn arg(&self, index: usize) -> Option<&[u8]> {
        // The string is Redis' and lives while the command does, longer
        // than `self`.
        self.arg_string(index)
            .map(|arg| RedisString::string_as_slice(arg))
    }

    /// Argument `index`, as Redis holds it.
    fn arg_string(&self, index: usize) -> Option<*mut raw::RedisModuleString> {
        let get = api!(RedisModule_CommandFilterArgGet)?;
        let index = c_int::try_from(index).ok()?;
        // SAFETY: the filter context of the call in progress.
        let arg = unsafe { get(self.fctx, index) };
        (!arg.is_null()).then_some(arg)
    }

    /// The command's keys, as Redis finds them (none for an unknown
    /// command or a wrong number of arguments).
    pub fn keys(&self) -> Vec<&[u8]> {
        let (Some(get_keys), Some(free)) = (
            api!(RedisModule_GetCommandKeysWithFlags),
            api!(RedisModule_Free),
        ) else {
            return Vec::new();
        };
        let count = self.len();
        let Some(mut argv) = (0..count)
            .map(|i| self.arg_string(i))
            .collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let mut found: c_int = 0;
        // SAFETY: `argv` holds the command's `count` strings; the context
        // is unused by Redis here. The positions array is Redis' to free.
        let keys: Vec<&[u8]> = unsafe {
            let positions = get_keys(
                module_ctx(),
                argv.as_mut_ptr(),
                count as c_int,
                &mut found,
                std::ptr::null_mut(),
            );
            if positions.is_null() {
                return Vec::new();
            }
            let found = usize::try_from(found).unwrap_or(0);
            let keys = std::slice::from_raw_parts(positions, found)
                .iter()
                .filter_map(|&p| usize::try_from(p).ok())
                .filter_map(|p| self.arg(p))
                .collect();
            free(positions.cast());
            keys
        };
        keys
    }

    /// The client that sent the command, if Redis tells.
    pub fn client(&self) -> Option<Client> {
        let (Some(id_of), Some(info_of)) = (
            api!(RedisModule_CommandFilterGetClientId),
            api!(RedisModule_GetClientInfoById),
        ) else {
            return None;
        };
        // SAFETY: the filter context of the call in progress; `info` is a
        // version 1 structure Redis fills.
        unsafe {
            let id = id_of(self.fctx);
            let mut info: raw::RedisModuleClientInfo = std::mem::zeroed();
            info.version = 1;
            if info_of((&mut info as *mut raw::RedisModuleClientInfo).cast(), id)
                != raw::REDISMODULE_OK as c_int
            {
                return None;
            }
            Some(Client {
                db: info.db as i32,
                in_multi: info.flags & raw::REDISMODULE_CLIENTINFO_FLAG_MULTI as u64 != 0,
            })
        }
    }

    /// Replaces the whole command with `args` (a command name first).
    pub fn replace(&mut self, args: &[&[u8]]) {
        let (Some(replace), Some(delete), Some(insert)) = (
            api!(RedisModule_CommandFilterArgReplace),
            api!(RedisModule_CommandFilterArgDelete),
            api!(RedisModule_CommandFilterArgInsert),
        ) else {
            return;
        };
        let old = self.len();
        // SAFETY: the filter context of the call in progress; each string
        // created here is handed to Redis, which frees it with the command.
        unsafe {
            for (i, arg) in args.iter().enumerate() {
                let string = create_string(arg);
                if i < old {
                    replace(self.fctx, i as c_int, string);
                } else {
                    insert(self.fctx, i as c_int, string);
                }
            }
            for _ in args.len()..old {
                delete(self.fctx, args.len() as c_int);
            }
        }
    }
}

/// A handler of the command filter.
pub type CommandFilter = fn(&mut FilteredCommand);

thread_local! {
    static HANDLERS: RefCell<Vec<CommandFilter>> = const { RefCell::new(Vec::new()) };
    /// The filter Redis calls, while some handler is on.
    static REGISTERED: Cell<*mut raw::RedisModuleCommandFilter> = const { Cell::new(std::ptr::null_mut()) };
}

/// Turns `handler` on (it sees every command but the module's own) or off.
/// Redis calls the module's filter only while a handler is on: a filter
/// costs every command about a hundred instructions. `what` names the
/// handler in the error.
pub fn set_command_filter(handler: CommandFilter, on: bool, what: &str) -> Result<(), String> {
    HANDLERS.with_borrow_mut(|handlers| {
        let at = handlers
            .iter()
            .position(|h| std::ptr::fn_addr_eq(*h, handler));
        match (on, at) {
            (true, None) => handlers.push(handler),
            (false, Some(at)) => {
                handlers.remove(at);
            }
            _ => {}
        }
    });
    let wanted = HANDLERS.with_borrow(|handlers| !handlers.is_empty());
    let registered = REGISTERED.get();
    let ctx = module_ctx();
    let is_registered = !registered.is_null();
    if wanted == is_registered || ctx.is_null() {
        return Ok(());
    }
    if wanted {
        let Some(register) = api!(RedisModule_RegisterCommandFilter) else {
            return Err("this server has no command filters".into());
        };
        // SAFETY: the module's context, on the main thread.
        let filter = unsafe {
            register(
                ctx,
                Some(on_command),
                raw::REDISMODULE_CMDFILTER_NOSELF as c_int,
            )
        };
        if filter.is_null() {
            return Err(format!("cannot register the command filter that {what}"));
        }
        REGISTERED.set(filter);
    } else if let Some(unregister) = api!(RedisModule_UnregisterCommandFilter) {
        // SAFETY: the module's context and the filter it registered.
        unsafe { unregister(ctx, registered) };
        REGISTERED.set(std::ptr::null_mut());
    }
    Ok(())
}

/// The filter Redis calls. Never panics into Redis.
extern "C" fn on_command(fctx: *mut raw::RedisModuleCommandFilterCtx) {
    if fctx.is_null() {
        return;
    }
    let outcome = std::panic::catch_unwind(|| {
        let mut command = FilteredCommand { fctx };
        HANDLERS.with_borrow(|handlers| {
            for handler in handlers {
                handler(&mut command);
            }
        });
    });
    if outcome.is_err() {
        super::redis_log("warning", "the command filter panicked");
    }
}
