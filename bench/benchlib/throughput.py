"""Throughput: the redis-benchmark workloads (Workload, WORKLOADS), one
redis-benchmark run (redis_benchmark), and the rounds over every variant with
their medians, ratios to (a) and costs per event (Throughput)."""

import csv
import statistics
import subprocess
import time
from dataclasses import dataclass

from .checks import check_after_measurement, trigger_counters
from .common import CLIENTS, KEYSPACE, REDIS_BENCHMARK, BenchError, log
from .servers import cpu_pinning, pinned, server_env


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
