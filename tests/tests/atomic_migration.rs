//! Valkey 9's atomic slot migration (`CLUSTER MIGRATESLOTS`) under writes,
//! on 3 primaries with a replica each: the whole slot moves at once, with
//! its outbox stream, so no event falls between two nodes.
//!
//! The target replays the source's keys and writes, and the source deletes
//! its copies once the target serves the slot: none of that fires a trigger
//! or reaches the outbox. Redis 8 and Valkey 8 have no atomic migration
//! (`tests/outbox_consumer.rs` moves slots key by key on all three).

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
fn an_atomic_slot_migration_under_writes_keeps_every_event_once() {
    let cluster = Cluster::start(Flavor::Valkey9, 3, 1);
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

    // The target holds the slot's one outbox stream, with every event once.
    let mut target = cluster.nodes[p[1]].connect();
    let entries = outbox_entries(&mut target);
    assert!(entries.iter().all(|e| e.slot == slot), "one slot");
    let events = tally(entries.iter().map(|e| e.field("event")));
    assert_eq!(events.get("set"), Some(&WRITES), "{events:?}");
    assert_eq!(events.get("new"), Some(&KEYS), "{events:?}");
    assert_eq!(
        events.get("del"),
        None,
        "the source's clean-up is no user's delete"
    );
    assert!(outbox_entries(&mut cluster.nodes[p[0]].connect()).is_empty());

    // The trigger fired once per write, on the node that took it.
    let log = list(&mut target, &format!("log:{tag}"));
    let fired = tally(log.iter().map(String::as_str));
    assert_eq!(fired.get("set"), Some(&WRITES), "{fired:?}");
    assert_eq!(fired.get("new"), Some(&KEYS), "{fired:?}");
    assert_eq!(fired.len(), 2, "no del, no restore: {fired:?}");

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
