//! Contexts: the module's own, kept from `MODULE LOAD`, and the context of
//! the Redis callback in progress; work handed to the main thread; server
//! event subscriptions.

use std::cell::Cell;
use std::os::raw::c_int;
use std::ptr;

use redis_module::{raw, Context};

/// The context of a Redis callback in progress, kept while a guest runs.
///
/// A raw pointer is only valid during the Redis callback that set it; the
/// Wasm runtime clears it as soon as the guest call returns.
#[derive(Clone, Copy)]
pub struct RedisCtx(*mut raw::RedisModuleCtx);

// SAFETY: the store that holds it lives on Redis' main thread only;
// wasmtime-wasi requires its state to be `Send`, and this pointer is never
// used elsewhere.
unsafe impl Send for RedisCtx {}

impl RedisCtx {
    pub fn null() -> Self {
        RedisCtx(ptr::null_mut())
    }

    /// The context of the callback in progress.
    pub fn new(ctx: &Context) -> Self {
        RedisCtx(ctx.ctx)
    }

    pub(super) fn get(self) -> Option<*mut raw::RedisModuleCtx> {
        (!self.0.is_null()).then_some(self.0)
    }

    /// Whether a callback's context is kept.
    pub fn is_set(self) -> bool {
        !self.0.is_null()
    }

    /// The context kept, for the server's safe wrappers.
    pub fn context(self) -> Option<Context> {
        self.get().map(Context::new)
    }
}

thread_local! {
    /// A context of the module's own, for work outside a callback.
    static MODULE_CTX: Cell<*mut raw::RedisModuleCtx> = const { Cell::new(ptr::null_mut()) };
}

/// At `MODULE LOAD`: keeps a context of the module's own (detached from any
/// client), for work outside a callback's context.
pub fn init(ctx: &Context) -> Result<(), String> {
    let detached = match api!(RedisModule_GetDetachedThreadSafeContext) {
        // SAFETY: called during `MODULE LOAD` with its context.
        Some(detach) => unsafe { detach(ctx.ctx) },
        None => ptr::null_mut(),
    };
    if detached.is_null() {
        return Err("cannot get a context for keyspace events".into());
    }
    MODULE_CTX.set(detached);
    Ok(())
}

/// The module's own context; null before `MODULE LOAD` set it.
pub fn module_ctx() -> *mut raw::RedisModuleCtx {
    MODULE_CTX.get()
}

/// Runs `f` on Redis' main thread, between commands. Callable from any
/// thread (`RM_EventLoopAddOneShot`). Panics in `f` are caught and logged.
pub fn run_on_main_thread(f: fn()) {
    extern "C" fn trampoline(data: *mut std::ffi::c_void) {
        // SAFETY: `data` is the `fn()` passed below, cast to a pointer.
        let f: fn() = unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn()>(data) };
        if std::panic::catch_unwind(f).is_err() {
            super::redis_log("warning", "a task on the main thread panicked");
        }
    }
    let Some(add) = api!(RedisModule_EventLoopAddOneShot) else {
        return;
    };
    // SAFETY: Redis calls `trampoline` once on its main thread with `data`.
    unsafe { add(Some(trampoline), f as *mut std::ffi::c_void) };
}

/// A server event callback.
pub(super) type ServerEventHandler =
    extern "C" fn(*mut raw::RedisModuleCtx, raw::RedisModuleEvent, u64, *mut std::ffi::c_void);

/// At `MODULE LOAD`: subscribes `handler` to the server event `id`
/// (`REDISMODULE_EVENT_*`); `what` names the event in the error.
pub(super) fn subscribe_to_server_event(
    ctx: &Context,
    id: u64,
    handler: ServerEventHandler,
    what: &str,
) -> Result<(), String> {
    set_server_event_handler(ctx.ctx, id, Some(handler), what)
}

/// Subscribes `handler` to the server event `id`, or, with `None`, takes
/// the subscription back, with the module's own context: at any time on
/// the main thread after `MODULE LOAD`.
pub(super) fn deliver_server_event(
    id: u64,
    handler: Option<ServerEventHandler>,
    what: &str,
) -> Result<(), String> {
    let ctx = module_ctx();
    if ctx.is_null() {
        return Err(format!(
            "cannot subscribe to {what} events before the module is loaded"
        ));
    }
    set_server_event_handler(ctx, id, handler, what)
}

fn set_server_event_handler(
    ctx: *mut raw::RedisModuleCtx,
    id: u64,
    handler: Option<ServerEventHandler>,
    what: &str,
) -> Result<(), String> {
    let Some(subscribe) = api!(RedisModule_SubscribeToServerEvent) else {
        return Err("this server has no server events".into());
    };
    let event = raw::RedisModuleEvent { id, dataver: 1 };
    let handler = handler.map(|h| h as unsafe extern "C" fn(_, _, _, _));
    // SAFETY: a context of this module, on the main thread.
    if unsafe { subscribe(ctx, event, handler) } != raw::REDISMODULE_OK as c_int {
        return Err(format!("cannot subscribe to {what} events"));
    }
    Ok(())
}

/// Lets Redis serve its other clients while the module holds it
/// (`RM_Yield`): they are answered `-BUSY` and `reply`, but for the few
/// commands allowed while busy. Redis lets the module's own context yield
/// once it is `busy-reply-threshold` old, and then every 1/hz seconds.
pub fn yield_to_clients(reply: &'static std::ffi::CStr) {
    let ctx = module_ctx();
    if let (Some(yield_now), false) = (api!(RedisModule_Yield), ctx.is_null()) {
        // SAFETY: a context of our own, on Redis' main thread; the reply is
        // a static string.
        unsafe {
            yield_now(
                ctx,
                raw::REDISMODULE_YIELD_FLAG_CLIENTS as c_int,
                reply.as_ptr(),
            )
        };
    }
}
