//! What to start: [`Launch`], a server binary with the module, their
//! arguments and environment, as one command line; and [`free_port`]. The
//! process it starts is `process.rs`'s.

use std::ffi::{OsStr, OsString};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::process::{Process, CONFIG};
use crate::Server;

/// How long [`Launch::refused`] waits for the server to exit.
const REFUSAL: Duration = Duration::from_secs(30);

/// A free loopback port: one the system hands out, free again once
/// returned (until someone else takes it).
///
/// ```
/// let port = wasm_triggers_harness::free_port()?;
/// assert_ne!(port, 0);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// What to start: a `redis-server` or `valkey-server` binary with the
/// module, and arguments of your own. [`Server::start_with`] is
/// `Launch::new(binary, module).start()`.
///
/// The server runs in a new temporary directory, with this command line:
///
/// ```text
/// <binary> <dir>/redis.conf --port <free port> --bind 127.0.0.1 --dir <dir>
///     --save "" --appendonly no <options…> --loadmodule <module> <args…>
///     <port option> <free port>…
/// ```
///
/// `redis.conf` is empty at first (it is there for `CONFIG REWRITE`); the
/// server's stdout and stderr go to `<dir>/server.log`. If the server
/// cannot bind its ports it is started again on others, a few times.
///
/// ```no_run
/// use wasm_triggers_harness::Launch;
///
/// let server = Launch::find()?
///     .options(["--enable-debug-command", "local"])
///     .args(["max-memory", "16", "--appendonly", "yes"])
///     .start()?;
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Launch {
    pub(crate) binary: PathBuf,
    module: PathBuf,
    options: Vec<OsString>,
    args: Vec<OsString>,
    port_options: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) ready_timeout: Duration,
}

impl Launch {
    /// `binary` (a `redis-server` or `valkey-server`) with the module at
    /// `module`, no other arguments, waited for 10 s at most.
    pub fn new(binary: impl Into<PathBuf>, module: impl Into<PathBuf>) -> Launch {
        Launch {
            binary: binary.into(),
            module: module.into(),
            options: Vec::new(),
            args: Vec::new(),
            port_options: Vec::new(),
            env: Vec::new(),
            ready_timeout: Duration::from_secs(10),
        }
    }

    /// The server and the module that [`Server::start`] starts, found as
    /// the [crate docs](crate) say.
    pub fn find() -> anyhow::Result<Launch> {
        let start = crate::manifest_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(Launch::new(
            crate::find::server(&start)?,
            crate::find::module(&start)?,
        ))
    }

    /// Adds server options, given before `--loadmodule`:
    /// `["--loglevel", "debug"]`.
    pub fn options(mut self, words: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Launch {
        self.options
            .extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    /// Adds words after `--loadmodule <module>`: the module's arguments
    /// (`["max-memory", "16"]`), then, from the first `--name`, server
    /// options.
    pub fn args(mut self, words: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Launch {
        self.args
            .extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    /// Adds an option whose value is a free loopback port, found with the
    /// server's own (`--cluster-port`: the default, the port + 10000, may
    /// not be free). Given last; a restart keeps the port.
    pub fn port_option(mut self, name: impl AsRef<OsStr>) -> Launch {
        self.port_options.push(name.as_ref().to_owned());
        self
    }

    /// Sets an environment variable of the server process.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env
            .push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// How long a start waits for the server to answer `PING` (10 s unless
    /// set).
    pub fn ready_timeout(mut self, timeout: Duration) -> Launch {
        self.ready_timeout = timeout;
        self
    }

    /// Starts the server and waits until it answers.
    pub fn start(self) -> anyhow::Result<Server> {
        Ok(Server::from_process(Process::start(self)?))
    }

    /// Starts a server that is expected to refuse to start (bad module
    /// arguments, say) and returns its log once it exited; an error if it
    /// still runs after 30 s (it is killed then).
    ///
    /// ```no_run
    /// use wasm_triggers_harness::Launch;
    ///
    /// let log = Launch::find()?.args(["max-memory"]).refused()?;
    /// assert!(log.contains("has no value"));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn refused(&self) -> anyhow::Result<String> {
        match Process::run_until_exit(self, REFUSAL)? {
            Some(log) => Ok(log),
            None => bail!(
                "{} still runs after {} s with {:?}",
                self.binary.display(),
                REFUSAL.as_secs(),
                self.args
            ),
        }
    }

    /// The ports of the port options, found free.
    pub(crate) fn free_ports(&self) -> anyhow::Result<Vec<u16>> {
        self.port_options.iter().map(|_| free_port()).collect()
    }

    /// The server's arguments, as the type's docs show them.
    pub(crate) fn command_line(&self, dir: &Path, port: u16, ports: &[u16]) -> Vec<OsString> {
        let mut line: Vec<OsString> = vec![dir.join(CONFIG).into(), "--port".into()];
        line.push(port.to_string().into());
        line.extend(["--bind", "127.0.0.1", "--dir"].map(OsString::from));
        line.push(dir.into());
        line.extend(["--save", "", "--appendonly", "no"].map(OsString::from));
        line.extend(self.options.iter().cloned());
        line.push("--loadmodule".into());
        line.push(self.module.clone().into());
        line.extend(self.args.iter().cloned());
        for (name, port) in self.port_options.iter().zip(ports) {
            line.push(name.clone());
            line.push(port.to_string().into());
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_puts_options_before_the_module_and_args_after() {
        let launch = Launch::new("/bin/redis-server", "/lib/triggers.so")
            .options(["--loglevel", "debug"])
            .args(["max-memory", "16", "--appendonly", "yes"])
            .port_option("--cluster-port");
        let line = launch.command_line(Path::new("/d"), 7000, &[17000]);
        let words: Vec<&str> = line.iter().filter_map(|w| w.to_str()).collect();
        assert_eq!(
            words,
            [
                "/d/redis.conf",
                "--port",
                "7000",
                "--bind",
                "127.0.0.1",
                "--dir",
                "/d",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "debug",
                "--loadmodule",
                "/lib/triggers.so",
                "max-memory",
                "16",
                "--appendonly",
                "yes",
                "--cluster-port",
                "17000",
            ]
        );
    }
}
