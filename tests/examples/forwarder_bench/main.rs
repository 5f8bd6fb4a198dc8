//! The forwarder's benchmark (`bench/forwarder.sh` runs it), on Redis 8 and
//! a real RabbitMQ started here:
//!
//! 1. `SET` throughput (redis-benchmark, 32 clients, pipeline 16, random
//!    keys) without a rule, with an outbox rule, and with the rule and
//!    forwarding on, in alternating rounds of one run; ratios to the first.
//! 2. End to end: from the first write of a forwarded round until every
//!    message is in the queue.
//! 3. Drain: the broker stopped, writes made, the broker started: how fast
//!    the backlog goes to zero.
//! 4. The forwarder beside a plain client, in alternating rounds: a lapin
//!    client publishing as many messages like the forwarder's (persistent,
//!    `mandatory`, the same headers) to the same durable queue with
//!    publisher confirms and at most 1,000 unconfirmed, against the
//!    forwarder draining a backlog of as many outbox entries over 64
//!    streams; with the p99 of a second Redis client's PINGs during each,
//!    for what the forwarder's work under the server lock costs others
//!    (`drain.rs`, the clients in `anchors.rs`).
//! 5. End to end at steady write rates (4,000, 8,000 and 12,000 SETs per
//!    second): the forwarder's largest backlog and lag while the writes go
//!    on (`keep_up.rs`); run alone with `keep-up [seconds]`.
//!
//! `bench/forwarder.sh [drain | keep-up] [requests | seconds] [rounds]`
//! (`drain`: only part 4; `keep-up`: only part 5)

use std::process::Command;
use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use wasm_triggers_tests::*;

mod anchors;
mod drain;
mod keep_up;

fn benchmark(server: &Server, requests: usize) -> f64 {
    let output = Command::new(repo_root().join(".cache/redis-8/bin/redis-benchmark"))
        .args([
            "-p",
            &server.port.to_string(),
            "-c",
            "32",
            "-P",
            "16",
            "-r",
            "1000000",
        ])
        .args([
            "-n",
            &requests.to_string(),
            "-q",
            "SET",
            "key:__rand_int__",
            "v",
        ])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&output.stdout);
    // Progress lines end in `\r`; the last reads
    // "SET key:__rand_int__ v: 123456.79 requests per second, p50=...".
    text.split(['\r', '\n'])
        .filter_map(|line| {
            line.split(" requests per second")
                .next()
                .filter(|_| line.contains("requests per second"))
        })
        .filter_map(|head| head.rsplit(' ').next()?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no rate in {text}"))
}

pub(crate) fn queued(client: &Client) -> u32 {
    let queue = block_on(client.channel.queue_declare(
        "bench".into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    ))
    .expect("the queue");
    queue.message_count()
}

/// The outbox entries appended since the server started.
fn appended(con: &mut Connection) -> u32 {
    info_number(con, "triggers", "triggers_outbox_appended") as u32
}

/// An empty server and queue, and the rule `sets` forwarded to `broker`.
fn start_forwarding(con: &mut Connection, client: &Client, broker: &Broker) {
    let _: String = query(con, &["FLUSHALL"]);
    client.purge("bench");
    let _: String = query(con, &["CONFIG", "SET", "triggers.amqp-url", &broker.url()]);
    let _: String = query(con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
}

/// A Redis 8 server with the module (`TRIGGERS_MODULE`'s, if set), its
/// forwarder routing to the queue `bench`, with room for a whole run in
/// each outbox stream.
pub(crate) fn bench_server() -> Server {
    let server = Server::start(Flavor::Redis8);
    let mut con = server.connect();
    for (name, value) in [
        ("triggers.amqp-routing-key", "bench"),
        ("triggers.outbox-max-length", "1000000"),
    ] {
        let _: String = query(&mut con, &["CONFIG", "SET", name, value]);
    }
    server
}

/// The median of `values`.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} took over {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `drain`: only part 4.
    // `keep-up [seconds]`: only part 5, at three rates.
    let only_drain = args.first().is_some_and(|a| a == "drain");
    let only_keep_up = args.first().is_some_and(|a| a == "keep-up");
    if only_drain || only_keep_up {
        args.remove(0);
    }
    let requests: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut broker = Broker::start();
    let client = broker.client();
    client.bind("bench", "amq.direct", "bench", FieldTable::default());
    let server = bench_server();
    let mut con = server.connect();
    if only_keep_up {
        let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
        keep_up::at_three_rates(&server, &client, &broker, seconds);
        return;
    }
    if only_drain {
        drain::beside_plain_clients(&server, &mut con, &client, &broker, requests, rounds);
        return;
    }

    let (mut plain, mut outbox, mut forwarded, mut end_to_end) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let _: String = query(&mut con, &["FLUSHALL"]);
        plain.push(benchmark(&server, requests));

        let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
        outbox.push(benchmark(&server, requests));
        let _: String = query(&mut con, &["OUTBOX", "DELETE", "sets"]);

        start_forwarding(&mut con, &client, &broker);
        let before = appended(&mut con);
        let start = Instant::now();
        forwarded.push(benchmark(&server, requests));
        let appended = appended(&mut con) - before;
        let _ = wait_until("delivery", Duration::from_secs(600), || {
            queued(&client) >= appended
        });
        let seconds = start.elapsed().as_secs_f64();
        end_to_end.push(f64::from(queued(&client)) / seconds);
        let _: String = query(&mut con, &["OUTBOX", "DELETE", "sets"]);
        let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", ""]);
        eprintln!("round {round} done");
    }
    let (p, o, f, e) = (
        median(&mut plain),
        median(&mut outbox),
        median(&mut forwarded),
        median(&mut end_to_end),
    );
    println!("SET, {requests} requests, median of {rounds} alternating rounds (redis-benchmark -c 32 -P 16):");
    println!("  (a) no rule:                 {p:>10.0}/s  1.00");
    println!("  outbox rule:                 {o:>10.0}/s  {:.2}", o / p);
    println!("  outbox rule and forwarding:  {f:>10.0}/s  {:.2}", f / p);
    println!("end to end into RabbitMQ: {e:.0} messages/s (first write to last message queued)");

    // Drain after an outage.
    start_forwarding(&mut con, &client, &broker);
    broker.stop_server();
    let before = appended(&mut con);
    benchmark(&server, requests);
    let appended = appended(&mut con) - before;
    broker.start_server();
    let client = broker.client();
    let started = Instant::now();
    let took = wait_until("the drain", Duration::from_secs(600), || {
        queued(&client) >= appended
    });
    println!(
        "drain after an outage: {appended} entries queued {:.1} s after the broker was back, {:.0}/s",
        took.as_secs_f64(),
        f64::from(appended) / started.elapsed().as_secs_f64()
    );
    let _: String = query(&mut con, &["OUTBOX", "DELETE", "sets"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", ""]);
    drain::beside_plain_clients(&server, &mut con, &client, &broker, requests, rounds);
    keep_up::at_three_rates(&server, &client, &broker, 10);
}
