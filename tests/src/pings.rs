//! A second client that PINGs a server while a test's action runs, to
//! measure how long the server kept other clients waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Server;

/// What the second client saw while the action ran.
#[derive(Debug)]
pub struct Pings {
    /// The longest wait for a PING's answer (PONG or `-BUSY`).
    pub worst: Duration,
    /// How many PINGs were answered.
    pub answered: usize,
    /// How many of them while the action was still running.
    pub during: usize,
    /// How many were answered `-BUSY`.
    pub busy: usize,
    /// The 99th percentile of the waits.
    pub p99: Duration,
}

/// Runs `action` while a second client PINGs `server` every few
/// milliseconds; returns the action's result and the PINGs. A `-BUSY`
/// error counts as an answer.
pub fn with_pings<T>(server: &Server, action: impl FnOnce() -> T) -> (T, Pings) {
    let mut con = server.connect();
    let done = Arc::new(AtomicBool::new(false));
    let pinger = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut pings = Pings {
                worst: Duration::ZERO,
                answered: 0,
                during: 0,
                busy: 0,
                p99: Duration::ZERO,
            };
            let mut waits = Vec::new();
            loop {
                let running = !done.load(Ordering::SeqCst);
                let sent = Instant::now();
                let reply = redis::cmd("PING").query::<String>(&mut con);
                if let Err(e) = &reply {
                    assert!(e.to_string().contains("BUSY"), "PING failed: {e}");
                    pings.busy += 1;
                }
                pings.worst = pings.worst.max(sent.elapsed());
                waits.push(sent.elapsed());
                pings.answered += 1;
                if running {
                    pings.during += 1;
                } else {
                    waits.sort();
                    pings.p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
                    return pings;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Let the pinger start before the action does.
    std::thread::sleep(Duration::from_millis(20));
    let result = action();
    done.store(true, Ordering::SeqCst);
    let pings = pinger.join().expect("the PING thread");
    (result, pings)
}
