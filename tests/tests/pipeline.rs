//! Contract 0.2's `call` with several commands in one crossing (the SDK's
//! `Pipeline`, `tests/guests/pipeline`): every command runs, in order, each
//! reply comes back in its place, an error reply among them included; a
//! pipeline that runs past the time limit is stopped between two commands.

use wasm_triggers_tests::*;

on_all_servers!(fn a_pipeline_runs_every_command_and_hands_back_each_reply(server) {
    let mut con = server.connect();
    assert_eq!(load(&mut con, "pipeline"), "pipeline");
    // A key short enough to travel in place, and one that is not.
    let long_key = format!("batch:{}", "k".repeat(60));
    for key in ["batch:a", long_key.as_str()] {
        let _: String = query(&mut con, &["SET", key, "not a number"]);
    }
    let out: Vec<String> = query(&mut con, &["LRANGE", "batch:out", "0", "-1"]);
    let each = [
        "string",
        "ERR value is not an integer or out of range",
        "1",
        "time",
        "no more",
    ];
    assert_eq!(out, [each, each].concat());
    // The write in the middle of the pipeline ran, after the error.
    let mut seen: Vec<String> = query(&mut con, &["HKEYS", "batch:seen"]);
    seen.sort();
    assert_eq!(seen, ["batch:a", long_key.as_str()]);
    let stats = trigger_stats(&mut con, "pipeline", "batch");
    assert_eq!((int(&stats["num_success"]), int(&stats["num_failed"])), (2, 0));
});

on_all_servers!(fn a_pipeline_past_the_time_limit_is_stopped_between_commands(server) {
    let mut con = server.connect();
    load(&mut con, "pipeline");
    // Each `KEYS nomatch:*` scans 200,000 keys: several milliseconds.
    let _: String = query(&mut con, &["DEBUG", "POPULATE", "200000"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "100"]);
    let _: String = query(&mut con, &["SET", "long:50", "v"]);
    let stats = trigger_stats(&mut con, "pipeline", "long");
    let error = text(&stats["last_error"]);
    assert!(
        error.contains("exceeded the execution time limit of 100 ms (triggers.max-execution-time)"),
        "{error}"
    );
    // Stopped between two commands: some ran, not all 50.
    let count: i64 = query(&mut con, &["GET", "long:count"]);
    assert!((1..50).contains(&count), "{count}");
    // The server goes on; a short pipeline still runs whole.
    let _: String = query(&mut con, &["FLUSHALL"]);
    let _: String = query(&mut con, &["SET", "long:3", "v"]);
    let count: i64 = query(&mut con, &["GET", "long:count"]);
    assert_eq!(count, 3);
});
