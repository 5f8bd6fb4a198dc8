"""Everything but throughput, each on fresh servers with our module: the RSS
with 0, 1 and 20 libraries (measure_rss), the latency of TRIGGER LOAD
(measure_load_latency) and the restart time with 20 libraries in the RDB
(measure_restart), with the helpers that make and load those libraries."""

import os
import shutil
import statistics
import time

from .common import EXAMPLES, BenchError, log
from .resp import pairs
from .servers import Server


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
