//! Event semantics: prefix and event filters, binary keys, databases,
//! `on_fired`'s read-only rule, failures and their statistics.

use wasm_triggers_tests::*;

on_all_servers!(fn prefix_filter(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: String = query(&mut con, &["SET", "user:1", "a"]);
    let _: i64 = query(&mut con, &["HSET", "user:2", "f", "v"]);
    let _: String = query(&mut con, &["SET", "users", "not a match"]);
    let _: String = query(&mut con, &["SET", "xuser:3", "not a match"]);
    let _: i64 = query(&mut con, &["DEL", "user:1"]);
    assert_eq!(list(&mut con, "log:by_prefix"), ["set user:1", "hset user:2", "del user:1"]);
});

on_all_servers!(fn expired_trigger_ignores_set_and_del(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: String = query(&mut con, &["SET", "session:a", "v"]);
    let _: String = query(&mut con, &["SET", "session:b", "v", "EX", "100"]);
    let _: i64 = query(&mut con, &["DEL", "session:b"]);
    let _: String = query(&mut con, &["SET", "session:c", "v", "PX", "10"]);
    eventually("session:c to expire", || {
        list(&mut server.connect(), "log:expired_only").len() == 1
    });
    assert_eq!(list(&mut con, "log:expired_only"), ["expired session:c"]);
    assert_eq!(stat(&mut con, "recorder", "expired_only", "num_triggered"), 1);
});

on_all_servers!(fn event_class_filter(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: i64 = query(&mut con, &["HSET", "h:1", "f", "v"]);
    let _: i64 = query(&mut con, &["HDEL", "h:1", "f"]); // hdel, then del (generic)
    let _: String = query(&mut con, &["SET", "h:2", "v"]); // string: not @hash
    let _: i64 = query(&mut con, &["HINCRBY", "h:3", "n", "2"]);
    assert_eq!(list(&mut con, "log:hash_class"), ["hset h:1", "hdel h:1", "hincrby h:3"]);
});

on_all_servers!(fn event_name_filter(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: String = query(&mut con, &["SET", "ev:1", "v"]);
    let _: i64 = query(&mut con, &["APPEND", "ev:1", "w"]); // append: not listed
    let _: i64 = query(&mut con, &["EXPIRE", "ev:1", "100"]); // expire: not listed
    let _: i64 = query(&mut con, &["DEL", "ev:1"]);
    let _: i64 = query(&mut con, &["SADD", "ev:2", "m"]); // sadd: not listed
    assert_eq!(list(&mut con, "log:named_events"), ["set ev:1", "del ev:1"]);
});

on_all_servers!(fn new_key_class(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: String = query(&mut con, &["SET", "n:1", "v"]);
    let _: String = query(&mut con, &["SET", "n:1", "w"]); // exists: not new
    let _: i64 = query(&mut con, &["RPUSH", "n:2", "a"]);
    let _: i64 = query(&mut con, &["RPUSH", "n:2", "b"]);
    assert_eq!(list(&mut con, "log:new_keys"), ["new n:1", "new n:2"]);
});

// `keymiss` (Redis' `m` class, which `@all` leaves out): a read of a
// missing key fires it, and `run` may write; a read of a key that exists,
// or of another prefix, does not.
on_all_servers!(fn keymiss_fires_on_reads_of_missing_keys(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: Option<String> = query(&mut con, &["GET", "miss:1"]);
    let _: String = query(&mut con, &["SET", "miss:2", "v"]);
    let _: Option<String> = query(&mut con, &["GET", "miss:2"]);
    let _: Option<String> = query(&mut con, &["GET", "other:1"]);
    let _: Vec<Option<String>> = query(&mut con, &["HMGET", "miss:3", "f"]);
    assert_eq!(list(&mut con, "log:key_misses"), ["keymiss miss:1", "keymiss miss:3"]);
});

// An event no server raises is refused, with a hint, for rules too.
on_all_servers!(fn unknown_event_names_are_refused(server) {
    let mut con = server.connect();
    let error = redis::cmd("OUTBOX")
        .arg(&["ADD", "orders", "EVENTS", "expired", "exipred"])
        .query::<String>(&mut con)
        .expect_err("a misspelled event");
    assert!(error.to_string().contains("unknown event 'exipred' (did you mean 'expired'?)"), "{error}");
    let _: String = query(&mut con, &["OUTBOX", "ADD", "json", "EVENTS", "json.set", "keymiss", "@keymiss"]);
});

on_all_servers!(fn binary_keys(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let key: &[u8] = b"\xffbin\x00\x01\xfe tail";
    let _: String = redis::cmd("SET").arg(key).arg("v").query(&mut con).unwrap();
    let _: String = redis::cmd("SET").arg(&b"\xffbin\x00ok"[..]).arg("v").query(&mut con).unwrap();
    let _: String = redis::cmd("SET").arg(&b"\xffbim"[..]).arg("v").query(&mut con).unwrap();
    let log: Vec<Vec<u8>> = redis::cmd("LRANGE").arg("log:binary").arg(0).arg(-1).query(&mut con).unwrap();
    assert_eq!(
        log,
        [key.to_vec(), b"not utf8".to_vec(), b"\xffbin\x00ok".to_vec(), b"not utf8".to_vec()]
    );
});

on_all_servers!(fn triggers_run_in_the_key_database(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: String = query(&mut con, &["SELECT", "3"]);
    let _: String = query(&mut con, &["SET", "db:x", "v"]);
    assert_eq!(list(&mut con, "log:db_index"), ["3"]);
    let _: String = query(&mut con, &["SELECT", "0"]);
    assert!(list(&mut con, "log:db_index").is_empty());
});

on_all_servers!(fn writes_in_on_fired_are_refused(server) {
    let mut con = server.connect();
    load(&mut con, "read_only");
    let _: String = query(&mut con, &["SET", "ro:1", "v"]);
    // The user's write went through; the trigger's did not, and run never ran.
    let value: String = query(&mut con, &["GET", "ro:1"]);
    assert_eq!(value, "v");
    let written: i64 = query(&mut con, &["EXISTS", "ro:written", "ro:run_reached"]);
    assert_eq!(written, 0);
    let stats = trigger_stats(&mut con, "read_only", "writer");
    assert_eq!(int(&stats["num_failed"]), 1);
    assert_eq!(int(&stats["num_success"]), 0);
    let error = text(&stats["last_error"]);
    assert!(error.contains("write is not allowed"), "{error}");
});

on_all_servers!(fn failures_are_counted_and_the_next_event_works(server) {
    let mut con = server.connect();
    load(&mut con, "failing");
    for key in ["f:1", "f:err", "f:2", "f:panic", "f:3", "f:trap", "f:4"] {
        // The user's command succeeds whatever the trigger does.
        let _: String = query(&mut con, &["SET", key, "v"]);
        let value: String = query(&mut con, &["GET", key]);
        assert_eq!(value, "v");
        if key == "f:err" {
            let error = text(&trigger_stats(&mut con, "failing", "flaky")["last_error"]);
            assert_eq!(error, "requested failure");
        }
        if key == "f:panic" {
            let error = text(&trigger_stats(&mut con, "failing", "flaky")["last_error"]);
            assert!(error.contains("run panicked") && error.contains("requested panic on f:panic"), "{error}");
            assert!(error.contains("at failing/src/lib.rs:"), "{error}");
        }
        if key == "f:trap" {
            let error = text(&trigger_stats(&mut con, "failing", "flaky")["last_error"]);
            assert!(error.contains("run trapped"), "{error}");
        }
    }
    // The instance was rebuilt after each trap: the later events succeeded.
    let ok: i64 = query(&mut con, &["GET", "f:ok"]);
    assert_eq!(ok, 4);
    let stats = trigger_stats(&mut con, "failing", "flaky");
    let (triggered, finished, success, failed) = (
        int(&stats["num_triggered"]),
        int(&stats["num_finished"]),
        int(&stats["num_success"]),
        int(&stats["num_failed"]),
    );
    assert_eq!((triggered, success, failed), (7, 4, 3));
    assert_eq!(triggered, success + failed);
    assert_eq!(finished, triggered);
    assert!(int(&stats["total_execution_time_us"]) >= int(&stats["last_execution_time_us"]));
    let verbose: Value = query(&mut con, &["TRIGGER", "LIST", "VERBOSE"]);
    let library = as_map(&array(&verbose)[0]);
    assert_eq!(int(&library["instance_rebuilds"]), 2);
});

on_all_servers!(fn stats_add_up_across_libraries_and_transactions(server) {
    let mut con = server.connect();
    load(&mut con, "failing");
    load(&mut con, "name_counter");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for i in 0..50 {
        let key = if i % 5 == 0 { format!("f:{i}:err") } else { format!("f:{i}") };
        pipe.cmd("SET").arg(key).arg("v");
        pipe.cmd("HSET").arg(format!("x{i}")).arg("name").arg(format!("n{}", i % 3));
    }
    let _: Value = pipe.query(&mut con).expect("MULTI/EXEC");
    let flaky = trigger_stats(&mut con, "failing", "flaky");
    assert_eq!(int(&flaky["num_triggered"]), 50);
    assert_eq!(int(&flaky["num_success"]), 40);
    assert_eq!(int(&flaky["num_failed"]), 10);
    let counter = trigger_stats(&mut con, "name_counter", "consumer");
    assert_eq!(int(&counter["num_triggered"]), 50);
    assert_eq!(int(&counter["num_success"]), 50);
    let counts: Vec<i64> = redis::cmd("MGET").arg("name_n0").arg("name_n1").arg("name_n2").query(&mut con).unwrap();
    assert_eq!(counts, [17, 17, 16]);
});

#[test]
fn replicas_do_not_fire() {
    for flavor in Flavor::ALL {
        let primary = Server::start(flavor);
        let replica = Server::start(flavor);
        let mut p = primary.connect();
        let mut r = replica.connect();
        // The same library on both; only the primary fires it.
        load(&mut p, "name_counter");
        load(&mut r, "name_counter");
        replicaof(&replica, &primary);
        let _: i64 = query(&mut p, &["HSET", "x", "name", "tom"]);
        let _: i64 = query(&mut p, &["WAIT", "1", "5000"]);
        let on_replica: Option<i64> = query(&mut r, &["GET", "name_tom"]);
        // Replicated from the primary's trigger, not counted twice.
        assert_eq!(on_replica, Some(1), "{flavor:?}");
        assert_eq!(
            stat(&mut r, "name_counter", "consumer", "num_triggered"),
            0,
            "{flavor:?}"
        );
        assert_eq!(
            stat(&mut p, "name_counter", "consumer", "num_triggered"),
            1,
            "{flavor:?}"
        );
    }
}

on_all_servers!(fn runaway_guests_are_stopped(server) {
    let mut con = server.connect();
    load(&mut con, "failing");
    // An endless loop is interrupted at the time limit; the server answers
    // all along and the user's write stands.
    let _: String = query(&mut con, &["SET", "f:loop", "v"]);
    let value: String = query(&mut con, &["GET", "f:loop"]);
    assert_eq!(value, "v");
    let error = text(&trigger_stats(&mut con, "failing", "flaky")["last_error"]);
    assert!(error.contains("exceeded the execution time limit of 500 ms"), "{error}");

    // Endless allocation stops at the memory limit.
    let _: String = query(&mut con, &["SET", "f:alloc", "v"]);
    let error = text(&trigger_stats(&mut con, "failing", "flaky")["last_error"]);
    assert!(error.contains("exceeded the memory limit of 64 MB"), "{error}");

    // And the next event works.
    let _: String = query(&mut con, &["SET", "f:fine", "v"]);
    let ok: i64 = query(&mut con, &["GET", "f:ok"]);
    assert_eq!(ok, 1);
    let stats = trigger_stats(&mut con, "failing", "flaky");
    assert_eq!((int(&stats["num_success"]), int(&stats["num_failed"])), (1, 2));
});

#[test]
fn no_trigger_fires_while_loading() {
    for flavor in Flavor::ALL {
        let server = Server::start_with(flavor, &["--appendonly", "yes"]);
        let mut con = server.connect();
        load(&mut con, "name_counter");
        let _: i64 = query(&mut con, &["HSET", "x", "name", "tom"]);
        // Replaying the AOF runs the HSET again, and the trigger's INCR with
        // it; the trigger itself must not fire during the replay.
        let _: String = query(&mut con, &["DEBUG", "LOADAOF"]);
        let tom: i64 = query(&mut con, &["GET", "name_tom"]);
        assert_eq!(tom, 1, "{flavor:?}");
        assert_eq!(
            stat(&mut con, "name_counter", "consumer", "num_triggered"),
            1,
            "{flavor:?}"
        );
        // Loaded, it fires again.
        let _: i64 = query(&mut con, &["HSET", "y", "name", "tom"]);
        let tom: i64 = query(&mut con, &["GET", "name_tom"]);
        assert_eq!(tom, 2, "{flavor:?}");
    }
}

on_all_servers!(fn replies_reach_the_guest_whole(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    let _: i64 = query(&mut con, &["HSET", "reply:hash", "a", "1"]);
    let _: i64 = query(&mut con, &["ZADD", "reply:zset", "1.5", "m"]);
    let _: String = query(&mut con, &["XADD", "reply:stream", "1-1", "f", "v"]);
    let _: i64 = query(&mut con, &["SADD", "reply:set", "x"]);
    let _: String = query(&mut con, &["SET", "reply:go", "1"]);
    assert_eq!(
        list(&mut con, "log:replies"),
        [
            "Map([(Bytes([97]), Bytes([49]))])",
            "Double(1.5)",
            "Nil",
            "Array([Array([Bytes([49, 45, 49]), Array([Bytes([102]), Bytes([118])])])])",
            "Set([Bytes([120])])",
            "Int(5)",
            "error: WRONGTYPE Operation against a key holding the wrong kind of value",
        ]
    );
});

#[test]
fn trigger_writes_go_to_the_aof_with_the_command() {
    for flavor in Flavor::ALL {
        let server = Server::start_with(flavor, &["--appendonly", "yes"]);
        trigger_writes_in_aof(&server, flavor);
    }
}

fn trigger_writes_in_aof(server: &Server, flavor: Flavor) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    let _: i64 = query(&mut con, &["HSET", "x", "name", "tom"]);
    // Redis may delay an AOF write while a background fsync runs.
    eventually("the AOF write", || aof_commands(server).len() >= 6);
    let code = format!("<{} bytes>", wasm("name_counter").len());
    // The library, with its owner; then the command and the trigger's
    // write, in one transaction.
    assert_eq!(
        aof_commands(server),
        [
            vec!["select", "0"],
            vec!["trigger", "load", "replace", "owner", "default", "version", "1", &code],
            vec!["multi"],
            vec!["hset", "x", "name", "tom"],
            vec!["incr", "name_tom"],
            vec!["exec"],
        ],
        "{flavor:?}"
    );
}

// Redis delivers only the event classes loaded triggers need; a library
// that needs more, loaded later, still gets its events.
on_all_servers!(fn later_libraries_get_the_classes_they_need(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated"); // @hash only
    let _: String = query(&mut con, &["SET", "checkout:order-1", "cart", "PX", "1000"]);
    load(&mut con, "expired_orders"); // expired
    let _: String = query(&mut con, &["SET", "checkout:order-2", "cart", "PX", "20"]);
    eventually("both expiries counted", || {
        // order-1 expires after expired_orders is loaded, too.
        outbox_entries(&mut server.connect()).len() == 2
    });
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let stamp: Option<String> = query(&mut con, &["HGET", "h", "__last_updated__"]);
    assert!(stamp.is_some());
});
