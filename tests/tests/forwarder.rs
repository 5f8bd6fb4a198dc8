//! The forwarder to RabbitMQ (`module/src/forward/`), against a real
//! broker started by the test: every event in order with its body and
//! headers in both formats; the broker stopped under writes; a queue that
//! refuses and an unroutable publish; a broker that never answers; a
//! primary killed and its replica promoted; a cluster.

use std::collections::HashSet;
use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable, LongString};
use wasm_triggers_tests::forwarding::*;
use wasm_triggers_tests::*;

on_each_flavor!(fn every_event_reaches_the_broker_in_order_in_both_formats(flavor) {
    let broker = Broker::start();
    for format in ["key_evt_amqp", "json"] {
        let (server, client) = forwarding(flavor, &broker, format, FieldTable::default());
        let mut con = server.connect();
        for i in 0..100 {
            let _: String = query(&mut con, &["SET", &key(i), "v"]);
        }
        let got = receive(&server, &client, 100);
        assert_eq!(got.len(), 100, "no message twice");
        assert_in_order_per_stream(&got, 100);
        for message in &got {
            let key = message.header("key");
            assert_eq!(message.header("event"), "set");
            assert_eq!(message.header("db"), "0");
            assert_eq!(message.header("message_id"), message.message_id());
            assert!(message.message_id().starts_with("triggers:outbox:{"), "{}", message.message_id());
            assert_eq!(message.properties.delivery_mode(), &Some(2), "persistent");
            if format == "json" {
                let body: serde_json::Value = serde_json::from_slice(&message.body).expect("JSON");
                assert_eq!(body["key"], key.as_str());
                assert_eq!(body["event"], "set");
                assert_eq!(body["db"], 0);
                assert_eq!(body["id"], message.message_id().as_str());
            } else {
                assert_eq!(message.body, format!("0\nset\n{key}").into_bytes());
            }
        }
        eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
        assert_eq!(forwarder_info(&mut con, "confirmed"), "100");
        assert_eq!(forwarder_info(&mut con, "state"), "connected");
        // The password never shows.
        let url: Vec<String> = query(&mut con, &["CONFIG", "GET", "triggers.amqp-url"]);
        assert_eq!(url[1], format!("amqp://guest:***@127.0.0.1:{}/%2f", broker.port));
        assert_eq!(forwarder_info(&mut con, "url"), url[1]);
        client.purge(QUEUE);
    }
});

// The broker stopped for a few seconds while writes go on, then started:
// every event arrives, duplicates only of the same message_id, and the
// backlog goes back to zero.
on_each_flavor!(fn a_broker_outage_loses_nothing(flavor) {
    let mut broker = Broker::start();
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let mut con = server.connect();
    // A second client's PING while the broker is up, then down.
    let ((), up) = with_pings(&server, || write(&mut server.connect(), 0..200));
    broker.stop_server();
    let ((), down) = with_pings(&server, || write(&mut server.connect(), 200..400));
    eprintln!("PING p99 with the broker up {:?}, down {:?}", up.p99, down.p99);
    assert!(down.p99 < up.p99 * 5 + Duration::from_millis(5), "{down:?} against {up:?}");
    for i in 400..600 {
        if i == 400 {
            // The backlog is counted every second, between retries.
            eventually_forwarded(&server, "events waiting in the outbox", || {
                forwarder_info(&mut con, "backlog") != "0"
            });
            assert_ne!(forwarder_info(&mut con, "last_error"), "");
            // How long the oldest has waited: the outage so far.
            eventually_forwarded(&server, "a lag of half a second", || {
                forwarder_info(&mut con, "lag_ms").parse::<u64>().unwrap_or(0) >= 500
            });
            eventually_forwarded(&server, "no confirmations per second", || {
                forwarder_info(&mut con, "rate") == "0"
            });
            broker.start_server();
        }
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
        std::thread::sleep(Duration::from_millis(5));
    }
    eventually_forwarded(&server, "confirmations per second", || {
        forwarder_info(&mut con, "rate").parse::<u64>().unwrap_or(0) > 0
    });
    let client = if client.channel.status().connected() { client } else { broker.client() };
    let got = receive(&server, &client, 600);
    assert_in_order_per_stream(&got, 600);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
    assert_eq!(forwarder_info(&mut con, "lag_ms"), "0");
});

// A queue that refuses (x-max-length with reject-publish): the broker nacks,
// entries stay until it accepts them again. And a publish nobody's queue
// is bound to: returned, counted, kept until a queue is bound.
on_each_flavor!(fn refused_and_unroutable_messages_stay_in_the_outbox(flavor) {
    let broker = Broker::start();
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(10));
    arguments.insert("x-overflow".into(), AMQPValue::LongString(LongString::from("reject-publish")));
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", arguments);
    let mut con = server.connect();
    for i in 0..30 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    eventually_forwarded(&server, "nacks", || forwarder_info(&mut con, "nacked") != "0");
    let mut got = Vec::new();
    // Every entry confirmed, not only each one come once: a message that
    // came may still be sent again (after a nack, those behind it are), and
    // would then go where the routing key below sends it.
    eventually_forwarded(&server, "all 30, in batches of at most 10, confirmed", || {
        got.extend(client.take(QUEUE));
        got.iter().map(Got::message_id).collect::<HashSet<_>>().len() >= 30
            && unconfirmed(&mut con) == 0
    });
    assert_in_order_per_stream(&got, 30);

    // Unroutable: no queue for this routing key. The entries stay, and
    // come in order once a queue is bound.
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-routing-key", "nowhere"]);
    for i in 30..60 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    // The forwarder counts a return, then sets the error it gives.
    eventually_forwarded(&server, "a returned message", || {
        forwarder_info(&mut con, "returned") != "0"
    });
    eventually_forwarded(&server, "NO_ROUTE in the last error", || {
        forwarder_info(&mut con, "last_error").contains("NO_ROUTE")
    });
    assert_ne!(unconfirmed(&mut con), 0, "the entries stay");
    client.bind("late", EXCHANGE, "nowhere", FieldTable::default());
    let mut late = Vec::new();
    eventually_forwarded(&server, "the entries delivered once a queue is bound", || {
        late.extend(client.take("late"));
        late.iter().map(Got::message_id).collect::<HashSet<_>>().len() >= 30
    });
    let (keys, streams) = in_order_per_stream(&late);
    assert_eq!(keys, (30..60).collect(), "each returned entry, once bound");
    assert_eq!(streams, TAGS);
    eventually_forwarded(&server, "no backlog", || forwarder_info(&mut con, "backlog") == "0");
});

// A broker that accepts connections and never answers: Redis answers a
// second client as fast as without a broker, and INFO says what is wrong.
on_each_flavor!(fn a_broker_that_never_answers_does_not_slow_redis(flavor) {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = hole.local_addr().expect("its address").port();
    let _accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hole.incoming().flatten() {
            held.push(stream);
        }
    });
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    let ((), before) = with_pings(&server, || write(&mut server.connect(), 0..400));
    let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", &url]);
    let ((), during) = with_pings(&server, || write(&mut server.connect(), 0..400));
    eprintln!("PING p99 without a broker {:?}, with one that never answers {:?}", before.p99, during.p99);
    assert!(
        during.p99 < before.p99 * 5 + Duration::from_millis(5),
        "p99 {:?} against {:?}",
        during.p99,
        before.p99
    );
    eventually_forwarded(&server, "the error in INFO", || {
        forwarder_info(&mut con, "last_error").contains("did not answer")
    });
    assert_ne!(forwarder_info(&mut con, "backlog"), "0");
});

// A primary killed (`kill -9`) while writes go on, its replica promoted:
// the replica never published while it was one, every write a replica
// acknowledged (`WAIT`) reaches the broker, from one node or the other,
// in order per stream, and the promoted replica forwards.
on_each_flavor!(fn a_failover_loses_no_event(flavor) {
    let broker = Broker::start();
    let (mut primary, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let replica = Server::start(flavor);
    configure(&replica, &broker, "key_evt_amqp");
    replicaof(&replica, &primary);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = {
        let acknowledged = acknowledged.clone();
        let mut con = primary.connect();
        std::thread::spawn(move || {
            // Until the primary is gone: the index after the last write tried.
            for i in 0.. {
                if redis::cmd("SET").arg(key(i)).arg("v").query::<()>(&mut con).is_err() {
                    return i + 1;
                }
                match redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut con) {
                    Ok(1) => acknowledged.lock().expect("the list").push(i),
                    Ok(_) => {}
                    Err(_) => return i + 1,
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            unreachable!()
        })
    };
    let mut on_replica = replica.connect();
    eventually("150 writes acknowledged", || acknowledged.lock().expect("the list").len() >= 150);
    assert_eq!(forwarder_info(&mut on_replica, "state"), "replica");
    assert_eq!(forwarder_info(&mut on_replica, "sent"), "0");
    primary.kill();
    let next = writer.join().expect("the writer");
    let mut acknowledged = acknowledged.lock().expect("the list").clone();
    let _: String = query(&mut on_replica, &["REPLICAOF", "NO", "ONE"]);
    let role: Vec<Value> = query(&mut on_replica, &["ROLE"]);
    assert_eq!(text(&role[0]), "master", "the replica was promoted");
    for i in next..next + 150 {
        let _: String = query(&mut on_replica, &["SET", &key(i), "v"]);
        acknowledged.push(i);
    }
    let mut got: Vec<Got> = Vec::new();
    eventually("every acknowledged write's event", || {
        got.extend(client.take(QUEUE));
        let keys: HashSet<String> = got.iter().map(|m| m.header("key")).collect();
        acknowledged.iter().all(|&i| keys.contains(&key(i)))
    });
    eventually("no backlog on the new primary", || {
        forwarder_info(&mut on_replica, "backlog") == "0"
    });
    got.extend(client.take(QUEUE));
    // In order, among the writes the new primary has: a write the old one
    // forwarded before its replica had it is gone from the history (its
    // key and its entry were replicated together, or not at all).
    let kept: Vec<Got> = got
        .into_iter()
        .filter(|m| query::<i64>(&mut on_replica, &["EXISTS", &m.header("key")]) == 1)
        .collect();
    let (_, streams) = in_order_per_stream(&kept);
    assert_eq!(streams, TAGS);
    let sent: u64 = forwarder_info(&mut on_replica, "sent").parse().expect("a count");
    assert!(sent >= 150, "the promoted replica sent {sent}");
});

// A 3-primary cluster, each primary with a replica: each primary forwards
// its own slots. A slot moved while its source is disconnected takes its
// backlog with it, and the target forwards it.
on_each_flavor!(fn each_primary_forwards_its_slots_and_a_moved_backlog(flavor) {
    let broker = Broker::start();
    let client = broker.client();
    client.bind(QUEUE, EXCHANGE, "events", FieldTable::default());
    let cluster = Cluster::start(flavor, 3, 1);
    for node in &cluster.nodes {
        configure(node, &broker, "key_evt_amqp");
    }
    let p = cluster.primaries();
    let _: String = query(&mut cluster.nodes[p[0]].connect(), &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    eventually("the rule on every node", || {
        cluster.nodes.iter().all(|n| {
            let rules: Vec<Value> = query(&mut n.connect(), &["OUTBOX", "LIST"]);
            rules.len() == 1
        })
    });
    let keys: Vec<String> = (0..90).map(|i| format!("k:{i}")).collect();
    for key in &keys {
        let _: String = query(&mut cluster.connect_for(key), &["SET", key, "v"]);
    }
    let mut got: Vec<Got> = Vec::new();
    let arrived = |got: &mut Vec<Got>, wanted: &[String]| {
        got.extend(client.take(QUEUE));
        let keys: HashSet<String> = got.iter().map(|m| m.header("key")).collect();
        wanted.iter().all(|k| keys.contains(k))
    };
    eventually("every key's event", || arrived(&mut got, &keys));
    for (index, node) in cluster.nodes.iter().enumerate() {
        let sent: i64 = forwarder_info(&mut node.connect(), "sent").parse().unwrap_or(0);
        assert_eq!(sent > 0, p.contains(&index), "node {index} sent {sent}");
    }

    // The source stops forwarding; a slot's backlog builds, then moves.
    let mut source = cluster.nodes[p[0]].connect();
    let _: String = query(&mut source, &["OUTBOX", "DISCONNECT"]);
    let tag = cluster.tag_on(p[0], &[]);
    let moved: Vec<String> = (0..20).map(|i| format!("m:{tag}:{i}")).collect();
    for key in &moved {
        let _: String = query(&mut source, &["SET", key, "v"]);
    }
    eventually("a backlog on the source", || forwarder_info(&mut source, "backlog") != "0");
    cluster.move_slot(cluster.slot(&tag), p[0], p[1]);
    eventually("the moved backlog forwarded by the target", || arrived(&mut got, &moved));
});

// Settings given at startup (as `redis.conf` lines), and a forwarder paused
// with OUTBOX DISCONNECT: entries wait, and OUTBOX CONNECT sends them.
on_each_flavor!(fn startup_settings_and_a_paused_forwarder(flavor) {
    let broker = Broker::start();
    let client = broker.client();
    client.bind(QUEUE, EXCHANGE, "events.set", FieldTable::default());
    let url = broker.url();
    let server = Server::start_with(flavor, &[
        "--triggers.amqp-url", &url,
        "--triggers.amqp-routing-key", "events.{event}",
        "--triggers.amqp-format", "json",
        "--triggers.amqp-delivery-mode", "transient",
    ]);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "sets", "EVENTS", "set"]);
    let _: String = query(&mut con, &["OUTBOX", "DISCONNECT"]);
    eventually_forwarded(&server, "the forwarder paused", || {
        forwarder_info(&mut con, "state") == "disconnected"
    });
    for i in 0..20 {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    eventually_forwarded(&server, "a backlog while paused", || {
        forwarder_info(&mut con, "backlog") == "20"
    });
    assert!(client.take(QUEUE).is_empty());
    let _: String = query(&mut con, &["OUTBOX", "CONNECT"]);
    let got = receive(&server, &client, 20);
    assert_in_order_per_stream(&got, 20);
    assert!(got.iter().all(|m| m.properties.delivery_mode() == &Some(1)));
    assert!(got.iter().all(|m| serde_json::from_slice::<serde_json::Value>(&m.body).is_ok()));
    // Without a URL, CONNECT says what is missing.
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", ""]);
    let error = redis::cmd("OUTBOX").arg("CONNECT").query::<String>(&mut con).unwrap_err();
    assert!(error.to_string().contains("triggers.amqp-url"), "{error}");
    eventually_forwarded(&server, "the forwarder off", || {
        forwarder_info(&mut con, "state") == "disabled"
    });
});

// Bad settings: a clear error in INFO and the log, the backlog kept, and
// Redis unaffected; fixed, everything is delivered.
on_each_flavor!(fn bad_settings_keep_the_backlog_and_say_why(flavor) {
    let broker = Broker::start();
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let mut con = server.connect();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port();
    let bad = [
        (format!("amqp://guest:wrong@127.0.0.1:{}/%2f", broker.port), "ACCESS_REFUSED"),
        (format!("amqp://guest:guest@127.0.0.1:{}/nowhere", broker.port), "vhost"),
        (format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"), "cannot connect"),
    ];
    let mut written = 0;
    for (url, why) in &bad {
        let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", url]);
        writes_wait_and_say_why(&server, &mut con, &mut written, why);
        let pong: String = query(&mut con, &["PING"]);
        assert_eq!(pong, "PONG");
    }
    // What is not a URL is refused, without quoting it (a password), and
    // the URL set before stays.
    for url in ["not a url", "amqp://guest:secret@127.0.0.1:notaport/%2f", "http://127.0.0.1/"] {
        let error = redis::cmd("CONFIG")
            .arg("SET").arg("triggers.amqp-url").arg(url)
            .query::<()>(&mut con)
            .expect_err("a malformed URL refused");
        assert!(error.to_string().contains("is not an AMQP URL"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
        let kept: Vec<String> = query(&mut con, &["CONFIG", "GET", "triggers.amqp-url"]);
        assert_eq!(kept[1], format!("amqp://guest:***@127.0.0.1:{closed}/%2f"));
    }
    assert!(client.take(QUEUE).is_empty());
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", &broker.url()]);
    let got = receive(&server, &client, written);
    assert_in_order_per_stream(&got, written);
});

// A slow broker (every chunk held 200 ms each way, through a proxy): Redis
// answers a second client as fast as with the broker at full speed, and
// every event still arrives.
on_each_flavor!(fn a_slow_broker_does_not_slow_redis(flavor) {
    let broker = Broker::start();
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let mut con = server.connect();
    let ((), fast) = with_pings(&server, || write(&mut server.connect(), 0..200));
    let slow = SlowProxy::start(broker.port, Duration::from_millis(200));
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", slow.port);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-url", &url]);
    let ((), during) = with_pings(&server, || write(&mut server.connect(), 200..400));
    eprintln!("PING p99 with the broker at full speed {:?}, slow {:?}", fast.p99, during.p99);
    assert!(during.p99 < fast.p99 * 5 + Duration::from_millis(5), "{during:?} against {fast:?}");
    let mut got: Vec<Got> = Vec::new();
    let started = std::time::Instant::now();
    while got.iter().map(Got::message_id).collect::<HashSet<_>>().len() < 400 {
        assert!(started.elapsed() < Duration::from_secs(60), "{} of 400 arrived", got.len());
        got.extend(client.take(QUEUE));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_in_order_per_stream(&got, 400);
});
