//! The epoch ticker: the clock behind the guests' time limit.
//!
//! wasmtime calls back into the module once the engine's epoch passes the
//! deadline set for a guest call (`store.rs`), which then ends the call at
//! its time, or lets Redis answer other clients (`events/busy.rs`). A thread
//! advances the epoch every [`config::EPOCH_TICK`] of wall time. It counts
//! ticks by the clock, not by its own wake-ups: on a busy machine the thread
//! wakes late, and then advances the epoch by every tick that passed, so
//! that a time limit holds in wall time however starved the thread is.
//!
//! So that an idle server does not wake up 200 times a second for nothing,
//! the thread parks itself after a while without guest calls, and the next
//! call wakes it. It never parks while a call is in progress, however long
//! that call runs.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Instant;

use wasmtime::Engine;

use crate::config;

/// Ticks without any guest call before the thread parks.
const IDLE_TICKS_BEFORE_PARKING: u32 = 40;

/// How many guest calls have started.
static STARTED: AtomicU64 = AtomicU64::new(0);
/// How many guest calls are in progress.
static RUNNING: AtomicU32 = AtomicU32::new(0);
static PARKED: AtomicBool = AtomicBool::new(false);
static TICKER: OnceLock<Thread> = OnceLock::new();

/// Starts the ticker thread for `engines`. Without it no time limit holds,
/// so the module must not load if this fails.
pub fn start(engines: Vec<&'static Engine>) -> Result<(), String> {
    if TICKER.get().is_some() {
        return Ok(());
    }
    let handle = std::thread::Builder::new()
        .name("triggers-epoch".into())
        .spawn(move || run(engines))
        .map_err(|e| format!("cannot start the epoch ticker thread: {e}"))?;
    let _ = TICKER.set(handle.thread().clone());
    Ok(())
}

fn run(engines: Vec<&'static Engine>) {
    let mut last_seen = STARTED.load(Ordering::SeqCst);
    let mut idle_ticks = 0;
    // Ticks are counted from `since`; `ticked` of them were given so far.
    let mut since = Instant::now();
    let mut ticked: u128 = 0;
    loop {
        std::thread::sleep(config::EPOCH_TICK);
        let due = since.elapsed().as_micros() / config::EPOCH_TICK.as_micros().max(1);
        while ticked < due {
            for engine in &engines {
                engine.increment_epoch();
            }
            ticked += 1;
        }
        let started = STARTED.load(Ordering::SeqCst);
        if started != last_seen || RUNNING.load(Ordering::SeqCst) > 0 {
            last_seen = started;
            idle_ticks = 0;
            continue;
        }
        idle_ticks += 1;
        if idle_ticks < IDLE_TICKS_BEFORE_PARKING {
            continue;
        }
        // Park, unless a call started meanwhile; `GuestCall::start` sees
        // `PARKED` and unparks us otherwise.
        PARKED.store(true, Ordering::SeqCst);
        if STARTED.load(Ordering::SeqCst) == last_seen {
            std::thread::park();
        }
        PARKED.store(false, Ordering::SeqCst);
        idle_ticks = 0;
        // Time parked is not owed to anyone: count afresh.
        since = Instant::now();
        ticked = 0;
    }
}

/// Marks a guest call in progress; held around every entry into Wasm.
pub struct GuestCall(());

impl GuestCall {
    pub fn start() -> GuestCall {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        STARTED.fetch_add(1, Ordering::SeqCst);
        if PARKED.load(Ordering::SeqCst) {
            if let Some(ticker) = TICKER.get() {
                ticker.unpark();
            }
        }
        GuestCall(())
    }
}

impl Drop for GuestCall {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}
