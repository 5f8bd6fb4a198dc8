//! ACL: a library runs with the rights of the user that loaded it, and the
//! `TRIGGER` subcommands can be granted one by one or as `@triggers`.

use wasm_triggers_tests::*;

fn acl(con: &mut Connection, args: &[&str]) {
    let mut full = vec!["ACL", "SETUSER"];
    full.extend_from_slice(args);
    let _: String = query(con, &full);
}

fn owner(con: &mut Connection, library: &str) -> String {
    let found = libraries(con)
        .into_iter()
        .find(|l| text(&l["name"]) == library)
        .unwrap_or_else(|| panic!("library {library} is loaded"));
    text(&found["owner"])
}

fn last_error(con: &mut Connection, library: &str, trigger: &str) -> String {
    text(&trigger_stats(con, library, trigger)["last_error"])
}

// `alice` may write the hashes `x*` but not the counters `name_*` that
// name_counter increments: her library's INCR is refused, the user's HSET
// stands, and an ACL change applies from the next event.
on_all_servers!(fn calls_run_with_the_owners_rights(server) {
    let mut admin = server.connect();
    acl(&mut admin, &["alice", "on", ">alice-pw", "~x*", "+@all"]);
    let mut alice = server.connect_as("alice", "alice-pw");
    load(&mut alice, "name_counter");
    assert_eq!(owner(&mut admin, "name_counter"), "alice");

    let _: i64 = query(&mut admin, &["HSET", "x1", "name", "tom"]);
    let count: Option<i64> = query(&mut admin, &["GET", "name_tom"]);
    assert_eq!(count, None, "the owner could not write name_tom");
    let error = last_error(&mut admin, "name_counter", "consumer");
    assert!(error.contains("NOPERM"), "{error}");
    let name: String = query(&mut admin, &["HGET", "x1", "name"]);
    assert_eq!(name, "tom", "the user's write stands");
    assert_eq!(stat(&mut admin, "name_counter", "consumer", "num_failed"), 1);

    // Her keys now include the counters: the next event counts.
    acl(&mut admin, &["alice", "~name_*"]);
    let _: i64 = query(&mut admin, &["HSET", "x2", "name", "tom"]);
    let count: Option<i64> = query(&mut admin, &["GET", "name_tom"]);
    assert_eq!(count, Some(1));

    // A command she may not run.
    acl(&mut admin, &["alice", "-incr"]);
    let _: i64 = query(&mut admin, &["HSET", "x3", "name", "tom"]);
    let error = last_error(&mut admin, "name_counter", "consumer");
    assert!(error.contains("NOPERM") && error.contains("incr"), "{error}");

    // A deleted owner: every call is refused, with the reason.
    let _: i64 = query(&mut admin, &["ACL", "DELUSER", "alice"]);
    let _: i64 = query(&mut admin, &["HSET", "x4", "name", "tom"]);
    let error = last_error(&mut admin, "name_counter", "consumer");
    assert!(
        error.contains("the library's owner, ACL user 'alice', does not exist on this server"),
        "{error}"
    );
    let count: i64 = query(&mut admin, &["GET", "name_tom"]);
    assert_eq!(count, 1);
    // Checked before the library's code runs: the event is denied, not run.
    assert_eq!(stat(&mut admin, "name_counter", "consumer", "num_denied"), 1);
    assert_eq!(stat(&mut admin, "name_counter", "consumer", "num_failed"), 2);
    assert_eq!(stat(&mut admin, "name_counter", "consumer", "num_success"), 1);
});

// The owner is kept between events while no command that may change the
// users came (`server/acl.rs`): a deletion in the same pipeline, or in a
// transaction between two events, still reaches every event after it.
on_all_servers!(fn an_owner_deleted_between_two_events_is_not_used(server) {
    let mut admin = server.connect();
    acl(&mut admin, &["alice", "on", ">alice-pw", "~*", "+@all"]);
    let mut alice = server.connect_as("alice", "alice-pw");
    load(&mut alice, "name_counter");
    let denied = |con: &mut Connection| stat(con, "name_counter", "consumer", "num_denied");

    // 50 events with alice kept, her deletion, 50 more: one pipeline.
    let mut pipe = redis::pipe();
    for i in 0..50 {
        pipe.cmd("HSET").arg(format!("a{i}")).arg("name").arg("ann").ignore();
    }
    pipe.cmd("ACL").arg("DELUSER").arg("alice").ignore();
    for i in 0..50 {
        pipe.cmd("HSET").arg(format!("b{i}")).arg("name").arg("ann").ignore();
    }
    let () = pipe.query(&mut admin).expect("the pipeline runs");
    let count: i64 = query(&mut admin, &["GET", "name_ann"]);
    assert_eq!(count, 50, "no event after the deletion ran as alice");
    assert_eq!(denied(&mut admin), 50);
    let error = last_error(&mut admin, "name_counter", "consumer");
    assert!(error.contains("ACL user 'alice', does not exist"), "{error}");

    // Back again, and kept; then deleted inside a transaction, between the
    // notification of `c1` (before) and that of `c2` (after). The `run` of
    // both comes after the transaction: neither runs as alice.
    acl(&mut admin, &["alice", "on", ">alice-pw", "~*", "+@all"]);
    let _: i64 = query(&mut admin, &["HSET", "c0", "name", "ann"]);
    let count: i64 = query(&mut admin, &["GET", "name_ann"]);
    assert_eq!(count, 51);
    let failed = stat(&mut admin, "name_counter", "consumer", "num_failed");
    let () = redis::pipe()
        .atomic()
        .cmd("HSET").arg("c1").arg("name").arg("ann").ignore()
        .cmd("ACL").arg("DELUSER").arg("alice").ignore()
        .cmd("HSET").arg("c2").arg("name").arg("ann").ignore()
        .query(&mut admin)
        .expect("the transaction runs");
    let count: i64 = query(&mut admin, &["GET", "name_ann"]);
    assert_eq!(count, 51, "nothing ran as the deleted alice");
    assert_eq!(denied(&mut admin), 51, "c2 was denied");
    assert_eq!(
        stat(&mut admin, "name_counter", "consumer", "num_failed"),
        failed + 1,
        "c1's run failed"
    );
});

// An event on a key the owner may not read runs none of the library's
// code: `recorder`'s trigger on `user:` never learns of `user:b1`, and the
// event is counted apart.
on_all_servers!(fn events_on_keys_the_owner_may_not_read_run_nothing(server) {
    let mut admin = server.connect();
    acl(&mut admin, &["alice", "on", ">alice-pw", "~user:a*", "~log:*", "+@all"]);
    let mut alice = server.connect_as("alice", "alice-pw");
    load(&mut alice, "recorder");

    let _: String = query(&mut admin, &["SET", "user:b1", "v"]);
    let _: String = query(&mut admin, &["SET", "user:a1", "v"]);
    assert_eq!(list(&mut admin, "log:by_prefix"), ["set user:a1"]);
    let stats = trigger_stats(&mut admin, "recorder", "by_prefix");
    assert_eq!(int(&stats["num_denied"]), 1);
    assert_eq!(int(&stats["num_triggered"]), 1);
    assert_eq!(int(&stats["num_failed"]), 0);
    let info: String = query(&mut admin, &["INFO", "triggers"]);
    assert!(info.contains("triggers_num_denied:1"), "{info}");

    // Read access is what counts: a write-only pattern is not enough.
    acl(&mut admin, &["alice", "resetkeys", "%W~user:*", "~log:*"]);
    let _: String = query(&mut admin, &["SET", "user:a2", "v"]);
    assert_eq!(list(&mut admin, "log:by_prefix"), ["set user:a1"]);
    assert_eq!(stat(&mut admin, "recorder", "by_prefix", "num_denied"), 2);
});

// The owner is kept in the RDB file and replicated with the library.
on_all_servers!(fn the_owner_survives_a_restart_and_reaches_replicas(server) {
    let mut admin = server.connect();
    acl(&mut admin, &["alice", "on", ">alice-pw", "~*", "+@all"]);
    let mut alice = server.connect_as("alice", "alice-pw");
    load(&mut alice, "name_counter");
    load(&mut admin, "last_updated");

    let replica = Server::start(server.flavor);
    replicaof(&replica, server);
    let mut r = replica.connect();
    assert_eq!(owner(&mut r, "name_counter"), "alice");
    assert_eq!(owner(&mut r, "last_updated"), "default");

    save(&mut admin);
    server.restart();
    let mut admin = server.connect();
    assert_eq!(owner(&mut admin, "name_counter"), "alice");
    assert_eq!(owner(&mut admin, "last_updated"), "default");
    // ACL users are the server's configuration, not its data: `alice` is
    // gone after the restart, and says so.
    let _: i64 = query(&mut admin, &["HSET", "x", "name", "tom"]);
    let error = last_error(&mut admin, "name_counter", "consumer");
    assert!(error.contains("ACL user 'alice', does not exist"), "{error}");
    let stamped: Option<String> = query(&mut admin, &["HGET", "x", "__last_updated__"]);
    assert!(stamped.is_some(), "the default user's library runs");
});

// `@triggers` holds every subcommand of TRIGGER and OUTBOX; LIST can be
// granted without LOAD.
on_all_servers!(fn trigger_subcommands_are_granted_separately(server) {
    let mut admin = server.connect();
    let mut category: Vec<String> = query(&mut admin, &["ACL", "CAT", "triggers"]);
    category.sort();
    assert_eq!(
        category,
        [
            "outbox|add",
            "outbox|changed",
            "outbox|connect",
            "outbox|delete",
            "outbox|disconnect",
            "outbox|help",
            "outbox|list",
            "outbox|streams",
            "outbox|tryagain",
            "trigger|delete",
            "trigger|help",
            "trigger|kill",
            "trigger|list",
            "trigger|load"
        ]
    );

    acl(&mut admin, &["viewer", "on", ">viewer-pw", "~*", "+@read", "+trigger|list"]);
    acl(&mut admin, &["loader", "on", ">loader-pw", "~*", "+@all", "-@triggers", "+@triggers"]);
    let mut loader = server.connect_as("loader", "loader-pw");
    load(&mut loader, "last_updated");

    let mut viewer = server.connect_as("viewer", "viewer-pw");
    assert_eq!(library_names(&mut viewer), ["last_updated"]);
    for args in [
        vec!["TRIGGER", "DELETE", "last_updated"],
        vec!["TRIGGER", "LOAD", "x"],
    ] {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let error = cmd.query::<Value>(&mut viewer).expect_err("refused");
        assert!(error.to_string().contains("permission"), "{args:?}: {error}");
    }
    assert_eq!(library_names(&mut admin), ["last_updated"]);

    // Without @triggers, not even LIST; `@read` does not hold it.
    acl(&mut admin, &["viewer", "-@triggers"]);
    acl(&mut admin, &["reader", "on", ">reader-pw", "~*", "+@read"]);
    let mut reader = server.connect_as("reader", "reader-pw");
    for con in [&mut viewer, &mut reader] {
        let error = redis::cmd("TRIGGER")
            .arg("LIST")
            .query::<Value>(con)
            .expect_err("refused");
        assert!(error.to_string().contains("permission"), "{error}");
    }
});

// Clients cannot name another owner: only the primary and the AOF do.
on_all_servers!(fn clients_cannot_choose_the_owner(server) {
    let mut con = server.connect();
    let code = wasm("last_updated");
    let error = load_error(&mut con, &[b"OWNER", b"alice", &code]);
    assert!(error.contains("OWNER is only for the primary and the AOF"), "{error}");
    assert!(library_names(&mut con).is_empty());
});
