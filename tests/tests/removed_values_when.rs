//! When removed values (`with_removed_value`) are read and given, and when
//! not: only while a trigger asks, only with their own removal, on
//! evictions under `maxmemory`; never on a replica, for keys a slot
//! migration moves, or for `FLUSHALL`.

use wasm_triggers_tests::*;

fn read(con: &mut Connection) -> i64 {
    info_number(con, "triggers", "triggers_removed_values_read")
}

// Every eviction hands its value to the trigger, and memory stays bounded:
// what is read is freed with the command's jobs.
on_all_servers!(fn evicted_values_are_read(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    load(&mut con, "removed_values");
    let limit = limit_memory_of_volatile_keys(&mut con, 2 << 20);
    let value_of = |i: usize| format!("value {i:08} {}", "v".repeat(985));
    for chunk in 0..30 {
        let mut pipe = redis::pipe();
        for i in chunk * 100..(chunk + 1) * 100 {
            pipe.cmd("SET").arg(format!("r:c:{i}")).arg(value_of(i)).arg("EX").arg(3600).ignore();
        }
        let () = pipe.query(&mut con).expect("SETs");
    }
    // Any command may evict first (and the trigger's log then grows): the
    // memory is read, then evictions stopped, before anything is counted.
    let used = info_number(&mut con, "memory", "used_memory");
    assert!(used <= limit + (64 << 10), "{flavor:?}: used {used}, limit {limit}");
    let _: String = query(&mut con, &["CONFIG", "SET", "maxmemory", "0"]);
    let evicted = info_number(&mut con, "stats", "evicted_keys");
    assert!(evicted > 500, "{flavor:?}: {evicted} keys evicted");
    let log = removed_log(&mut con);
    let evictions: Vec<&RemovedEntry> = log.iter().filter(|e| e["event"] == "evicted").collect();
    assert_eq!(evictions.len() as i64, evicted, "{flavor:?}");
    for entry in evictions {
        let i: usize = entry["key"].trim_start_matches("r:c:").parse().expect("a key r:c:<i>");
        assert_eq!(summary(entry), "string/1000/read", "{flavor:?}");
        assert_eq!(entry["head"], value_of(i)[..32], "{flavor:?}");
    }
    assert_eq!(read(&mut con), evicted, "{flavor:?}");
});

// A replica applies its primary's deletions and expiries: it reads
// nothing and fires nothing; the primary's triggers' writes reach it.
on_all_servers!(fn a_replica_reads_nothing(server) {
    let flavor = server.flavor;
    let replica = Server::start(flavor);
    replicaof(&replica, server);
    let mut p = server.connect();
    let mut r = replica.connect();
    load(&mut p, "removed_values");
    eventually("the library on the replica", || library_names(&mut r) == ["removed_values"]);

    let _: i64 = query(&mut p, &["HSET", "r:h", "f", "v"]);
    let _: i64 = query(&mut p, &["DEL", "r:h"]);
    let _: String = query(&mut p, &["SET", "r:e", "expires", "PX", "30"]);
    eventually("the expiry on the primary", || {
        removed_log(&mut p).iter().any(|e| e["event"] == "expired")
    });
    wait_for_replicas(&mut p, 1);
    assert_eq!(read(&mut p), 2, "{flavor:?}");
    assert_eq!(read(&mut r), 0, "{flavor:?}");
    assert_eq!(stat(&mut r, "removed_values", "copy", "num_triggered"), 0, "{flavor:?}");
    assert_eq!(removed_log(&mut r), removed_log(&mut p), "{flavor:?}");
    let copy: Vec<(String, String)> = redis::cmd("HGETALL").arg("copy:r:h").query(&mut r).expect("HGETALL");
    assert_eq!(copy, [("f".to_string(), "v".to_string())], "{flavor:?}");
});

/// Each node's count of removed values read, and of `copy`'s firings.
fn counts(cluster: &Cluster) -> Vec<(i64, i64)> {
    cluster
        .nodes
        .iter()
        .map(|n| {
            let mut con = n.connect();
            (
                read(&mut con),
                stat(&mut con, "removed_values", "copy", "num_triggered"),
            )
        })
        .collect()
}

/// A cluster with the library, and keys `r:{tag}:*` on its first primary.
fn cluster_with_keys(flavor: Flavor) -> (Cluster, String, Vec<String>) {
    let cluster = Cluster::start(flavor, 3, 0);
    load(&mut cluster.nodes[0].connect(), "removed_values");
    eventually("the library on every node", || {
        cluster
            .nodes
            .iter()
            .all(|n| library_names(&mut n.connect()) == ["removed_values"])
    });
    let tag = cluster.tag_on(cluster.primaries()[0], &[]);
    let keys: Vec<String> = (0..5).map(|i| format!("r:{tag}:{i}")).collect();
    for key in &keys {
        let _: i64 = query(&mut cluster.connect_for(key), &["HSET", key, "f", "v"]);
    }
    (cluster, tag, keys)
}

// Keys that move with their slot (`MIGRATE` deletes them on the source)
// are not read and fire nothing; a deletion on the new owner is read.
on_each_flavor!(fn a_slot_migration_reads_nothing(flavor) {
    let (cluster, tag, keys) = cluster_with_keys(flavor);
    let p = cluster.primaries();
    let before = counts(&cluster);
    cluster.move_slot(cluster.slot(&tag), p[0], p[1]);
    assert_eq!(counts(&cluster), before, "{flavor:?}");
    let _: i64 = query(&mut cluster.nodes[p[1]].connect(), &["DEL", &keys[0]]);
    assert_eq!(read(&mut cluster.nodes[p[1]].connect()), before[p[1]].0 + 1, "{flavor:?}");
});

// Atomic slot migration (Valkey 9, Redis 8.6): the source deletes the
// moved keys once the target serves the slot; nothing is read, nothing
// fires.
#[test]
fn an_atomic_slot_migration_reads_nothing_valkey9() {
    an_atomic_slot_migration_reads_nothing(Flavor::Valkey9);
}

#[test]
fn an_atomic_slot_migration_reads_nothing_redis86() {
    an_atomic_slot_migration_reads_nothing(Flavor::Redis86);
}

fn an_atomic_slot_migration_reads_nothing(flavor: Flavor) {
    let (cluster, tag, keys) = cluster_with_keys(flavor);
    let p = cluster.primaries();
    let before = counts(&cluster);
    let slot = cluster.slot(&tag);
    cluster.start_atomic_slot_move(slot, p[0], p[1]);
    cluster.wait_for_atomic_move(slot, p[0], p[1]);
    eventually("the source drops the moved keys", || {
        let count = ["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()];
        let left: i64 = query(&mut cluster.nodes[p[0]].connect(), &count);
        left == 0
    });
    assert_eq!(counts(&cluster), before, "{flavor:?}");
    let _: i64 = query(&mut cluster.nodes[p[1]].connect(), &["DEL", &keys[0]]);
    assert_eq!(
        read(&mut cluster.nodes[p[1]].connect()),
        before[p[1]].0 + 1,
        "{flavor:?}"
    );
}

// Without a trigger that asks, nothing is read: not before one is loaded,
// not after it is deleted. `FLUSHALL` and `FLUSHDB` raise no event per
// key, so nothing is read and nothing fires.
on_all_servers!(fn nothing_is_read_unless_a_trigger_asks(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    let read = |con: &mut Connection| info_number(con, "triggers", "triggers_removed_values_read");
    load(&mut con, "recorder");
    let _: i64 = query(&mut con, &["HSET", "r:h", "f", "v"]);
    let _: i64 = query(&mut con, &["DEL", "r:h"]);
    assert_eq!(read(&mut con), 0, "{flavor:?}");

    load(&mut con, "removed_values");
    let _: i64 = query(&mut con, &["HSET", "r:h", "f", "v"]);
    let _: i64 = query(&mut con, &["DEL", "r:h"]);
    assert_eq!(read(&mut con), 1, "{flavor:?}");
    // Another prefix: not read.
    let _: i64 = query(&mut con, &["HSET", "other:h", "f", "v"]);
    let _: i64 = query(&mut con, &["DEL", "other:h"]);
    assert_eq!(read(&mut con), 1, "{flavor:?}");

    let fired = stat(&mut con, "removed_values", "copy", "num_triggered");
    for flush in [["FLUSHDB", "SYNC"], ["FLUSHALL", "SYNC"]] {
        let _: i64 = query(&mut con, &["HSET", "r:h", "f", "v"]);
        let _: String = query(&mut con, &["SET", "r:s", "v"]);
        let _: String = query(&mut con, &flush);
    }
    assert_eq!(read(&mut con), 1, "{flavor:?}");
    // Only the four writes fired (the log itself went with the flush).
    let after = stat(&mut con, "removed_values", "copy", "num_triggered");
    assert_eq!(after - fired, 4, "{flavor:?}");

    let _: String = query(&mut con, &["TRIGGER", "DELETE", "removed_values"]);
    let _: i64 = query(&mut con, &["HSET", "r:h", "f", "v"]);
    let _: i64 = query(&mut con, &["DEL", "r:h"]);
    assert_eq!(read(&mut con), 1, "{flavor:?}");
});

// A value is given only with the notification of its own removal, never
// with a later one of the same key: here the `DEL` is of no interest to
// the only trigger (on `set`), yet its notification must come to take
// its value, or the `SET` of the new key would seem to overwrite it.
on_all_servers!(fn a_value_goes_only_with_its_own_removal(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    load(&mut con, "removed_on_set");
    let (): () = redis::pipe()
        .atomic()
        .cmd("HSET").arg("s:k").arg("f").arg("v").ignore()
        .cmd("DEL").arg("s:k").ignore()
        .cmd("SET").arg("s:k").arg("new").ignore()
        .cmd("SET").arg("s:k").arg("newer").ignore()
        .query(&mut con)
        .expect("MULTI/EXEC");
    assert_eq!(list(&mut con, "log:set"), ["none", "string/3"], "{flavor:?}");
});

// Redis 8.2's `overwritten` and `type_changed` come before the command's
// own event, and after `rename_to`: each sees the value the overwrite
// removed, without taking it from the event that reports the command. A
// server without them refuses a trigger or a rule that names them.
on_all_servers!(fn overwrites_report_the_value_they_removed(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    if flavor != Flavor::Redis86 {
        let error = load_error(&mut con, &[&wasm("removed_on_overwrite")]);
        assert!(error.contains("does not raise 'overwritten' events"), "{flavor:?}: {error}");
        let error = redis::cmd("OUTBOX")
            .arg(&["ADD", "types", "EVENTS", "@type_changed"][..])
            .query::<Value>(&mut con)
            .expect_err("a rule on an event the server does not raise")
            .to_string();
        assert!(error.contains("does not raise '@type_changed' events"), "{flavor:?}: {error}");
        return;
    }
    load(&mut con, "removed_on_overwrite");
    let _: i64 = query(&mut con, &["HSET", "o:1", "f", "v"]);
    let _: String = query(&mut con, &["SET", "o:1", "x"]);
    let _: String = query(&mut con, &["SET", "o:1", "yz"]);
    let _: String = query(&mut con, &["SET", "o:2", "abc"]);
    let _: String = query(&mut con, &["RENAME", "o:1", "o:2"]);
    assert_eq!(
        list(&mut con, "log:o"),
        [
            "overwritten hash/1",
            "type_changed hash/1",
            "set hash/1",
            "overwritten string/1",
            "set string/1",
            "set none",
            "rename_to string/3",
            "overwritten string/3",
        ]
    );
    let _: String = query(&mut con, &["OUTBOX", "ADD", "types", "EVENTS", "@type_changed"]);
});

// A trigger that asks for removed values has Redis deliver the events that
// report a removal, and no hash or stream events: a hash workload costs
// nothing more. On Redis 8.6, which can take a subscription back, deleting
// the last trigger or rule that needed a class stops it.
on_each_flavor!(fn removed_values_leave_hash_and_stream_events_alone(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let delivered = |con: &mut Connection| {
        let info: String = query(con, &["INFO", "triggers"]);
        info.lines()
            .find_map(|l| l.strip_prefix("triggers_keyspace_events:"))
            .expect("triggers_keyspace_events in INFO")
            .trim()
            .to_string()
    };
    assert_eq!(delivered(&mut con), "", "{flavor:?}");
    load(&mut con, "expired_orders");
    let classes = delivered(&mut con);
    for class in ['g', '$', 'l', 's', 'z', 'x', 'e', 'd'] {
        assert!(classes.contains(class), "{flavor:?}: {class} in {classes}");
    }
    assert!(!classes.contains('h') && !classes.contains('t'), "{flavor:?}: {classes}");
    let _: String = query(&mut con, &["OUTBOX", "ADD", "hashes", "EVENTS", "@hash"]);
    assert!(delivered(&mut con).contains('h'), "{flavor:?}");
    let _: String = query(&mut con, &["OUTBOX", "DELETE", "hashes"]);
    let _: String = query(&mut con, &["TRIGGER", "DELETE", "expired_orders"]);
    let left = delivered(&mut con);
    if flavor == Flavor::Redis86 {
        assert_eq!(left, "", "taken back");
        // And given again when needed.
        load(&mut con, "expired_orders");
        assert_eq!(delivered(&mut con), classes);
    } else {
        assert!(left.contains('h') && left.contains('g'), "{flavor:?}: kept: {left}");
    }
});
