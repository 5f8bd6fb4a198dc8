//! Redis Cluster: 3 primaries with a replica each, created with
//! `redis-cli --cluster create` (`valkey-cli` for Valkey), on loopback.
//!
//! The library `tagged_log` appends each `new`, `set`, `del` or `restore`
//! event of a key `user:{tag}…` to the list `log:{tag}`, in the key's slot.

use std::collections::HashMap;

use wasm_triggers_tests::*;

/// What every node holds: its library names, and the digest of its set.
fn holdings(cluster: &Cluster) -> Vec<(Vec<String>, String)> {
    cluster
        .nodes
        .iter()
        .map(|node| {
            let mut con = node.connect();
            let info: String = query(&mut con, &["INFO", "triggers"]);
            let digest = info
                .lines()
                .find_map(|l| l.strip_prefix("triggers_set_digest:"))
                .unwrap_or_default()
                .trim()
                .to_string();
            (library_names(&mut con), digest)
        })
        .collect()
}

/// Waits until every node holds exactly `names`.
fn wait_everywhere(cluster: &Cluster, names: &[&str]) {
    eventually("the same libraries on every node", || {
        let held = holdings(cluster);
        held.iter().all(|h| h.0 == names && h.1 == held[0].1)
    });
}

/// `num_triggered` of a trigger of `tagged_log` on every node.
fn triggered(cluster: &Cluster, trigger: &str) -> Vec<i64> {
    cluster
        .nodes
        .iter()
        .map(|n| stat(&mut n.connect(), "tagged_log", trigger, "num_triggered"))
        .collect()
}

fn set(cluster: &Cluster, node: usize, key: &str, value: &str) {
    let _: String = query(&mut cluster.nodes[node].connect(), &["SET", key, value]);
}

fn log_of(cluster: &Cluster, tag: &str) -> Vec<String> {
    let key = format!("log:{tag}");
    list(&mut cluster.connect_for(&key), &key)
}

// A load or a delete sent to any node, a replica too, reaches every node,
// and the reply waits for them.
on_each_flavor!(fn libraries_reach_every_node_from_any_node(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    let replica = cluster.replica_of(cluster.primaries()[0]);
    let mut con = cluster.nodes[replica].connect();
    assert_eq!(load(&mut con, "tagged_log"), "tagged_log");
    // The reply came once every node had it.
    for h in holdings(&cluster) {
        assert_eq!(h.0, ["tagged_log"], "{flavor:?}");
    }
    let primary = cluster.primaries()[1];
    load(&mut cluster.nodes[primary].connect(), "last_updated");
    wait_everywhere(&cluster, &["last_updated", "tagged_log"]);
    let held = holdings(&cluster);
    assert!(held.iter().all(|h| h == &held[0]), "{flavor:?}: {held:?}");

    let _: String = query(
        &mut cluster.nodes[primary].connect(),
        &["TRIGGER", "DELETE", "last_updated"],
    );
    for h in holdings(&cluster) {
        assert_eq!(h.0, ["tagged_log"], "{flavor:?}");
    }
});

// The seed's cases: a key created on node 1, updated on node 2, deleted on
// node 3; then hundreds of keys over every node, each firing exactly once.
// A trigger's write to a key of another shard is refused.
on_each_flavor!(fn triggers_fire_on_the_node_that_owns_the_key(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    load(&mut cluster.nodes[0].connect(), "tagged_log");
    wait_everywhere(&cluster, &["tagged_log"]);
    let primaries = cluster.primaries();
    let mut tags = Vec::new();
    for &node in &primaries {
        let tag = cluster.tag_on(node, &tags);
        tags.push(tag);
    }

    // Created on the first primary, updated on the second, deleted on
    // the third: each key on the node that serves it.
    let key = |i: usize| format!("user:{}:1", tags[i]);
    set(&cluster, primaries[0], &key(0), "a");
    set(&cluster, primaries[1], &key(1), "a");
    set(&cluster, primaries[1], &key(1), "b");
    set(&cluster, primaries[2], &key(2), "a");
    let _: i64 = query(
        &mut cluster.nodes[primaries[2]].connect(),
        &["DEL", &key(2)],
    );
    assert_eq!(log_of(&cluster, &tags[0]), ["new", "set"], "{flavor:?}");
    assert_eq!(
        log_of(&cluster, &tags[1]),
        ["new", "set", "set"],
        "{flavor:?}"
    );
    assert_eq!(
        log_of(&cluster, &tags[2]),
        ["new", "set", "del"],
        "{flavor:?}"
    );
    let fired = triggered(&cluster, "log");
    for (node, count) in fired.iter().enumerate() {
        let expected = match primaries.iter().position(|&p| p == node) {
            Some(0) => 2,
            Some(_) => 3,
            None => 0,
        };
        assert_eq!(*count, expected, "{flavor:?}: node {node} fired {fired:?}");
    }

    // 300 keys over the whole cluster: 600 events (new and set), each
    // fired once, on its primary only.
    for i in 0..300 {
        let key = format!("user:{{k{i}}}:x");
        let _: String = query(&mut cluster.connect_for(&key), &["SET", &key, "v"]);
    }
    let fired = triggered(&cluster, "log");
    assert_eq!(fired.iter().sum::<i64>(), 8 + 600, "{flavor:?}: {fired:?}");
    for (node, count) in fired.iter().enumerate() {
        assert_eq!(
            *count > 0,
            primaries.contains(&node),
            "{flavor:?}: {fired:?}"
        );
    }
    for i in 0..300 {
        assert_eq!(log_of(&cluster, &format!("{{k{i}}}")), ["new", "set"]);
    }

    // `elsewhere:foreign:x` lives in another shard: the write is
    // refused, and lands nowhere.
    let foreign = (0..)
        .map(|i| format!("foreign:{i}"))
        .find(|k| cluster.owner_of(k) != cluster.owner_of(&format!("elsewhere:{k}")))
        .expect("a key whose `elsewhere:` key is in another shard");
    let foreign = foreign.as_str();
    let home = cluster.owner_of(foreign);
    set(&cluster, home, foreign, "v");
    let error = text(
        &trigger_stats(&mut cluster.nodes[home].connect(), "tagged_log", "foreign")
            ["last_error"],
    );
    assert!(error.contains("non local key"), "{flavor:?}: {error}");
    for node in &cluster.nodes {
        let keys: Vec<String> = query(&mut node.connect(), &["KEYS", "elsewhere:*"]);
        assert!(keys.is_empty(), "{flavor:?}: {keys:?}");
    }
});

// Keys moved with their slot do not fire `del` on the source nor `new` or
// `restore` on the target; user writes before, during and after the move
// fire once each, where the key is.
on_each_flavor!(fn slot_migration_does_not_look_like_deletes_and_creates(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    load(&mut cluster.nodes[0].connect(), "tagged_log");
    wait_everywhere(&cluster, &["tagged_log"]);
    let primaries = cluster.primaries();
    let (from, to) = (primaries[0], primaries[1]);
    let tag = cluster.tag_on(from, &[]);
    let slot = cluster.slot(&tag);
    let keys: Vec<String> = (0..5).map(|i| format!("user:{tag}:{i}")).collect();

    for key in &keys {
        set(&cluster, from, key, "before");
    }
    // During: the slot is migrating, its keys not moved yet.
    cluster.start_slot_move(slot, from, to);
    set(&cluster, from, &keys[0], "during");
    cluster.migrate_keys(slot, from, to);
    cluster.finish_slot_move(slot, to);
    // After: on the new owner.
    set(&cluster, to, &keys[1], "after");
    let _: i64 = query(&mut cluster.nodes[to].connect(), &["DEL", &keys[2]]);

    let log = log_of(&cluster, &tag);
    let mut expected: Vec<&str> = ["new", "set"].repeat(5);
    expected.extend(["set", "set", "del"]);
    assert_eq!(log, expected, "{flavor:?}");
    let fired = triggered(&cluster, "log");
    assert_eq!(fired[from], 11, "{flavor:?}: {fired:?}");
    assert_eq!(fired[to], 2, "{flavor:?}: {fired:?}");
    assert_eq!(fired.iter().sum::<i64>(), 13, "{flavor:?}: {fired:?}");
    // The moved keys are on the new owner.
    let value: String = query(&mut cluster.nodes[to].connect(), &["GET", &keys[0]]);
    assert_eq!(value, "during");
});

// `CLUSTER FAILOVER` on a replica: the new primary fires, the old one no
// longer does.
on_each_flavor!(fn after_a_failover_the_new_primary_fires(flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    load(&mut cluster.nodes[0].connect(), "tagged_log");
    wait_everywhere(&cluster, &["tagged_log"]);
    let old = cluster.primaries()[0];
    let new = cluster.replica_of(old);
    let tag = cluster.tag_on(old, &[]);
    let key = format!("user:{tag}:1");
    set(&cluster, old, &key, "a");

    let _: String = query(&mut cluster.nodes[new].connect(), &["CLUSTER", "FAILOVER"]);
    eventually("the failover", || {
        cluster.is_primary(new) && !cluster.is_primary(old)
    });
    cluster.wait_healthy();
    set(&cluster, new, &key, "b");
    assert_eq!(log_of(&cluster, &tag), ["new", "set", "set"], "{flavor:?}");
    let fired = triggered(&cluster, "log");
    assert_eq!((fired[old], fired[new]), (2, 1), "{flavor:?}: {fired:?}");
    assert_eq!(fired.iter().sum::<i64>(), 3, "{flavor:?}: {fired:?}");
});

// A node that was down while a library was loaded gets it by itself once
// it is back; the load's reply names it.
on_each_flavor!(fn a_node_that_was_down_catches_up(flavor) {
    let mut cluster = Cluster::start(flavor, 3, 1);
    let down = cluster.replica_of(cluster.primaries()[2]);
    cluster.nodes[down].kill();
    let error = load_error(&mut cluster.nodes[0].connect(), &[&wasm("tagged_log")]);
    let address = format!("127.0.0.1:{}", cluster.nodes[down].port);
    assert!(
        error.contains("applied on this node and on 4 of 5 other nodes")
            && error.contains(&address),
        "{flavor:?}: {error}"
    );
    cluster.nodes[down].restart();
    cluster.wait_healthy();
    wait_everywhere(&cluster, &["tagged_log"]);
    assert!(cluster.nodes[down]
        .log()
        .contains("took the 1 trigger libraries"));
});

// A primary added later gets every library by itself, and fires once it
// serves slots.
on_each_flavor!(fn a_new_primary_gets_the_libraries_and_fires(flavor) {
    let mut cluster = Cluster::start(flavor, 3, 1);
    load(&mut cluster.nodes[0].connect(), "tagged_log");
    let added = cluster.add_primary();
    wait_everywhere(&cluster, &["tagged_log"]);

    let from = cluster.primaries()[0];
    let tag = cluster.tag_on(from, &[]);
    let key = format!("user:{tag}:1");
    set(&cluster, from, &key, "a");
    cluster.move_slot(cluster.slot(&tag), from, added);
    set(&cluster, added, &key, "b");
    assert_eq!(log_of(&cluster, &tag), ["new", "set", "set"], "{flavor:?}");
    let fired: HashMap<usize, i64> =
        triggered(&cluster, "log").into_iter().enumerate().collect();
    assert_eq!(
        (fired[&from], fired[&added]),
        (2, 1),
        "{flavor:?}: {fired:?}"
    );
});

// A rolling upgrade: a node of another build speaks another protocol on the
// cluster bus. The others log it once and ignore its messages (nothing
// misread, nothing applied); once it runs their build, the set converges.
on_each_flavor!(fn a_node_of_another_protocol_is_ignored_until_upgraded(flavor) {
    let mut cluster = Cluster::start(flavor, 3, 0);
    let other = 2;
    cluster.nodes[other].restart_with_env(&[("WASM_TRIGGERS_BUS_PROTOCOL", "99")]);
    cluster.wait_healthy();
    let error = load_error(&mut cluster.nodes[other].connect(), &[&wasm("tagged_log")]);
    assert!(
        error.contains("applied on this node and on 0 of 2 other nodes"),
        "{flavor:?}: {error}"
    );
    // Its state went out every second meanwhile: each node logged it once.
    let warning = "ignoring trigger messages of cluster protocol 99";
    for node in 0..2 {
        let log = cluster.nodes[node].log();
        assert_eq!(log.matches(warning).count(), 1, "{flavor:?}, node {node}:\n{log}");
        assert!(library_names(&mut cluster.nodes[node].connect()).is_empty());
    }
    // Upgraded (its set saved first): it speaks the others' protocol, and
    // they take its set.
    save(&mut cluster.nodes[other].connect());
    cluster.nodes[other].restart_with_env(&[]);
    cluster.wait_healthy();
    wait_everywhere(&cluster, &["tagged_log"]);
});
