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

This file is the command line and its two modes; the rest is in
bench/benchlib/, one module per role (see its __init__.py).
"""

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The package next to this file. Python puts the script's directory first on
# sys.path, and bench/soak.py and bench/removed_value.py put it there before
# `import bench`; this covers the rest (python3 -P, PYTHONSAFEPATH).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Every name the single-file bench.py defined is still a name of this module
# (`import bench` in bench/soak.py and bench/removed_value.py uses them).
from benchlib.common import (  # noqa: E402
    CHECK_KEY, CLIENTS, EXAMPLES, GEARS, GEARS_V8_PLUGIN, JS_DIR, KEYSPACE, LIBSSL_DIR, MODULE,
    NATIVE, PERF, PROFILE_DIR, REDIS_BENCHMARK, REDIS_SERVER, ROOT, STACK, WASM_DIR, BenchError,
    log,
)
from benchlib.resp import Client, RedisError, pairs  # noqa: E402
from benchlib.servers import (  # noqa: E402
    Server, Servers, cpu_pinning, free_port, pinned, server_env,
)
from benchlib.variants import (  # noqa: E402
    VARIANT_BY_LETTER, VARIANTS, Binaries, Variant, load_binaries, module_args, start_variant,
)
from benchlib.checks import check_after_measurement, trigger_counters  # noqa: E402
from benchlib.throughput import WORKLOADS, Throughput, Workload, redis_benchmark  # noqa: E402
from benchlib.footprint import (  # noqa: E402
    check_listed, listed_libraries, load_libraries, measure_load_latency, measure_restart,
    measure_rss, renamed_library, timed, twenty_libraries, wait_for_optimized_code,
)
from benchlib.report import (  # noqa: E402
    command_output, fmt_ratio, load_average, machine_description, target_rows, write_report,
)

__all__ = [
    # benchlib.common
    "CHECK_KEY", "CLIENTS", "EXAMPLES", "GEARS", "GEARS_V8_PLUGIN", "JS_DIR", "KEYSPACE",
    "LIBSSL_DIR", "MODULE", "NATIVE", "PERF", "PROFILE_DIR", "REDIS_BENCHMARK", "REDIS_SERVER",
    "ROOT", "STACK", "WASM_DIR", "BenchError", "log",
    # benchlib.resp
    "Client", "RedisError", "pairs",
    # benchlib.servers
    "Server", "Servers", "cpu_pinning", "free_port", "pinned", "server_env",
    # benchlib.variants
    "VARIANT_BY_LETTER", "VARIANTS", "Binaries", "Variant", "load_binaries", "module_args",
    "start_variant",
    # benchlib.checks
    "check_after_measurement", "trigger_counters",
    # benchlib.throughput
    "WORKLOADS", "Throughput", "Workload", "redis_benchmark",
    # benchlib.footprint
    "check_listed", "listed_libraries", "load_libraries", "measure_load_latency",
    "measure_restart", "measure_rss", "renamed_library", "timed", "twenty_libraries",
    "wait_for_optimized_code",
    # benchlib.report
    "command_output", "fmt_ratio", "load_average", "machine_description", "target_rows",
    "write_report",
    # this file: the two modes
    "parse_args", "selected_variants", "benchmark", "profile", "main",
]


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
