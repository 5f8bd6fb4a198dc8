"""The redis-server subprocesses: free_port, CPU pinning (cpu_pinning,
pinned), their environment (server_env), Server (one server on its own port
and directory) and Servers (every server of a run, to stop them all)."""

import os
import shutil
import socket
import subprocess
import time

from .common import LIBSSL_DIR, REDIS_SERVER, BenchError
from .resp import Client, RedisError


def free_port():
    """A loopback TCP port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_pinning():
    """(server CPU, client CPU) when the machine has two CPUs or more and
    `taskset` exists, else None. The benchmarked server and redis-benchmark
    then each get a CPU of their own, instead of the scheduler moving them
    around and onto each other: the ratios get much steadier."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None
    return cpus[0], cpus[1]


def pinned(args, cpu):
    """`args` run on `cpu` (with taskset), or as they are without pinning."""
    return args if cpu is None else ["taskset", "-c", str(cpu)] + args


def server_env(extra=None):
    """The environment of every redis-server: libssl1.1 on LD_LIBRARY_PATH
    (the redis-stack binaries link against it)."""
    env = dict(os.environ)
    paths = [LIBSSL_DIR] + [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
    env["LD_LIBRARY_PATH"] = ":".join(paths)
    env.update(extra or {})
    return env


class Server:
    """One redis-server subprocess on a free loopback port, with its own
    directory (its `--dir`, holding its log and RDB)."""

    def __init__(self, label, load_args, directory, env_extra=None, cpu=None):
        self.label = label
        self.cpu = cpu
        self.load_args = list(load_args)
        self.dir = directory
        self.env_extra = env_extra or {}
        self.port = None
        self.process = None
        self.client = None

    def start(self, timeout=60.0):
        """Starts the server and returns once it answers PING with PONG and is
        not loading data. Returns the seconds from process start to then."""
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        args = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", self.dir,
            "--logfile", "redis.log",
        ] + self.load_args
        started = time.perf_counter()
        # A session of its own, so that Ctrl-C reaches only this script, which
        # then stops the servers itself.
        self.process = subprocess.Popen(
            pinned(args, self.cpu),
            env=server_env(self.env_extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.client = self._wait_ready(started, timeout)
        return time.perf_counter() - started

    def _wait_ready(self, started, timeout):
        """Polls every 2 ms until PING answers PONG and INFO persistence says
        loading:0, and returns the connection."""
        client = None
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"{self.label}: redis-server exited with status "
                                 f"{self.process.returncode}\n{self.log_tail()}")
            if time.perf_counter() - started > timeout:
                raise BenchError(f"{self.label}: redis-server not ready after {timeout} s\n"
                                 f"{self.log_tail()}")
            try:
                if client is None:
                    client = Client(self.port)
                if (client.command("PING") == b"PONG"
                        and client.info("persistence").get("loading") == "0"):
                    return client
            except RedisError:
                pass  # -LOADING: the server is still reading its RDB
            except (OSError, ConnectionError):
                # Not listening yet, or the connection dropped: connect again.
                if client is not None:
                    client.close()
                client = None
            time.sleep(0.002)

    def log_tail(self, lines=20):
        """The last lines of the server's log, for error messages."""
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def pid(self):
        """The server's process id."""
        return self.process.pid

    def rss_kb(self, field="VmRSS"):
        """VmRSS (or RssAnon, RssFile) of the server process, in kB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise BenchError(f"{self.label}: no {field} in /proc/{self.pid}/status")

    def memory(self):
        """{"rss", "anon", "file"} in kB."""
        return {"rss": self.rss_kb(), "anon": self.rss_kb("RssAnon"), "file": self.rss_kb("RssFile")}

    def stop(self):
        """Stops the server (SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if self.client is not None:
                try:
                    self.client.command("SHUTDOWN", "NOSAVE")
                except (OSError, ConnectionError, RedisError):
                    pass  # the connection drops when the server exits
            else:
                self.process.terminate()  # it never became ready
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        if self.client is not None:
            self.client.close()
        self.client = None
        self.process = None


class Servers:
    """Every server started by this run, so that all of them are stopped at
    the end, on an error or on Ctrl-C."""

    def __init__(self):
        self.all = []

    def add(self, server):
        """Registers a server and returns it."""
        self.all.append(server)
        return server

    def stop_all(self):
        """Stops every registered server that is still running."""
        for server in self.all:
            server.stop()
