//! The outbox on one server: rules send keyspace events to the stream of
//! their key's hash slot, atomically with the command, durably (RDB, AOF,
//! replicas), and within the cap.

use wasm_triggers_tests::*;

fn add_rule(con: &mut Connection, args: &[&str]) {
    let mut command = vec!["OUTBOX", "ADD"];
    command.extend_from_slice(args);
    let _: String = query(con, &command);
}

fn rule_stat(con: &mut Connection, rule: &str, field: &str) -> i64 {
    let rules: Vec<Value> = query(con, &["OUTBOX", "LIST"]);
    let rule = rules
        .iter()
        .map(as_map)
        .find(|r| text(&r["name"]) == rule)
        .expect("the rule");
    int(&rule[field])
}

fn entries_of(con: &mut Connection, key: &str) -> Vec<(String, String)> {
    outbox_events_of(&outbox_entries(con), key)
}

// Matching events, and only those, reach the outbox, each in the stream of
// its key's slot, with its fields; the expiry too.
on_all_servers!(fn rules_send_matching_events_to_their_slots_stream(server) {
    let mut con = server.connect();
    add_rule(&mut con, &["orders", "PREFIX", "checkout:", "EVENTS", "set", "del", "expired"]);
    let _: String = query(&mut con, &["SET", "checkout:1", "a"]);
    let _: String = query(&mut con, &["SET", "other:1", "a"]);
    let _: i64 = query(&mut con, &["DEL", "checkout:1"]);
    let _: i64 = query(&mut con, &["LPUSH", "checkout:list", "a"]);
    let _: String = query(&mut con, &["SET", "checkout:2", "b", "PX", "30"]);
    eventually("the expiry of checkout:2", || {
        entries_of(&mut con, "checkout:2").len() == 2
    });

    let entries = outbox_entries(&mut con);
    let rule = "rule:orders".to_string();
    assert_eq!(
        outbox_events_of(&entries, "checkout:1"),
        [("set".to_string(), rule.clone()), ("del".to_string(), rule.clone())]
    );
    assert_eq!(
        outbox_events_of(&entries, "checkout:2"),
        [("set".to_string(), rule.clone()), ("expired".to_string(), rule)]
    );
    assert!(outbox_events_of(&entries, "other:1").is_empty());
    assert!(outbox_events_of(&entries, "checkout:list").is_empty());
    for entry in &entries {
        assert_eq!(entry.slot, key_slot(entry.field("key").as_bytes()), "{entry:?}");
        assert!(entry.stream.starts_with("triggers:outbox:{"), "{entry:?}");
        assert_eq!(key_slot(entry.stream.as_bytes()), entry.slot, "{entry:?}");
        assert_eq!(entry.field("db"), "0");
        assert!(entry.field("time").parse::<u64>().is_ok(), "{entry:?}");
    }
    assert_eq!(rule_stat(&mut con, "orders", "num_appended"), 4);
    assert_eq!(info_number(&mut con, "triggers", "triggers_outbox_appended"), 4);
});

// One entry per event, naming every rule it matched; outbox streams' own
// events never reach the outbox; other databases have their own streams.
on_all_servers!(fn one_entry_per_event_and_per_database(server) {
    let mut con = server.connect();
    add_rule(&mut con, &["everything"]);
    add_rule(&mut con, &["users", "PREFIX", "user:", "EVENTS", "@string"]);
    let _: String = query(&mut con, &["SET", "user:1", "a"]);
    let _: String = query(&mut con, &["SELECT", "3"]);
    let _: String = query(&mut con, &["SET", "user:1", "b"]);
    let _: String = query(&mut con, &["SELECT", "0"]);

    let entries = outbox_entries(&mut con);
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (entry, db) in entries.iter().zip(["0", "3"]) {
        assert_eq!(entry.field("key"), "user:1");
        assert_eq!(entry.field("db"), db);
        assert_eq!(entry.db.to_string(), db);
        assert_eq!(entry.field("source"), "rule:everything,users");
    }
    assert_eq!(rule_stat(&mut con, "everything", "num_appended"), 2);
});

// The entry goes to the AOF (and replicas) with the command that raised
// the event, inside the same MULTI/EXEC.
on_each_flavor!(fn an_entry_is_written_with_its_command(flavor) {
    let server = Server::start_with(flavor, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut con = server.connect();
    add_rule(&mut con, &["orders", "PREFIX", "checkout:"]);
    let _: String = query(&mut con, &["SET", "checkout:7", "x"]);
    let aof = aof_commands(&server);
    let set = aof
        .iter()
        .position(|c| c.first().map(String::as_str) == Some("set"))
        .expect("the SET in the AOF");
    assert_eq!(aof[set - 1], ["multi"], "{aof:?}");
    assert_eq!(aof[set + 1][0], "xadd", "{aof:?}");
    assert!(aof[set + 1][1].starts_with("triggers:outbox:{"), "{aof:?}");
    assert_eq!(aof[set + 2], ["exec"], "{aof:?}");
    let rules: Vec<&Vec<String>> = aof.iter().filter(|c| c[0] == "outbox").collect();
    assert_eq!(rules.len(), 1, "{aof:?}");
});

// Rules and entries come back after a restart, from the RDB file and from
// the AOF; a replica gets both, and its copy of a rule does not append.
on_each_flavor!(fn rules_and_entries_are_durable(flavor) {
    let mut server = Server::start(flavor);
    let mut con = server.connect();
    add_rule(&mut con, &["orders", "PREFIX", "checkout:", "EVENTS", "set"]);
    let _: String = query(&mut con, &["SET", "checkout:1", "x"]);
    save(&mut con);
    server.restart();
    let mut con = server.connect();
    assert_eq!(rule_stat(&mut con, "orders", "num_appended"), 0);
    let _: String = query(&mut con, &["SET", "checkout:1", "y"]);
    assert_eq!(entries_of(&mut con, "checkout:1").len(), 2);

    let mut replica = Server::start(flavor);
    replicaof(&replica, &server);
    let _: String = query(&mut con, &["SET", "checkout:1", "z"]);
    wait_for_replicas(&mut con, 1);
    let mut replica_con = replica.connect();
    assert_eq!(rule_stat(&mut replica_con, "orders", "num_appended"), 0);
    assert_eq!(entries_of(&mut replica_con, "checkout:1").len(), 3);

    // The replica, promoted, appends.
    let _: String = query(&mut replica_con, &["REPLICAOF", "NO", "ONE"]);
    let _: String = query(&mut replica_con, &["SET", "checkout:1", "w"]);
    assert_eq!(entries_of(&mut replica_con, "checkout:1").len(), 4);
    replica.kill();

    let mut aof = Server::start_with(flavor, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut con = aof.connect();
    add_rule(&mut con, &["orders", "PREFIX", "checkout:", "EVENTS", "set"]);
    let _: String = query(&mut con, &["SET", "checkout:1", "x"]);
    aof.restart();
    let mut con = aof.connect();
    assert_eq!(entries_of(&mut con, "checkout:1").len(), 1);
    let _: String = query(&mut con, &["SET", "checkout:1", "y"]);
    assert_eq!(entries_of(&mut con, "checkout:1").len(), 2);
});

// At the cap: without a consumer group the oldest entries are trimmed;
// with one, only acknowledged entries are, and when the stream is full of
// unacknowledged ones the new entry is dropped, and counted.
on_all_servers!(fn the_cap_is_explicit_and_counted(server) {
    let mut con = server.connect();
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.outbox-max-length", "4"]);
    add_rule(&mut con, &["tagged", "PREFIX", "{a}", "EVENTS", "set"]);
    let set = |con: &mut Connection, i: usize| {
        let _: String = query(con, &["SET", &format!("{{a}}{i}"), "x"]);
    };
    for i in 0..6 {
        set(&mut con, i);
    }
    let entries = outbox_entries(&mut con);
    let keys: Vec<&str> = entries.iter().map(|e| e.field("key")).collect();
    assert_eq!(keys, ["{a}2", "{a}3", "{a}4", "{a}5"]);
    assert_eq!(info_number(&mut con, "triggers", "triggers_outbox_trimmed"), 2);

    let stream = entries[0].stream.clone();
    let _: String = query(&mut con, &["XGROUP", "CREATE", &stream, "workers", "0"]);
    // Two entries delivered and acknowledged, one delivered only.
    let read: Value = query(
        &mut con,
        &["XREADGROUP", "GROUP", "workers", "w1", "COUNT", "3", "STREAMS", &stream, ">"],
    );
    let ids: Vec<String> = match read {
        Value::Array(streams) => match &streams[0] {
            Value::Array(s) => array(&s[1]).iter().map(|e| text(&array(e)[0])).collect(),
            other => panic!("{other:?}"),
        },
        Value::Map(streams) => array(&streams[0].1).iter().map(|e| text(&array(e)[0])).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ids.len(), 3);
    let _: i64 = query(&mut con, &["XACK", &stream, "workers", &ids[0], &ids[1]]);

    set(&mut con, 6);
    let keys: Vec<String> = outbox_entries(&mut con)
        .iter()
        .map(|e| e.field("key").to_string())
        .collect();
    assert_eq!(keys, ["{a}4", "{a}5", "{a}6"]);
    set(&mut con, 7);
    set(&mut con, 8);
    let keys: Vec<String> = outbox_entries(&mut con)
        .iter()
        .map(|e| e.field("key").to_string())
        .collect();
    assert_eq!(keys, ["{a}4", "{a}5", "{a}6", "{a}7"], "the pending entry stays");
    assert_eq!(rule_stat(&mut con, "tagged", "num_dropped"), 1);
    assert_eq!(info_number(&mut con, "triggers", "triggers_outbox_dropped"), 1);
});

// A trigger's own writes go to the outbox like any change; a rule only
// sends events of keys its owner may read.
on_all_servers!(fn guest_writes_and_acl(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated");
    add_rule(&mut con, &["hashes", "EVENTS", "hset"]);
    let _: i64 = query(&mut con, &["HSET", "h:1", "f", "v"]);
    let events = entries_of(&mut con, "h:1");
    assert_eq!(events.len(), 2, "the user's HSET and the trigger's: {events:?}");

    let _: String = query(
        &mut con,
        &["ACL", "SETUSER", "orders", "on", ">pw", "~checkout:*", "+@all"],
    );
    let mut orders = server.connect_as("orders", "pw");
    add_rule(&mut orders, &["mine", "EVENTS", "set"]);
    let _: String = query(&mut con, &["SET", "checkout:1", "x"]);
    let _: String = query(&mut con, &["SET", "secret:1", "x"]);
    assert_eq!(entries_of(&mut con, "checkout:1").len(), 1);
    assert!(entries_of(&mut con, "secret:1").is_empty());
    assert_eq!(rule_stat(&mut con, "mine", "num_denied"), 1);
});

// A rule's owner is kept between events while no command that may change
// the users came: deleted in the same pipeline, it is not used again, and
// the events after its deletion are denied.
on_all_servers!(fn a_rule_owner_deleted_between_two_events_is_not_used(server) {
    let mut con = server.connect();
    let _: String = query(
        &mut con,
        &["ACL", "SETUSER", "orders", "on", ">pw", "~checkout:*", "+@all"],
    );
    let mut orders = server.connect_as("orders", "pw");
    add_rule(&mut orders, &["mine", "EVENTS", "set"]);
    let mut pipe = redis::pipe();
    for i in 0..30 {
        pipe.cmd("SET").arg(format!("checkout:a{i}")).arg("x").ignore();
    }
    pipe.cmd("ACL").arg("DELUSER").arg("orders").ignore();
    for i in 0..30 {
        pipe.cmd("SET").arg(format!("checkout:b{i}")).arg("x").ignore();
    }
    let () = pipe.query(&mut con).expect("the pipeline runs");
    let entries = outbox_entries(&mut con);
    let sent = |prefix: &str| {
        (0..30)
            .filter(|i| !outbox_events_of(&entries, &format!("checkout:{prefix}{i}")).is_empty())
            .count()
    };
    assert_eq!(sent("a"), 30, "the events before the deletion");
    assert_eq!(sent("b"), 0, "none after it");
    assert_eq!(rule_stat(&mut con, "mine", "num_denied"), 30);
});

// Bad input gets a clear error and changes nothing.
on_all_servers!(fn bad_rules_are_refused(server) {
    let mut con = server.connect();
    let error = |con: &mut Connection, args: &[&str]| -> String {
        let mut command = vec!["OUTBOX", "ADD"];
        command.extend_from_slice(args);
        redis::cmd(command[0])
            .arg(&command[1..])
            .query::<String>(con)
            .expect_err("refused")
            .to_string()
    };
    assert!(error(&mut con, &["bad name"]).contains("invalid rule name"));
    assert!(error(&mut con, &["r", "EVENTS", "@nope"]).contains("unknown event class"));
    assert!(error(&mut con, &["r", "EVENTS"]).contains("EVENTS needs"));
    assert!(error(&mut con, &["r", "OWNER", "x"]).contains("only for the primary"));
    assert!(error(&mut con, &["r", "FROB"]).contains("unknown option"));
    add_rule(&mut con, &["r"]);
    assert!(error(&mut con, &["r"]).contains("already exists"));
    let rules: Vec<Value> = query(&mut con, &["OUTBOX", "LIST"]);
    assert_eq!(rules.len(), 1);
    let _: String = query(&mut con, &["OUTBOX", "DELETE", "r"]);
    let rules: Vec<Value> = query(&mut con, &["OUTBOX", "LIST"]);
    assert!(rules.is_empty());
});

// `OUTBOX CHANGED` names the streams appended to since a consumer last
// asked; another epoch (a restart) means: list them all again.
on_all_servers!(fn changed_names_the_streams_appended_to(server) {
    let mut con = server.connect();
    add_rule(&mut con, &["all", "EVENTS", "set"]);
    let changed = |con: &mut Connection, epoch: &str, last: &str| {
        let reply: Value = query(con, &["OUTBOX", "CHANGED", epoch, last]);
        let reply = as_map(&reply);
        let streams = match &reply["streams"] {
            Value::Nil => None,
            streams => Some(array(streams).iter().map(|s| text(&as_map(s)["stream"])).collect::<Vec<_>>()),
        };
        (text(&reply["epoch"]), text(&reply["last"]), streams)
    };
    let (epoch, last, streams) = changed(&mut con, "0", "0");
    assert_eq!(streams, None, "another epoch");
    let _: String = query(&mut con, &["SET", "{a}1", "x"]);
    let _: String = query(&mut con, &["SET", "{a}2", "x"]);
    let _: String = query(&mut con, &["SET", "{b}1", "x"]);
    let (_, after, streams) = changed(&mut con, &epoch, &last);
    let entries = outbox_entries(&mut con);
    let mut expected: Vec<String> = entries.iter().map(|e| e.stream.clone()).collect();
    expected.dedup();
    let mut streams = streams.expect("the same epoch");
    streams.sort();
    expected.sort();
    assert_eq!(streams, expected);
    assert_eq!(after.parse::<u64>().unwrap() - last.parse::<u64>().unwrap(), 3);
    let (_, _, streams) = changed(&mut con, &epoch, &after);
    assert_eq!(streams, Some(Vec::new()));
});
