"""What every layer of the benchmark shares: the paths of the servers,
modules and guests it runs, the redis-benchmark settings, the progress log
and BenchError. Imports nothing from the rest of the package."""

import os
import sys

# This file is bench/benchlib/common.py in the repository.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
