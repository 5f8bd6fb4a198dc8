//! The outbox in a Redis Cluster of 3 primaries with a replica each: rules
//! reach every node, each primary appends the events of its keys to the
//! streams of their slots, and a stream moves with its slot.

use wasm_triggers_tests::*;

/// The rules every node holds, by name.
fn rules_on(cluster: &Cluster, node: usize) -> Vec<String> {
    let rules: Vec<Value> = query(&mut cluster.nodes[node].connect(), &["OUTBOX", "LIST"]);
    rules.iter().map(|r| text(&as_map(r)["name"])).collect()
}

/// The outbox entries of `key` on `node`, as `(event, source)`.
fn events_on(cluster: &Cluster, node: usize, key: &str) -> Vec<(String, String)> {
    let mut con = cluster.nodes[node].connect();
    // A replica serves reads of its primary's slots after READONLY.
    let _: String = query(&mut con, &["READONLY"]);
    outbox_events_of(&outbox_entries(&mut con), key)
}

on_each_flavor!(fn rules_spread_and_entries_stay_with_their_slot(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    let primaries = cluster.primaries();
    // Added on a replica, the rule reaches every node.
    let replica = cluster.replica_of(primaries[0]);
    let _: String = query(
        &mut cluster.nodes[replica].connect(),
        &["OUTBOX", "ADD", "orders", "PREFIX", "order:", "EVENTS", "set", "del", "new", "restore"],
    );
    eventually("the rule on every node", || {
        (0..cluster.nodes.len()).all(|n| rules_on(&cluster, n) == ["orders"])
    });

    // A key on each primary: its events are in its slot's stream, on the
    // node that holds the key.
    let mut keys = Vec::new();
    for &primary in &primaries {
        let tag = cluster.tag_on(primary, &[]);
        let key = format!("order:{tag}1");
        let _: String = query(&mut cluster.connect_for(&key), &["SET", &key, "a"]);
        keys.push((primary, key));
    }
    let set = ("set".to_string(), "rule:orders".to_string());
    let new = ("new".to_string(), "rule:orders".to_string());
    for (primary, key) in &keys {
        assert_eq!(events_on(&cluster, *primary, key), [new.clone(), set.clone()], "{key}");
        let mut con = cluster.nodes[*primary].connect();
        let entries = outbox_entries(&mut con);
        let entry = entries.iter().find(|e| e.field("key") == key).expect("the entry");
        assert_eq!(entry.slot, cluster.slot(key));
        assert_eq!(cluster.slot(&entry.stream), entry.slot);
        for other in primaries.iter().filter(|p| *p != primary) {
            assert!(events_on(&cluster, *other, key).is_empty());
        }
        // The replica has them too, once replication caught up.
        let replica = cluster.replica_of(*primary);
        eventually("the entries on the replica", || {
            events_on(&cluster, replica, key).len() == 2
        });
    }

    // The slot moves, with the key and the stream; the migration's `del`,
    // `new` and `restore` are not events of the user's.
    let (from, key) = keys[0].clone();
    let to = primaries[1];
    let slot = cluster.slot(&key);
    cluster.move_slot(slot, from, to);
    assert!(events_on(&cluster, from, &key).is_empty());
    assert_eq!(events_on(&cluster, to, &key), [new.clone(), set.clone()]);
    let _: String = query(&mut cluster.nodes[to].connect(), &["SET", &key, "b"]);
    assert_eq!(events_on(&cluster, to, &key), [new, set.clone(), set]);
});
