//! The forwarder into the queue types a RabbitMQ user picks, on a real
//! broker: a quorum queue (replicated by Raft; with a length cap and
//! `reject-publish` the broker nacks and the entries wait in the outbox)
//! and a RabbitMQ stream (an append-only log its consumers read from any
//! offset, as often as they like). Every event arrives, in order per outbox
//! stream.

use std::collections::{BTreeSet, HashSet};

use lapin::types::{AMQPValue, LongString};
use wasm_triggers_tests::forwarding::*;
use wasm_triggers_tests::*;

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

// Into a quorum queue: every event once, in order; then into one capped at
// 20 messages with reject-publish: the broker nacks what does not fit, and
// all 60 events still arrive, in order, as the consumer makes room.
on_each_flavor!(fn into_a_quorum_queue_and_a_capped_one_without_loss(flavor) {
    let broker = Broker::start();
    let arguments = queue_arguments(&[("x-queue-type", text("quorum"))]);
    let (server, client) = forwarding(flavor, &broker, "json", arguments);
    let mut con = server.connect();
    write(&mut con, 0..200);
    let got = receive(&server, &client, 200);
    assert_eq!(got.len(), 200, "no message twice");
    assert_in_order_per_stream(&got, 200);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");

    let capped = queue_arguments(&[
        ("x-queue-type", text("quorum")),
        ("x-max-length", AMQPValue::LongLongInt(20)),
        ("x-overflow", text("reject-publish")),
    ]);
    client.bind("capped", EXCHANGE, "capped", capped);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-routing-key", "capped"]);
    write(&mut con, 200..260);
    eventually_forwarded(&server, "nacks", || forwarder_info(&mut con, "nacked") != "0");
    let mut got = Vec::new();
    eventually_forwarded(&server, "all 60, at most 20 at a time", || {
        got.extend(client.take("capped"));
        got.iter().map(Got::message_id).collect::<HashSet<_>>().len() >= 60
    });
    let (keys, streams) = in_order_per_stream(&got);
    assert_eq!(keys, (200..260).collect::<BTreeSet<_>>());
    assert_eq!(streams, TAGS);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
});

// Into a RabbitMQ stream: every event once, in order; and a second
// consumer reads the same messages again from the start.
on_each_flavor!(fn into_a_rabbitmq_stream_read_twice(flavor) {
    let broker = Broker::start();
    let arguments = queue_arguments(&[("x-queue-type", text("stream"))]);
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", arguments);
    let mut con = server.connect();
    write(&mut con, 0..200);
    let got = receive_from_stream(&client, QUEUE, 200);
    assert_eq!(
        got.iter().map(Got::message_id).collect::<HashSet<_>>().len(),
        200,
        "no message twice"
    );
    assert_in_order_per_stream(&got, 200);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
    let again = receive_from_stream(&broker.client(), QUEUE, 200);
    let ids = |messages: &[Got]| messages.iter().map(Got::message_id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&got), "the same messages, in the same order");
});
