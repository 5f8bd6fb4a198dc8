//! The outbox read through the shipped consumer (`consumer/`): the seed's
//! cluster cases, a slot move and a node added while it runs, a failover
//! (`kill -9` of a primary), a consumer restart, and the same workload
//! read by a `PSUBSCRIBE` listener, side by side.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasm_triggers_outbox::{Consumer, Entry, Options};
use wasm_triggers_tests::*;

/// A consumer reading in a thread, keeping every entry it got.
struct Collector {
    entries: Arc<Mutex<Vec<Entry>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start(seeds: Vec<String>, consumer: &str) -> Collector {
        Self::start_into(seeds, consumer, Arc::new(Mutex::new(Vec::new())))
    }

    /// Starts a consumer that keeps its entries with `entries` (those of a
    /// consumer before it).
    fn start_into(
        seeds: Vec<String>,
        consumer: &str,
        entries: Arc<Mutex<Vec<Entry>>>,
    ) -> Collector {
        let stop = Arc::new(AtomicBool::new(false));
        let mut options = Options::new("tests", consumer);
        options.claim_idle = Duration::from_secs(2);
        options.rediscover_every = Duration::from_secs(1);
        let mut reader = Consumer::new(&seeds, options).expect("a consumer");
        let (kept, stopping) = (Arc::clone(&entries), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let got = reader.poll();
                kept.lock().expect("entries").extend(got.iter().cloned());
                reader.ack(&got);
            }
        });
        Collector {
            entries,
            stop,
            thread: Some(thread),
        }
    }

    /// Each entry once (deduplicated on its unique id), as `(key, event)`.
    fn events(&self) -> Vec<(String, String)> {
        let mut seen = HashSet::new();
        self.entries
            .lock()
            .expect("entries")
            .iter()
            .filter(|e| seen.insert(e.unique_id()))
            .map(|e| {
                (
                    String::from_utf8_lossy(&e.key).into_owned(),
                    e.event.clone(),
                )
            })
            .collect()
    }

    /// The events of each key, in order.
    fn by_key(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, event) in self.events() {
            by_key.entry(key).or_default().push(event);
        }
        by_key
    }

    fn wait_for(&self, key: &str, events: &[&str]) {
        eventually(&format!("the events of {key}"), || {
            self.by_key().get(key).map(Vec::len).unwrap_or(0) >= events.len()
        });
        assert_eq!(self.by_key()[key], events, "{key}");
    }

    /// How many entries were delivered more than once.
    fn repeats(&self) -> usize {
        let entries = self.entries.lock().expect("entries");
        let unique: HashSet<String> = entries.iter().map(Entry::unique_id).collect();
        entries.len() - unique.len()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn address(server: &Server) -> String {
    format!("127.0.0.1:{}", server.port)
}

fn add_rule_everywhere(cluster: &Cluster, args: &[&str]) {
    let mut command = vec!["OUTBOX", "ADD"];
    command.extend_from_slice(args);
    let _: String = query(&mut cluster.nodes[0].connect(), &command);
    eventually("the rule on every node", || {
        cluster.nodes.iter().all(|n| {
            let rules: Vec<Value> = query(&mut n.connect(), &["OUTBOX", "LIST"]);
            rules.len() == 1
        })
    });
}

fn run_on(cluster: &Cluster, key: &str, args: &[&str]) {
    let _: Value = query(&mut cluster.connect_for(key), args);
}

// The cases of the cluster seed, read by one consumer connected to one
// node: a key created and updated on node 1, updated on node 2, deleted on
// node 3, keys of one pattern on every node, a slot moved from node 1 to
// node 2 with writes before, during and after, and a node added.
on_each_flavor!(fn the_seed_cases_through_the_consumer(flavor) {
    let mut cluster = Cluster::start(flavor, 3, 1);
    let p = cluster.primaries();
    add_rule_everywhere(&cluster, &["users", "PREFIX", "user:", "EVENTS", "@all", "new"]);
    let collector = Collector::start(vec![address(&cluster.nodes[p[0]])], "c1");

    let k1 = format!("user:{}1", cluster.tag_on(p[0], &[]));
    run_on(&cluster, &k1, &["SET", &k1, "created"]);
    run_on(&cluster, &k1, &["SET", &k1, "updated"]);
    collector.wait_for(&k1, &["new", "set", "set"]);

    let k2 = format!("user:{}2", cluster.tag_on(p[1], &[]));
    run_on(&cluster, &k2, &["SET", &k2, "x"]);
    run_on(&cluster, &k2, &["APPEND", &k2, "y"]);
    collector.wait_for(&k2, &["new", "set", "append"]);

    let k3 = format!("user:{}3", cluster.tag_on(p[2], &[]));
    run_on(&cluster, &k3, &["SET", &k3, "x"]);
    run_on(&cluster, &k3, &["DEL", &k3]);
    collector.wait_for(&k3, &["new", "set", "del"]);

    let bulk: Vec<String> = (0..60).map(|i| format!("user:bulk:{i}")).collect();
    for key in &bulk {
        run_on(&cluster, key, &["SET", key, "v"]);
    }
    for key in &bulk {
        collector.wait_for(key, &["new", "set"]);
    }

    // The slot of k1 moves to node 2: before, during and after.
    let slot = cluster.slot(&k1);
    let moved = format!("user:{}m", cluster.tag_on(p[0], &[]));
    let moved = if cluster.slot(&moved) == slot { moved } else { k1.replace("1", "m") };
    run_on(&cluster, &moved, &["SET", &moved, "before"]);
    cluster.start_slot_move(slot, p[0], p[1]);
    let _: String = query(&mut cluster.nodes[p[0]].connect(), &["SET", &moved, "during"]);
    cluster.migrate_keys(slot, p[0], p[1]);
    cluster.finish_slot_move(slot, p[1]);
    run_on(&cluster, &moved, &["SET", &moved, "after"]);
    collector.wait_for(&moved, &["new", "set", "set", "set"]);
    run_on(&cluster, &k1, &["SET", &k1, "after the move"]);
    collector.wait_for(&k1, &["new", "set", "set", "set"]);

    // A node added, and k2's slot moved to it.
    let added = cluster.add_primary();
    cluster.move_slot(cluster.slot(&k2), p[1], added);
    run_on(&cluster, &k2, &["SET", &k2, "on the new node"]);
    collector.wait_for(&k2, &["new", "set", "append", "set"]);
});

// A primary killed (`kill -9`) while a consumer reads: its replica takes
// over (checked: it serves the primary's slots, which the killed node no
// longer does), and every event is delivered, in order per key: those of
// the writes the client saw acknowledged by the replica (`WAIT`) before
// the kill, and those of the writes the promoted replica accepted after.
// Keys of 4 hash tags: many entries per stream.
on_each_flavor!(fn a_failover_loses_no_acknowledged_event(flavor) {
    let mut cluster = Cluster::start(flavor, 3, 1);
    add_rule_everywhere(&cluster, &["users", "PREFIX", "user:", "EVENTS", "set"]);
    let reader_node = cluster.primaries()[0];
    let collector = Collector::start(vec![address(&cluster.nodes[reader_node])], "c1");
    let victim = cluster.primaries().into_iter().find(|&n| n != reader_node).expect("a primary");
    let heir = cluster.replica_of(victim);
    let mut tags = Vec::new();
    for _ in 0..4 {
        tags.push(cluster.tag_on(victim, &tags));
    }
    let key = |i: usize| format!("user:{}:{i}", tags[i % tags.len()]);
    let mut acknowledged: Vec<String> = Vec::new();
    let mut con = cluster.nodes[victim].connect();
    for i in 0..200 {
        let _: () = query(&mut con, &["SET", &key(i), &i.to_string()]);
        let replicas: i64 = query(&mut con, &["WAIT", "1", "5000"]);
        assert_eq!(replicas, 1, "{flavor:?}: write {i} reached the replica");
        acknowledged.push(key(i));
    }
    cluster.nodes[victim].kill();
    eventually("the replica promoted", || cluster.is_primary(heir));
    eventually("the replica serving the killed primary's slots", || {
        tags.iter().all(|tag| cluster.owner_of(tag) == heir)
    });
    let mut con = cluster.nodes[heir].connect();
    for i in 200..400 {
        let _: () = query(&mut con, &["SET", &key(i), &i.to_string()]);
        acknowledged.push(key(i));
    }
    eventually("the event of every acknowledged write", || {
        collector.events().len() >= acknowledged.len()
    });
    // Every write's event once, and each stream's in the order written.
    let events = collector.events();
    let expected: BTreeMap<String, Vec<String>> =
        acknowledged.iter().map(|k| (k.clone(), vec!["set".to_string()])).collect();
    assert_eq!(collector.by_key(), expected, "{flavor:?}");
    for tag in &tags {
        let order: Vec<usize> = events
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(&format!("user:{tag}:"))?.parse().ok())
            .collect();
        let mut written = order.clone();
        written.sort_unstable();
        assert_eq!(order, written, "{flavor:?}: the stream of {tag} in order");
        assert_eq!(order.len(), 100, "{flavor:?}: {tag}");
    }
});

// A consumer that dies with entries delivered and not acknowledged: its
// successor, of the same name, gets them again, and nothing is lost.
on_each_flavor!(fn a_restarted_consumer_loses_nothing(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    for i in 0..200 {
        let _: String = query(&mut con, &["SET", &format!("k:{i}"), "v"]);
    }
    // The first consumer reads a batch and dies before acknowledging it.
    let mut options = Options::new("tests", "worker");
    options.count = 10;
    let mut first = Consumer::new(&[address(&server)], options.clone()).expect("a consumer");
    let unacknowledged = first.poll();
    assert!(!unacknowledged.is_empty());
    drop(first);
    for i in 200..300 {
        let _: String = query(&mut con, &["SET", &format!("k:{i}"), "v"]);
    }
    let collector = Collector::start(vec![address(&server)], "worker");
    eventually("all 300 events", || collector.events().len() == 300);
    let keys: HashSet<String> = collector.events().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 300);
    for entry in &unacknowledged {
        assert!(keys.contains(&String::from_utf8_lossy(&entry.key).into_owned()));
    }
    assert_eq!(collector.repeats(), 0, "only the dead consumer saw the first batch");
});

// The same writes read by a PSUBSCRIBE listener that disconnects for 2 s,
// and by the consumer, stopped for the same 2 s: the listener loses the
// events of that time, the outbox none.
on_each_flavor!(fn the_outbox_loses_what_psubscribe_loses(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["CONFIG", "SET", "notify-keyspace-events", "E$"]);
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    let heard = Arc::new(Mutex::new(HashSet::new()));
    let listen = |heard: Arc<Mutex<HashSet<String>>>, stop: Arc<AtomicBool>| {
        let mut sub = server.connect();
        let _ = sub.set_read_timeout(Some(Duration::from_millis(100)));
        let mut pubsub = sub.as_pubsub();
        pubsub.psubscribe("__keyevent@0__:set").expect("psubscribe");
        while !stop.load(Ordering::SeqCst) {
            if let Ok(message) = pubsub.get_message() {
                if let Ok(key) = message.get_payload::<String>() {
                    heard.lock().expect("heard").insert(key);
                }
            }
        }
    };
    let write = |con: &mut Connection, range: std::ops::Range<usize>| {
        for i in range {
            let _: String = query(con, &["SET", &format!("k:{i}"), "v"]);
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // How many pattern subscriptions the server has: the listener's, once
    // it listens; none once it left.
    let patterns = |count: i64| {
        eventually(&format!("{count} PSUBSCRIBE listener"), || {
            let n: i64 = query(&mut server.connect(), &["PUBSUB", "NUMPAT"]);
            n == count
        })
    };
    let heard_count = |count: usize| {
        eventually(&format!("the listener to hear {count} events"), || {
            heard.lock().expect("heard").len() == count
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    let collector = std::thread::scope(|scope| {
        let (h, s) = (Arc::clone(&heard), Arc::clone(&stop));
        let listener = scope.spawn(move || listen(h, s));
        let collector = Collector::start(vec![address(&server)], "reader");
        patterns(1);
        write(&mut con, 0..100);
        heard_count(100);
        // Both readers away while 200 writes go on.
        stop.store(true, Ordering::SeqCst);
        listener.join().expect("listener");
        patterns(0);
        let entries = Arc::clone(&collector.entries);
        drop(collector);
        write(&mut con, 100..300);
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (Arc::clone(&heard), Arc::clone(&stop));
        let listener = scope.spawn(move || listen(h, s));
        let collector = Collector::start_into(vec![address(&server)], "reader", entries);
        patterns(1);
        write(&mut con, 300..400);
        heard_count(200);
        stop.store(true, Ordering::SeqCst);
        listener.join().expect("listener");
        collector
    });
    eventually("the outbox's 400 events", || collector.events().len() >= 400);
    let psubscribe_lost = 400 - heard.lock().expect("heard").len();
    let outbox_lost = 400 - collector.events().len();
    println!("{flavor:?}: PSUBSCRIBE lost {psubscribe_lost} of 400 events, the outbox {outbox_lost}");
    assert_eq!(outbox_lost, 0);
    assert_eq!(psubscribe_lost, 200, "the listener was away for exactly 200 writes");
});

// The Go seed's checkout flow on a cluster: orders expiring on all three
// primaries, each received once by one consumer, with the order id the
// `expired_orders` trigger added.
on_each_flavor!(fn expired_orders_on_a_cluster(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    let name: String = redis::cmd("TRIGGER")
        .arg("LOAD")
        .arg(wasm("expired_orders"))
        .query(&mut cluster.nodes[0].connect())
        .expect("TRIGGER LOAD");
    assert_eq!(name, "expired_orders");
    let collector = Collector::start(vec![address(&cluster.nodes[0])], "c1");
    let mut orders = Vec::new();
    for (n, primary) in cluster.primaries().into_iter().enumerate() {
        let mut tags = Vec::new();
        for i in 0..5 {
            let tag = cluster.tag_on(primary, &tags);
            tags.push(tag.clone());
            let order = format!("{tag}order-{n}-{i}");
            let key = format!("checkout:{order}");
            run_on(&cluster, &key, &["SET", &key, "cart", "PX", "100"]);
            orders.push(order);
        }
    }
    orders.sort();
    eventually("every order", || collector.entries.lock().expect("entries").len() >= orders.len());
    std::thread::sleep(Duration::from_millis(300));
    let entries = collector.entries.lock().expect("entries").clone();
    let mut received: Vec<String> = entries
        .iter()
        .map(|e| {
            assert_eq!(e.event, "expired");
            assert_eq!(e.source, "trigger:expired_orders.order_expired");
            let order = e.fields.iter().find(|(n, _)| n == "order").expect("order");
            String::from_utf8_lossy(&order.1).into_owned()
        })
        .collect();
    received.sort();
    assert_eq!(received, orders, "each order once");
    let nodes: HashSet<String> = entries.iter().map(|e| e.node.clone()).collect();
    assert_eq!(nodes.len(), 3, "read from the three primaries");
});

// A consumer that authenticates as an ACL user with only what reading the
// outbox needs (the set the README gives); a wrong password is a clear
// error.
on_each_flavor!(fn a_consumer_reads_as_a_least_privileged_acl_user(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    let _: String = query(
        &mut con,
        &[
            "ACL", "SETUSER", "reader", "on", ">reader-pw", "~triggers:outbox:*",
            "+cluster|slots", "+outbox|streams", "+outbox|changed", "+xreadgroup", "+xack",
            "+xgroup|create", "+xinfo|groups", "+xautoclaim", "+select",
        ],
    );
    for i in 0..10 {
        let _: String = query(&mut con, &["SET", &format!("k:{i}"), "v"]);
    }
    let auth = |password: &str| wasm_triggers_outbox::Auth {
        user: "reader".into(),
        password: password.into(),
    };
    let mut options = Options::new("tests", "c1");
    options.auth = Some(auth("wrong"));
    let refused = Consumer::new(&[address(&server)], options.clone());
    let error = format!("{:#}", refused.err().expect("a wrong password is refused"));
    assert!(error.contains("AUTH as reader"), "{error}");

    options.auth = Some(auth("reader-pw"));
    let mut consumer = Consumer::new(&[address(&server)], options).expect("a consumer");
    let mut got = Vec::new();
    eventually("the 10 events", || {
        let entries = consumer.poll();
        consumer.ack(&entries);
        got.extend(entries);
        got.len() >= 10
    });
    assert_eq!(consumer.last_error(), None);
    assert_eq!(got.len(), 10);
});
