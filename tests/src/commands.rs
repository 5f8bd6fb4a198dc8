//! Helpers that send commands: [`query`], `TRIGGER LOAD`, reading a list,
//! polling until a condition holds, replication, `INFO` and `SAVE`.

use std::time::{Duration, Instant};

use crate::{array, as_map, text, wasm, Connection, Server, Value};

/// Runs a command and returns its reply.
pub fn query<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// `TRIGGER LOAD` of `target/wasm/<name>.wasm`; returns the library name.
pub fn load(con: &mut Connection, name: &str) -> String {
    redis::cmd("TRIGGER")
        .arg("LOAD")
        .arg(wasm(name))
        .query(con)
        .unwrap_or_else(|e| panic!("TRIGGER LOAD {name}: {e}"))
}

/// `TRIGGER LOAD REPLACE` of `code`, which must succeed; returns the name.
pub fn load_replace(con: &mut Connection, code: &[u8]) -> String {
    redis::cmd("TRIGGER")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(code)
        .query(con)
        .unwrap_or_else(|e| panic!("TRIGGER LOAD REPLACE: {e}"))
}

/// `TRIGGER LOAD` that must fail; returns the error text.
pub fn load_error(con: &mut Connection, args: &[&[u8]]) -> String {
    let mut cmd = redis::cmd("TRIGGER");
    cmd.arg("LOAD");
    for arg in args {
        cmd.arg(*arg);
    }
    match cmd.query::<Value>(con) {
        Ok(v) => panic!("TRIGGER LOAD succeeded with {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// A list's items as strings (lossy).
pub fn list(con: &mut Connection, key: &str) -> Vec<String> {
    let items: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(con)
        .expect("LRANGE");
    items
        .iter()
        .map(|i| String::from_utf8_lossy(i).into_owned())
        .collect()
}

/// Polls `check` until it holds, for at most 10 s (for expiries, which
/// Redis performs in the background). Not a timing assertion: the bound only
/// keeps a broken build from hanging.
pub fn eventually(what: &str, check: impl FnMut() -> bool) {
    assert!(
        within(Duration::from_secs(10), check),
        "timed out waiting for {what}"
    );
}

/// Polls `check` every 10 ms until it holds, for at most `bound`: whether
/// it held.
pub fn within(bound: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Waits until every loaded library runs its optimized code: `TRIGGER
/// LOAD` compiles with the baseline compiler, Cranelift recompiles in the
/// background, and the compiled-code cache is written at the switch.
pub fn wait_for_optimized_code(con: &mut Connection) {
    eventually("every library running optimized code", || {
        let reply: Value = query(con, &["TRIGGER", "LIST", "VERBOSE"]);
        array(&reply)
            .iter()
            .all(|library| text(&as_map(library)["code_tier"]) == "optimized")
    });
}

/// Makes `replica` a replica of `primary`, and waits until it has synced.
pub fn replicaof(replica: &Server, primary: &Server) {
    let mut con = replica.connect();
    let _: String = query(
        &mut con,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    eventually("the replica to sync", || {
        let info: String = query(&mut con, &["INFO", "replication"]);
        info.contains("master_link_status:up")
    });
}

/// Evicts only keys with a TTL (`volatile-random`), past `room` bytes
/// more than the server uses now; returns the `maxmemory` set.
pub fn limit_memory_of_volatile_keys(con: &mut Connection, room: i64) -> i64 {
    let _: String = query(
        con,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-random"],
    );
    let limit = info_number(con, "memory", "used_memory") + room;
    let _: String = query(con, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    limit
}

/// A number from a section of `INFO`.
pub fn info_number(con: &mut Connection, section: &str, field: &str) -> i64 {
    let info: String = query(con, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {info}"))
}

/// `SAVE`, once no background save is running (a replica's full sync may
/// still be reaping its child, and `SAVE` refuses to run beside one).
pub fn save(con: &mut Connection) {
    eventually("no background save in progress", || {
        let info: String = query(con, &["INFO", "persistence"]);
        info.contains("rdb_bgsave_in_progress:0")
    });
    let _: String = query(con, &["SAVE"]);
}

/// Waits until `replica` has processed everything its primary sent so far
/// (`WAIT` on the primary).
pub fn wait_for_replicas(primary: &mut Connection, replicas: usize) {
    let acked: i64 = query(primary, &["WAIT", &replicas.to_string(), "10000"]);
    assert_eq!(acked, replicas as i64, "replicas acknowledged the writes");
}
