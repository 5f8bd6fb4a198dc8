//! What the forwarder's tests share: a server forwarding to a broker's
//! queue, its `INFO` fields, a steady write load, and the check that
//! messages came in order per outbox stream.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use lapin::types::FieldTable;

use crate::{eventually, query, Broker, Client, Connection, Flavor, Got, Server};

pub const EXCHANGE: &str = "amq.direct";
pub const QUEUE: &str = "events";

/// Points a server's forwarder at `broker`, routing key `events`.
pub fn configure(server: &Server, broker: &Broker, format: &str) {
    let mut con = server.connect();
    for (name, value) in [
        ("triggers.amqp-routing-key", "events"),
        ("triggers.amqp-format", format),
        ("triggers.amqp-url", &broker.url()),
    ] {
        let _: String = query(&mut con, &["CONFIG", "SET", name, value]);
    }
}

/// A server forwarding every `set` to `broker`, on routing key `events`,
/// with the queue `events` bound to it (with `arguments`).
pub fn forwarding(
    flavor: Flavor,
    broker: &Broker,
    format: &str,
    arguments: FieldTable,
) -> (Server, Client) {
    let server = Server::start(flavor);
    let client = broker.client();
    client.bind(QUEUE, EXCHANGE, "events", arguments);
    configure(&server, broker, format);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    (server, client)
}

pub fn forwarder_info(con: &mut Connection, field: &str) -> String {
    let info: String = query(con, &["INFO", "triggers"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("triggers_forwarder_{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Each key `k:<i>` for `i` in `0..count` came, and the messages of each
/// outbox stream (one per slot) came in the order of the writes.
pub fn assert_in_order_per_stream(got: &[Got], count: usize) {
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut keys = HashSet::new();
    for message in got {
        let index: i64 = message.header("key")["k:".len()..]
            .parse()
            .expect("a key k:<i>");
        let id = message.message_id();
        let (stream, _) = id.rsplit_once('/').expect("<stream>/<id>");
        if keys.insert(index) {
            let before = last.insert(stream.to_string(), index).unwrap_or(-1);
            assert!(index > before, "{stream}: k:{index} after k:{before}");
        }
    }
    assert_eq!(keys.len(), count);
}

/// Sets `k:<i>` for each `i` of `keys`, one every 5 ms: a steady load.
pub fn write(con: &mut Connection, keys: std::ops::Range<usize>) {
    for i in keys {
        let _: String = query(con, &["SET", &format!("k:{i}"), "v"]);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Takes messages from the queue until `count` distinct ones came.
pub fn receive(client: &Client, count: usize) -> Vec<Got> {
    let mut got: Vec<Got> = Vec::new();
    eventually(&format!("{count} messages"), || {
        got.extend(client.take(QUEUE));
        got.iter()
            .map(Got::message_id)
            .collect::<HashSet<_>>()
            .len()
            >= count
    });
    got
}

/// Writes 10 more keys (`k:<written>`…) while the forwarder cannot
/// forward, then waits until `INFO` says `why`, checks the log says it
/// too, and that the backlog holds every key written so far.
pub fn writes_wait_and_say_why(
    server: &Server,
    con: &mut Connection,
    written: &mut usize,
    why: &str,
) {
    for _ in 0..10 {
        let _: String = query(con, &["SET", &format!("k:{written}"), "v"]);
        *written += 1;
    }
    eventually(&format!("the error {why}"), || {
        forwarder_info(con, "last_error").contains(why)
    });
    // The forwarder's thread logs and sets the error in either order.
    eventually(&format!("the log to say {why}"), || {
        server.log().contains(why)
    });
    eventually("the backlog kept", || {
        forwarder_info(con, "backlog") == written.to_string()
    });
}
