//! What the forwarder's tests share: a server forwarding to a broker's
//! queue, its `INFO` fields, a steady write load, and the check that
//! messages came in order per outbox stream.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};

use crate::{
    as_map, block_on, eventually, key_slot, outbox_streams, query, text, within, Broker, Client,
    Connection, Flavor, Got, Server, Value,
};

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

/// How many outbox entries of database 0 the forwarder has yet to see
/// confirmed, counted now from each stream's group (`XINFO GROUPS`: its
/// pending entries and its lag), where `INFO`'s backlog is counted once a
/// second. A stream without the group yet, or whose lag Redis cannot tell,
/// counts whole.
pub fn unconfirmed(con: &mut Connection) -> i64 {
    let mut count = 0;
    for (db, _, stream, length) in outbox_streams(con) {
        if db != 0 {
            continue;
        }
        let groups: Vec<Value> = query(con, &["XINFO", "GROUPS", &stream]);
        let group = groups
            .iter()
            .map(as_map)
            .find(|group| text(&group["name"]) == "triggers-forwarder");
        count += match group {
            Some(group) => match (&group["pending"], &group["lag"]) {
                (Value::Int(pending), Value::Int(lag)) => pending + lag,
                _ => length,
            },
            None => length,
        };
    }
    count
}

/// How many hash tags the keys of [`key`] use.
pub const TAGS: usize = 4;

/// The key of the `i`th write: `k:{t<i mod 4>}:<i>`. Keys of a few hash
/// tags, so that each outbox stream (one per slot) holds many entries and
/// their order means something.
pub fn key(i: usize) -> String {
    format!("k:{{t{}}}:{i}", i % TAGS)
}

/// Each key [`key`]`(i)` for `i` in `0..count` came, in order per stream
/// ([`in_order_per_stream`]), over all [`TAGS`] streams.
pub fn assert_in_order_per_stream(got: &[Got], count: usize) {
    let (keys, streams) = in_order_per_stream(got);
    assert_eq!(keys, (0..count).collect::<BTreeSet<_>>());
    assert_eq!(streams, count.min(TAGS), "the number of streams");
}

/// Checks that each message holds a key [`key`]`(i)`, came from the outbox
/// stream of that key's slot (its message id says which), and that the
/// messages of each stream came in the order of the writes, counting each
/// message where it came last: the forwarder's promise. (A message may
/// come more than once. After a nack or a return, the messages of its
/// stream already on their way may come before it, then come again after
/// it; so counted by first arrival, the order would not hold.) The `i`s
/// that came, and the number of streams they came from.
pub fn in_order_per_stream(got: &[Got]) -> (BTreeSet<usize>, usize) {
    // For each write, its stream and where its message came last.
    let mut last: HashMap<usize, (String, usize)> = HashMap::new();
    for (at, message) in got.iter().enumerate() {
        let key = message.header("key");
        let index: usize = key
            .rsplit_once(':')
            .and_then(|(_, i)| i.parse().ok())
            .unwrap_or_else(|| panic!("a key k:{{t<n>}}:<i>, not {key}"));
        assert_eq!(key, self::key(index), "the key of write {index}");
        let id = message.message_id();
        let (stream, _) = id.rsplit_once('/').expect("<stream>/<id>");
        assert_eq!(
            key_slot(stream.as_bytes()),
            key_slot(key.as_bytes()),
            "{key} in the stream {stream}"
        );
        last.insert(index, (stream.to_string(), at));
    }
    let mut streams: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (index, (stream, at)) in &last {
        streams.entry(stream).or_default().push((*at, *index));
    }
    for (stream, writes) in &mut streams {
        writes.sort_unstable();
        for pair in writes.windows(2) {
            let ((_, before), (_, after)) = (pair[0], pair[1]);
            assert!(
                before < after,
                "{stream}: the last copy of write {before} came before that of write {after}"
            );
        }
    }
    (last.keys().copied().collect(), streams.len())
}

/// Sets [`key`]`(i)` for each `i` of `keys`, one every 5 ms: a steady load.
pub fn write(con: &mut Connection, keys: std::ops::Range<usize>) {
    for i in keys {
        let _: String = query(con, &["SET", &key(i), "v"]);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long a test waits for what goes through the forwarder and the
/// broker: messages to come, a backlog to empty, a nack, a return, an
/// error, the forwarder's state after a retry. Each test runs a RabbitMQ
/// of its own, beside other tests' servers and brokers on two cores, and
/// the forwarder pauses up to 5 s between retries. Not a timing assertion: the bound only keeps
/// a broken build from hanging.
pub const BROKER_WAIT: Duration = Duration::from_secs(60);

/// Polls `check` for at most [`BROKER_WAIT`]; if it never holds, fails
/// with `what` and what `server`'s forwarder says in `INFO`.
pub fn eventually_forwarded(server: &Server, what: &str, check: impl FnMut() -> bool) {
    if !within(BROKER_WAIT, check) {
        panic!(
            "timed out waiting for {what}; the forwarder: {}",
            forwarder_report(server)
        );
    }
}

/// Every `triggers_forwarder_*` field of `server`'s `INFO`, on one line.
pub fn forwarder_report(server: &Server) -> String {
    let info: String = query(&mut server.connect(), &["INFO", "triggers"]);
    info.lines()
        .filter_map(|l| l.strip_prefix("triggers_forwarder_"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes messages from the queue until `count` distinct ones came from
/// `server`'s forwarder.
pub fn receive(server: &Server, client: &Client, count: usize) -> Vec<Got> {
    receive_from(server, client, QUEUE, count)
}

/// Takes messages from `queue` until `count` distinct ones came from
/// `server`'s forwarder.
pub fn receive_from(server: &Server, client: &Client, queue: &str, count: usize) -> Vec<Got> {
    let mut got: Vec<Got> = Vec::new();
    let distinct = |got: &[Got]| {
        got.iter()
            .map(Got::message_id)
            .collect::<HashSet<_>>()
            .len()
    };
    let came = within(BROKER_WAIT, || {
        got.extend(client.take(queue));
        distinct(&got) >= count
    });
    assert!(
        came,
        "{} of {count} messages came in {queue}; the forwarder: {}",
        distinct(&got),
        forwarder_report(server)
    );
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
        let _: String = query(con, &["SET", &key(*written), "v"]);
        *written += 1;
    }
    // After the pauses between retries of the settings before.
    eventually_forwarded(server, &format!("the error {why}"), || {
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

/// The first `count` messages of the RabbitMQ stream `queue`, read from its
/// start as a stream's consumers read (`basic.consume` with a prefetch and
/// `x-stream-offset`: a stream has no `basic.get`).
pub fn receive_from_stream(client: &Client, queue: &str, count: usize) -> Vec<Got> {
    let channel = &client.channel;
    block_on(async {
        channel
            .basic_qos(1000, BasicQosOptions::default())
            .await
            .expect("basic_qos");
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-stream-offset".into(),
            AMQPValue::LongString(LongString::from("first")),
        );
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await
            .expect("basic_consume");
        let mut got = Vec::new();
        while got.len() < count {
            let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
                .await
                .unwrap_or_else(|_| panic!("{} of {count} messages in {queue} in 30 s", got.len()))
                .expect("the consumer went on")
                .expect("a delivery");
            delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("basic_ack");
            got.push(Got {
                body: delivery.data.clone(),
                properties: delivery.properties.clone(),
            });
        }
        channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await
            .expect("basic_cancel");
        got
    })
}

/// Queue arguments: `x-queue-type` and others.
pub fn queue_arguments(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut arguments = FieldTable::default();
    for (name, value) in pairs {
        arguments.insert((*name).into(), value.clone());
    }
    arguments
}
