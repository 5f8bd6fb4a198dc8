//! What a guest can reach, tried by the `sandbox` library: no sleep or
//! blocking wait (refused at once, however long it asked for), stdout and
//! stderr to the Redis log at debug level (rate-limited), no files, an empty
//! environment and stdin, clocks and randomness; a library that imports
//! `wasi:sockets` is refused at load. No Tokio runtime starts in the server.

use std::time::{Duration, Instant};

use wasm_triggers_tests::*;

fn sandbox(server: &Server) -> Connection {
    let mut con = server.connect();
    load(&mut con, "sandbox");
    con
}

fn results(con: &mut Connection) -> Vec<String> {
    list(con, "s:results")
}

fn last_error(con: &mut Connection) -> String {
    text(&trigger_stats(con, "sandbox", "sandbox")["last_error"])
}

/// The names of the server's threads.
fn threads(server: &Server) -> Vec<String> {
    let dir = format!("/proc/{}/task", server.pid());
    std::fs::read_dir(dir)
        .map(|tasks| {
            tasks
                .filter_map(|t| t.ok())
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|name| name.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

// A 10 s sleep is refused at once: the command returns, and the server
// answers others, long before the sleep would have ended.
on_all_servers!(fn a_sleep_is_refused_at_once(server) {
    let mut con = sandbox(server);
    let mut other = server.connect();
    let started = Instant::now();
    let (_, pings) = with_pings(server, || {
        let _: String = query(&mut other, &["SET", "s:sleep", "v"]);
    });
    let took = started.elapsed();
    eprintln!("{:?}: sleep: the SET took {took:?}, {pings:?}", server.flavor);
    assert!(took < Duration::from_secs(5), "the SET took {took:?}");
    assert!(pings.worst < Duration::from_millis(1500), "{pings:?}");
    assert!(results(&mut con).is_empty(), "the sleep did not return");
    let error = last_error(&mut con);
    assert!(error.contains("run was stopped") && error.contains("may not wait"), "{error}");
    // A sleep of zero waits for nothing: it completes.
    let _: String = query(&mut con, &["SET", "s:sleep_zero", "v"]);
    assert_eq!(results(&mut con), ["sleep_zero: ok"]);
});

// stdout and stderr reach the log at debug level; a flood is cut to the
// rate limit and the rest counted; no Tokio thread starts.
on_each_flavor!(fn stdout_and_stderr_go_to_the_log(flavor) {
    let server = Server::start_with(flavor, &["--loglevel", "debug"]);
    let mut con = sandbox(&server);
    let _: String = query(&mut con, &["SET", "s:print", "v"]);
    assert_eq!(results(&mut con), ["print: ok"]);
    eventually("the lines in the log", || {
        let log = server.log();
        log.contains("<sandbox> stdout: hello from stdout")
            && log.contains("<sandbox> stderr: hello from stderr")
    });

    let _: String = query(&mut con, &["SET", "s:flood", "v"]);
    std::thread::sleep(Duration::from_millis(1100));
    let _: String = query(&mut con, &["SET", "s:print", "v"]);
    eventually("the count of lines not logged", || {
        server.log().contains("lines from trigger libraries were not logged")
    });
    let logged = server.log().matches("<sandbox> stdout: flood line").count();
    assert!((90..=100).contains(&logged), "{logged} flood lines logged");

    let names = threads(&server);
    assert!(!names.is_empty(), "the server's threads are listed");
    assert!(!names.iter().any(|n| n.contains("tokio")), "{names:?}");
});

// No files, no environment, empty stdin; clocks and randomness work.
on_all_servers!(fn files_environment_stdin_clocks_and_randomness(server) {
    let mut con = sandbox(server);
    for case in ["files", "env", "stdin", "clocks", "random"] {
        let _: String = query(&mut con, &["SET", &format!("s:{case}"), "v"]);
    }
    let results = results(&mut con);
    assert_eq!(results.len(), 5, "{results:?}");
    let files = &results[0];
    assert!(files.starts_with("files: read Err(") && files.contains("write Err(")
        && files.contains("list Err("), "{files}");
    assert_eq!(results[1], "env: 0 variables, 0 arguments");
    assert_eq!(results[2], "stdin: Ok(0)");
    assert_eq!(results[3], "clocks: wall Ok(true), monotonic true");
    assert_eq!(results[4], "random: differs");
});

// `exit` ends the call with a trap; the next event runs normally.
on_all_servers!(fn exit_is_a_trap(server) {
    let mut con = sandbox(server);
    let _: String = query(&mut con, &["SET", "s:exit", "v"]);
    let error = last_error(&mut con);
    assert!(error.contains("run"), "{error}");
    let _: String = query(&mut con, &["SET", "s:sleep_zero", "v"]);
    assert_eq!(results(&mut con), ["sleep_zero: ok"]);
});

// A library that imports wasi:sockets is refused, and says why.
on_all_servers!(fn no_network(server) {
    let mut con = server.connect();
    let error = load_error(&mut con, &[&wasm("sandbox_net")]);
    assert!(error.contains("no network access"), "{error}");
    assert!(library_names(&mut con).is_empty());
});
