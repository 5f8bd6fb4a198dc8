//! Test harness: starts real Redis 8.0, Valkey 8.1 and Valkey 9.1 servers on
//! free loopback ports, with the module loaded, and talks to them with the
//! `redis` crate.
//!
//! The servers and Wasm files come from `scripts/setup.sh`; `scripts/test.sh`
//! runs it before the tests. Paths can be overridden with `REDIS_SERVER`,
//! `VALKEY_SERVER`, `VALKEY9_SERVER` and `TRIGGERS_MODULE`.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use redis::{Connection, Value};

mod cluster;
mod pings;
pub use cluster::Cluster;
pub use pings::{with_pings, Pings};

/// Which server to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Redis8,
    Valkey8,
    Valkey9,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

fn path_from_env(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
}

impl Flavor {
    /// Every server the tests run on.
    pub const ALL: [Flavor; 3] = [Flavor::Redis8, Flavor::Valkey8, Flavor::Valkey9];

    pub fn server_binary(self) -> PathBuf {
        let root = repo_root();
        match self {
            Flavor::Redis8 => {
                path_from_env("REDIS_SERVER", root.join(".cache/redis-8/bin/redis-server"))
            }
            Flavor::Valkey8 => path_from_env(
                "VALKEY_SERVER",
                root.join(".cache/valkey-8/bin/valkey-server"),
            ),
            Flavor::Valkey9 => path_from_env(
                "VALKEY9_SERVER",
                root.join(".cache/valkey-9/bin/valkey-server"),
            ),
        }
    }
}

pub fn module_path() -> PathBuf {
    path_from_env(
        "TRIGGERS_MODULE",
        repo_root().join("target/release/libwasm_triggers.so"),
    )
}

/// The bytes of `target/wasm/<name>.wasm`, built by `scripts/build-wasm.sh`.
pub fn wasm(name: &str) -> Vec<u8> {
    let path = repo_root().join("target/wasm").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}. Run scripts/setup.sh (or scripts/test.sh) first.",
            path.display()
        )
    })
}

/// A server process, killed on drop.
pub struct Server {
    pub flavor: Flavor,
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn spawn(flavor: Flavor, port: u16, dir: &Path, extra: &[String]) -> Child {
    Command::new(flavor.server_binary())
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--appendonly", "no"])
        .args(["--enable-debug-command", "local"])
        .args(["--logfile", "server.log"])
        .arg("--loadmodule")
        .arg(module_path())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts")
}

impl Server {
    /// Starts a server with the module loaded, and waits until it answers.
    pub fn start(flavor: Flavor) -> Server {
        Self::start_with(flavor, &[])
    }

    /// Same as [`Server::start`], with extra `--name value` arguments.
    pub fn start_with(flavor: Flavor, extra: &[&str]) -> Server {
        let binary = flavor.server_binary();
        assert!(
            binary.exists(),
            "{} is missing: run scripts/setup.sh first",
            binary.display()
        );
        let module = module_path();
        assert!(
            module.exists(),
            "{} is missing: run scripts/setup.sh first",
            module.display()
        );
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let mut last_error = String::new();
        // A port found free may be taken by another test before the server
        // binds it: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let port = free_port();
            let child = spawn(flavor, port, dir.path(), &extra);
            let mut server = Server {
                flavor,
                port,
                child,
                dir,
                extra: extra.clone(),
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("{flavor:?} did not start: {last_error}");
    }

    /// The server's working directory (`dir`): its RDB and AOF files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (`SIGKILL`: nothing is saved on the way out).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server and starts it again with the same arguments, in
    /// the same directory, so that it loads what was saved there. Panics
    /// if it does not start.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{:?} did not restart: {e}", self.flavor);
        }
    }

    /// Same as [`Server::restart`], but a server that exits while starting
    /// (for instance because it refuses its RDB file) is an `Err` with its
    /// log.
    pub fn try_restart(&mut self) -> Result<(), String> {
        self.kill();
        let mut last_error = String::new();
        // The same port if it is still free, a new one otherwise.
        for attempt in 0..5 {
            if attempt > 0 {
                self.port = free_port();
            }
            self.child = spawn(self.flavor, self.port, self.dir.path(), &self.extra);
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(e) if e.contains("already in use") => last_error = e,
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                return Err(format!("exited with {status}: {stderr}\n{}", self.log()));
            }
            if let Ok(mut con) = self.try_connect(false) {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no answer in 20 s\n{}", self.log()))
    }

    fn try_connect(&self, resp3: bool) -> redis::RedisResult<Connection> {
        let protocol = if resp3 { "?protocol=resp3" } else { "" };
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/{protocol}", self.port))?;
        client.get_connection_with_timeout(Duration::from_secs(10))
    }

    /// A RESP2 connection.
    pub fn connect(&self) -> Connection {
        self.try_connect(false).expect("a connection to the server")
    }

    /// A RESP2 connection, authenticated as an ACL user.
    pub fn connect_as(&self, user: &str, password: &str) -> Connection {
        let url = format!("redis://{user}:{password}@127.0.0.1:{}/", self.port);
        redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("a connection as {user}: {e}"))
    }

    /// A RESP3 connection.
    pub fn connect_resp3(&self) -> Connection {
        self.try_connect(true)
            .expect("a RESP3 connection to the server")
    }

    /// The server's log file.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Turns a RESP2 flat key/value array or a RESP3 map into a map.
pub fn as_map(value: &Value) -> HashMap<String, Value> {
    let pairs: Vec<(Value, Value)> = match value {
        Value::Map(entries) => entries.clone(),
        Value::Array(items) => items
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
        other => panic!("not a map: {other:?}"),
    };
    pairs.into_iter().map(|(k, v)| (text(&k), v)).collect()
}

/// The text of a string reply.
pub fn text(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Nil => String::new(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The integer of an integer reply.
pub fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

pub fn array(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items.clone(),
        other => panic!("not an array: {other:?}"),
    }
}

/// `TRIGGER LIST` as a list of library maps.
pub fn libraries(con: &mut Connection) -> Vec<HashMap<String, Value>> {
    let reply: Value = redis::cmd("TRIGGER")
        .arg("LIST")
        .query(con)
        .expect("TRIGGER LIST");
    array(&reply).iter().map(as_map).collect()
}

/// The names of the loaded libraries, sorted.
pub fn library_names(con: &mut Connection) -> Vec<String> {
    libraries(con).iter().map(|l| text(&l["name"])).collect()
}

/// The `TRIGGER LIST` entry of one trigger.
pub fn trigger_stats(con: &mut Connection, library: &str, trigger: &str) -> HashMap<String, Value> {
    let reply: Value = redis::cmd("TRIGGER")
        .arg("LIST")
        .arg("LIBRARY")
        .arg(library)
        .query(con)
        .expect("TRIGGER LIST LIBRARY");
    let libraries = array(&reply);
    assert_eq!(libraries.len(), 1, "library {library} is loaded");
    let library = as_map(&libraries[0]);
    array(&library["triggers"])
        .iter()
        .map(as_map)
        .find(|t| text(&t["name"]) == trigger)
        .unwrap_or_else(|| panic!("trigger {trigger} in {library:?}"))
}

/// A statistic of a trigger, as an integer.
pub fn stat(con: &mut Connection, library: &str, trigger: &str, field: &str) -> i64 {
    int(&trigger_stats(con, library, trigger)[field])
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
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
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

/// The commands in a server's AOF increments (`appendonlydir/*.incr.aof`),
/// as words: each argument lowercased if it is short text, or `<N bytes>`
/// (a library's code, say).
pub fn aof_commands(server: &Server) -> Vec<Vec<String>> {
    let dir = server.dir().join("appendonlydir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.to_string_lossy().ends_with(".incr.aof"));
    // Named `<base>.<seq>.incr.aof`: sorted by their sequence number.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let seq = name.rsplit('.').nth(2).and_then(|n| n.parse::<u64>().ok());
        seq.unwrap_or(0)
    });
    let mut commands = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        commands.extend(parse_resp_commands(&bytes));
    }
    commands
}

/// Parses `*<n>\r\n$<len>\r\n<bytes>\r\n...` commands; stops at a
/// partial one (an AOF being written).
fn parse_resp_commands(bytes: &[u8]) -> Vec<Vec<String>> {
    fn line(bytes: &[u8], at: &mut usize, marker: u8) -> Option<usize> {
        if *bytes.get(*at)? != marker {
            return None;
        }
        let end = *at + bytes[*at..].windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&bytes[*at + 1..end])
            .ok()?
            .parse()
            .ok()?;
        *at = end + 2;
        Some(n)
    }
    let mut commands = Vec::new();
    let mut at = 0;
    'commands: while at < bytes.len() {
        let Some(count) = line(bytes, &mut at, b'*') else {
            break;
        };
        let mut words = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(len) = line(bytes, &mut at, b'$') else {
                break 'commands;
            };
            let Some(arg) = bytes.get(at..at + len) else {
                break 'commands;
            };
            at += len + 2;
            words.push(match std::str::from_utf8(arg) {
                Ok(text) if len <= 64 => text.to_ascii_lowercase(),
                _ => format!("<{len} bytes>"),
            });
        }
        commands.push(words);
    }
    commands
}

/// Runs a command and returns its reply.
pub fn query<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// Declares a test that runs once for each server (Redis 8, Valkey 8 and
/// Valkey 9), with the server's [`Flavor`], for tests that start servers of
/// their own (a cluster, a replica):
///
/// ```ignore
/// on_each_flavor!(fn my_test(flavor) { let cluster = Cluster::start(flavor); ... });
/// ```
#[macro_export]
macro_rules! on_each_flavor {
    (fn $name:ident($flavor:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($flavor: $crate::Flavor) $body

            #[test]
            fn redis8() {
                body($crate::Flavor::Redis8);
            }

            #[test]
            fn valkey8() {
                body($crate::Flavor::Valkey8);
            }

            #[test]
            fn valkey9() {
                body($crate::Flavor::Valkey9);
            }
        }
    };
}

/// Declares a test that runs once on each server (Redis 8, Valkey 8 and
/// Valkey 9), each on a server of its own, and checks that the server is
/// still alive after it:
///
/// ```ignore
/// on_all_servers!(fn my_test(server) { ... });
/// ```
#[macro_export]
macro_rules! on_all_servers {
    (fn $name:ident($server:ident) $body:block) => {
        $crate::on_each_flavor!(fn $name(flavor) {
            fn test($server: &mut $crate::Server) $body
            let mut server = $crate::Server::start(flavor);
            test(&mut server);
            assert!(server.is_alive(), "the server died:\n{}", server.log());
        });
    };
}
