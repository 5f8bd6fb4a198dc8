//! Atomic slot migration under writes — Valkey 9's `CLUSTER MIGRATESLOTS`,
//! Redis 8.6's `CLUSTER MIGRATION IMPORT` — on 3 primaries with a replica
//! each: the whole slot moves at once, with its outbox stream, so no event
//! falls between two nodes.
//!
//! The target replays the source's keys and writes, and the source deletes
//! its copies once the target serves the slot: none of that fires a trigger
//! or reaches the outbox. Every key's events are counted: each write once in
//! the outbox and once in the trigger's counts. Redis 8.0 and Valkey 8 have
//! no atomic migration (`tests/outbox_consumer.rs` moves slots key by key).

use std::collections::HashMap;

use wasm_triggers_tests::*;

/// How many writes, and how many keys they go to.
const WRITES: usize = 3000;
const KEYS: usize = 50;

/// Counts each value.
fn tally<'a>(values: impl Iterator<Item = &'a str>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for value in values {
        *counts.entry(value.to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn an_atomic_slot_migration_under_writes_keeps_every_event_once_valkey9() {
    atomic_slot_migration_under_writes(Flavor::Valkey9);
}

#[test]
fn an_atomic_slot_migration_under_writes_keeps_every_event_once_redis86() {
    atomic_slot_migration_under_writes(Flavor::Redis86);
}

/// What each key should have seen: `(event, key)` → count.
fn expected_per_key(tag: &str) -> HashMap<String, usize> {
    let mut expected = HashMap::new();
    for i in 0..WRITES {
        let key = format!("user:{tag}:{}", i % KEYS);
        *expected.entry(format!("set {key}")).or_insert(0) += 1;
        expected.insert(format!("new {key}"), 1);
    }
    expected
}

fn atomic_slot_migration_under_writes(flavor: Flavor) {
    let cluster = Cluster::start(flavor, 3, 1);
    let p = cluster.primaries();
    let mut con = cluster.nodes[p[0]].connect();
    assert_eq!(load(&mut con, "tagged_log"), "tagged_log");
    let _: String = query(
        &mut con,
        &[
            "OUTBOX", "ADD", "users", "PREFIX", "user:", "EVENTS", "new", "set", "del",
        ],
    );
    eventually("the library and the rule on every node", || {
        cluster.nodes.iter().all(|n| {
            let mut con = n.connect();
            let rules: Vec<Value> = query(&mut con, &["OUTBOX", "LIST"]);
            rules.len() == 1 && library_names(&mut con) == ["tagged_log"]
        })
    });
    let tag = cluster.tag_on(p[0], &[]);
    let slot = cluster.slot(&tag);

    // Writes before, during and after the move, each to the node that
    // serves the slot at that moment (the source until it answers MOVED).
    let mut nodes = [cluster.nodes[p[0]].connect(), cluster.nodes[p[1]].connect()];
    let mut moved_at = None;
    for i in 0..WRITES {
        if i == WRITES / 10 {
            cluster.start_atomic_slot_move(slot, p[0], p[1]);
        }
        let key = format!("user:{tag}:{}", i % KEYS);
        let written = nodes.iter_mut().enumerate().find_map(|(n, con)| {
            let reply: redis::RedisResult<String> = redis::cmd("SET").arg(&key).arg(i).query(con);
            reply.ok().map(|_| n)
        });
        match written {
            Some(1) if moved_at.is_none() => moved_at = Some(i),
            Some(_) => {}
            None => panic!("write {i} refused by both nodes"),
        }
    }
    cluster.wait_for_atomic_move(slot, p[0], p[1]);
    let moved_at = moved_at.expect("the slot moved while writes went on");
    assert!(
        moved_at > WRITES / 10,
        "the source took writes during the move: {moved_at}"
    );

    // The target holds the slot's one outbox stream, with every event of
    // every key once: no `del` of the source's clean-up, no replay.
    let mut target = cluster.nodes[p[1]].connect();
    let entries = outbox_entries(&mut target);
    assert!(entries.iter().all(|e| e.slot == slot), "one slot");
    let expected = expected_per_key(&tag);
    let events: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {}", e.field("event"), e.field("key")))
        .collect();
    let in_outbox = tally(events.iter().map(String::as_str));
    assert_eq!(in_outbox, expected, "{flavor:?}: the outbox, per key");
    assert!(outbox_entries(&mut cluster.nodes[p[0]].connect()).is_empty());

    // The trigger fired once per write and key, on the node that took it.
    let fired: HashMap<String, usize> = query(&mut target, &["HGETALL", &format!("fired:{tag}")]);
    assert_eq!(fired, expected, "{flavor:?}: the trigger, per key");
    let log = list(&mut target, &format!("log:{tag}"));
    let names = tally(log.iter().map(String::as_str));
    assert_eq!(names.len(), 2, "no del, no restore: {names:?}");

    // Nothing failed anywhere.
    for &node in &p {
        let mut con = cluster.nodes[node].connect();
        assert_eq!(
            info_number(&mut con, "triggers", "triggers_outbox_failed"),
            0,
            "node {node}"
        );
        assert_eq!(
            stat(&mut con, "tagged_log", "log", "num_failed"),
            0,
            "node {node}"
        );
    }

    // After the move, writes fire on the new owner as usual.
    let _: String = query(&mut target, &["SET", &format!("user:{tag}:after"), "x"]);
    eventually("the write after the move in the outbox", || {
        outbox_events_of(&outbox_entries(&mut target), &format!("user:{tag}:after")).len() == 2
    });
}
