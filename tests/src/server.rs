//! The servers: which ones there are ([`Flavor`]), where their binaries, the
//! module and the Wasm files are, and [`Server`], a server process started
//! with the module loaded in a temporary directory.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Connection;

/// Which server to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Redis 8.0.
    Redis8,
    /// Redis 8.6: atomic slot migration, the `overwritten` and
    /// `type_changed` events.
    Redis86,
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
    pub const ALL: [Flavor; 4] = [
        Flavor::Redis8,
        Flavor::Redis86,
        Flavor::Valkey8,
        Flavor::Valkey9,
    ];

    /// Whether the server is Redis (rather than Valkey).
    pub fn is_redis(self) -> bool {
        matches!(self, Flavor::Redis8 | Flavor::Redis86)
    }

    pub fn server_binary(self) -> PathBuf {
        let root = repo_root();
        match self {
            Flavor::Redis8 => {
                path_from_env("REDIS_SERVER", root.join(".cache/redis-8/bin/redis-server"))
            }
            Flavor::Redis86 => path_from_env(
                "REDIS86_SERVER",
                root.join(".cache/redis-86/bin/redis-server"),
            ),
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

/// Redis' own test module with a data type (`datatype.set <key> <int>
/// <string>` makes a key of it), built by `scripts/setup.sh`; it loads in
/// Valkey too.
pub fn datatype_module() -> PathBuf {
    repo_root().join(".cache/redis-8/modules/datatype.so")
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
    /// Environment variables of the server process.
    env: Vec<(String, String)>,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A new free port for `--cluster-port`, if the arguments have one.
fn other_cluster_port(extra: &mut [String]) {
    if let Some(at) = extra.iter().position(|a| a == "--cluster-port") {
        if let Some(port) = extra.get_mut(at + 1) {
            *port = free_port().to_string();
        }
    }
}

fn spawn(
    flavor: Flavor,
    port: u16,
    dir: &Path,
    extra: &[String],
    env: &[(String, String)],
) -> Child {
    // A configuration file, empty, so that `CONFIG REWRITE` has one.
    let config = dir.join("redis.conf");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config)
        .expect("a configuration file");
    Command::new(flavor.server_binary())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg(config)
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
        let mut extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let mut last_error = String::new();
        // A port found free may be taken by another test before the server
        // binds it: try a few, each on other ports (the cluster bus port
        // too).
        for attempt in 0..5 {
            if attempt > 0 {
                other_cluster_port(&mut extra);
            }
            let dir = tempfile::tempdir().expect("a temporary directory");
            let port = free_port();
            let child = spawn(flavor, port, dir.path(), &extra, &[]);
            let mut server = Server {
                flavor,
                port,
                child,
                dir,
                extra: extra.clone(),
                env: Vec::new(),
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

    /// Kills the server and starts it again with the same arguments and
    /// the environment variables `env`, in the same directory.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.restart();
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
            self.child = spawn(
                self.flavor,
                self.port,
                self.dir.path(),
                &self.extra,
                &self.env,
            );
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

    /// Starts a server with the module and `extra` arguments that it is
    /// expected to refuse: its log once it exited. Panics if it still runs
    /// after 30 s.
    pub fn refused(flavor: Flavor, extra: &[&str]) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let mut child = spawn(flavor, free_port(), dir.path(), &extra, &[]);
        let started = std::time::Instant::now();
        while matches!(child.try_wait(), Ok(None)) {
            if started.elapsed() > std::time::Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{flavor:?} started with {extra:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
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
