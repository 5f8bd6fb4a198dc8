//! A Redis or Valkey server with the module loaded, for one test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{build_library, find_up, manifest_dir, map, Stats};

/// A server process on a free loopback port, killed on drop.
///
/// ```no_run
/// use wasm_triggers_harness::Server;
///
/// let server = Server::start()?;
/// println!("listening on 127.0.0.1:{}", server.port());
/// # Ok::<(), anyhow::Error>(())
/// ```
pub struct Server {
    process: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with the module, found as the [crate docs](crate)
    /// say, and waits until it answers.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn start() -> anyhow::Result<Server> {
        let start = manifest_dir().unwrap_or_else(|_| PathBuf::from("."));
        Server::start_with(&find_server(&start)?, &find_module(&start)?)
    }

    /// Starts `server` (a `redis-server` or `valkey-server` binary) with the
    /// module at `module`.
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start_with(
    ///     Path::new("/usr/local/bin/valkey-server"),
    ///     Path::new("/opt/triggers/libwasm_triggers.so"),
    /// )?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn start_with(server: &Path, module: &Path) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir().context("a directory for the server")?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let process = Command::new(server)
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--loadmodule")
            .arg(module)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", server.display()))?;
        let mut server = Server { process, port, dir };
        let started = Instant::now();
        loop {
            if let Ok(mut con) = server.connect() {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Ok(server);
                }
            }
            if let Ok(Some(status)) = server.process.try_wait() {
                bail!("the server exited ({status}):\n{}", server.log());
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the server did not answer in 10 s:\n{}", server.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// let url = format!("redis://127.0.0.1:{}/", server.port());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new client connection.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::{redis::Commands, Server};
    ///
    /// let server = Server::start()?;
    /// let mut con = server.connect()?;
    /// let _: () = con.set("k", "v")?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn connect(&self) -> anyhow::Result<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        Ok(client.get_connection()?)
    }

    /// What the server logged so far.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// assert!(server.log().contains("Ready to accept connections"));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `TRIGGER LOAD REPLACE` of `code` (a component, or a wasm-pack core
    /// module); returns the library's name.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// let code = std::fs::read("target/wasm32-wasip2/release/my_triggers.wasm")?;
    /// assert_eq!(server.load(&code)?, "my_triggers");
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn load(&self, code: &[u8]) -> anyhow::Result<String> {
        let name = redis::cmd("TRIGGER")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(code)
            .query(&mut self.connect()?)
            .context("TRIGGER LOAD")?;
        Ok(name)
    }

    /// Builds the crate under test (see [`build_library`]) and loads it;
    /// returns the library's name.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// let name = server.load_this_crate()?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn load_this_crate(&self) -> anyhow::Result<String> {
        self.load(&build_library(&manifest_dir()?)?)
    }

    /// A trigger's statistics from `TRIGGER LIST`.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::{redis::Value, Server};
    ///
    /// let server = Server::start()?;
    /// server.load_this_crate()?;
    /// let stats = server.stats("last_updated", "consumer")?;
    /// assert_eq!(stats["num_failed"], Value::Int(0));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn stats(&self, library: &str, trigger: &str) -> anyhow::Result<Stats> {
        let reply: redis::Value = redis::cmd("TRIGGER")
            .arg("LIST")
            .arg("LIBRARY")
            .arg(library)
            .query(&mut self.connect()?)?;
        let redis::Value::Array(libraries) = reply else {
            bail!("TRIGGER LIST replied {reply:?}");
        };
        let library_map = map(libraries.first().context("no such library")?)?;
        let triggers = library_map
            .into_iter()
            .find(|(k, _)| k == "triggers")
            .map(|(_, v)| v)
            .context("no triggers in TRIGGER LIST")?;
        let redis::Value::Array(triggers) = triggers else {
            bail!("unexpected triggers {triggers:?}");
        };
        for one in &triggers {
            let entries = map(one)?;
            if entries
                .iter()
                .any(|(k, v)| k == "name" && crate::text(v) == trigger)
            {
                return Ok(entries.into_iter().collect());
            }
        }
        bail!("no trigger '{trigger}' in library '{library}'")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn find_server(start: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TRIGGERS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = find_up(start, ".cache/redis-8/bin/redis-server") {
        return Ok(path);
    }
    for name in ["redis-server", "valkey-server"] {
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file());
        if let Some(path) = on_path {
            return Ok(path);
        }
    }
    bail!(
        "no Redis or Valkey server: set TRIGGERS_SERVER to a redis-server (≥ 7.2) or \
         valkey-server (≥ 8), or put one on PATH"
    )
}

fn find_module(start: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TRIGGERS_MODULE") {
        return Ok(PathBuf::from(path));
    }
    find_up(start, "target/release/libwasm_triggers.so").context(
        "no module: set TRIGGERS_MODULE to libwasm_triggers.so, or build it with \
         `cargo build --release -p wasm-triggers`",
    )
}
