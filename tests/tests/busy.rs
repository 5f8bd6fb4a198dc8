//! Many commands in a row, each within its triggers' time budget, can still
//! hold the server: a pipeline of slow-firing commands. Past
//! `max-execution-time`, other clients are answered `-BUSY` while the
//! triggers go on, as for a slow script, and `TRIGGER KILL` stops them.
//!
//! The servers start with `busy-reply-threshold 100`: Redis lets a module
//! yield only that long after the module's context was made (5 s by
//! default, counted from `MODULE LOAD`).

use std::time::{Duration, Instant};

use wasm_triggers_tests::*;

fn slow_server(flavor: Flavor) -> (Server, Connection) {
    let server = Server::start_with(
        flavor,
        &[
            "--busy-reply-threshold",
            "100",
            "--triggers.max-execution-time",
            "500",
        ],
    );
    let mut con = server.connect();
    load(&mut con, "slow");
    (server, con)
}

fn pipeline(con: &mut Connection, commands: usize, ms: u64) {
    let mut pipe = redis::pipe();
    for i in 0..commands {
        pipe.cmd("SET")
            .arg(format!("slow:{i}:{ms}"))
            .arg("v")
            .ignore();
    }
    let () = pipe.query(con).expect("the pipeline");
}

// 10 commands of 300 ms each: 3 s in all. Every trigger runs; a PING is
// answered (`-BUSY`) within the limit and a margin.
on_each_flavor!(fn a_pipeline_of_slow_triggers_answers_busy(flavor) {
    let (server, mut con) = slow_server(flavor);
    let mut other = server.connect();
    let (_, pings) = with_pings(&server, || pipeline(&mut other, 10, 300));
    eprintln!("{flavor:?}: pipeline: {pings:?}");
    assert!(pings.busy > 0, "no PING was answered -BUSY: {pings:?}");
    assert!(pings.worst < Duration::from_millis(1500), "{pings:?}");
    assert_eq!(list(&mut con, "slow:done").len(), 10);
    assert_eq!(stat(&mut con, "slow", "slow", "num_success"), 10);
    // Back in the event loop: PONG again.
    let pong: String = query(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
});

// TRIGGER KILL, sent once the server answers -BUSY, stops the triggers of
// the pipeline; the next command's triggers run again.
on_each_flavor!(fn trigger_kill_stops_the_triggers(flavor) {
    let (server, mut con) = slow_server(flavor);
    let error = redis::cmd("TRIGGER").arg("KILL").query::<String>(&mut con).expect_err("idle");
    assert!(error.to_string().contains("No triggers are running"), "{error}");

    let mut other = server.connect();
    let started = Instant::now();
    let slow = std::thread::spawn(move || pipeline(&mut other, 20, 300));
    eventually("a -BUSY answer", || {
        redis::cmd("PING").query::<String>(&mut con).is_err()
    });
    let killed: String = query(&mut con, &["TRIGGER", "KILL"]);
    assert_eq!(killed, "OK");
    slow.join().expect("the pipeline");
    let took = started.elapsed();
    eprintln!("{flavor:?}: killed after {took:?}");
    assert!(took < Duration::from_secs(5), "20 × 300 ms would take 6 s: {took:?}");
    let done = list(&mut con, "slow:done").len();
    assert!((1..20).contains(&done), "{done} triggers completed");
    let error = text(&trigger_stats(&mut con, "slow", "slow")["last_error"]);
    assert!(error.contains("killed by TRIGGER KILL"), "{error}");
    assert_eq!(stat(&mut con, "slow", "slow", "num_failed") as usize, 20 - done);

    let _: String = query(&mut con, &["SET", "slow:after:1", "v"]);
    assert_eq!(list(&mut con, "slow:done").len(), done + 1);
});
