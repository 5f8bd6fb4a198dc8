//! The triggers of one command share one time budget, `max-execution-time`:
//! however many events a command, a transaction, a script or a function
//! raises, its triggers together hold the server for at most that, and a
//! second client's PING is answered meanwhile within the limit and a margin.
//! Payloads waiting for `run` are capped per command too.
//!
//! The `slow` library's `run` computes for as many milliseconds as its key
//! says (`slow:<name>:<ms>`) and records the key in `slow:done`.

use std::time::Duration;

use wasm_triggers_tests::*;

/// The limit, and the longest a PING may wait: the limit and one second.
const LIMIT_MS: u64 = 500;
const PING_BOUND: Duration = Duration::from_millis(LIMIT_MS + 1000);

fn slow_server(server: &Server) -> Connection {
    let mut con = server.connect();
    let _: String = query(
        &mut con,
        &[
            "CONFIG",
            "SET",
            "triggers.max-execution-time",
            &LIMIT_MS.to_string(),
        ],
    );
    load(&mut con, "slow");
    con
}

/// 20 triggers of 300 ms each: one runs whole, the second is stopped when
/// the budget runs out, the other 18 do not run. Without the budget the
/// command would hold the server for 6 s.
fn assert_one_budget(con: &mut Connection, pings: &Pings, what: &str) {
    eprintln!("{what}: {pings:?}");
    assert!(pings.during > 0, "{what}: no PING overlapped the command");
    assert!(
        pings.worst < PING_BOUND,
        "{what}: a PING waited {:?}",
        pings.worst
    );
    assert_eq!(list(con, "slow:done").len(), 1, "{what}: one run completed");
    assert_eq!(stat(con, "slow", "slow", "num_success"), 1, "{what}");
    assert_eq!(stat(con, "slow", "slow", "num_failed"), 19, "{what}");
    let error = text(&trigger_stats(con, "slow", "slow")["last_error"]);
    assert!(error.contains("time budget of 500 ms"), "{what}: {error}");
    assert_eq!(
        info_number(con, "triggers", "triggers_num_over_budget"),
        18,
        "{what}"
    );
}

on_all_servers!(fn a_transaction_shares_one_budget(server) {
    let mut con = slow_server(server);
    let mut other = server.connect();
    let (_, pings) = with_pings(server, || {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for i in 0..20 {
            pipe.cmd("SET").arg(format!("slow:{i}:300")).arg("v").ignore();
        }
        let () = pipe.query(&mut other).expect("EXEC");
    });
    assert_one_budget(&mut con, &pings, "MULTI/EXEC");
    // The next command has a budget of its own.
    let _: String = query(&mut con, &["SET", "slow:next:10", "v"]);
    assert_eq!(list(&mut con, "slow:done").len(), 2);
});

on_all_servers!(fn a_del_of_many_keys_shares_one_budget(server) {
    let mut con = server.connect();
    let keys: Vec<String> = (0..20).map(|i| format!("slow:{i}:300")).collect();
    for key in &keys {
        let _: String = query(&mut con, &["SET", key, "v"]);
    }
    let mut con = slow_server(server);
    let mut other = server.connect();
    let (_, pings) = with_pings(server, || {
        let deleted: i64 = redis::cmd("DEL").arg(&keys).query(&mut other).expect("DEL");
        assert_eq!(deleted, 20);
    });
    assert_one_budget(&mut con, &pings, "DEL");
});

on_all_servers!(fn a_script_shares_one_budget(server) {
    let mut con = slow_server(server);
    let mut other = server.connect();
    let script = "for i = 1, 20 do redis.call('SET', 'slow:' .. i .. ':300', 'v') end";
    let (_, pings) = with_pings(server, || {
        let _: Value = query(&mut other, &["EVAL", script, "0"]);
    });
    assert_one_budget(&mut con, &pings, "EVAL");
});

on_all_servers!(fn a_function_shares_one_budget(server) {
    let mut con = slow_server(server);
    let library = "#!lua name=many\n\
        redis.register_function('many', function() \
        for i = 1, 20 do redis.call('SET', 'slow:' .. i .. ':300', 'v') end end)";
    let _: String = query(&mut con, &["FUNCTION", "LOAD", library]);
    let mut other = server.connect();
    let (_, pings) = with_pings(server, || {
        let _: Value = query(&mut other, &["FCALL", "many", "0"]);
    });
    assert_one_budget(&mut con, &pings, "FCALL");
});

// Payloads waiting for `run` in one command are capped by
// `max-payload-size` in total, not only one by one.
on_all_servers!(fn payloads_waiting_in_one_command_are_capped(server) {
    let mut con = slow_server(server);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-payload-size", "1mb"]);
    let mut pipe = redis::pipe();
    pipe.atomic();
    for name in ["a", "b"] {
        pipe.cmd("SET").arg(format!("pay:{name}:600")).arg("v").ignore();
    }
    let () = pipe.query(&mut con).expect("EXEC");
    assert_eq!(list(&mut con, "pay:done"), ["pay:a:600 614400"]);
    assert_eq!(stat(&mut con, "slow", "payload", "num_failed"), 1);
    let error = text(&trigger_stats(&mut con, "slow", "payload")["last_error"]);
    assert!(error.contains("bytes of payloads already wait for run in this command"), "{error}");
    // In separate commands, both fit.
    let _: String = query(&mut con, &["SET", "pay:c:600", "v"]);
    let _: String = query(&mut con, &["SET", "pay:d:600", "v"]);
    assert_eq!(list(&mut con, "pay:done").len(), 3);
});
