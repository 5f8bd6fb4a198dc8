//! The forwarder's settings against a real broker: `amqp-rules` (and what
//! it skips), an exchange of the user's with a routing key made of the
//! entry's `{source}`, `{event}` and `{db}`, the settings given as
//! `MODULE LOAD` arguments (and refused without a value), and entries
//! trimmed from the outbox while they wait for the broker.

use std::collections::HashSet;

use lapin::options::ExchangeDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::ExchangeKind;
use wasm_triggers_tests::forwarding::*;
use wasm_triggers_tests::*;

/// Declares the topic exchange `exchange`.
fn topic_exchange(client: &Client, exchange: &str) {
    block_on(client.channel.exchange_declare(
        exchange.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    ))
    .expect("exchange_declare");
}

// Two rules, one forwarded: the other's entries are skipped (counted,
// acknowledged, never sent). Routed by `{source}.{event}.{db}` through a
// topic exchange of the user's.
on_each_flavor!(fn rules_exchange_and_routing_key(flavor) {
    let broker = Broker::start();
    let client = broker.client();
    topic_exchange(&client, "keyspace");
    client.bind("sets", "keyspace", "rule:sets.set.0", FieldTable::default());
    client.bind("dels", "keyspace", "rule:dels.del.*", FieldTable::default());
    let server = Server::start(flavor);
    let mut con = server.connect();
    for (name, value) in [
        ("triggers.amqp-exchange", "keyspace"),
        ("triggers.amqp-routing-key", "{source}.{event}.{db}"),
        ("triggers.amqp-rules", "sets"),
        ("triggers.amqp-url", &broker.url()),
    ] {
        let _: String = query(&mut con, &["CONFIG", "SET", name, value]);
    }
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    let _: String = query(&mut con, &["OUTBOX", "ADD", "dels", "EVENTS", "del"]);
    for i in 0..40 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    for i in 0..10 {
        let _: i64 = query(&mut con, &["DEL", &key(i)]);
    }
    let got = receive_from(&server, &client, "sets", 40);
    assert_in_order_per_stream(&got, 40);
    assert!(got.iter().all(|m| m.header("source") == "rule:sets"));
    eventually_forwarded(&server, "the dels skipped", || {
        forwarder_info(&mut con, "skipped") == "10"
    });
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
    assert!(client.take("dels").is_empty(), "a skipped entry was sent");

    // Both rules, by name: the next dels come, routed by their own key.
    // Paused meanwhile, so that no turn begun with the old rules reads them.
    let _: String = query(&mut con, &["OUTBOX", "DISCONNECT"]);
    eventually_forwarded(&server, "the forwarder paused", || {
        forwarder_info(&mut con, "state") == "disconnected"
    });
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-rules", "sets,dels"]);
    for i in 10..20 {
        let _: i64 = query(&mut con, &["DEL", &key(i)]);
    }
    let _: String = query(&mut con, &["OUTBOX", "CONNECT"]);
    let dels = receive_from(&server, &client, "dels", 10);
    let keys: HashSet<String> = dels.iter().map(|m| m.header("key")).collect();
    assert_eq!(keys, (10..20).map(key).collect::<HashSet<_>>());
    assert!(dels.iter().all(|m| m.header("event") == "del"));
    assert_eq!(forwarder_info(&mut con, "skipped"), "10");
});

// The settings as `MODULE LOAD` arguments, as key_evt_amqp took them; an
// `amqp-…` name without a value, or a URL that is not one, refuses the load.
on_each_flavor!(fn settings_as_module_arguments(flavor) {
    let broker = Broker::start();
    let client = broker.client();
    topic_exchange(&client, "keyspace");
    client.bind(QUEUE, "keyspace", "set.#", FieldTable::default());
    let url = broker.url();
    let server = Server::start_with(flavor, &[
        "amqp-url", &url,
        "amqp-exchange", "keyspace",
        "amqp-routing-key", "{event}.{db}",
        "amqp-format", "json",
        "amqp-heartbeat", "10",
    ]);
    let mut con = server.connect();
    for (name, value) in [
        ("triggers.amqp-exchange", "keyspace"),
        ("triggers.amqp-routing-key", "{event}.{db}"),
        ("triggers.amqp-format", "json"),
        ("triggers.amqp-heartbeat", "10"),
    ] {
        let got: Vec<String> = query(&mut con, &["CONFIG", "GET", name]);
        assert_eq!(got[1], value, "{name}");
    }
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    for i in 0..20 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    let got = receive(&server, &client, 20);
    assert_in_order_per_stream(&got, 20);
    assert!(got.iter().all(|m| serde_json::from_slice::<serde_json::Value>(&m.body).is_ok()));
    // CONFIG GET hides the password; CONFIG REWRITE writes it.
    let shown: Vec<String> = query(&mut con, &["CONFIG", "GET", "triggers.amqp-url"]);
    assert_eq!(shown[1], format!("amqp://guest:***@127.0.0.1:{}/%2f", broker.port));
    let _: String = query(&mut con, &["CONFIG", "REWRITE"]);
    let written = std::fs::read_to_string(server.dir().join("redis.conf")).expect("redis.conf");
    assert!(written.contains(&format!("triggers.amqp-url \"{url}\"")) || written.contains(&format!("triggers.amqp-url {url}")), "{written}");

    for (args, why) in [
        (&["amqp-url", &url, "amqp-exchange"][..], "'amqp-exchange' has no value"),
        (&["amqp-url"][..], "'amqp-url' has no value"),
        (&["amqp-url", "not a url"][..], "is not an AMQP URL"),
        (&["amqp-format", "xml"][..], "bad value 'xml' for amqp-format"),
    ] {
        let log = Server::refused(flavor, args);
        assert!(log.contains(why), "{args:?}: {log}");
    }
});

// Entries trimmed from their stream (a user's XTRIM) while they wait for a
// broker that refuses them: the forwarder acknowledges them without a
// message, and the entries after them come, in order.
on_each_flavor!(fn entries_trimmed_while_pending(flavor) {
    let broker = Broker::start();
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(0));
    arguments.insert("x-overflow".into(), AMQPValue::LongString(LongString::from("reject-publish")));
    let client = broker.client();
    client.bind("full", EXCHANGE, "events", arguments);
    let server = Server::start(flavor);
    configure(&server, &broker, "key_evt_amqp");
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    for i in 0..20 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    eventually_forwarded(&server, "nacks", || forwarder_info(&mut con, "nacked") != "0");
    // Paused, so that no batch read before the trim is sent after it.
    let _: String = query(&mut con, &["OUTBOX", "DISCONNECT"]);
    eventually_forwarded(&server, "the forwarder paused", || {
        forwarder_info(&mut con, "state") == "disconnected"
    });
    let streams = outbox_streams(&mut con);
    assert_eq!(streams.len(), TAGS);
    for (_, _, stream, _) in &streams {
        let _: i64 = query(&mut con, &["XTRIM", stream, "MAXLEN", "0"]);
    }
    // The queue that refused is gone: what follows is accepted.
    block_on(client.channel.queue_delete("full".into(), Default::default())).expect("queue_delete");
    client.bind(QUEUE, EXCHANGE, "events", FieldTable::default());
    let _: String = query(&mut con, &["OUTBOX", "CONNECT"]);
    for i in 20..40 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    let mut got: Vec<Got> = Vec::new();
    eventually_forwarded(&server, "the writes after the trim", || {
        got.extend(client.take(QUEUE));
        let (keys, _) = in_order_per_stream(&got);
        (20..40).all(|i| keys.contains(&i))
    });
    let (keys, streams) = in_order_per_stream(&got);
    assert!(keys.iter().all(|&i| i >= 20), "a trimmed entry was sent: {keys:?}");
    assert_eq!(streams, TAGS);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
    for (_, _, stream, _) in outbox_streams(&mut con) {
        let pending: Vec<Value> = query(&mut con, &["XPENDING", &stream, "triggers-forwarder"]);
        assert_eq!(int(&pending[0]), 0, "{stream}: nothing left pending");
    }
});
