//! Libraries and trigger writes across replication: a primary, its
//! replica and a replica of that replica; failover; `MONITOR` on a replica.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use wasm_triggers_tests::*;

fn names_and_owners(con: &mut Connection) -> Vec<(String, String, String)> {
    libraries(con)
        .iter()
        .map(|l| (text(&l["name"]), text(&l["digest"]), text(&l["owner"])))
        .collect()
}

on_all_servers!(fn load_and_delete_reach_replicas_and_their_replicas(server) {
    let replica = Server::start(server.flavor);
    let chained = Server::start(server.flavor);
    replicaof(&replica, server);
    replicaof(&chained, &replica);
    let mut p = server.connect();
    let mut r = replica.connect();
    let mut c = chained.connect();

    load(&mut p, "last_updated");
    load(&mut p, "name_counter");
    let on_primary = names_and_owners(&mut p);
    assert_eq!(on_primary.len(), 2);
    for con in [&mut r, &mut c] {
        eventually("the libraries on the replicas", || names_and_owners(con) == on_primary);
    }

    // Replicas take their libraries from the primary only.
    let refused = redis::cmd("TRIGGER")
        .arg("LOAD")
        .arg(wasm("recorder"))
        .query::<String>(&mut r)
        .expect_err("a read-only replica refuses TRIGGER LOAD");
    assert!(refused.to_string().contains("read only replica"), "{refused}");

    // An upgrade, then a delete, reach both.
    load_replace(&mut p, &wasm("last_updated"));
    let _: String = query(&mut p, &["TRIGGER", "DELETE", "last_updated"]);
    let on_primary = names_and_owners(&mut p);
    assert_eq!(on_primary.len(), 1);
    for con in [&mut r, &mut c] {
        eventually("the delete on the replicas", || names_and_owners(con) == on_primary);
    }

    // The trigger fires once, on the primary; its write reaches both.
    let _: i64 = query(&mut p, &["HSET", "x", "name", "tom"]);
    let _: i64 = query(&mut p, &["INCR", "barrier"]);
    for con in [&mut r, &mut c] {
        eventually("the writes on the replicas", || {
            query::<Option<i64>>(con, &["GET", "barrier"]) == Some(1)
        });
        let count: Option<i64> = query(con, &["GET", "name_tom"]);
        assert_eq!(count, Some(1));
        assert_eq!(stat(con, "name_counter", "consumer", "num_triggered"), 0);
    }
    assert_eq!(stat(&mut p, "name_counter", "consumer", "num_triggered"), 1);
});

// A replica that full-syncs from a primary without libraries drops its own.
on_all_servers!(fn a_replica_drops_libraries_its_primary_does_not_have(server) {
    let replica = Server::start(server.flavor);
    let mut r = replica.connect();
    load(&mut r, "recorder");
    replicaof(&replica, server);
    assert!(library_names(&mut r).is_empty());
    assert!(replica.log().contains("removed 1 trigger libraries that the loaded data does not hold"));
});

/// The commands a `MONITOR` connection sees, until one named `last`.
fn monitored_until(reader: &mut BufReader<TcpStream>, last: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a MONITOR line");
        // +1700000000.000000 [0 127.0.0.1:6379] "hset" "x" "name" "tom"
        let Some(at) = line.find("] ") else { continue };
        let command = line[at + 2..].trim().replace('"', "").to_ascii_lowercase();
        if command.starts_with("ping") || command.starts_with("replconf") {
            continue;
        }
        let done = command.split(' ').next() == Some(last);
        commands.push(command);
        if done {
            return commands;
        }
    }
}

// What the replica executes: the command and the trigger's write, in one
// transaction, as the primary ran them.
on_all_servers!(fn trigger_writes_reach_the_replica_wrapped_with_the_command(server) {
    let replica = Server::start(server.flavor);
    replicaof(&replica, server);
    let mut p = server.connect();
    load(&mut p, "name_counter");
    wait_for_replicas(&mut p, 1);

    let mut monitor = TcpStream::connect(("127.0.0.1", replica.port)).expect("a connection");
    monitor.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
    monitor.write_all(b"MONITOR\r\n").expect("MONITOR");
    let mut reader = BufReader::new(monitor);
    let mut ok = String::new();
    reader.read_line(&mut ok).expect("+OK");
    assert_eq!(ok.trim(), "+OK");

    let _: i64 = query(&mut p, &["HSET", "x", "name", "tom"]);
    assert_eq!(
        monitored_until(&mut reader, "exec"),
        ["multi", "hset x name tom", "incr name_tom", "exec"]
    );
    let mut r = replica.connect();
    let count: Option<i64> = query(&mut r, &["GET", "name_tom"]);
    assert_eq!(count, Some(1));
});

// After `REPLICAOF NO ONE` the promoted node fires; the old primary, made
// its replica, stops firing and gets the writes instead.
on_all_servers!(fn after_a_failover_the_new_primary_fires(server) {
    let replica = Server::start(server.flavor);
    replicaof(&replica, server);
    let mut p = server.connect();
    let mut r = replica.connect();
    load(&mut p, "name_counter");
    let _: i64 = query(&mut p, &["HSET", "x", "name", "tom"]);
    wait_for_replicas(&mut p, 1);
    assert_eq!(stat(&mut p, "name_counter", "consumer", "num_triggered"), 1);
    assert_eq!(stat(&mut r, "name_counter", "consumer", "num_triggered"), 0);

    // Promote the replica, then make the old primary its replica.
    let _: String = query(&mut r, &["REPLICAOF", "NO", "ONE"]);
    replicaof(server, &replica);
    let _: i64 = query(&mut r, &["HSET", "y", "name", "tom"]);
    wait_for_replicas(&mut r, 1);
    assert_eq!(stat(&mut r, "name_counter", "consumer", "num_triggered"), 1);
    let count: i64 = query(&mut r, &["GET", "name_tom"]);
    assert_eq!(count, 2);

    // The demoted primary has the same library and data, and fired nothing.
    let mut p = server.connect();
    assert_eq!(names_and_owners(&mut p), names_and_owners(&mut r));
    let count: i64 = query(&mut p, &["GET", "name_tom"]);
    assert_eq!(count, 2);
    assert_eq!(stat(&mut p, "name_counter", "consumer", "num_triggered"), 1);
});
