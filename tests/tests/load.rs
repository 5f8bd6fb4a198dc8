//! `TRIGGER LOAD`, `REPLACE`, `DELETE` and `LIST`: every load error leaves
//! the loaded libraries as they were.

use wasm_triggers_tests::*;

/// `TRIGGER LIST` as raw bytes, to compare before and after a failed load.
fn list_snapshot(con: &mut Connection) -> Value {
    query(con, &["TRIGGER", "LIST", "WITHCODE"])
}

on_all_servers!(fn every_load_error_changes_nothing(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated");
    let before = list_snapshot(&mut con);

    let core_module: &[u8] = b"\0asm\x01\0\0\0";
    let empty_component: &[u8] = b"\0asm\x0d\0\x01\0";
    let mut truncated = wasm("recorder");
    truncated.truncate(truncated.len() / 2);
    let bad_name = wasm("bad_name");
    let duplicate = wasm("duplicate");
    let misspelled = wasm("misspelled_event");
    let no_run = wasm("no_run");
    let describe_loops = wasm("describe_loops");
    let wrong_world = wasm("wrong_world");
    let future = wasm("future_contract");
    let existing = wasm("last_updated");

    let cases: Vec<(&str, Vec<&[u8]>, &str)> = vec![
        ("empty input", vec![b""], "empty library"),
        ("not Wasm", vec![b"#!js name=lib\nredis.registerFunction()"], "not a WebAssembly binary"),
        ("core module", vec![core_module], "core Wasm module without the component-type section"),
        ("truncated component", vec![&truncated], "invalid Wasm component"),
        ("component without exports", vec![empty_component], "does not export the redis:triggers/trigger-library world"),
        ("component of another world", vec![&wrong_world], "redis:triggers/trigger-library"),
        (
            "a version of the contract this module does not know",
            vec![&future],
            "the library was built for version 0.3.0 of the redis:triggers contract \
             (redis:triggers/library@0.3.0); this module runs 0.1.0 and 0.2.0: rebuild the library",
        ),
        ("describe traps", vec![&no_run], "describe panicked"),
        (
            "describe never returns",
            vec![&describe_loops],
            "describe exceeded the execution time limit of 500 ms",
        ),
        ("bad trigger name", vec![&bad_name], "invalid trigger name \"bad-name!\""),
        ("duplicate trigger names", vec![&duplicate], "duplicate trigger name 'same'"),
        (
            "misspelled event",
            vec![&misspelled],
            "trigger 'orders' of library 'misspelled_event': unknown event 'exipred' (did you mean 'expired'?)",
        ),
        ("existing library", vec![&existing], "already exists: use TRIGGER LOAD REPLACE"),
        ("unknown option", vec![b"FORCE", &existing], "unknown option 'FORCE'"),
    ];
    for (what, args, expected) in cases {
        let error = load_error(&mut con, &args);
        assert!(error.contains(expected), "{what}: {error:?} should say {expected:?}");
        assert_eq!(list_snapshot(&mut con), before, "{what} changed TRIGGER LIST");
    }
    // The panic message of `describe` reaches the reply.
    let error = load_error(&mut con, &[&no_run]);
    assert!(error.contains("trigger 'forgotten' has no run function"), "{error}");
    // The SDK's source, outside the library's workspace, is named from its
    // crate's directory on, not from the root of the machine that built it.
    assert!(error.contains("at sdk/src/exports.rs:"), "{error}");
    let root = repo_root().display().to_string();
    assert!(!error.contains(&root), "{error}");

    // The old library still works.
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let stamped: Option<String> = query(&mut con, &["HGET", "h", "__last_updated__"]);
    assert!(stamped.is_some());
});

on_all_servers!(fn replace_swaps_the_library(server) {
    let mut con = server.connect();
    assert_eq!(load(&mut con, "upgradable_v1"), "upgradable");
    let _: String = query(&mut con, &["SET", "a:1", "x"]);
    let _: String = query(&mut con, &["SET", "b:1", "x"]);
    assert_eq!(list(&mut con, "log:upgrade"), ["v1 a:1"]);

    assert_eq!(load_replace(&mut con, &wasm("upgradable_v2")), "upgradable");

    // v2 moved `stamp` to b:* and added `del`; `dropped` is gone, `added` is new.
    let _: String = query(&mut con, &["SET", "a:2", "x"]);
    let _: String = query(&mut con, &["SET", "b:2", "x"]);
    let _: i64 = query(&mut con, &["DEL", "b:2"]);
    let _: String = query(&mut con, &["SET", "c:1", "x"]);
    assert_eq!(list(&mut con, "log:upgrade"), ["v1 a:1", "v2 b:2", "v2 b:2", "v2 c:1"]);

    let library = &libraries(&mut con)[0];
    let triggers: Vec<String> = array(&library["triggers"])
        .iter()
        .map(|t| text(&as_map(t)["name"]))
        .collect();
    assert_eq!(triggers, ["stamp", "added"]);
    let stamp = trigger_stats(&mut con, "upgradable", "stamp");
    assert_eq!(text(&stamp["prefix"]), "b:");
    let events: Vec<String> = array(&stamp["events"]).iter().map(text).collect();
    assert_eq!(events, ["set", "del"]);
    // A trigger that survives the upgrade keeps its statistics.
    assert_eq!(int(&stamp["num_triggered"]), 3);
});

on_all_servers!(fn failed_replace_keeps_the_old_library(server) {
    let mut con = server.connect();
    load(&mut con, "upgradable_v1");
    let before = list_snapshot(&mut con);
    // Not Wasm at all, then a component whose triggers are invalid (its
    // library is also named `upgradable`).
    for (blob, expected) in [
        (b"garbage".to_vec(), "not a WebAssembly binary"),
        (wasm("duplicate"), "duplicate trigger name"),
    ] {
        let error = load_error(&mut con, &[b"REPLACE", &blob]);
        assert!(error.contains(expected), "{error}");
        assert_eq!(list_snapshot(&mut con), before);
    }
    let _: String = query(&mut con, &["SET", "a:1", "x"]);
    assert_eq!(list(&mut con, "log:upgrade"), ["v1 a:1"]);
});

on_all_servers!(fn delete_stops_firing(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated");
    load(&mut con, "name_counter");
    assert_eq!(library_names(&mut con), ["last_updated", "name_counter"]);
    let _: String = query(&mut con, &["TRIGGER", "DELETE", "last_updated"]);
    assert_eq!(library_names(&mut con), ["name_counter"]);
    let _: i64 = query(&mut con, &["HSET", "h", "name", "tom"]);
    let fields: Vec<String> = query(&mut con, &["HKEYS", "h"]);
    assert_eq!(fields, ["name"], "a deleted library must not fire");
    let tom: i64 = query(&mut con, &["GET", "name_tom"]);
    assert_eq!(tom, 1, "the other library still fires");

    let error = redis::cmd("TRIGGER")
        .arg("DELETE")
        .arg("last_updated")
        .query::<Value>(&mut con)
        .expect_err("deleting an unknown library fails");
    assert!(error.to_string().contains("no library named 'last_updated'"), "{error}");

    // Deleted, it can be loaded again without REPLACE.
    load(&mut con, "last_updated");
});

// An error reply carries the user's text byte for byte, whatever its
// characters: `Ā` (U+0100) once crashed the server, and `Ċ` (U+010A) came
// back as a line break.
on_all_servers!(fn error_replies_carry_any_text_whole(server) {
    let mut con = server.connect();
    for name in ["Ā", "Ċ", "ܸ", "名前", "a\r\nb"] {
        let error = redis::cmd("TRIGGER")
            .arg("DELETE")
            .arg(name)
            .query::<Value>(&mut con)
            .expect_err("deleting an unknown library fails");
        // Line breaks are spaces, as in every error reply.
        let expected = format!("no library named '{}'", name.replace(['\r', '\n'], " "));
        assert!(error.to_string().contains(&expected), "{error:?} should say {expected:?}");
        let pong: String = query(&mut con, &["PING"]);
        assert_eq!(pong, "PONG");
    }
    assert!(server.is_alive(), "{}", server.log());
});

on_all_servers!(fn list_in_resp2_and_resp3(server) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    load(&mut con, "last_updated");
    let code = wasm("name_counter");

    // RESP2: flat key/value arrays.
    let reply: Value = query(&mut con, &["TRIGGER", "LIST", "LIBRARY", "name_counter", "WITHCODE"]);
    let libraries = array(&reply);
    assert_eq!(libraries.len(), 1);
    assert!(matches!(libraries[0], Value::Array(_)));
    let library = as_map(&libraries[0]);
    assert_eq!(text(&library["name"]), "name_counter");
    assert_eq!(int(&library["code_size"]), code.len() as i64);
    assert_eq!(text(&library["digest"]).len(), 64);
    assert_eq!(library["code"], Value::BulkString(code.clone()));
    let trigger = as_map(&array(&library["triggers"])[0]);
    for field in [
        "name", "description", "prefix", "events", "num_triggered", "num_finished", "num_success",
        "num_failed", "last_error", "last_execution_time_us", "total_execution_time_us",
        "avg_execution_time_us",
    ] {
        assert!(trigger.contains_key(field), "{field} missing from {trigger:?}");
    }
    assert_eq!(text(&trigger["name"]), "consumer");
    assert_eq!(
        text(&trigger["description"]),
        "Counts each name a hash's `name` field is set to, in name_<name>"
    );
    assert_eq!(trigger["last_error"], Value::Nil);

    // RESP3: maps.
    let mut con3 = server.connect_resp3();
    let reply: Value = query(&mut con3, &["TRIGGER", "LIST", "VERBOSE"]);
    let libraries = array(&reply);
    assert_eq!(libraries.len(), 2);
    assert!(matches!(libraries[0], Value::Map(_)));
    let names: Vec<String> = libraries.iter().map(|l| text(&as_map(l)["name"])).collect();
    assert_eq!(names, ["last_updated", "name_counter"]);
    let library = as_map(&libraries[1]);
    assert!(int(&library["memory_bytes"]) > 0);
    let trigger = as_map(&array(&library["triggers"])[0]);
    assert!(matches!(trigger, ref t if matches!(t["avg_execution_time_us"], Value::Double(_))));
    assert_eq!(int(&trigger["on_fired"]), 1);

    // An unknown library lists nothing.
    let reply: Value = query(&mut con, &["TRIGGER", "LIST", "LIBRARY", "nope"]);
    assert_eq!(array(&reply).len(), 0);
    // Bad options are errors.
    assert!(redis::cmd("TRIGGER").arg("LIST").arg("LOUD").query::<Value>(&mut con).is_err());
    assert!(redis::cmd("TRIGGER").arg("NOPE").query::<Value>(&mut con).is_err());
    let help: Vec<String> = query(&mut con, &["TRIGGER", "HELP"]);
    assert!(help.iter().any(|l| l.starts_with("LOAD [REPLACE]")));
});

on_all_servers!(fn info_section_totals(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated");
    load(&mut con, "failing");
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let _: String = query(&mut con, &["SET", "f:ok", "1"]);
    let _: String = query(&mut con, &["SET", "f:err", "1"]);
    let info: String = query(&mut con, &["INFO", "triggers"]);
    let field = |name: &str| -> i64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("triggers_{name}:")))
            .unwrap_or_else(|| panic!("{name} in {info}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(field("libraries"), 2);
    assert_eq!(field("triggers"), 2);
    assert_eq!(field("num_triggered"), 3);
    assert_eq!(field("num_success"), 2);
    assert_eq!(field("num_failed"), 1);
});

on_all_servers!(fn trigger_cannot_be_called_from_scripts(server) {
    let mut con = server.connect();
    let error = redis::cmd("EVAL")
        .arg("return redis.call('TRIGGER', 'LIST')")
        .arg(0)
        .query::<Value>(&mut con)
        .expect_err("TRIGGER is not allowed in scripts");
    assert!(error.to_string().to_lowercase().contains("script"), "{error}");
});

/// The library's `code_tier`, from `TRIGGER LIST VERBOSE`.
fn code_tier(con: &mut Connection, library: &str) -> String {
    let reply: Value = query(con, &["TRIGGER", "LIST", "LIBRARY", library, "VERBOSE"]);
    text(&as_map(&array(&reply)[0])["code_tier"])
}

on_all_servers!(fn libraries_switch_to_optimized_code(server) {
    let mut con = server.connect();
    // x86-64 and aarch64 have the fast baseline compiler: the load uses it.
    // Listed in the same transaction as the load: the switch to Cranelift's
    // code is made from Redis' event loop or before a guest call, never
    // between two commands of one EXEC, so however soon the background
    // compile ends, the tier listed is the one the load compiled.
    let (name, listed): (String, Value) = redis::pipe()
        .atomic()
        .cmd("TRIGGER").arg("LOAD").arg(wasm("last_updated"))
        .cmd("TRIGGER").arg("LIST").arg("LIBRARY").arg("last_updated").arg("VERBOSE")
        .query(&mut con)
        .expect("MULTI/EXEC");
    assert_eq!(name, "last_updated");
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert_eq!(text(&as_map(&array(&listed)[0])["code_tier"]), "baseline");
    }
    // Cranelift's code replaces it before a later event, once compiled in
    // the background. Every event is handled, before and after the switch.
    let mut n = 0;
    eventually("the switch to optimized code", || {
        n += 1;
        let key = format!("h{n}");
        let _: i64 = query(&mut con, &["HSET", &key, "f", "v"]);
        let stamp: Option<String> = query(&mut con, &["HGET", &key, "__last_updated__"]);
        assert!(stamp.is_some(), "event {n} was not handled");
        code_tier(&mut con, "last_updated") == "optimized"
    });
    let _: i64 = query(&mut con, &["HSET", "after", "f", "v"]);
    let stamp: Option<String> = query(&mut con, &["HGET", "after", "__last_updated__"]);
    assert!(stamp.is_some());
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_failed"), 0);
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_success"), n + 1);

    // A library that never fires switches too, between commands.
    load(&mut con, "expired_orders");
    eventually("an idle library's switch to optimized code", || {
        code_tier(&mut con, "expired_orders") == "optimized"
    });
});

// A library built before the SDK described its triggers (it lacks the
// optional `describe-triggers` export) still loads and fires, with empty
// descriptions.
on_all_servers!(fn libraries_without_descriptions_still_load(server) {
    let mut con = server.connect();
    let old = std::fs::read(repo_root().join("tests/fixtures/expired_orders_without_descriptions.wasm"))
        .expect("the fixture");
    let name: String = redis::cmd("TRIGGER").arg("LOAD").arg(old).query(&mut con).expect("TRIGGER LOAD");
    assert_eq!(name, "expired_orders");
    let stats = trigger_stats(&mut con, "expired_orders", "order_expired");
    assert_eq!(text(&stats["description"]), "");
    let _: String = query(&mut con, &["SET", "checkout:1", "cart", "PX", "10"]);
    eventually("the expiry recorded", || {
        int(&trigger_stats(&mut server.connect(), "expired_orders", "order_expired")["num_success"]) == 1
    });
});
