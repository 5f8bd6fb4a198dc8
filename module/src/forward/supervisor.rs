//! The forwarder's thread: started at `MODULE LOAD`, it runs the
//! forwarder's turns (`turn.rs`) until `SHUTDOWN`, idle while forwarding is
//! off. A panic in a turn is caught and logged, and the loop goes on with a
//! new forwarder (a new connection).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::publishing;
use super::turn::{log, Forwarder};

/// Set at `SHUTDOWN`: the loop closes its connection and ends.
static STOPPING: AtomicBool = AtomicBool::new(false);
const PANIC_PAUSE: Duration = Duration::from_secs(1);

/// The thread, to wake it at `SHUTDOWN`, and whether it ended.
static THREAD: OnceLock<Thread> = OnceLock::new();
static ENDED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Starts the thread. Called once, at `MODULE LOAD`.
pub fn start() -> Result<(), String> {
    let handle = std::thread::Builder::new()
        .name("triggers-fwd".into())
        .spawn(run)
        .map_err(|e| format!("cannot start the forwarder's thread: {e}"))?;
    let _ = THREAD.set(handle.thread().clone());
    Ok(())
}

/// At `SHUTDOWN` (Redis exits next): wakes the thread, which closes its
/// connection, and waits for it up to `patience`. The thread may be
/// waiting for the server lock, which the caller holds: then the
/// connection is closed on its runtime's thread, and the forwarder's
/// thread ends with the process (unconfirmed entries are still in the
/// outbox).
pub fn stop(patience: Duration) {
    let started = Instant::now();
    STOPPING.store(true, Ordering::SeqCst);
    if let Some(thread) = THREAD.get() {
        thread.unpark();
    }
    // The thread closes its connection itself, unless it waits for the
    // server lock: then the connection is closed from here. (None in use:
    // the thread is closing it.)
    let left = || patience.saturating_sub(started.elapsed());
    if !wait_ended(patience.min(OWN_CLOSE)) && !publishing::close_in_use(left()) {
        wait_ended(left());
    }
}

/// How long `SHUTDOWN` lets the thread close its connection itself.
const OWN_CLOSE: Duration = Duration::from_millis(200);

/// Waits up to `patience` for the thread to end; whether it did.
fn wait_ended(patience: Duration) -> bool {
    let (ended, signal) = &ENDED;
    let ended = ended.lock().unwrap_or_else(PoisonError::into_inner);
    let (ended, _) = signal
        .wait_timeout_while(ended, patience, |ended| !*ended)
        .unwrap_or_else(PoisonError::into_inner);
    *ended
}

fn run() {
    let mut forwarder = Forwarder::default();
    supervise(
        &mut forwarder,
        Forwarder::turn,
        |why| {
            log(
                "warning",
                &format!("the forwarder panicked ({why}); it starts again"),
            )
        },
        &STOPPING,
    );
    forwarder.disconnect();
    let (ended, signal) = &ENDED;
    *ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
    signal.notify_all();
}

/// Runs `turn` until `stopping`, waiting as long as each turn asks (or
/// until woken). A panic in a turn is caught and reported, the state is
/// dropped for a new one (a new connection, streams found again: the
/// outbox holds every entry not acknowledged), and turns go on a second
/// later.
fn supervise<S: Default>(
    state: &mut S,
    turn: impl Fn(&mut S) -> Duration,
    panicked: impl Fn(&str),
    stopping: &AtomicBool,
) {
    while !stopping.load(Ordering::SeqCst) {
        let wait = match catch_unwind(AssertUnwindSafe(|| turn(state))) {
            Ok(wait) => wait,
            Err(payload) => {
                *state = S::default();
                let why = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                panicked(&why);
                PANIC_PAUSE
            }
        };
        if !stopping.load(Ordering::SeqCst) {
            std::thread::park_timeout(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Default)]
    struct Turns {
        count: u32,
    }

    /// A panicking turn is reported, its state replaced, and turns go on.
    #[test]
    fn a_panic_in_a_turn_starts_the_forwarder_again() {
        let stopping = AtomicBool::new(false);
        let turns = Cell::new(0);
        let reported = std::cell::RefCell::new(Vec::new());
        let mut state = Turns::default();
        supervise(
            &mut state,
            |state: &mut Turns| {
                turns.set(turns.get() + 1);
                state.count += 1;
                if turns.get() == 3 {
                    panic!("turn 3 fails");
                }
                if turns.get() == 5 {
                    stopping.store(true, Ordering::SeqCst);
                }
                Duration::ZERO
            },
            |why| reported.borrow_mut().push(why.to_owned()),
            &stopping,
        );
        assert_eq!(turns.get(), 5);
        assert_eq!(*reported.borrow(), ["turn 3 fails"]);
        // Turns 4 and 5 ran on a new state.
        assert_eq!(state.count, 2);
    }
}
