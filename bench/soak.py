#!/usr/bin/env python3
"""The soak test: millions of events through a trigger that fails one time
in ten, on Redis 7.4.1 (the benchmark's server) with our module.

Checks, and writes to bench/SOAK.md:
- RSS is stable: sampled through the run, compared after each pass of
  1,000,000 events, once warmed up;
- num_triggered == num_success + num_failed, and the failures are the 10%;
- the server keeps answering: a second client PINGs it all along, and the
  slowest PING is reported.

Not part of the default test run (it takes a few minutes): run
`bench/soak.sh`, which sets everything up first.
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the benchmark's servers, clients and paths)

EVENTS_PER_PASS = 1_000_000
# 10,000 keys: the first pass fills the keyspace, so that later passes
# only overwrite keys and any growth of the RSS is the module's.
KEYSPACE = 10_000


def used_memory_kb(client):
    """Redis' own `used_memory` (its dataset and buffers), in kB."""
    for line in client.command("INFO", "memory").decode().splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1]) // 1024
    return 0


def trigger_stats(client):
    """The flaky trigger's statistics, as a dict of str to int."""
    library = client.command("TRIGGER", "LIST", "LIBRARY", "flaky")[0]
    trigger = bench.pairs(bench.pairs(library)["triggers"][0])
    return {k: v for k, v in trigger.items() if isinstance(v, int)}


class Sampler(threading.Thread):
    """Samples the server's RSS and a PING's round trip every 100 ms from
    a client of its own."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.client = bench.Client(server.port)
        self.stop = threading.Event()
        self.rss = []
        self.slowest_ping = 0.0
        self.pings = 0

    def run(self):
        while not self.stop.is_set():
            started = time.perf_counter()
            reply = self.client.command("PING")
            elapsed = time.perf_counter() - started
            if reply != b"PONG":
                raise bench.BenchError(f"PING answered {reply!r}")
            self.pings += 1
            self.slowest_ping = max(self.slowest_ping, elapsed)
            self.rss.append(self.server.rss_kb())
            time.sleep(0.1)


def soak(passes):
    base_dir = tempfile.mkdtemp(prefix="wasm-triggers-soak-")
    servers = bench.Servers()
    try:
        pinning = bench.cpu_pinning()
        server = servers.add(bench.Server("soak", ["--loadmodule", bench.MODULE],
                                          os.path.join(base_dir, "soak"),
                                          cpu=pinning[0] if pinning else None))
        server.start()
        with open(os.path.join(bench.WASM_DIR, "flaky.wasm"), "rb") as f:
            server.client.command("TRIGGER", "LOAD", f.read())
        bench.wait_for_optimized_code(server.client)
        sampler = Sampler(server)
        sampler.start()
        rss_after_pass, used_after_pass = [], []
        started = time.perf_counter()
        for index in range(passes):
            args = [bench.REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(server.port),
                    "-c", "32", "-r", str(KEYSPACE), "-n", str(EVENTS_PER_PASS), "-P", "16",
                    "-q", "--csv", "SET", "soak:__rand_int__", "v"]
            args = bench.pinned(args, pinning[1] if pinning else None)
            subprocess.run(args, check=True, capture_output=True, env=bench.server_env())
            rss_after_pass.append(server.rss_kb())
            used = used_memory_kb(server.client)
            used_after_pass.append(used)
            bench.log(f"pass {index + 1}/{passes}: RSS {rss_after_pass[-1]} kB, "
                      f"used_memory {used} kB")
        elapsed = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        stats = trigger_stats(server.client)
        count = int(server.client.command("GET", "soak:count") or 0)
        alive = server.client.command("PING") == b"PONG"
        server.stop()
        return {
            "passes": passes, "elapsed": elapsed, "stats": stats, "count": count,
            "rss_after_pass": rss_after_pass, "used_after_pass": used_after_pass, "rss_min": min(sampler.rss),
            "rss_max": max(sampler.rss), "slowest_ping": sampler.slowest_ping,
            "pings": sampler.pings, "alive": alive,
            "redis_version": bench.command_output([bench.REDIS_SERVER, "--version"]),
        }
    finally:
        servers.stop_all()


def report(result, path):
    stats = result["stats"]
    events = result["passes"] * EVENTS_PER_PASS
    adds_up = stats["num_triggered"] == stats["num_success"] + stats["num_failed"]
    failed_share = stats["num_failed"] / max(stats["num_triggered"], 1)
    rss = result["rss_after_pass"]
    growth = (rss[-1] - rss[0]) / 1024
    lines = [
        "# Soak test",
        "",
        "Generated by `bench/soak.py` (through `bench/soak.sh`).",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "- Machine: {cpus} CPUs, {model}, kernel {kernel}, {memory} memory".format(
            **bench.machine_description()),
        f"- Server: {result['redis_version']}, our module, the `flaky` library (bench/guests/flaky: "
        "fails on keys ending in 0, one in ten, and counts the others)",
        f"- Load: {result['passes']} passes of redis-benchmark -c 32 -P 16 -r 1000000 -n "
        f"{EVENTS_PER_PASS:,} -r {KEYSPACE:,} `SET soak:__rand_int__ v`: {events:,} events in "
        f"{result['elapsed']:.0f} s",
        "",
        "| check | measured | result |",
        "|---|---|---|",
        f"| num_triggered = num_success + num_failed | {stats['num_triggered']:,} = "
        f"{stats['num_success']:,} + {stats['num_failed']:,} | {'pass' if adds_up else 'FAIL'} |",
        f"| every event fired the trigger | {stats['num_triggered']:,} of {events:,} | "
        f"{'pass' if stats['num_triggered'] == events else 'FAIL'} |",
        f"| failures are the keys ending in 0 | {failed_share:.1%} | "
        f"{'pass' if 0.09 < failed_share < 0.11 else 'FAIL'} |",
        f"| successes counted by the trigger | soak:count = {result['count']:,} | "
        f"{'pass' if result['count'] == stats['num_success'] else 'FAIL'} |",
        "| RSS after each pass | " + ", ".join(f"{kb / 1024:.1f} MB" for kb in rss)
        + f" (first to last: {growth:+.1f} MB) | {'pass' if abs(growth) < 2 else 'FAIL'} |",
        "| Redis' used_memory after each pass | "
        + ", ".join(f"{kb / 1024:.1f} MB" for kb in result["used_after_pass"]) + " | |",
        f"| RSS while running | {result['rss_min'] / 1024:.1f} – {result['rss_max'] / 1024:.1f} MB | |",
        f"| a second client's PING, every 100 ms | {result['pings']:,} answered, slowest "
        f"{result['slowest_ping'] * 1000:.1f} ms | {'pass' if result['alive'] else 'FAIL'} |",
        "",
        f"The first pass fills the keyspace ({KEYSPACE:,} keys) and warms up; later passes only "
        "overwrite keys, so the RSS must not grow after it (the pass/fail bound is 2 MB). The "
        "module's memory is not in `used_memory` (it uses the system allocator).",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    bench.log(f"wrote {path}")
    return adds_up and stats["num_triggered"] == events and abs(growth) < 2 and result["alive"]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3, help="passes of 1,000,000 events")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "SOAK.md"))
    args = parser.parse_args(argv)
    ok = report(soak(args.passes), args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
