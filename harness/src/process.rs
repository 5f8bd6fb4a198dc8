//! A server process started from a [`Launch`]: spawned in its directory
//! with its output in `server.log`, waited for until it answers `PING`,
//! started again on other ports when it could not bind its own, restarted
//! in place, killed on drop.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::{free_port, Launch};

/// The server's output (stdout and stderr), in its directory, appended to
/// across restarts.
const LOG: &str = "server.log";
/// Its configuration file, empty at first, so that `CONFIG REWRITE` has one.
pub(crate) const CONFIG: &str = "redis.conf";
/// How many ports a start tries: a port found free may be taken by another
/// process before the server binds it.
const ATTEMPTS: usize = 5;

/// A server started from a [`Launch`], in its directory; killed on drop,
/// the directory removed after.
pub(crate) struct Process {
    launch: Launch,
    child: ChildGuard,
    port: u16,
    /// The ports of the launch's port options.
    ports: Vec<u16>,
    dir: tempfile::TempDir,
}

impl Process {
    /// Starts `launch` in a new directory on free ports, and waits until it
    /// answers; on other ports (in another directory) if it could not bind
    /// them.
    pub(crate) fn start(launch: Launch) -> anyhow::Result<Process> {
        let mut last = anyhow!("no attempt to start {}", launch.binary.display());
        for _ in 0..ATTEMPTS {
            let dir = tempfile::tempdir().context("a directory for the server")?;
            let (port, ports) = (free_port()?, launch.free_ports()?);
            let mut child = spawn(&launch, dir.path(), port, &ports)?;
            match wait_ready(&launch, &mut child, dir.path(), port) {
                Ok(()) => {
                    return Ok(Process {
                        launch,
                        child,
                        port,
                        ports,
                        dir,
                    })
                }
                Err(Failure::PortInUse(error)) => last = error,
                Err(Failure::Other(error)) => return Err(error),
            }
        }
        Err(last)
    }

    /// Starts `launch` in a new directory and waits until it exits, for
    /// `timeout` at most: its log, or `None` if it still runs (it is
    /// killed then).
    pub(crate) fn run_until_exit(
        launch: &Launch,
        timeout: Duration,
    ) -> anyhow::Result<Option<String>> {
        let dir = tempfile::tempdir().context("a directory for the server")?;
        let mut child = spawn(launch, dir.path(), free_port()?, &launch.free_ports()?)?;
        let started = Instant::now();
        while matches!(child.0.try_wait(), Ok(None)) {
            if started.elapsed() > timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Some(read_log(dir.path())))
    }

    /// Kills the server and starts it again, in the same directory, on the
    /// same port if it is still free and another one otherwise (the port
    /// options keep theirs).
    pub(crate) fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let mut last = anyhow!("no attempt to restart {}", self.launch.binary.display());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.port = free_port()?;
            }
            self.child = spawn(&self.launch, self.dir.path(), self.port, &self.ports)?;
            match wait_ready(&self.launch, &mut self.child, self.dir.path(), self.port) {
                Ok(()) => return Ok(()),
                Err(Failure::PortInUse(error)) => last = error,
                Err(Failure::Other(error)) => return Err(error),
            }
        }
        Err(last)
    }

    /// Replaces the environment variables the launch gave the server.
    pub(crate) fn set_env(&mut self, env: Vec<(OsString, OsString)>) {
        self.launch.env = env;
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }

    pub(crate) fn is_alive(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.0.id()
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn log(&self) -> String {
        read_log(self.dir.path())
    }
}

/// A child process, killed (and reaped) on drop.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server in `dir` (its `redis.conf` and `server.log` created
/// there if missing) on `port`, with `ports` for the port options.
fn spawn(launch: &Launch, dir: &Path, port: u16, ports: &[u16]) -> anyhow::Result<ChildGuard> {
    let append = |name: &str| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .with_context(|| format!("cannot open {}", dir.join(name).display()))
    };
    append(CONFIG)?;
    let log = append(LOG)?;
    let child = Command::new(&launch.binary)
        .args(launch.command_line(dir, port, ports))
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", launch.binary.display()))?;
    Ok(ChildGuard(child))
}

/// Why a server did not become ready.
enum Failure {
    /// It could not bind a port: worth another port.
    PortInUse(anyhow::Error),
    Other(anyhow::Error),
}

/// Waits until the server on `port` answers `PING`, or exits, or the
/// launch's time is up.
fn wait_ready(
    launch: &Launch,
    child: &mut ChildGuard,
    dir: &Path,
    port: u16,
) -> Result<(), Failure> {
    let deadline = Instant::now() + launch.ready_timeout;
    loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            let log = read_log(dir);
            let error = anyhow!("{} exited ({status}):\n{log}", launch.binary.display());
            return Err(if log.contains("already in use") {
                Failure::PortInUse(error)
            } else {
                Failure::Other(error)
            });
        }
        if answers(port) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::Other(anyhow!(
                "{} did not answer in {} s:\n{}",
                launch.binary.display(),
                launch.ready_timeout.as_secs(),
                read_log(dir)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a server on `port` answers `PING` (not `-LOADING`).
fn answers(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
        return false;
    };
    let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(10)) else {
        return false;
    };
    redis::cmd("PING").query::<String>(&mut con).is_ok()
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(LOG)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_an_error() {
        let error = Process::start(Launch::new(
            "/nonexistent/redis-server",
            "/nonexistent/triggers.so",
        ))
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("cannot start /nonexistent/redis-server")
        );
    }
}
