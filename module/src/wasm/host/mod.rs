//! The host API that guests import (`redis:triggers/host` in `wit/`):
//! `call`, `log` and `report-panic`.
//!
//! These three functions are linked by hand with `func_wrap` rather than
//! through the bindings `bindgen!` generates: `call` runs on every event, and
//! the generated code would copy the command and every argument into host
//! `String`s and `Vec`s before Redis copies them again. Here the arguments
//! are read in place from the guest's memory into Redis strings, and the
//! reply is Redis' own RESP3 encoding, copied once into the guest. wasmtime
//! still checks every signature against the WIT when a library is linked,
//! so `wit/` stays the contract.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::ptr;

use redis_module::raw;
use wasmtime::component::{Linker, WasmList, WasmStr};
use wasmtime::StoreContextMut;

use crate::guest_log;
use crate::runtime::{HostState, LogLevel};

/// The Redis context of the guest call in progress.
///
/// A raw pointer is only valid during the Redis callback that set it; the
/// runtime clears it as soon as the guest call returns.
#[derive(Clone, Copy)]
pub struct RedisCtx(*mut raw::RedisModuleCtx);

// The store that holds it lives on Redis' main thread only; wasmtime-wasi
// requires its state to be `Send`, and this pointer is never used elsewhere.
unsafe impl Send for RedisCtx {}

impl RedisCtx {
    pub fn null() -> Self {
        RedisCtx(ptr::null_mut())
    }

    pub fn new(ctx: *mut raw::RedisModuleCtx) -> Self {
        RedisCtx(ctx)
    }

    pub fn is_null(self) -> bool {
        self.0.is_null()
    }

    fn get(self) -> Option<*mut raw::RedisModuleCtx> {
        (!self.0.is_null()).then_some(self.0)
    }
}

/// The key of an event: the notification's own Redis string, or bytes (an
/// event kept for later, see `dispatch.rs`).
#[derive(Clone, Copy)]
pub enum KeyName<'a> {
    String(*mut raw::RedisModuleString),
    Bytes(&'a [u8]),
}

/// What `call` may do in the guest call in progress. (In `describe` there
/// is no Redis context at all, so `call` is refused before the mode matters.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallMode {
    /// `on-fired`: inside the keyspace notification; Redis refuses writes.
    ReadOnly,
    /// `run`: inside a post-notification job; writes are replicated.
    Write,
}

/// `RM_Call` format strings: `v` arguments as an array of Redis strings,
/// `E` errors as replies, `S` script mode (refuses `noscript` commands such
/// as `MULTI` or `TRIGGER`, never blocks), `3` RESP3 replies, `C` as the
/// context's user (the library's owner, see [`CallUser`]) with its ACL
/// checked, then `W` refuse writes or `!` replicate writes.
fn call_format(mode: CallMode) -> &'static std::ffi::CStr {
    match mode {
        CallMode::ReadOnly => c"vES3CW",
        CallMode::Write => c"vES3C!",
    }
}

/// The ACL user a library's calls run as: the user that loaded it, its
/// owner. Looked up by name at the first `call` of each guest call, so that
/// an ACL change applies at once, and a deleted user's library can no
/// longer call anything.
pub struct CallUser {
    owner: String,
    /// `owner` as a Redis string, made at the first lookup.
    name: *mut raw::RedisModuleString,
    /// The user, attached to the context of the guest call in progress.
    attached: Option<(*mut raw::RedisModuleCtx, *mut raw::RedisModuleUser)>,
}

// Like `RedisCtx`: only ever used on Redis' main thread.
unsafe impl Send for CallUser {}

impl CallUser {
    pub fn new(owner: &str) -> Self {
        CallUser {
            owner: owner.to_owned(),
            name: ptr::null_mut(),
            attached: None,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes `ctx`'s `RM_Call`s run as the owner, until [`detach`](Self::detach).
    fn attach(&mut self, ctx: *mut raw::RedisModuleCtx) -> Result<(), String> {
        if self.attached.is_some() {
            return Ok(());
        }
        let Some(set_user) = (unsafe { raw::RedisModule_SetContextUser }) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        // Freed in `detach`.
        let user = self.look_up()?;
        // SAFETY: `ctx` is the context of the guest call in progress.
        unsafe { set_user(ctx, user) };
        self.attached = Some((ctx, user));
        Ok(())
    }

    /// The owner's ACL user, which the caller must free before its Redis
    /// callback returns (an ACL change may delete the user after it).
    fn look_up(&mut self) -> Result<*mut raw::RedisModuleUser, String> {
        let Some(lookup) = (unsafe { raw::RedisModule_GetModuleUserFromUserName }) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        if self.name.is_null() {
            self.name = create_string(self.owner.as_bytes());
        }
        // SAFETY: `name` is a live string.
        let user = unsafe { lookup(self.name) };
        if user.is_null() {
            return Err(format!(
                "the library's owner, ACL user '{}', does not exist on this server",
                self.owner
            ));
        }
        Ok(user)
    }

    /// Whether the owner may read `key`, by its ACL key patterns. On a
    /// server without the check, the library's calls are still checked.
    pub fn may_read_key(&mut self, key: KeyName) -> Result<bool, String> {
        let (Some(check), Some(free_user)) =
            (unsafe { raw::RedisModule_ACLCheckKeyPermissions }, unsafe {
                raw::RedisModule_FreeModuleUser
            })
        else {
            return Ok(true);
        };
        let user = self.look_up()?;
        let (string, owned) = match key {
            KeyName::String(string) => (string, false),
            KeyName::Bytes(bytes) => (create_string(bytes), true),
        };
        // SAFETY: `user` and `string` are live.
        let status = unsafe { check(user, string, raw::REDISMODULE_CMD_KEY_ACCESS as c_int) };
        if owned {
            free_string(string);
        }
        // SAFETY: looked up above.
        unsafe { free_user(user) };
        Ok(status == raw::REDISMODULE_OK as c_int)
    }

    /// Ends the guest call: the context forgets the user, which is freed.
    pub fn detach(&mut self) {
        let Some((ctx, user)) = self.attached.take() else {
            return;
        };
        // SAFETY: both were attached by `attach` during this guest call.
        unsafe {
            if let Some(set_user) = raw::RedisModule_SetContextUser {
                set_user(ctx, ptr::null());
            }
            if let Some(free_user) = raw::RedisModule_FreeModuleUser {
                free_user(user);
            }
        }
    }
}

impl Drop for CallUser {
    fn drop(&mut self) {
        self.detach();
        if !self.name.is_null() {
            free_string(self.name);
        }
    }
}

/// The WIT name of the host interface.
const HOST_INTERFACE: &str = "redis:triggers/host@0.1.0";

/// Adds the host interface to the linker.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.func_wrap("call", |store, (command, args)| {
        Ok((call(store, command, args),))
    })?;
    host.func_wrap("log", |store, (level, message)| {
        log(store, level, message);
        Ok(())
    })?;
    host.func_wrap("report-panic", |store, (message,)| {
        report_panic(store, message);
        Ok(())
    })?;
    Ok(())
}

/// Buffers reused by every `call`, so that a call allocates nothing on the
/// host but the reply it hands to the guest.
#[derive(Default)]
struct Scratch {
    /// The command name, NUL-terminated for `RM_Call`.
    command: Vec<u8>,
    /// The arguments, as Redis strings owned by this call.
    argv: Vec<*mut raw::RedisModuleString>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// `host.call`: runs a command with `RM_Call` and returns its RESP3 reply.
fn call(
    mut store: StoreContextMut<'_, HostState>,
    command: WasmStr,
    args: WasmList<WasmList<u8>>,
) -> Result<Vec<u8>, String> {
    let Some(ctx) = store.data().ctx.get() else {
        return Err(
            "call is not available in describe: describe must only declare triggers".into(),
        );
    };
    let mode = store.data().mode;
    let Some(user) = store.data_mut().user.as_mut() else {
        return Err("call is not available while the library loads".into());
    };
    user.attach(ctx)?;
    // Taken rather than borrowed: nothing re-enters `call` while Redis runs
    // the command (triggers do not fire from a trigger's own writes), but a
    // fresh buffer would be correct if something did.
    let mut scratch = SCRATCH.with(|s| s.take());
    let result = (|| {
        let name = command
            .to_str(&store)
            .map_err(|_| "the command name is not valid UTF-8".to_string())?;
        if name.is_empty() || name.contains('\0') {
            return Err(format!("invalid command name {name:?}"));
        }
        scratch.command.clear();
        scratch.command.extend_from_slice(name.as_bytes());
        scratch.command.push(0);
        for index in 0..args.len() {
            let arg = match args.get(&mut store, index) {
                Some(Ok(arg)) => arg,
                _ => return Err(format!("argument {index} is out of the library's memory")),
            };
            let bytes = arg.as_le_slice(&store);
            scratch.argv.push(create_string(bytes));
        }
        run_command(ctx, &scratch.command, &scratch.argv, mode)
    })();
    for string in scratch.argv.drain(..) {
        free_string(string);
    }
    SCRATCH.with(|s| *s.borrow_mut() = scratch);
    result
}

fn create_string(bytes: &[u8]) -> *mut raw::RedisModuleString {
    // SAFETY: a null context makes a string we own and free ourselves.
    unsafe {
        raw::RedisModule_CreateString.expect("Redis provides RM_CreateString")(
            ptr::null_mut(),
            bytes.as_ptr() as *const c_char,
            bytes.len(),
        )
    }
}

fn free_string(string: *mut raw::RedisModuleString) {
    // SAFETY: made by `create_string`, freed once.
    unsafe {
        raw::RedisModule_FreeString.expect("Redis provides RM_FreeString")(ptr::null_mut(), string)
    }
}

/// Runs `command` (NUL-terminated) with `argv` and returns the reply's
/// RESP3 bytes, or the text of the error Redis replied with.
fn run_command(
    ctx: *mut raw::RedisModuleCtx,
    command: &[u8],
    argv: &[*mut raw::RedisModuleString],
    mode: CallMode,
) -> Result<Vec<u8>, String> {
    // SAFETY: `ctx` is the context of the Redis callback in progress (the
    // runtime clears it when the guest call returns); `command` is
    // NUL-terminated and `argv` holds live strings.
    unsafe {
        let rm_call = raw::RedisModule_Call.expect("Redis provides RM_Call");
        let reply = rm_call(
            ctx,
            command.as_ptr() as *const c_char,
            call_format(mode).as_ptr(),
            argv.as_ptr(),
            argv.len(),
        );
        if reply.is_null() {
            // With `E`, Redis reports errors as replies; a null reply is rare
            // (an unknown flag, out of memory).
            return Err(format!(
                "the call failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut len = 0;
        let proto = raw::RedisModule_CallReplyProto.expect("Redis provides RM_CallReplyProto")(
            reply, &mut len,
        );
        let proto = bytes_of(proto, len);
        // The protocol's first byte tells an error reply apart, without
        // making Redis parse the reply (as `RM_CallReplyType` would).
        let result = match error_text(proto) {
            Some(error) => Err(error),
            None => Ok(proto.to_vec()),
        };
        raw::RedisModule_FreeCallReply.expect("Redis provides RM_FreeCallReply")(reply);
        result
    }
}

/// The message of a RESP3 error reply (`-ERR …` or a blob error
/// `!<len>\r\nERR …`), or `None` if `proto` is not an error.
fn error_text(proto: &[u8]) -> Option<String> {
    let text = match proto.first()? {
        b'-' => &proto[1..],
        b'!' => {
            let start = proto.iter().position(|&b| b == b'\n')? + 1;
            &proto[start..]
        }
        _ => return None,
    };
    let text = text.strip_suffix(b"\r\n").unwrap_or(text);
    Some(String::from_utf8_lossy(text).into_owned())
}

/// The bytes at `ptr`, or none if it is null.
///
/// # Safety
/// `ptr` must be null or point to `len` readable bytes.
unsafe fn bytes_of<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if ptr.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(ptr as *const u8, len)
    }
}

/// `host.log`.
fn log(store: StoreContextMut<'_, HostState>, level: LogLevel, message: String) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Verbose => "verbose",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
    };
    guest_log::log(level, &format!("<{}> {message}", store.data().library));
}

/// `host.report-panic`.
fn report_panic(mut store: StoreContextMut<'_, HostState>, message: String) {
    let data = store.data_mut();
    guest_log::log("warning", &format!("<{}> {message}", data.library));
    data.panic_message = Some(guest_log::truncate(&message, guest_log::MAX_LINE_BYTES));
}

/// Runs `f` on Redis' main thread, between commands. Callable from any
/// thread (`RM_EventLoopAddOneShot`). Panics in `f` are caught and logged.
pub fn run_on_main_thread(f: fn()) {
    extern "C" fn trampoline(data: *mut std::ffi::c_void) {
        // SAFETY: `data` is the `fn()` passed below, cast to a pointer.
        let f: fn() = unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn()>(data) };
        if std::panic::catch_unwind(f).is_err() {
            redis_log("warning", "a task on the main thread panicked");
        }
    }
    let Some(add) = (unsafe { raw::RedisModule_EventLoopAddOneShot }) else {
        return;
    };
    // SAFETY: Redis calls `trampoline` once on its main thread with `data`.
    unsafe { add(Some(trampoline), f as *mut std::ffi::c_void) };
}

/// Returns the heap memory that compilation freed to the system. Compiling
/// allocates tens of MB, on several threads whose malloc arenas would keep
/// it otherwise (glibc only; elsewhere this does nothing).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim only releases free memory.
        unsafe { malloc_trim(0) };
    }
}

/// Writes `message` to the Redis log. Unlike redis-module's helpers, the
/// message is never used as a printf format, and NUL bytes are replaced, so
/// text from a guest cannot crash the server.
pub fn redis_log(level: &str, message: &str) {
    let Some(log) = (unsafe { raw::RedisModule_Log }) else {
        return;
    };
    let Ok(level) = CString::new(level) else {
        return;
    };
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    unsafe {
        log(
            ptr::null_mut(),
            level.as_ptr(),
            c"%s".as_ptr(),
            message.as_ptr() as *const c_char,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies() {
        assert_eq!(error_text(b"-ERR no\r\n").as_deref(), Some("ERR no"));
        assert_eq!(
            error_text(b"!21\r\nSYNTAX invalid syntax\r\n").as_deref(),
            Some("SYNTAX invalid syntax")
        );
        assert_eq!(error_text(b"+OK\r\n"), None);
        assert_eq!(error_text(b"*1\r\n-ERR nested\r\n"), None);
        assert_eq!(error_text(b""), None);
    }
}
