//! The two wasmtime [`Engine`]s of the server, one per compiler [`Tier`],
//! and their linkers: the host API and the WASI guests get.

use std::sync::OnceLock;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{v0_1, v0_2};
use super::store::HostState;
use super::{host, wasi};
use crate::config;
use crate::server::redis_log;

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
pub(super) fn engine_of(tier: Tier) -> Option<&'static Engine> {
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
                redis_log("warning", &e);
            }
            Some(engine)
        })
        .collect()
}

/// The linker of a tier's engine: the host API and a sandboxed WASI.
pub(super) fn linker(tier: Tier) -> Result<&'static Linker<HostState>, String> {
    static LINKERS: [OnceLock<Result<Linker<HostState>, String>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    LINKERS[tier as usize]
        .get_or_init(|| {
            let engine = engine_of(tier).ok_or("no engine for this tier")?;
            let mut linker = Linker::new(engine);
            wasi::add_to_linker(&mut linker).map_err(|e| format!("cannot link WASI: {e}"))?;
            v0_1::redis::triggers::types::add_to_linker::<HostState, HasSelf<HostState>>(
                &mut linker,
                |s| s,
            )
            .and_then(|()| {
                v0_2::redis::triggers::types::add_to_linker::<HostState, HasSelf<HostState>>(
                    &mut linker,
                    |s| s,
                )
            })
            .and_then(|()| host::add_to_linker(&mut linker))
            .map_err(|e| format!("cannot link the host API: {e}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(Clone::clone)
}
