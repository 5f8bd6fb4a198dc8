//! [`Server`], a Redis or Valkey server with the module loaded, for one
//! test: its port, directory, log and process, and a client's helpers
//! (connect, load a library, a trigger's statistics). Starting the process
//! is [`Launch`]'s.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context};

use crate::process::Process;
use crate::{build_library, manifest_dir, map, Launch, Stats};

/// A server process on a free loopback port, in a temporary directory of
/// its own, killed on drop (the directory removed after).
///
/// ```no_run
/// use wasm_triggers_harness::Server;
///
/// let server = Server::start()?;
/// println!("listening on 127.0.0.1:{}", server.port());
/// # Ok::<(), anyhow::Error>(())
/// ```
pub struct Server {
    process: Process,
}

impl Server {
    pub(crate) fn from_process(process: Process) -> Server {
        Server { process }
    }

    /// Starts a server with the module, found as the [crate docs](crate)
    /// say, and waits until it answers. With other arguments:
    /// [`Launch::find`].
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn start() -> anyhow::Result<Server> {
        Launch::find()?.start()
    }

    /// Starts `server` (a `redis-server` or `valkey-server` binary) with the
    /// module at `module`. With other arguments: [`Launch::new`].
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
        Launch::new(server, module).start()
    }

    /// The server's port, on 127.0.0.1 (another one after a restart that
    /// found it taken).
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// let url = format!("redis://127.0.0.1:{}/", server.port());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.process.port()
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
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port()))?;
        Ok(client.get_connection()?)
    }

    /// What the server logged so far (its stdout and stderr), across
    /// restarts.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let server = Server::start()?;
    /// assert!(server.log().contains("Ready to accept connections"));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The server's directory (`--dir`): its `server.log`, its
    /// `redis.conf`, its RDB and AOF files.
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Whether the server process still runs.
    pub fn is_alive(&mut self) -> bool {
        self.process.is_alive()
    }

    /// Kills the server (`SIGKILL`: nothing is saved on the way out).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Kills the server and starts it again with the same arguments, in the
    /// same directory (so that it loads what it saved there), on the same
    /// port if it is still free and another one otherwise; waits until it
    /// answers. A server that exits while starting (it refuses its RDB
    /// file, say) is an error with its log.
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Server;
    ///
    /// let mut server = Server::start()?;
    /// let _: () = wasm_triggers_harness::redis::cmd("SAVE").query(&mut server.connect()?)?;
    /// server.restart()?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.restart()
    }

    /// Same as [`Server::restart`], with the environment variables `env` in
    /// place of those the server was given before.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) -> anyhow::Result<()> {
        let env = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        self.process.set_env(env);
        self.restart()
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
