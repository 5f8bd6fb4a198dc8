//! Guests that misbehave: each ends in a clear `last_error`, the user's
//! command succeeds, and the server keeps answering.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wasm_triggers_tests::*;

/// Every key with its `DUMP`: the whole data, to compare.
fn keyspace(con: &mut Connection) -> BTreeMap<String, Vec<u8>> {
    let keys: Vec<String> = query(con, &["KEYS", "*"]);
    keys.into_iter()
        .map(|key| {
            let dump: Vec<u8> = query(con, &["DUMP", &key]);
            (key, dump)
        })
        .collect()
}

/// The data is what it was in `before`, but for `key`, which the user's
/// `SET key v` wrote: the failing trigger changed nothing.
fn assert_only_the_command_wrote(
    con: &mut Connection,
    mut before: BTreeMap<String, Vec<u8>>,
    key: &str,
) {
    let value: String = query(con, &["GET", key]);
    assert_eq!(value, "v", "{key}: the user's write stands");
    let mut after = keyspace(con);
    after.remove(key);
    before.remove(key);
    assert_eq!(after, before, "{key}: nothing else changed");
}

fn last_error(con: &mut Connection) -> String {
    text(&trigger_stats(con, "hostile", "hostile")["last_error"])
}

/// Runs `SET key v` while a second client sends `GET key` and `PING`, and
/// returns how long that client waited for its replies. The bound checked
/// by callers is generous: this is not a timing test. Asserts that the two
/// overlapped the trigger's run: they were sent before it could have ended
/// (it starts after the SET is sent, and lasts `last_execution_time_us`)
/// and served after it (GET sees the SET's value).
fn set_while_pinging(server: &Server, key: &str) -> Duration {
    let mut con = server.connect();
    let mut other = server.connect();
    let exists: i64 = query(&mut con, &["EXISTS", key]);
    assert_eq!(exists, 0, "{key} is new");
    let set = redis::cmd("SET").arg(key).arg("v").get_packed_command();
    let mut get_and_ping = redis::cmd("GET").arg(key).get_packed_command();
    get_and_ping.extend(redis::cmd("PING").get_packed_command());
    let set_sent = Instant::now();
    con.send_packed_command(&set).expect("SET sent");
    let sent = Instant::now();
    other
        .send_packed_command(&get_and_ping)
        .expect("GET and PING sent");
    let got = other.recv_response().expect("the GET reply");
    let pong = other.recv_response().expect("the PING reply");
    let waited = sent.elapsed();
    let ok = con.recv_response().expect("the SET reply");
    assert_eq!(ok, Value::Okay, "{key}");
    assert_eq!(pong, Value::SimpleString("PONG".into()), "{key}");
    assert_eq!(
        got,
        Value::BulkString(b"v".to_vec()),
        "{key}: GET was served after the SET"
    );
    let ran = Duration::from_micros(
        stat(&mut con, "hostile", "hostile", "last_execution_time_us") as u64,
    );
    let lead = sent - set_sent;
    assert!(
        lead < ran,
        "{key}: GET sent {lead:?} after the SET, the trigger ran {ran:?}"
    );
    waited
}

on_all_servers!(fn hostile_guests_end_in_clear_errors(server) {
    let mut con = server.connect();
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "200"]);
    load(&mut con, "hostile");

    // Endless on_fired and run, endless allocation: a second client's PING
    // waits for the time limit at most, and the user's write stands.
    for (key, error) in [
        ("x:on_fired_loop", "on_fired exceeded the execution time limit of 200 ms"),
        ("x:run_loop", "run exceeded the execution time limit of 200 ms"),
        ("x:hoard", "run exceeded the memory limit of 64 MB"),
    ] {
        if key == "x:hoard" {
            // From here on, the time limit must not be what stops a guest
            // on a busy machine: only the memory limit.
            let _: String =
                query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "30000"]);
        }
        let before = keyspace(&mut con);
        let waited = set_while_pinging(server, key);
        eprintln!("{:?}: {key}: PING waited {waited:?}", server.flavor);
        assert!(waited < Duration::from_secs(5), "{key}: PING waited {waited:?}");
        assert!(last_error(&mut con).contains(error), "{key}: {}", last_error(&mut con));
        assert_only_the_command_wrote(&mut con, before, key);
    }

    // Endless recursion traps: Rust's stack lives in linear memory and
    // runs out of it ("out of bounds memory access"), or wasmtime's stack
    // limit stops it ("call stack exhausted"), whichever comes first.
    let before = keyspace(&mut con);
    let _: String = query(&mut con, &["SET", "x:recurse", "v"]);
    assert_only_the_command_wrote(&mut con, before, "x:recurse");
    let error = last_error(&mut con);
    assert!(
        error == "run trapped: wasm trap: out of bounds memory access"
            || error.contains("call stack exhausted"),
        "{error}"
    );

    // A payload over the limit.
    let before = keyspace(&mut con);
    let _: String = query(&mut con, &["SET", "x:huge_payload", "v"]);
    assert_only_the_command_wrote(&mut con, before, "x:huge_payload");
    let error = last_error(&mut con);
    assert!(error.contains("over the limit of 16777216 bytes"), "{error}");

    // Commands a trigger may not run are refused, one by one; SHUTDOWN
    // among them did not stop the server.
    let _: String = query(&mut con, &["SET", "x:refused", "v"]);
    let replies = list(&mut con, "x:replies");
    assert_eq!(replies.len(), 6, "{replies:?}");
    for (reply, command) in replies.iter().zip(["BLPOP", "MULTI", "SHUTDOWN", "TRIGGER", "WATCH", "SUBSCRIBE"]) {
        // BLPOP does not block in a trigger: it answers at once, with nil.
        let expected = if command == "BLPOP" { "BLPOP: ok Nil" } else { "" };
        if expected.is_empty() {
            assert!(reply.starts_with(&format!("{command}: error")), "{reply}");
        } else {
            assert_eq!(reply, expected);
        }
    }

    // A command name that is not UTF-8 is refused, not a trap; so are
    // lengths that do not split the strings into commands.
    let _: String = query(&mut con, &["SET", "x:bad_name", "v"]);
    let reply: String = query(&mut con, &["GET", "x:bad_name_reply"]);
    assert_eq!(reply, "refused: call: command 1 of the request: the command name is not valid UTF-8");
    let reply: String = query(&mut con, &["GET", "x:bad_lengths_reply"]);
    assert_eq!(reply, "refused: call: command 1 of the request: lengths ends before the command does");

    // Up to eight arguments go to Redis as buffers, more as Redis strings:
    // the same lists either way, the empty argument kept.
    let _: String = query(&mut con, &["SET", "x:arities", "v"]);
    for count in 7..=10 {
        let list: Vec<String> = query(&mut con, &["LRANGE", &format!("x:arity:{count}"), "0", "-1"]);
        let expected: Vec<String> = (1..count)
            .map(|i| match i {
                1 => String::new(),
                i => i.to_string(),
            })
            .collect();
        assert_eq!(list, expected, "{count} arguments");
    }

    // Ten thousand arguments are fine.
    let _: String = query(&mut con, &["SET", "x:many_args", "v"]);
    let len: i64 = query(&mut con, &["LLEN", "x:many"]);
    assert_eq!(len, 10_000);

    // And the library still works, with stats that add up.
    let _: String = query(&mut con, &["SET", "x:fine", "v"]);
    let ok: i64 = query(&mut con, &["GET", "x:ok"]);
    assert_eq!(ok, 1);
    let stats = trigger_stats(&mut con, "hostile", "hostile");
    assert_eq!(int(&stats["num_triggered"]), 10);
    assert_eq!(int(&stats["num_failed"]), 5);
    assert_eq!(int(&stats["num_success"]), 5);
    let pong: String = query(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
});

// wasmtime turns a guest's out-of-bounds access into a trap; Redis' own
// crash handler, which `CONFIG SET crash-log-enabled` installs again, must
// not turn it into a crash.
on_all_servers!(fn out_of_bounds_access_is_a_trap_whatever_the_crash_log_setting(server) {
    let mut con = server.connect();
    load(&mut con, "hostile");
    for setting in ["yes", "no", "yes"] {
        let _: String = query(&mut con, &["CONFIG", "SET", "crash-log-enabled", setting]);
        let before = keyspace(&mut con);
        let _: String = query(&mut con, &["SET", "x:oob", "v"]);
        assert_only_the_command_wrote(&mut con, before, "x:oob");
        let error = last_error(&mut con);
        assert_eq!(error, "run trapped: wasm trap: out of bounds memory access", "{setting}");
        let pong: String = query(&mut con, &["PING"]);
        assert_eq!(pong, "PONG");
    }
    let exists: i64 = query(&mut con, &["EXISTS", "x:oob_read"]);
    assert_eq!(exists, 0);
});
