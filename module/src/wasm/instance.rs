//! The Wasm runtime: two wasmtime [`Engine`]s for the whole server (one per
//! compiler tier), and one long-lived [`Store`] and instance per library.
//!
//! Hot-path rules (see the README's design notes):
//! - a library is compiled and instantiated at `TRIGGER LOAD` (with the
//!   fast baseline compiler), and once more when Cranelift's optimized code,
//!   compiled on a background thread, replaces it ([`Tier`]);
//! - every event reuses the same store and instance, with a fresh epoch
//!   deadline set before each call;
//! - after a trap the instance is poisoned, so it is rebuilt from the
//!   pre-instantiated component before the next call.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::busy;
use crate::code_cache;
use crate::config;
use crate::host_api::{self, CallMode, CallUser, KeyName, RedisCtx};
use crate::ticker::GuestCall;
use crate::wasi;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "trigger-library",
    imports: { default: trappable },
});

pub use redis::triggers::types::LogLevel;

// `types` declares types only; `host` is linked by hand in `host_api.rs`.
impl redis::triggers::types::Host for HostState {}

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
    /// The ACL user its calls run as; none while it loads.
    pub user: Option<CallUser>,
    /// The last panic message a guest reported through the SDK, used to
    /// explain the trap that follows it.
    pub panic_message: Option<String>,
    /// Whether the call in progress ends at its command's time budget
    /// rather than at the full time limit (`command_budget.rs`).
    limited_by_budget: bool,
    /// When the call in progress must end.
    call_deadline: Instant,
    limiter: Limiter,
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Which compiler made a library's machine code.
///
/// `TRIGGER LOAD` compiles with the baseline compiler (Winch), which is
/// several times faster than Cranelift, so that the load blocks the server
/// briefly; Cranelift then compiles the same component on a background
/// thread, and the library switches to that optimized code before its next
/// guest call once it is ready.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tier {
    Baseline,
    Optimized,
}

impl Tier {
    /// As `TRIGGER LIST VERBOSE` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Baseline => "baseline",
            Tier::Optimized => "optimized",
        }
    }
}

fn new_engine(tier: Tier) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    if tier == Tier::Baseline {
        config.strategy(wasmtime::Strategy::Winch);
    }
    // Synchronous calls only: the async machinery makes every component
    // call many times slower (wasmtime issue #12836).
    config.concurrency_support(false);
    // Interrupt guests that run past their deadline; the deadline is set
    // before every call, and the ticker thread (`ticker.rs`) advances the epoch.
    config.epoch_interruption(true);
    config.max_wasm_stack(config::MAX_WASM_STACK_BYTES);
    // The baseline compiler runs in `TRIGGER LOAD`, which blocks the server:
    // several threads shorten it. Cranelift runs on one background thread,
    // so that it never holds up a load waiting for the same thread pool.
    // (Where there is no baseline compiler, Cranelift runs in the load, on
    // one thread.)
    config.parallel_compilation(tier == Tier::Baseline);
    // `WASM_TRIGGERS_PERFMAP=1` in redis-server's environment writes
    // /tmp/perf-<pid>.map, so that `perf` names the guests' functions.
    if std::env::var_os("WASM_TRIGGERS_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

/// The engine of a tier, created when the module loads (where a failure is
/// caught and refuses the load). The baseline engine is `None` where Winch
/// does not run (it supports x86-64 and aarch64); libraries are then
/// compiled with Cranelift right away.
fn engine_of(tier: Tier) -> Option<&'static Engine> {
    static OPTIMIZED: OnceLock<Engine> = OnceLock::new();
    static BASELINE: OnceLock<Option<Engine>> = OnceLock::new();
    match tier {
        // The configuration is fixed at compile time: a failure here is a
        // build bug, not user input.
        Tier::Optimized => Some(OPTIMIZED.get_or_init(|| {
            new_engine(Tier::Optimized).expect("the wasmtime configuration is valid")
        })),
        Tier::Baseline => BASELINE
            .get_or_init(|| new_engine(Tier::Baseline).ok())
            .as_ref(),
    }
}

/// The engines in use, for the epoch ticker. Creates them, and their
/// linkers, so that the first `TRIGGER LOAD` does not pay for that.
pub fn engines() -> Vec<&'static Engine> {
    [Tier::Optimized, Tier::Baseline]
        .into_iter()
        .filter_map(|tier| {
            let engine = engine_of(tier)?;
            if let Err(e) = linker(tier) {
                host_api::redis_log("warning", &e);
            }
            Some(engine)
        })
        .collect()
}

/// The linker of a tier's engine: the host API and a sandboxed WASI.
fn linker(tier: Tier) -> Result<&'static Linker<HostState>, String> {
    static LINKERS: [OnceLock<Result<Linker<HostState>, String>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    LINKERS[tier as usize]
        .get_or_init(|| {
            let engine = engine_of(tier).ok_or("no engine for this tier")?;
            let mut linker = Linker::new(engine);
            wasi::add_to_linker(&mut linker).map_err(|e| format!("cannot link WASI: {e}"))?;
            redis::triggers::types::add_to_linker::<HostState, HasSelf<HostState>>(
                &mut linker,
                |s| s,
            )
            .and_then(|()| host_api::add_to_linker(&mut linker))
            .map_err(|e| format!("cannot link the host API: {e}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A compiled library, ready to be instantiated (again, after a trap).
pub struct CompiledLibrary {
    pre: TriggerLibraryPre<HostState>,
    engine: &'static Engine,
    tier: Tier,
}

/// Checks the blob's header and compiles it as `TRIGGER LOAD` does: with
/// the baseline compiler where there is one. The errors are the ones
/// `TRIGGER LOAD` replies with.
pub fn compile(bytes: &[u8]) -> Result<CompiledLibrary, String> {
    check_header(bytes)?;
    // Optimized code compiled before (a restart, a reload, the same bytes
    // loaded again) is used right away.
    let optimizing = engine_of(Tier::Optimized).ok_or("no engine")?;
    if let Some(component) = code_cache::cached(optimizing, bytes) {
        return link(component, Tier::Optimized);
    }
    let tier = match engine_of(Tier::Baseline) {
        Some(_) => Tier::Baseline,
        None => Tier::Optimized,
    };
    compile_with(bytes, tier)
}

fn check_header(bytes: &[u8]) -> Result<(), String> {
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
    Ok(())
}

/// Compiles with the tier's compiler. Optimized code goes through the
/// compiled-code cache (memory and disk), so that later loads of the same
/// bytes, here or after a restart, skip compiling; baseline code only
/// lives until the optimized code replaces it, and is not cached.
pub(crate) fn compile_with(bytes: &[u8], tier: Tier) -> Result<CompiledLibrary, String> {
    let engine = engine_of(tier).ok_or("no engine for this tier")?;
    let component = match tier {
        Tier::Optimized => code_cache::component(engine, bytes),
        Tier::Baseline => Component::new(engine, bytes),
    }
    .map_err(|e| format!("invalid Wasm component: {e:#}"))?;
    link(component, tier)
}

fn link(component: Component, tier: Tier) -> Result<CompiledLibrary, String> {
    let instance_pre =
        linker(tier)?
            .instantiate_pre(&component)
            .map_err(|e| match format!("{e:#}") {
                e if e.contains("wasi:sockets/") => format!(
                    "the library imports wasi:sockets, and triggers have no network access: {e}"
                ),
                e => format!(
                    "the component does not fit the redis:triggers/trigger-library world: {e}"
                ),
            })?;
    let pre = TriggerLibraryPre::new(instance_pre).map_err(|e| {
        format!("the component does not export the redis:triggers/trigger-library world: {e:#}")
    })?;
    let engine = engine_of(tier).ok_or("no engine for this tier")?;
    Ok(CompiledLibrary { pre, engine, tier })
}

/// Cranelift's compilation of a library, running on a background thread.
pub struct PendingOptimization(Receiver<Result<CompiledLibrary, String>>);

/// A library to compile with Cranelift, and where to send the result.
struct OptimizeJob {
    bytes: Vec<u8>,
    done: Sender<Result<CompiledLibrary, String>>,
    /// Called on the compiler thread once the result is sent.
    ready: fn(),
}

/// The queue of the one background compiler thread, started on first use.
/// One thread, one library at a time: loading twenty libraries must not
/// start twenty compilations competing with Redis for the CPUs.
fn compiler_queue() -> Option<&'static Mutex<Sender<OptimizeJob>>> {
    static QUEUE: OnceLock<Option<Mutex<Sender<OptimizeJob>>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (sender, jobs) = mpsc::channel::<OptimizeJob>();
            let spawned = std::thread::Builder::new()
                .name("triggers-compile".into())
                .spawn(move || {
                    for job in jobs {
                        let compiled =
                            std::panic::catch_unwind(|| compile_with(&job.bytes, Tier::Optimized))
                                .unwrap_or_else(|_| Err("the optimizing compiler panicked".into()));
                        let _ = job.done.send(compiled);
                        (job.ready)();
                    }
                });
            match spawned {
                Ok(_) => Some(Mutex::new(sender)),
                Err(e) => {
                    host_api::redis_log(
                        "warning",
                        &format!("cannot start the thread that optimizes libraries: {e}"),
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Queues `bytes` for Cranelift. The bytes already compiled once, so a
/// failure is unexpected; the library then keeps its baseline code.
fn optimize_in_background(bytes: Vec<u8>, ready: fn()) -> Option<PendingOptimization> {
    let (done, receiver) = mpsc::channel();
    let queue = compiler_queue()?.lock().ok()?;
    queue.send(OptimizeJob { bytes, done, ready }).ok()?;
    Some(PendingOptimization(receiver))
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
    /// Cranelift's code for this library, while it is being compiled.
    optimization: Option<PendingOptimization>,
}

fn new_store(engine: &Engine, library: &str, owner: Option<&str>) -> Store<HostState> {
    let wasi = WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let limits = StoreLimitsBuilder::new()
        // Memory is checked against `triggers.max-memory` in `Limiter`, so
        // that a change applies to running libraries.
        .instances(config::MAX_INSTANCES)
        .tables(config::MAX_TABLES)
        .memories(config::MAX_MEMORIES)
        .trap_on_grow_failure(false)
        .build();
    let mut store = Store::new(
        engine,
        HostState {
            ctx: RedisCtx::null(),
            mode: CallMode::ReadOnly,
            library: library.to_owned(),
            user: owner.map(CallUser::new),
            panic_message: None,
            limited_by_budget: false,
            call_deadline: Instant::now(),
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
    // Called at each epoch deadline: every `busy::CHECK_INTERVAL`, and at
    // the end of the call's time.
    store.epoch_deadline_callback(|store| {
        let left = store
            .data()
            .call_deadline
            .saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        // Trigger calls only: loading a library and rebuilding an instance
        // are never killed.
        if !store.data().ctx.is_null() {
            busy::while_running().map_err(wasmtime::Error::new)?;
        }
        Ok(UpdateDeadline::Continue(check_ticks(left)))
    });
    store
}

/// The epoch ticks until the next check of a call with `left` to run.
fn check_ticks(left: Duration) -> u64 {
    config::deadline_ticks(left.min(busy::CHECK_INTERVAL))
}

/// How long a guest call may run.
#[derive(Clone, Copy)]
pub struct CallLimit {
    /// When it must end.
    until: Instant,
    /// How long that is from its start.
    left: Duration,
    /// Whether that is its command's budget rather than the full limit.
    by_budget: bool,
}

impl CallLimit {
    /// A call starting at `start`, with `left` of its command's budget.
    pub fn new(start: Instant, left: Duration) -> Self {
        CallLimit {
            until: start + left,
            left,
            by_budget: left + config::EPOCH_TICK < config::max_execution_time(),
        }
    }

    /// The full time limit, from now.
    fn full() -> Self {
        Self::new(Instant::now(), config::max_execution_time())
    }
}

/// Ends the next guest call at `limit`.
fn set_deadline(store: &mut Store<HostState>, limit: CallLimit) {
    let data = store.data_mut();
    data.call_deadline = limit.until;
    data.limited_by_budget = limit.by_budget;
    store.set_epoch_deadline(check_ticks(limit.left));
}

/// Instantiates a compiled library in a new store. Instantiation runs guest
/// code (constructors), so it is timed like any other guest call.
fn instantiate(
    compiled: &CompiledLibrary,
    library: &str,
    owner: Option<&str>,
) -> Result<(Store<HostState>, TriggerLibrary), String> {
    let mut store = new_store(compiled.engine, library, owner);
    set_deadline(&mut store, CallLimit::full());
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
        let (store, bindings) = instantiate(&compiled, library, None)?;
        Ok(LibraryInstance {
            compiled,
            store,
            bindings,
            rebuilds: 0,
            optimization: None,
        })
    }

    /// Which compiler made the code that runs now.
    pub fn tier(&self) -> Tier {
        self.compiled.tier
    }

    /// Once the library is loaded: starts compiling its optimized code, if
    /// it runs baseline code. `ready` is called on the compiler thread when
    /// the code is ready; [`switch_to_optimized_code`](Self::switch_to_optimized_code)
    /// must then be called on Redis' main thread (it also happens before
    /// the next guest call).
    pub fn optimize(&mut self, bytes: &[u8], ready: fn()) {
        if self.compiled.tier == Tier::Baseline && self.optimization.is_none() {
            self.optimization = optimize_in_background(bytes.to_vec(), ready);
        }
    }

    /// Switches to the optimized code if it is ready. A fresh instance
    /// replaces the current one, as after a trap: a library's in-memory
    /// state lasts until it is replaced, never longer.
    pub fn switch_to_optimized_code(&mut self) {
        let Some(PendingOptimization(receiver)) = &self.optimization else {
            return;
        };
        let compiled = match receiver.try_recv() {
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the compiler thread stopped".to_string()),
            Ok(result) => result,
        };
        self.optimization = None;
        let (library, owner) = self.identity();
        let switched = compiled.and_then(|compiled| {
            let (store, bindings) = instantiate(&compiled, &library, owner.as_deref())?;
            self.compiled = compiled;
            self.store = store;
            self.bindings = bindings;
            Ok(())
        });
        if let Err(e) = switched {
            host_api::redis_log(
                "warning",
                &format!("library '{library}' keeps its baseline code: {e}"),
            );
        }
    }

    /// Once `describe` said the library's name: names it in log lines, and
    /// makes its calls run as `owner`, the ACL user that loaded it.
    pub fn set_identity(&mut self, name: &str, owner: &str) {
        let data = self.store.data_mut();
        data.library = name.to_owned();
        data.user = Some(CallUser::new(owner));
    }

    /// The library's name and owner, for a new store.
    fn identity(&self) -> (String, Option<String>) {
        let data = self.store.data();
        let owner = data.user.as_ref().map(|u| u.owner().to_owned());
        (data.library.clone(), owner)
    }

    /// Calls `describe`. Runs with no Redis context: `call` is refused.
    pub fn describe(&mut self) -> Result<LibraryInfo, String> {
        let running = self.enter(RedisCtx::null(), CallMode::ReadOnly, CallLimit::full());
        let result = self.bindings.call_describe(&mut self.store);
        self.leave(running);
        result.map_err(|e| self.explain_trap("describe", e))
    }

    /// Whether the library's owner may read `key` (its ACL key patterns):
    /// checked before the library's code runs for an event of that key.
    pub fn owner_may_read(&mut self, key: KeyName) -> Result<bool, String> {
        match self.store.data_mut().user.as_mut() {
            Some(user) => user.may_read_key(key),
            None => Ok(true),
        }
    }

    /// Calls `on-fired` with a read-only Redis context, until `limit`.
    pub fn on_fired(
        &mut self,
        ctx: RedisCtx,
        trigger: u32,
        event: &Event,
        limit: CallLimit,
    ) -> Result<Option<Vec<u8>>, CallError> {
        let running = self.enter(ctx, CallMode::ReadOnly, limit);
        let result = self.bindings.call_on_fired(&mut self.store, trigger, event);
        self.leave(running);
        match result {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(message)) => Err(CallError::Guest(message)),
            Err(trap) => Err(self.trapped("on_fired", trap)),
        }
    }

    /// Calls `run` with a Redis context that may write, until `limit`.
    pub fn run(
        &mut self,
        ctx: RedisCtx,
        trigger: u32,
        event: &Event,
        payload: Option<&[u8]>,
        limit: CallLimit,
    ) -> Result<(), CallError> {
        let running = self.enter(ctx, CallMode::Write, limit);
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

    /// Prepares the store for a guest call: the Redis context and mode, its
    /// deadline, and the ticker told that a guest runs.
    fn enter(&mut self, ctx: RedisCtx, mode: CallMode, limit: CallLimit) -> GuestCall {
        if self.optimization.is_some() {
            self.switch_to_optimized_code();
        }
        let data = self.store.data_mut();
        data.ctx = ctx;
        data.mode = mode;
        data.limiter.memory_denied = false;
        set_deadline(&mut self.store, limit);
        GuestCall::start()
    }

    /// Ends a guest call: the Redis context, and the owner attached to it,
    /// are only valid during it.
    fn leave(&mut self, running: GuestCall) {
        drop(running);
        let data = self.store.data_mut();
        if let Some(user) = data.user.as_mut() {
            user.detach();
        }
        data.ctx = RedisCtx::null();
    }

    fn explain_trap(&mut self, export: &str, trap: wasmtime::Error) -> String {
        let panic = self.store.data_mut().panic_message.take();
        if let Some(message) = panic {
            return format!("{export} panicked: {message}");
        }
        if self.store.data().limiter.memory_denied {
            return format!(
                "{export} exceeded the memory limit of {} MB (triggers.max-memory)",
                config::max_memory_bytes() >> 20
            );
        }
        if trap.downcast_ref::<busy::Killed>().is_some() {
            return format!("{export} was stopped: killed by TRIGGER KILL");
        }
        if let Some(refused) = trap.downcast_ref::<wasi::Refused>() {
            return format!("{export} was stopped: {refused}");
        }
        if let Some(code) = trap.downcast_ref::<wasmtime::Trap>() {
            if *code == wasmtime::Trap::Interrupt && self.store.data().limited_by_budget {
                return format!(
                    "{export} was stopped: the triggers of this command used up their time \
                     budget of {} ms (triggers.max-execution-time)",
                    config::max_execution_time_ms()
                );
            }
            if *code == wasmtime::Trap::Interrupt {
                return format!(
                    "{export} exceeded the execution time limit of {} ms \
                     (triggers.max-execution-time)",
                    config::max_execution_time_ms()
                );
            }
            return format!("{export} trapped: {code}");
        }
        format!("{export} failed: {trap:#}")
    }

    /// Records why the call trapped, then replaces the poisoned instance.
    fn trapped(&mut self, export: &str, trap: wasmtime::Error) -> CallError {
        let mut message = self.explain_trap(export, trap);
        let (library, owner) = self.identity();
        match instantiate(&self.compiled, &library, owner.as_deref()) {
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
        let total = self
            .memory_bytes
            .saturating_sub(current)
            .saturating_add(desired);
        let allowed = total <= config::max_memory_bytes()
            && self.limits.memory_growing(current, desired, maximum)?;
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
