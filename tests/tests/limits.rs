//! The limits on guests: `MODULE LOAD` arguments and `CONFIG SET
//! triggers.<name>`, applied at the next guest call.

use wasm_triggers_tests::*;

fn config_get(con: &mut Connection, name: &str) -> String {
    let reply: Vec<String> = query(con, &["CONFIG", "GET", name]);
    reply.get(1).cloned().unwrap_or_default()
}

fn last_error(con: &mut Connection) -> String {
    text(&trigger_stats(con, "failing", "flaky")["last_error"])
}

#[test]
fn module_arguments_set_the_limits() {
    for flavor in Flavor::ALL {
        let mut server = Server::start_with(
            flavor,
            &[
                "max-execution-time",
                "100",
                "max-memory",
                "16",
                "max-payload-size",
                "1mb",
            ],
        );
        let mut con = server.connect();
        assert_eq!(config_get(&mut con, "triggers.max-execution-time"), "100");
        assert_eq!(config_get(&mut con, "triggers.max-memory"), "16");
        assert_eq!(config_get(&mut con, "triggers.max-payload-size"), "1048576");
        assert_eq!(
            config_get(&mut con, "triggers.max-library-size"),
            "33554432"
        );

        load(&mut con, "failing");
        let _: String = query(&mut con, &["SET", "f:loop", "v"]);
        assert!(
            last_error(&mut con)
                .contains("execution time limit of 100 ms (triggers.max-execution-time)"),
            "{flavor:?}: {}",
            last_error(&mut con)
        );
        let _: String = query(&mut con, &["SET", "f:alloc", "v"]);
        assert!(
            last_error(&mut con).contains("memory limit of 16 MB (triggers.max-memory)"),
            "{flavor:?}: {}",
            last_error(&mut con)
        );
        // The user's writes happened; the trigger still works.
        let _: String = query(&mut con, &["SET", "f:fine", "v"]);
        let ok: i64 = query(&mut con, &["GET", "f:ok"]);
        assert_eq!(ok, 1);
        let value: String = query(&mut con, &["GET", "f:loop"]);
        assert_eq!(value, "v");
        assert!(server.is_alive(), "{}", server.log());
    }
}

on_all_servers!(fn config_set_changes_the_limits_of_running_libraries(server) {
    let mut con = server.connect();
    load(&mut con, "failing");

    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "50"]);
    let _: String = query(&mut con, &["SET", "f:loop", "v"]);
    assert!(last_error(&mut con).contains("limit of 50 ms"), "{}", last_error(&mut con));

    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-memory", "8"]);
    let _: String = query(&mut con, &["SET", "f:alloc", "v"]);
    assert!(last_error(&mut con).contains("limit of 8 MB"), "{}", last_error(&mut con));

    // Sizes take units; values out of bounds are refused and change nothing.
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-payload-size", "2mb"]);
    assert_eq!(config_get(&mut con, "triggers.max-payload-size"), "2097152");
    for (name, bad) in [
        ("triggers.max-execution-time", "0"),
        ("triggers.max-memory", "-1"),
        ("triggers.max-library-size", "lots"),
    ] {
        let result = redis::cmd("CONFIG").arg("SET").arg(name).arg(bad).query::<String>(&mut con);
        assert!(result.is_err(), "{name} {bad}");
    }
    assert_eq!(config_get(&mut con, "triggers.max-execution-time"), "50");
});

on_all_servers!(fn libraries_over_the_size_limit_are_refused(server) {
    let mut con = server.connect();
    load(&mut con, "last_updated");
    let before: Value = query(&mut con, &["TRIGGER", "LIST", "WITHCODE"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-library-size", "10kb"]);
    let error = load_error(&mut con, &[b"REPLACE", &wasm("last_updated")]);
    assert!(
        error.contains("over the limit of 10240 bytes (triggers.max-library-size)"),
        "{error}"
    );
    let after: Value = query(&mut con, &["TRIGGER", "LIST", "WITHCODE"]);
    assert_eq!(before, after);
    // A library already loaded still comes back from the RDB file.
    let _: String = query(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(library_names(&mut con), ["last_updated"]);
});

// In a cluster, a time limit of half the node timeout or more is logged as
// a warning, at load and at CONFIG SET: the cluster could fail the node over.
on_each_flavor!(fn a_limit_near_the_cluster_node_timeout_is_warned_about(flavor) {
    const WARNING: &str = "is half of cluster-node-timeout (1000 ms) or more";
    let server = Server::start_with(
        flavor,
        &[
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "1000",
            "--triggers.max-execution-time", "600",
        ],
    );
    eventually("the warning at load", || server.log().contains(WARNING));
    let mut con = server.connect();
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "100"]);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "500"]);
    eventually("the warning at CONFIG SET", || server.log().matches(WARNING).count() == 2);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.max-execution-time", "499"]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(server.log().matches(WARNING).count(), 2, "499 ms is below half");
});
