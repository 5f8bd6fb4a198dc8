//! Compiling a library: the header check, the baseline compiler in
//! `TRIGGER LOAD`, Cranelift on a background thread, and linking against
//! the host API and WASI.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};

use wasmtime::component::Component;
use wasmtime::Engine;

use super::code_cache;
use super::componentize::{is_core_module, HOW};
use super::contract::{version_of, LibraryPre};
use super::engine::{engine_of, linker, Tier};
use crate::server::redis_log;

/// A compiled library, ready to be instantiated (again, after a trap).
pub struct CompiledLibrary {
    pub(super) pre: LibraryPre,
    pub(super) engine: &'static Engine,
    pub(super) tier: Tier,
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
    // `TRIGGER LOAD` turns a client's core module into a component first;
    // one here (a damaged RDB file, the fuzz targets) is refused.
    if is_core_module(bytes) {
        return Err(format!(
            "this is a core Wasm module, not a component: {HOW}"
        ));
    }
    Ok(())
}

/// Compiles with the tier's compiler. Optimized code goes through the
/// compiled-code cache (memory and disk), so that later loads of the same
/// bytes, here or after a restart, skip compiling; baseline code only
/// lives until the optimized code replaces it, and is not cached.
pub fn compile_with(bytes: &[u8], tier: Tier) -> Result<CompiledLibrary, String> {
    let engine = engine_of(tier).ok_or("no engine for this tier")?;
    let component = match tier {
        Tier::Optimized => code_cache::component(engine, bytes),
        Tier::Baseline => Component::new(engine, bytes),
    }
    .map_err(|e| format!("invalid Wasm component: {e:#}"))?;
    link(component, tier)
}

fn link(component: Component, tier: Tier) -> Result<CompiledLibrary, String> {
    let engine = engine_of(tier).ok_or("no engine for this tier")?;
    let version = version_of(&component, engine)?;
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
    let pre = LibraryPre::new(version, instance_pre).map_err(|e| {
        format!("the component does not export the redis:triggers/trigger-library world: {e:#}")
    })?;
    Ok(CompiledLibrary { pre, engine, tier })
}

/// Cranelift's compilation of a library, running on a background thread.
pub struct PendingOptimization(pub(super) Receiver<Result<CompiledLibrary, String>>);

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
                    redis_log(
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
pub(super) fn optimize_in_background(bytes: Vec<u8>, ready: fn()) -> Option<PendingOptimization> {
    let (done, receiver) = mpsc::channel();
    let queue = compiler_queue()?.lock().ok()?;
    queue.send(OptimizeJob { bytes, done, ready }).ok()?;
    Some(PendingOptimization(receiver))
}

/// Returns the heap memory that compilation freed to the system. Compiling
/// allocates tens of MB, on several threads whose malloc arenas would keep
/// it otherwise (glibc only; elsewhere this does nothing).
pub fn release_free_memory() {
    crate::server::release_free_heap();
}
