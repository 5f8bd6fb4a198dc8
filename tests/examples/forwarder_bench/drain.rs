//! Part 4: the forwarder draining a backlog beside the plain clients of
//! `anchors.rs`, in alternating rounds, with a second Redis client's PING
//! p99 during each; and, with `BEFORE_MODULE=<an older build's .so>`, that
//! build's forwarder draining the same backlog in the same rounds.

use std::time::{Duration, Instant};

use wasm_triggers_tests::*;

use crate::anchors::{amqplib_client, key, plain_client, CLIENT_WINDOW, STREAMS};
use crate::{bench_server, median, queued, wait_until};

/// The forwarder draining a backlog of `count` outbox entries over
/// [`STREAMS`] streams into the queue `bench`: messages per second, from
/// `CONFIG SET triggers.amqp-url` to the last message queued.
pub fn drain(con: &mut Connection, client: &Client, broker: &Broker, count: usize) -> f64 {
    let _: String = query(con, &["FLUSHALL"]);
    client.purge("bench");
    let _: String = query(con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET").arg(key(*i)).arg("v").ignore();
        }
        let () = pipe.query(con).expect("the writes");
    }
    let start = Instant::now();
    let _: String = query(con, &["CONFIG", "SET", "triggers.amqp-url", &broker.url()]);
    wait_until("the drain", Duration::from_secs(600), || {
        queued(client) as usize >= count
    });
    let rate = count as f64 / start.elapsed().as_secs_f64();
    let _: String = query(con, &["OUTBOX", "DELETE", "sets"]);
    let _: String = query(con, &["CONFIG", "SET", "triggers.amqp-url", ""]);
    rate
}

/// A server like `main.rs`'s with an older build of the module, the one
/// `BEFORE_MODULE` names.
fn server_before() -> Option<Server> {
    let module = std::env::var_os("BEFORE_MODULE")?;
    let current = std::env::var_os("TRIGGERS_MODULE");
    std::env::set_var("TRIGGERS_MODULE", &module);
    let server = bench_server();
    match current {
        Some(current) => std::env::set_var("TRIGGERS_MODULE", current),
        None => std::env::remove_var("TRIGGERS_MODULE"),
    }
    Some(server)
}

/// 4. The forwarder's drain beside plain clients, in alternating rounds.
pub fn beside_plain_clients(
    server: &Server,
    con: &mut Connection,
    client: &Client,
    broker: &Broker,
    requests: usize,
    rounds: usize,
) {
    let before = server_before();
    let (mut client_rates, mut drains, mut client_pings, mut drain_pings) =
        (vec![], vec![], vec![], vec![]);
    let (mut amqplib_rates, mut before_rates, mut before_pings) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        let (rate, pings) = with_pings(server, || plain_client(broker, requests));
        client_rates.push(rate);
        client_pings.push(pings.p99.as_secs_f64() * 1000.0);
        amqplib_rates.extend(amqplib_client(broker, requests));
        let (rate, pings) = with_pings(server, || drain(con, client, broker, requests));
        drains.push(rate);
        drain_pings.push(pings.p99.as_secs_f64() * 1000.0);
        if let Some(before) = &before {
            let mut con = before.connect();
            let (rate, pings) = with_pings(before, || drain(&mut con, client, broker, requests));
            before_rates.push(rate);
            before_pings.push(pings.p99.as_secs_f64() * 1000.0);
        }
        eprintln!("round {round} of the drain beside plain clients done");
    }
    let (c, d) = (median(&mut client_rates), median(&mut drains));
    let (cp, dp) = (median(&mut client_pings), median(&mut drain_pings));
    println!(
        "{requests} messages, median of {rounds} alternating rounds, persistent, confirms, durable classic queue:"
    );
    println!("  (c)  a plain lapin client, {CLIENT_WINDOW} unconfirmed at most: {c:>8.0}/s   PING p99 {cp:.2} ms");
    if amqplib_rates.is_empty() {
        println!("  (c') amqplib: left out (bench/forwarder.sh sets it up where Node is)");
    } else {
        let a = median(&mut amqplib_rates);
        println!("  (c') amqplib, {CLIENT_WINDOW} unconfirmed at most:           {a:>8.0}/s   (d)/(c') = {:.2}", d / a);
    }
    println!("  (d)  the forwarder draining {STREAMS} streams:               {d:>8.0}/s   PING p99 {dp:.2} ms   (d)/(c) = {:.2}", d / c);
    if !before_rates.is_empty() {
        let (b, bp) = (median(&mut before_rates), median(&mut before_pings));
        println!("  (d0) BEFORE_MODULE's forwarder, the same drain:           {b:>8.0}/s   PING p99 {bp:.2} ms   (d0)/(c) = {:.2}", b / c);
    }
}
