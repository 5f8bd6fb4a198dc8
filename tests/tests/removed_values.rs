//! Triggers that read what an event removed (`with_removed_value`): every
//! type whole and binary-safe, each kind of removal, and the limits.
//! `tests/removed_values_when.rs` has when values are read and given, and
//! when not: replicas, slot migrations, evictions, other triggers.
//!
//! The `removed_values` library logs each event of a key `r:*` and writes
//! the value it was given back as `copy:<key>`: the tests compare the copy
//! with what they wrote, with plain commands.

use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

use wasm_triggers_tests::*;

/// A server with Redis' test module of a data type loaded too.
fn start(flavor: Flavor) -> Server {
    let datatype = datatype_module();
    let datatype = datatype.to_str().expect("a UTF-8 path");
    Server::start_with(flavor, &["--loadmodule", datatype])
}

fn run(con: &mut Connection, args: &[&[u8]]) {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let _: Value = cmd.query(con).expect("the command succeeds");
}

type Hash = HashMap<Vec<u8>, Vec<u8>>;

fn hash(con: &mut Connection, key: &str) -> Hash {
    redis::cmd("HGETALL").arg(key).query(con).expect("HGETALL")
}

fn sorted_members(con: &mut Connection, key: &str) -> Vec<Vec<u8>> {
    let mut members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
        .arg(key)
        .query(con)
        .expect("SMEMBERS");
    members.sort();
    members
}

fn zrange(con: &mut Connection, key: &str) -> Vec<(String, f64)> {
    let cmd = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .clone();
    cmd.query(con).expect("ZRANGE")
}

type Entries = Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>;

fn xrange(con: &mut Connection, key: &str) -> Entries {
    redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .expect("XRANGE")
}

fn lrange(con: &mut Connection, key: &str) -> Vec<Vec<u8>> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(con)
        .expect("LRANGE")
}

/// Writes a key of every type and encoding; returns the keys and the
/// summary (`type/length/read`) each deletion must log.
fn write_every_type(con: &mut Connection) -> Vec<(String, String)> {
    let many = |prefix: &str| {
        (0..1000)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
    };
    run(con, &[b"SET", b"r:s:text", b"hello"]);
    run(con, &[b"SET", b"r:s:binary", b"\x00\xff\r\nbin"]);
    run(con, &[b"SET", b"r:s:int", b"12345"]);
    run(con, &[b"SET", b"r:s:large", &[b'x'; 10_000]]);
    run(
        con,
        &[b"HSET", b"r:h:small", b"name", b"tom", b"bin", b"\x00\xff"],
    );
    let mut hset: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"r:h:large".to_vec()];
    for field in many("f") {
        hset.push(field.clone().into_bytes());
        hset.push(format!("value of {field}").into_bytes());
    }
    run(con, &hset.iter().map(Vec::as_slice).collect::<Vec<_>>());
    run(con, &[b"RPUSH", b"r:l:small", b"a", b"b", b"a"]);
    let mut rpush = vec!["RPUSH".to_string(), "r:l:large".into()];
    rpush.extend(many("e"));
    let _: i64 = query(con, &rpush.iter().map(String::as_str).collect::<Vec<_>>());
    run(con, &[b"SADD", b"r:t:ints", b"3", b"1", b"2"]);
    run(con, &[b"SADD", b"r:t:small", b"x", b"\x00y"]);
    let mut sadd = vec!["SADD".to_string(), "r:t:large".into()];
    sadd.extend(many("m"));
    let _: i64 = query(con, &sadd.iter().map(String::as_str).collect::<Vec<_>>());
    run(
        con,
        &[
            b"ZADD",
            b"r:z:small",
            b"1.5",
            b"a",
            b"-2",
            b"b",
            b"+inf",
            b"c",
        ],
    );
    let mut zadd = vec!["ZADD".to_string(), "r:z:large".into()];
    for i in 0..300 {
        zadd.push(format!("{}", f64::from(i) * 0.5 - 7.25));
        zadd.push(format!("member{i}"));
    }
    let _: i64 = query(con, &zadd.iter().map(String::as_str).collect::<Vec<_>>());
    run(con, &[b"XADD", b"r:x", b"1-1", b"f", b"v", b"g", b"w"]);
    run(con, &[b"XADD", b"r:x", b"1-2", b"f", b"v2"]);
    run(con, &[b"XADD", b"r:x", b"5-0", b"h", b"\x00"]);
    run(con, &[b"DATATYPE.SET", b"r:m", b"1", b"module value"]);
    [
        ("r:s:text", "string/5/read"),
        ("r:s:binary", "string/7/read"),
        ("r:s:int", "string/5/read"),
        ("r:s:large", "string/10000/read"),
        ("r:h:small", "hash/2/read"),
        ("r:h:large", "hash/1000/read"),
        ("r:l:small", "list/3/read"),
        ("r:l:large", "list/1000/read"),
        ("r:t:ints", "set/3/read"),
        ("r:t:small", "set/2/read"),
        ("r:t:large", "set/1000/read"),
        ("r:z:small", "zset/3/read"),
        ("r:z:large", "zset/300/read"),
        ("r:x", "stream/3/read"),
        ("r:m", "module/0/module-type"),
    ]
    .into_iter()
    .map(|(k, s)| (k.to_string(), s.to_string()))
    .collect()
}

/// Reads every key [`write_every_type`] wrote, to compare with the copies.
struct Originals {
    strings: Vec<(String, Vec<u8>)>,
    hashes: Vec<(String, Hash)>,
    lists: Vec<(String, Vec<Vec<u8>>)>,
    sets: Vec<(String, Vec<Vec<u8>>)>,
    zsets: Vec<(String, Vec<(String, f64)>)>,
    stream: Entries,
}

impl Originals {
    fn read(con: &mut Connection, prefix: &str) -> Originals {
        let at = |k: &str| format!("{prefix}{k}");
        let mut get = |k: &str| -> (String, Vec<u8>) {
            (
                k.into(),
                redis::cmd("GET").arg(at(k)).query(con).expect("GET"),
            )
        };
        let strings = ["r:s:text", "r:s:binary", "r:s:int", "r:s:large"]
            .map(&mut get)
            .to_vec();
        Originals {
            strings,
            hashes: ["r:h:small", "r:h:large"]
                .map(|k| (k.into(), hash(con, &at(k))))
                .to_vec(),
            lists: ["r:l:small", "r:l:large"]
                .map(|k| (k.into(), lrange(con, &at(k))))
                .to_vec(),
            sets: ["r:t:ints", "r:t:small", "r:t:large"]
                .map(|k| (k.into(), sorted_members(con, &at(k))))
                .to_vec(),
            zsets: ["r:z:small", "r:z:large"]
                .map(|k| (k.into(), zrange(con, &at(k))))
                .to_vec(),
            stream: xrange(con, &at("r:x")),
        }
    }

    fn assert_same(&self, other: &Originals, flavor: Flavor) {
        assert_eq!(self.strings, other.strings, "{flavor:?}");
        assert_eq!(self.hashes, other.hashes, "{flavor:?}");
        assert_eq!(self.lists, other.lists, "{flavor:?}");
        assert_eq!(self.sets, other.sets, "{flavor:?}");
        assert_eq!(self.zsets, other.zsets, "{flavor:?}");
        assert_eq!(self.stream, other.stream, "{flavor:?}");
    }
}

// One `DEL` of a key of every type and encoding: each value comes whole,
// binary-safe, in order where its type has one; a module's type is
// withheld with a marker. `on_fired` and `run` see the same value; a
// trigger that did not ask sees none.
on_each_flavor!(fn every_type_comes_whole(flavor) {
    let server = start(flavor);
    let mut con = server.connect();
    load(&mut con, "removed_values");
    let expected = write_every_type(&mut con);
    let written = Originals::read(&mut con, "");
    let keys: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
    let deleted: usize = redis::cmd("DEL").arg(&keys).query(&mut con).expect("DEL");
    assert_eq!(deleted, keys.len(), "{flavor:?}");

    Originals::read(&mut con, "copy:").assert_same(&written, flavor);
    let log = removed_log(&mut con);
    for (key, summary_of_key) in &expected {
        assert_eq!(&summary(&removed_entry(&log, "del", key)), summary_of_key, "{flavor:?}: {key}");
    }
    let peeks = list(&mut con, "log:peek");
    let deletions = peeks.iter().filter(|p| p.starts_with("del ")).count();
    assert_eq!(deletions, keys.len(), "{flavor:?}: {peeks:?}");
    assert!(peeks.iter().all(|p| p.ends_with(" same")), "{flavor:?}: {peeks:?}");
    assert_eq!(list(&mut con, "log:blind"), vec!["none"; keys.len()], "{flavor:?}");
    assert_eq!(info_number(&mut con, "triggers", "triggers_removed_values_read"), 14, "{flavor:?}");
    assert_eq!(info_number(&mut con, "triggers", "triggers_removed_values_module_type"), 1, "{flavor:?}");
    assert_eq!(stat(&mut con, "removed_values", "copy", "num_failed"), 0, "{flavor:?}");
    // TRIGGER LIST VERBOSE says which triggers read removed values.
    let listed: Vec<Value> = query(&mut con, &["TRIGGER", "LIST", "VERBOSE"]);
    let triggers = array(&as_map(&listed[0])["triggers"]);
    let reads: Vec<(String, i64)> = triggers
        .iter()
        .map(|t| (text(&as_map(t)["name"]), int(&as_map(t)["removed_value"])))
        .collect();
    let expected = [("copy".into(), 1), ("peek".into(), 1), ("blind".into(), 0)];
    assert_eq!(reads, expected, "{flavor:?}");
});

// Deletion, both expiries, overwrites and renames; what removes nothing
// gives nothing.
on_all_servers!(fn each_kind_of_removal(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    load(&mut con, "removed_values");
    // Overwritten: a `SET` over a hash.
    run(&mut con, &[b"HSET", b"r:o", b"f", b"v"]);
    run(&mut con, &[b"SET", b"r:o", b"now a string"]);
    // A `SET` of a new key, and of an existing string.
    run(&mut con, &[b"SET", b"r:new", b"first"]);
    run(&mut con, &[b"SET", b"r:new", b"second"]);
    // `RENAME` onto an existing key: the destination's old value, and the
    // value that left the source.
    run(&mut con, &[b"SET", b"r:a", b"A"]);
    run(&mut con, &[b"RPUSH", b"r:b", b"x", b"y"]);
    run(&mut con, &[b"RENAME", b"r:a", b"r:b"]);
    // The last field of a hash: the key goes, with no value left.
    run(&mut con, &[b"HSET", b"r:k", b"f", b"v"]);
    run(&mut con, &[b"HDEL", b"r:k", b"f"]);
    // Lazy expiry: a read finds the key expired.
    let _: String = query(&mut con, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    run(&mut con, &[b"SET", b"r:lazy", b"lazy value", b"PX", b"20"]);
    sleep(Duration::from_millis(60));
    let gone: Option<String> = query(&mut con, &["GET", "r:lazy"]);
    assert_eq!(gone, None);
    // Active expiry: Redis' cycle finds it.
    let _: String = query(&mut con, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    run(&mut con, &[b"HSET", b"r:active", b"order", b"42"]);
    run(&mut con, &[b"PEXPIRE", b"r:active", b"20"]);
    eventually("the active expiry", || {
        removed_log(&mut con).iter().any(|e| e["event"] == "expired" && e["key"] == "r:active")
    });

    let log = removed_log(&mut con);
    let of = |event: &str, key: &str| summary(&removed_entry(&log, event, key));
    assert_eq!(of("set", "r:o"), "hash/1/read", "{flavor:?}");
    assert_eq!(hash(&mut con, "copy:r:o"), HashMap::from([(b"f".to_vec(), b"v".to_vec())]));
    let sets: Vec<String> = log.iter().filter(|e| e["key"] == "r:new").map(summary).collect();
    assert_eq!(sets, ["none", "string/5/read"], "{flavor:?}");
    assert_eq!(of("rename_from", "r:a"), "string/1/read", "{flavor:?}");
    assert_eq!(of("rename_to", "r:b"), "list/2/read", "{flavor:?}");
    assert_eq!(lrange(&mut con, "copy:r:b"), [b"x".to_vec(), b"y".to_vec()], "{flavor:?}");
    assert_eq!(of("hdel", "r:k"), "none", "{flavor:?}");
    assert_eq!(of("del", "r:k"), "none", "{flavor:?}");
    let lazy = removed_entry(&log, "expired", "r:lazy");
    assert_eq!((summary(&lazy).as_str(), lazy["head"].as_str()), ("string/10/read", "lazy value"));
    assert_eq!(of("expired", "r:active"), "hash/1/read", "{flavor:?}");
    assert_eq!(hash(&mut con, "copy:r:active")[&b"order".to_vec()], b"42");
    // Nothing else was read: not the new key, not the emptied hash.
    assert_eq!(info_number(&mut con, "triggers", "triggers_removed_values_read"), 6, "{flavor:?}");
});

// `UNLINK` of many keys in one command, small and large (which Redis
// frees in the background): each comes whole.
on_all_servers!(fn unlink_of_many_keys(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    load(&mut con, "removed_values");
    let mut keys = Vec::new();
    for i in 0..100 {
        let key = format!("r:u:{i}");
        let size = if i % 25 == 0 { 2000 } else { 10 };
        let mut pipe = redis::pipe();
        for f in 0..size {
            pipe.cmd("HSET").arg(&key).arg(format!("f{f}")).arg(format!("{i}.{f}")).ignore();
        }
        let () = pipe.query(&mut con).expect("HSETs");
        keys.push(key);
    }
    let originals: Vec<_> = keys.iter().map(|k| hash(&mut con, k)).collect();
    let unlinked: usize = redis::cmd("UNLINK").arg(&keys).query(&mut con).expect("UNLINK");
    assert_eq!(unlinked, 100);
    let log = removed_log(&mut con);
    for (key, original) in keys.iter().zip(&originals) {
        let length = original.len();
        assert_eq!(summary(&removed_entry(&log, "del", key)), format!("hash/{length}/read"));
        assert_eq!(&hash(&mut con, &format!("copy:{key}")), original, "{flavor:?}: {key}");
    }
});

// Over `triggers.max-removed-value-size`, a value is withheld with its type
// and length; so is one that would take the values one command holds past
// `triggers.max-payload-size`. Each is counted.
on_all_servers!(fn values_over_the_limits_are_withheld(server) {
    let flavor = server.flavor;
    let mut con = server.connect();
    load(&mut con, "removed_values");
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-removed-value-size", "1kb"]);
    run(&mut con, &[b"SET", b"r:big", &[b'b'; 2000]]);
    let _: i64 = query(&mut con, &["HSET", "r:fields", "a", "1", "b", "2"]);
    let mut hset = vec!["HSET".to_string(), "r:wide".into()];
    for i in 0..300 {
        hset.extend([format!("field{i}"), "x".into()]);
    }
    let _: i64 = query(&mut con, &hset.iter().map(String::as_str).collect::<Vec<_>>());
    let _: i64 = query(&mut con, &["DEL", "r:big", "r:fields", "r:wide"]);
    let log = removed_log(&mut con);
    assert_eq!(summary(&removed_entry(&log, "del", "r:big")), "string/2000/too-large");
    assert_eq!(summary(&removed_entry(&log, "del", "r:fields")), "hash/2/read");
    assert_eq!(summary(&removed_entry(&log, "del", "r:wide")), "hash/300/too-large");
    assert_eq!(info_number(&mut con, "triggers", "triggers_removed_values_too_large"), 2, "{flavor:?}");

    // Values held at once: two of 5,000 bytes fit in 12 KB, a third does not.
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-removed-value-size", "1mb"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-payload-size", "12kb"]);
    let value = "p".repeat(5000);
    for key in ["r:p1", "r:p2", "r:p3"] {
        let _: String = query(&mut con, &["SET", key, &value]);
    }
    let _: i64 = query(&mut con, &["DEL", "r:p1", "r:p2", "r:p3"]);
    let log = removed_log(&mut con);
    let held: Vec<String> = ["r:p1", "r:p2", "r:p3"]
        .iter()
        .map(|k| summary(&removed_entry(&log, "del", k)))
        .collect();
    assert_eq!(held, ["string/5000/read", "string/5000/read", "string/5000/too-large"]);
    // The next command has the room again.
    let _: String = query(&mut con, &["SET", "r:p4", &value]);
    let _: i64 = query(&mut con, &["DEL", "r:p4"]);
    let log = removed_log(&mut con);
    assert_eq!(summary(&removed_entry(&log, "del", "r:p4")), "string/5000/read", "{flavor:?}");
});
