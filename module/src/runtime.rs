//! The Wasm runtime: one wasmtime [`Engine`] for the whole server, and one
//! long-lived [`Store`] and instance per loaded library.
//!
//! Hot-path rules (see the README's design notes):
//! - a library is compiled and instantiated once, at `TRIGGER LOAD`;
//! - every event reuses the same store and instance, with a fresh epoch
//!   deadline set before each call;
//! - after a trap the instance is poisoned, so it is rebuilt from the
//!   pre-instantiated component before the next call.

use std::sync::OnceLock;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::code_cache;
use crate::config;
use crate::host_api::{CallMode, RedisCtx};
use crate::ticker::GuestCall;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "trigger-library",
    imports: { default: trappable },
});

pub use redis::triggers::types::{LogLevel, ReplyNode};

/// Everything a library's store carries: the Redis context of the call in
/// progress, and the sandboxed WASI state.
pub struct HostState {
    /// The Redis context of the guest call in progress; null between calls
    /// and while `describe` runs.
    pub ctx: RedisCtx,
    /// Whether `call` may write (in `run`) or not (in `on-fired`).
    pub mode: CallMode,
    /// The library's name, for log lines.
    pub library: String,
    /// The last panic message a guest reported through the SDK, used to
    /// explain the trap that follows it.
    pub panic_message: Option<String>,
    limiter: Limiter,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The process-wide engine, created when the module loads (where a failure
/// is caught and refuses the load).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        // Synchronous calls only: the async machinery makes every component
        // call many times slower (wasmtime issue #12836).
        config.concurrency_support(false);
        // Interrupt guests that run past their deadline; the deadline is set
        // before every call, and the ticker thread (`ticker.rs`) advances the epoch.
        config.epoch_interruption(true);
        config.max_wasm_stack(config::MAX_WASM_STACK_BYTES);
        // Compiling on several threads shortens `TRIGGER LOAD`, which blocks
        // the server while it runs.
        config.parallel_compilation(true);
        // `WASM_TRIGGERS_PERFMAP=1` in redis-server's environment writes
        // /tmp/perf-<pid>.map, so that `perf` names the guests' functions.
        if std::env::var_os("WASM_TRIGGERS_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // `Config` only fails on invalid combinations, and this one is fixed
        // at compile time; a failure here is a build bug, not user input.
        Engine::new(&config).expect("the wasmtime configuration is valid")
    })
}

/// The linker that provides the host API and a sandboxed WASI.
fn linker() -> Result<&'static Linker<HostState>, String> {
    static LINKER: OnceLock<Result<Linker<HostState>, String>> = OnceLock::new();
    LINKER
        .get_or_init(|| {
            let mut linker = Linker::new(engine());
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
                .map_err(|e| format!("cannot link WASI: {e}"))?;
            TriggerLibrary::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
                .map_err(|e| format!("cannot link the host API: {e}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A compiled library, ready to be instantiated (again, after a trap).
pub struct CompiledLibrary {
    pre: TriggerLibraryPre<HostState>,
}

/// Checks the blob's header and compiles it. The errors are the ones
/// `TRIGGER LOAD` replies with.
pub fn compile(bytes: &[u8]) -> Result<CompiledLibrary, String> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.is_empty() {
        return Err("empty library: expected the bytes of a Wasm component".into());
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("not a WebAssembly binary (no \\0asm header)".into());
    }
    // Bytes 4..8 are the version and layer: 01 00 00 00 for a core module,
    // 0d 00 01 00 for a component.
    if bytes[6..8] == [0, 0] {
        return Err(
            "this is a core Wasm module, not a component: build the library with \
             `cargo build --target wasm32-wasip2`"
                .into(),
        );
    }
    // Compiled once: later loads of the same bytes, here or after a restart,
    // come from the cache.
    let component = code_cache::component(engine(), bytes)
        .map_err(|e| format!("invalid Wasm component: {e:#}"))?;
    let linker = linker()?;
    let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
        format!("the component does not fit the redis:triggers/trigger-library world: {e:#}")
    })?;
    let pre = TriggerLibraryPre::new(instance_pre).map_err(|e| {
        format!("the component does not export the redis:triggers/trigger-library world: {e:#}")
    })?;
    Ok(CompiledLibrary { pre })
}

/// Why a guest call failed.
pub enum CallError {
    /// The guest returned an error: the instance is still healthy.
    Guest(String),
    /// The guest trapped (or was interrupted): the instance was rebuilt.
    Trap(String),
}

impl CallError {
    /// The message for `last_error`.
    pub fn into_message(self) -> String {
        match self {
            CallError::Guest(m) | CallError::Trap(m) => m,
        }
    }
}

/// A live instance of a library, with its own store. Reused for every event.
pub struct LibraryInstance {
    compiled: CompiledLibrary,
    store: Store<HostState>,
    bindings: TriggerLibrary,
    /// How many times the instance was rebuilt after a trap.
    pub rebuilds: u64,
}

fn new_store(library: &str) -> Store<HostState> {
    let wasi = WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let limits = StoreLimitsBuilder::new()
        .memory_size(config::MAX_MEMORY_BYTES)
        .instances(config::MAX_INSTANCES)
        .tables(config::MAX_TABLES)
        .memories(config::MAX_MEMORIES)
        .trap_on_grow_failure(false)
        .build();
    let mut store = Store::new(
        engine(),
        HostState {
            ctx: RedisCtx::null(),
            mode: CallMode::ReadOnly,
            library: library.to_owned(),
            panic_message: None,
            limiter: Limiter {
                limits,
                memory_bytes: 0,
                memory_denied: false,
            },
            wasi,
            table: ResourceTable::new(),
        },
    );
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_trap();
    store
}

/// Instantiates a compiled library in a new store. Instantiation runs guest
/// code (constructors), so it is timed like any other guest call.
fn instantiate(
    compiled: &CompiledLibrary,
    library: &str,
) -> Result<(Store<HostState>, TriggerLibrary), String> {
    let mut store = new_store(library);
    store.set_epoch_deadline(config::deadline_ticks());
    let _running = GuestCall::start();
    let bindings = compiled
        .pre
        .instantiate(&mut store)
        .map_err(|e| format!("cannot instantiate the component: {e:#}"))?;
    Ok((store, bindings))
}

impl LibraryInstance {
    /// Instantiates a compiled library in a new store.
    pub fn new(compiled: CompiledLibrary, library: &str) -> Result<Self, String> {
        let (store, bindings) = instantiate(&compiled, library)?;
        Ok(LibraryInstance {
            compiled,
            store,
            bindings,
            rebuilds: 0,
        })
    }

    /// Names the library in log lines, once `describe` said its name.
    pub fn set_library_name(&mut self, name: &str) {
        self.store.data_mut().library = name.to_owned();
    }

    /// Calls `describe`. Runs with no Redis context: `call` is refused.
    pub fn describe(&mut self) -> Result<LibraryInfo, String> {
        let running = self.enter(RedisCtx::null(), CallMode::ReadOnly);
        let result = self.bindings.call_describe(&mut self.store);
        self.leave(running);
        result.map_err(|e| self.explain_trap("describe", e))
    }

    /// Calls `on-fired` with a read-only Redis context.
    pub fn on_fired(
        &mut self,
        ctx: RedisCtx,
        trigger: u32,
        event: &Event,
    ) -> Result<Option<Vec<u8>>, CallError> {
        let running = self.enter(ctx, CallMode::ReadOnly);
        let result = self.bindings.call_on_fired(&mut self.store, trigger, event);
        self.leave(running);
        match result {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(message)) => Err(CallError::Guest(message)),
            Err(trap) => Err(self.trapped("on_fired", trap)),
        }
    }

    /// Calls `run` with a Redis context that may write.
    pub fn run(
        &mut self,
        ctx: RedisCtx,
        trigger: u32,
        event: &Event,
        payload: Option<&[u8]>,
    ) -> Result<(), CallError> {
        let running = self.enter(ctx, CallMode::Write);
        let result = self
            .bindings
            .call_run(&mut self.store, trigger, event, payload);
        self.leave(running);
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(CallError::Guest(message)),
            Err(trap) => Err(self.trapped("run", trap)),
        }
    }

    /// The size of the guest's linear memory, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limiter.memory_bytes
    }

    /// Prepares the store for a guest call: the Redis context and mode, a
    /// fresh deadline, and the ticker told that a guest runs.
    fn enter(&mut self, ctx: RedisCtx, mode: CallMode) -> GuestCall {
        let data = self.store.data_mut();
        data.ctx = ctx;
        data.mode = mode;
        data.limiter.memory_denied = false;
        self.store.set_epoch_deadline(config::deadline_ticks());
        GuestCall::start()
    }

    /// Ends a guest call: the Redis context is only valid during it.
    fn leave(&mut self, running: GuestCall) {
        drop(running);
        self.store.data_mut().ctx = RedisCtx::null();
    }

    fn explain_trap(&mut self, export: &str, trap: wasmtime::Error) -> String {
        let panic = self.store.data_mut().panic_message.take();
        if let Some(message) = panic {
            return format!("{export} panicked: {message}");
        }
        if self.store.data().limiter.memory_denied {
            return format!(
                "{export} exceeded the memory limit of {} MB",
                config::MAX_MEMORY_BYTES >> 20
            );
        }
        if let Some(code) = trap.downcast_ref::<wasmtime::Trap>() {
            if *code == wasmtime::Trap::Interrupt {
                return format!(
                    "{export} exceeded the execution time limit of {} ms",
                    config::MAX_EXECUTION_TIME_MS
                );
            }
            return format!("{export} trapped: {code}");
        }
        format!("{export} failed: {trap:#}")
    }

    /// Records why the call trapped, then replaces the poisoned instance.
    fn trapped(&mut self, export: &str, trap: wasmtime::Error) -> CallError {
        let mut message = self.explain_trap(export, trap);
        let library = self.store.data().library.clone();
        match instantiate(&self.compiled, &library) {
            Ok((store, bindings)) => {
                self.store = store;
                self.bindings = bindings;
                self.rebuilds += 1;
            }
            Err(e) => message.push_str(&format!("; the instance could not be rebuilt: {e}")),
        }
        CallError::Trap(message)
    }
}

/// [`StoreLimits`], plus a record of how large the guest's memory grew.
struct Limiter {
    limits: StoreLimits,
    memory_bytes: usize,
    /// Set when a memory grow was refused during the call in progress.
    memory_denied: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_bytes = self
                .memory_bytes
                .saturating_sub(current)
                .saturating_add(desired);
        } else {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
