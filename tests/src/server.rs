//! The servers: which ones there are ([`Flavor`]), where their binaries, the
//! module and the Wasm files are, and [`Server`], a server of a flavor with
//! the module loaded in a temporary directory, as the tests start it
//! (debug commands on, its own log file; panics where the harness returns
//! errors). The process itself is `wasm_triggers_harness`'s: its `Launch`
//! and `Server`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasm_triggers_harness::Launch;

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

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    wasm_triggers_harness::free_port().expect("a free loopback port")
}

impl Flavor {
    /// A server of this flavor with the module and `extra` arguments
    /// (given after the module: its arguments, then server options), as
    /// the tests start it: `DEBUG` allowed, the log written to
    /// `server.log`, 20 s to answer. Panics if the server or the module is
    /// missing.
    pub fn launch(self, extra: &[&str]) -> Launch {
        let binary = self.server_binary();
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
        Launch::new(binary, module)
            .options(["--enable-debug-command", "local"])
            .options(["--logfile", "server.log"])
            .args(extra)
            .ready_timeout(Duration::from_secs(20))
    }
}

/// A server process, killed on drop.
pub struct Server {
    pub flavor: Flavor,
    /// Its port (another one after a restart that found it taken).
    pub port: u16,
    server: wasm_triggers_harness::Server,
}

impl Server {
    /// Starts a server with the module loaded, and waits until it answers.
    pub fn start(flavor: Flavor) -> Server {
        Self::start_with(flavor, &[])
    }

    /// Same as [`Server::start`], with extra `--name value` arguments.
    pub fn start_with(flavor: Flavor, extra: &[&str]) -> Server {
        Self::launch(flavor, flavor.launch(extra))
    }

    /// Starts `launch`, one of [`Flavor::launch`]; panics if it does not
    /// start.
    pub fn launch(flavor: Flavor, launch: Launch) -> Server {
        let server = launch
            .start()
            .unwrap_or_else(|e| panic!("{flavor:?} did not start: {e:#}"));
        Server {
            flavor,
            port: server.port(),
            server,
        }
    }

    /// The server's working directory (`dir`): its RDB and AOF files.
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    /// Kills the server (`SIGKILL`: nothing is saved on the way out).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Kills the server and starts it again with the same arguments and
    /// the environment variables `env`, in the same directory.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        let restarted = self.server.restart_with_env(env);
        self.port = self.server.port();
        if let Err(e) = restarted {
            panic!("{:?} did not restart: {e:#}", self.flavor);
        }
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
        let restarted = self.server.restart();
        self.port = self.server.port();
        restarted.map_err(|e| format!("{e:#}"))
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
        self.server.log()
    }

    /// Starts a server with the module and `extra` arguments that it is
    /// expected to refuse: its log once it exited. Panics if it still runs
    /// after 30 s.
    pub fn refused(flavor: Flavor, extra: &[&str]) -> String {
        flavor
            .launch(extra)
            .refused()
            .unwrap_or_else(|e| panic!("{flavor:?} started with {extra:?}: {e:#}"))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.server.is_alive()
    }
}
