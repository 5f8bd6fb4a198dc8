"""What each variant of the benchmark loads: the module files and guests of
a run (Binaries, load_binaries), the variants (a) to (k) (Variant, VARIANTS,
VARIANT_BY_LETTER) and starting a variant's server (module_args,
start_variant)."""

import os
import shutil
from dataclasses import dataclass, field

from .common import (
    EXAMPLES, GEARS, GEARS_V8_PLUGIN, JS_DIR, MODULE, NATIVE, REDIS_BENCHMARK, REDIS_SERVER,
    WASM_DIR, BenchError, log,
)
from .resp import RedisError
from .servers import Server, cpu_pinning


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
