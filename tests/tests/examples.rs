//! The four example libraries of `examples-wasm/`, on Redis 8.0 and 8.6, Valkey 8 and
//! Valkey 9; the main scenarios twice: built today, against the contract's version 0.2,
//! and built against 0.1 before it (`tests/fixtures/contract_0_1/`), which must load
//! and run unchanged.

use std::collections::HashMap;

use wasm_triggers_tests::*;

/// Which build of an example a test loads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Build {
    /// `target/wasm/`, built with today's SDK (contract 0.2).
    Current,
    /// `tests/fixtures/contract_0_1/`, built with the SDK of contract 0.1.
    Contract0_1,
}

/// `TRIGGER LOAD` of an example's build; checks the contract
/// `TRIGGER LIST VERBOSE` says it was built against. Returns its name.
fn load_build(con: &mut Connection, name: &str, build: Build) -> String {
    let loaded = match build {
        Build::Current => load(con, name),
        Build::Contract0_1 => {
            let code =
                std::fs::read(repo_root().join(format!("tests/fixtures/contract_0_1/{name}.wasm")))
                    .expect("the fixture");
            redis::cmd("TRIGGER")
                .arg("LOAD")
                .arg(code)
                .query(con)
                .expect("TRIGGER LOAD")
        }
    };
    let listed: Value = query(con, &["TRIGGER", "LIST", "VERBOSE", "LIBRARY", &loaded]);
    let contract = text(&as_map(&array(&listed)[0])["contract"]);
    let expected = match build {
        Build::Current => "0.2.0",
        Build::Contract0_1 => "0.1.0",
    };
    assert_eq!(contract, expected, "{name}");
    loaded
}

/// A test on each server, with each build of the examples.
macro_rules! on_both_builds {
    (fn $name:ident($server:ident, $build:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn test($server: &mut Server, $build: Build) $body

            fn run(flavor: Flavor, build: Build) {
                let mut server = Server::start(flavor);
                test(&mut server, build);
                assert!(server.is_alive(), "the server died:\n{}", server.log());
            }

            on_each_flavor!(fn current(flavor) { run(flavor, Build::Current) });
            on_each_flavor!(fn built_for_0_1(flavor) { run(flavor, Build::Contract0_1) });
        }
    };
}

on_both_builds!(fn last_updated_stamps_modified_hashes(server, build) {
    let mut con = server.connect();
    assert_eq!(load_build(&mut con, "last_updated", build), "last_updated");

    let before: Vec<String> = query(&mut con, &["TIME"]);
    let before: i64 = before[0].parse().unwrap();
    let _: i64 = query(&mut con, &["HSET", "h", "x", "1"]);
    let hash: Vec<String> = query(&mut con, &["HGETALL", "h"]);
    assert_eq!(hash[..2], ["x", "1"]);
    assert_eq!(hash[2], "__last_updated__");
    let stamp: i64 = hash[3].parse().unwrap();
    let after: Vec<String> = query(&mut con, &["TIME"]);
    let after: i64 = after[0].parse().unwrap();
    assert!(before <= stamp && stamp <= after, "{before} <= {stamp} <= {after}");

    // Other hash commands stamp too.
    let _: i64 = query(&mut con, &["HINCRBY", "h", "x", "1"]);
    let x: String = query(&mut con, &["HGET", "h", "x"]);
    assert_eq!(x, "2");
    let _: String = query(&mut con, &["HGET", "h", "__last_updated__"]);

    // Non-hash keys are left alone.
    let _: String = query(&mut con, &["SET", "s", "v"]);
    let kind: String = query(&mut con, &["TYPE", "s"]);
    assert_eq!(kind, "string");
    let _: i64 = query(&mut con, &["RPUSH", "l", "a"]);
    let list_len: i64 = query(&mut con, &["LLEN", "l"]);
    assert_eq!(list_len, 1);

    // The trigger's own HSET does not fire it again: one event per command.
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_triggered"), 2);
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_success"), 2);
});

on_both_builds!(fn last_updated_leaves_a_deleted_hash_deleted(server, build) {
    let mut con = server.connect();
    load_build(&mut con, "last_updated", build);
    let _: i64 = query(&mut con, &["HSET", "gone", "only", "1"]);
    // The hash now holds `only` and `__last_updated__`.
    let _: i64 = query(&mut con, &["HDEL", "gone", "only", "__last_updated__"]);
    let exists: i64 = query(&mut con, &["EXISTS", "gone"]);
    assert_eq!(exists, 0, "the trigger must not recreate a deleted hash");
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_failed"), 0);
});

on_both_builds!(fn name_counter_counts_each_name(server, build) {
    let mut con = server.connect();
    assert_eq!(load_build(&mut con, "name_counter", build), "name_counter");
    let _: i64 = query(&mut con, &["HSET", "x", "name", "tom"]);
    let _: i64 = query(&mut con, &["HSET", "x", "name", "jerry"]);
    let tom: i64 = query(&mut con, &["GET", "name_tom"]);
    let jerry: i64 = query(&mut con, &["GET", "name_jerry"]);
    assert_eq!((tom, jerry), (1, 1));
});

on_both_builds!(fn name_counter_in_multi_exec(server, build) {
    let mut con = server.connect();
    load_build(&mut con, "name_counter", build);
    let replies: Vec<i64> = redis::pipe()
        .atomic()
        .cmd("HSET").arg("x").arg("name").arg("tom")
        .cmd("HSET").arg("x").arg("name").arg("jerry")
        .query(&mut con)
        .expect("MULTI/EXEC");
    assert_eq!(replies, [1, 0]);
    // on_fired read each name when its HSET ran; run counted after EXEC.
    let tom: Option<i64> = query(&mut con, &["GET", "name_tom"]);
    let jerry: Option<i64> = query(&mut con, &["GET", "name_jerry"]);
    assert_eq!((tom, jerry), (Some(1), Some(1)));
});

on_all_servers!(fn name_counter_in_eval(server) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    let _: Value = query(
        &mut con,
        &[
            "EVAL",
            "redis.call('HSET', KEYS[1], 'name', 'tom'); redis.call('HSET', KEYS[1], 'name', 'jerry')",
            "1",
            "x",
        ],
    );
    let tom: Option<i64> = query(&mut con, &["GET", "name_tom"]);
    let jerry: Option<i64> = query(&mut con, &["GET", "name_jerry"]);
    assert_eq!((tom, jerry), (Some(1), Some(1)));
});

/// The outbox entries `expired_orders` wrote, by order id.
fn expired_order_entries(con: &mut Connection) -> Vec<(String, OutboxEntry)> {
    let mut orders: Vec<(String, OutboxEntry)> = outbox_entries(con)
        .into_iter()
        .filter(|e| e.field("source") == "trigger:expired_orders.order_expired")
        .map(|e| {
            assert_eq!(e.field("event"), "expired");
            assert_eq!(e.field("key"), format!("checkout:{}", e.field("order")));
            (e.field("order").to_string(), e)
        })
        .collect();
    orders.sort_by(|a, b| a.0.cmp(&b.0));
    orders
}

/// The order ids of the outbox entries `expired_orders` wrote.
fn expired_orders(con: &mut Connection) -> Vec<String> {
    expired_order_entries(con)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

on_both_builds!(fn expired_orders_records_expiries(server, build) {
    let mut con = server.connect();
    assert_eq!(load_build(&mut con, "expired_orders", build), "expired_orders");

    // No client listens for anything: the expiry is recorded all the same,
    // with what the order held: a hash's fields, a string.
    let _: i64 = query(&mut con, &["HSET", "checkout:order-1", "total", "42.50", "items", "3"]);
    let _: i64 = query(&mut con, &["PEXPIRE", "checkout:order-1", "20"]);
    let _: String = query(&mut con, &["SET", "checkout:order-2", "cart", "PX", "20"]);
    eventually("both orders to expire", || {
        expired_orders(&mut server.connect()).len() == 2
    });
    let entries = expired_order_entries(&mut con);
    assert_eq!(expired_orders(&mut con), ["order-1", "order-2"]);
    let (hash, string) = (&entries[0].1, &entries[1].1);
    assert_eq!((hash.field("order.total"), hash.field("order.items")), ("42.50", "3"));
    assert_eq!((hash.fields.len(), string.field("content")), (8, "cart"));

    // A cancelled order (DEL) and an order that has not expired yet are not
    // expiries; a SET does not fire the trigger either.
    let _: String = query(&mut con, &["SET", "checkout:order-3", "cart", "EX", "100"]);
    let _: i64 = query(&mut con, &["DEL", "checkout:order-3"]);
    let _: String = query(&mut con, &["SET", "checkout:order-4", "cart"]);
    let _: i64 = query(&mut con, &["DEL", "checkout:order-4"]);
    assert_eq!(expired_orders(&mut con).len(), 2);
    let stats = trigger_stats(&mut con, "expired_orders", "order_expired");
    assert_eq!(int(&stats["num_triggered"]), 2);
    assert_eq!(int(&stats["num_success"]), 2);
});

on_all_servers!(fn expired_orders_records_lazy_expiry(server) {
    let mut con = server.connect();
    load(&mut con, "expired_orders");
    // Stop active expiry so that the key expires when it is read.
    let _: Value = query(&mut con, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: String = query(&mut con, &["SET", "checkout:lazy", "cart", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let value: Option<String> = query(&mut con, &["GET", "checkout:lazy"]);
    assert_eq!(value, None);
    assert_eq!(expired_orders(&mut con), ["lazy"]);
});

// A deleted hash is archived for a week; the replica gets the archive the
// primary's trigger wrote. Another key, or a string, is not archived.
on_both_builds!(fn archive_deleted_keeps_deleted_hashes(server, build) {
    let flavor = server.flavor;
    let replica = Server::start(flavor);
    replicaof(&replica, server);
    let mut con = server.connect();
    assert_eq!(load_build(&mut con, "archive_deleted", build), "archive_deleted");
    let _: i64 = query(&mut con, &["HSET", "user:7", "name", "ada", "plan", "pro"]);
    let _: i64 = query(&mut con, &["HSET", "order:7", "total", "3"]);
    let _: String = query(&mut con, &["SET", "user:string", "v"]);
    let _: i64 = query(&mut con, &["UNLINK", "user:7", "order:7", "user:string"]);
    let archived: HashMap<String, String> = query(&mut con, &["HGETALL", "archive:user:7"]);
    assert_eq!((archived["name"].as_str(), archived["plan"].as_str()), ("ada", "pro"));
    let ttl: i64 = query(&mut con, &["TTL", "archive:user:7"]);
    assert!((600_000..=604_800).contains(&ttl), "{flavor:?}: {ttl}");
    let archives: Vec<String> = query(&mut con, &["KEYS", "archive:*"]);
    assert_eq!(archives, ["archive:user:7"], "{flavor:?}");
    wait_for_replicas(&mut con, 1);
    let on_replica: HashMap<String, String> = query(&mut replica.connect(), &["HGETALL", "archive:user:7"]);
    assert_eq!(on_replica, archived, "{flavor:?}");
    // Restored with COPY.
    let _: i64 = query(&mut con, &["COPY", "archive:user:7", "user:7"]);
    let name: String = query(&mut con, &["HGET", "user:7", "name"]);
    assert_eq!(name, "ada");
});

on_all_servers!(fn name_counter_in_a_function(server) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    let library = "#!lua name=names\n\
        redis.register_function('rename_twice', function(keys, args)\n\
            redis.call('HSET', keys[1], 'name', 'tom')\n\
            redis.call('HSET', keys[1], 'name', 'jerry')\n\
        end)";
    let _: String = query(&mut con, &["FUNCTION", "LOAD", library]);
    let _: Value = query(&mut con, &["FCALL", "rename_twice", "1", "x"]);
    let tom: Option<i64> = query(&mut con, &["GET", "name_tom"]);
    let jerry: Option<i64> = query(&mut con, &["GET", "name_jerry"]);
    assert_eq!((tom, jerry), (Some(1), Some(1)));
});
