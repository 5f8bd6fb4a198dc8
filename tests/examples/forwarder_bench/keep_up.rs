//! Part 5: end to end at steady write rates below what the broker takes.
//! A client writes `rate` SETs per second (pipelines of 100, on a clock)
//! for some seconds with the forwarder on, while the forwarder's backlog
//! and lag (`INFO`, counted every second) are sampled every half second.
//! The forwarder keeps up when its backlog stays bounded while the writes
//! go on, and is gone soon after they stop.

use std::time::{Duration, Instant};

use wasm_triggers_tests::forwarding::forwarder_info;
use wasm_triggers_tests::*;

use crate::anchors::{key, STREAMS};
use crate::{queued, wait_until};

/// A number of the forwarder's `INFO` fields.
fn forwarder_number(con: &mut Connection, field: &str) -> i64 {
    forwarder_info(con, field).parse().unwrap_or(0)
}

/// Writes at `rate` per second for `seconds`, forwarding into the queue
/// `bench`; prints the largest backlog and lag seen, and how long after
/// the last write the last message was queued.
pub fn keep_up(server: &Server, client: &Client, broker: &Broker, rate: usize, seconds: usize) {
    let mut con = server.connect();
    let _: String = query(&mut con, &["FLUSHALL"]);
    client.purge("bench");
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    let _: String = query(
        &mut con,
        &["CONFIG", "SET", "triggers.amqp-url", &broker.url()],
    );
    let total = rate * seconds;
    let mut writer = server.connect();
    let writes = std::thread::spawn(move || {
        let start = Instant::now();
        for (tick, first) in (0..total).step_by(100).enumerate() {
            let due = start + Duration::from_secs_f64(tick as f64 * 100.0 / rate as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let mut pipe = redis::pipe();
            for i in first..(first + 100).min(total) {
                pipe.cmd("SET").arg(key(i)).arg("v").ignore();
            }
            let () = pipe.query(&mut writer).expect("the writes");
        }
        start.elapsed()
    });
    let (mut backlog, mut lag) = (0, 0);
    while !writes.is_finished() {
        std::thread::sleep(Duration::from_millis(500));
        backlog = backlog.max(forwarder_number(&mut con, "backlog"));
        lag = lag.max(forwarder_number(&mut con, "lag_ms"));
    }
    let took = writes.join().expect("the writer");
    let after = wait_until("the last messages", Duration::from_secs(600), || {
        queued(client) as usize >= total
    });
    println!(
        "  {rate:>6}/s for {:.1} s: backlog at most {backlog:>6} (lag at most {lag:>5} ms); all {total} queued {:.2} s after the last write",
        took.as_secs_f64(),
        after.as_secs_f64()
    );
    let _: String = query(&mut con, &["OUTBOX", "DELETE", "sets"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", ""]);
}

/// Part 5: [`keep_up`] at 4,000, 8,000 and 12,000 writes per second.
pub fn at_three_rates(server: &Server, client: &Client, broker: &Broker, seconds: usize) {
    println!("end to end at steady write rates, {STREAMS} streams:");
    for rate in [4000, 8000, 12000] {
        keep_up(server, client, broker, rate, seconds);
    }
}
