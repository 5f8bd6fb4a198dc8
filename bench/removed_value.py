#!/usr/bin/env python3
"""What a removed value costs per event: instructions (callgrind) and time
per `DEL` of a hash, with a trigger on `del` that asks for removed values
and one that does not.

Run it through `bench/removed-value.sh`. Python 3 standard library only;
Redis 8 from .cache/redis-8 and the `removed_reader` bench library
(bench/guests/removed_reader) from target/wasm.

Variants, each a `DEL` of one hash, fired by a trigger whose `run` makes no
Redis call:

    (0) no trigger asks for removed values (`CONFIG {"ask": false}`): the
        server does not listen for them, the baseline;
    (1) a trigger asks, for another prefix: the server listens, checks the
        key's prefix, reads nothing;
    (2) the trigger asks, `run` does not look: the value is read and held;
    (3) the trigger asks and `run` takes the value (`Event::removed_value`).

Hashes of 5 fields and of 10,000 (under the default cap of 1 MB). The
instructions are counted over the whole server process by callgrind (a
figure that repeats); the times are medians of rounds on a server without
valgrind, all variants in the same run.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Client, free_port, wait_for_optimized_code)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, ".cache/redis-8/bin/redis-server")
MODULE = os.path.join(ROOT, "target/release/libwasm_triggers.so")
LIBRARY = os.path.join(ROOT, "target/wasm/removed_reader.wasm")

VARIANTS = [
    ("(0) no trigger asks", False, "a:"),
    ("(1) a trigger asks, another prefix", True, "a:"),
    ("(2) asked, read, not used", True, "b:"),
    ("(3) asked, read, used by run", True, "c:"),
]
# (fields per hash, hashes per measurement under callgrind, and timed)
SIZES = [(5, 2000, 20000), (10000, 20, 200)]


def populate(client, prefix, fields, count):
    """`count` hashes `<prefix><i>` of `fields` fields each, pipelined."""
    batch = []
    for i in range(count):
        args = [b"HSET", f"{prefix}{i}".encode()]
        for f in range(fields):
            args += [b"field%d" % f, b"value of field %d" % f]
        batch.append(args)
        if len(batch) >= 50:
            pipeline(client, batch)
            batch = []
    pipeline(client, batch)


def pipeline(client, commands):
    """Sends the commands at once, then reads every reply."""
    out = []
    for args in commands:
        out.append(b"*%d\r\n" % len(args))
        for arg in args:
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    client.sock.sendall(b"".join(out))
    for _ in commands:
        client._read_reply()


def delete_all(client, prefix, count):
    pipeline(client, [[b"DEL", f"{prefix}{i}".encode()] for i in range(count)])


class Server:
    def __init__(self, ask, valgrind):
        self.dir = tempfile.mkdtemp()
        self.port = bench.free_port()
        command = [SERVER, "--port", str(self.port), "--dir", self.dir, "--save", "",
                   "--appendonly", "no", "--loadmodule", MODULE]
        if valgrind:
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                       f"--callgrind-out-file={self.dir}/cg.out"] + command
        self.valgrind = valgrind
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.client = bench.Client(self.port, timeout=600)
                self.client.command("PING")
                break
            except (OSError, ConnectionError, bench.RedisError):
                if time.monotonic() > deadline:
                    raise bench.BenchError("the server did not start")
                time.sleep(0.2)
        with open(LIBRARY, "rb") as f:
            code = f.read()
        config = '{"ask": true}' if ask else '{"ask": false}'
        self.client.command("TRIGGER", "LOAD", "CONFIG", config, code)
        # Warm up, then wait for Cranelift's code.
        for prefix in ("a:", "b:", "c:"):
            populate(self.client, prefix, 5, 200)
            delete_all(self.client, prefix, 200)
        bench.wait_for_optimized_code(self.client, timeout=300)

    def instructions(self, prefix, fields, count):
        """Instructions per DEL of a `fields`-field hash under `prefix`."""
        populate(self.client, prefix, fields, count)
        pid = str(self.process.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True,
                       stdout=subprocess.DEVNULL)
        delete_all(self.client, prefix, count)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True,
                       stdout=subprocess.DEVNULL)
        before = set(os.listdir(self.dir))
        subprocess.run(["callgrind_control", "-d", pid], check=True, stdout=subprocess.DEVNULL)
        dumps = sorted(set(os.listdir(self.dir)) - before)
        total = 0
        for dump in dumps:
            with open(os.path.join(self.dir, dump)) as f:
                # The header's `summary:` can be 0; the `totals:` line counts.
                total += sum(int(line.split()[1]) for line in f if line.startswith("totals:"))
        return total / count

    def seconds(self, prefix, fields, count):
        """Seconds per DEL of a `fields`-field hash under `prefix`."""
        populate(self.client, prefix, fields, count)
        started = time.perf_counter()
        delete_all(self.client, prefix, count)
        return (time.perf_counter() - started) / count

    def stop(self):
        try:
            self.client.command("SHUTDOWN", "NOSAVE")
        except (OSError, ConnectionError, bench.RedisError):
            pass
        self.process.wait(timeout=120)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    instructions = {}
    for ask in (False, True):
        server = Server(ask, valgrind=True)
        for name, variant_ask, prefix in VARIANTS:
            if variant_ask != ask:
                continue
            for fields, count, _ in SIZES:
                instructions[(name, fields)] = server.instructions(prefix, fields, count)
                print(f"{name}, {fields} fields: {instructions[(name, fields)]:,.0f} "
                      "instructions per DEL", file=sys.stderr)
        server.stop()
    times = {}
    servers = {ask: Server(ask, valgrind=False) for ask in (False, True)}
    for _ in range(rounds):
        for name, ask, prefix in VARIANTS:
            for fields, _, count in SIZES:
                times.setdefault((name, fields), []).append(
                    servers[ask].seconds(prefix, fields, count))
    for server in servers.values():
        server.stop()

    print("| variant | " + " | ".join(
        f"{f:,}-field hash: instructions / µs per DEL" for f, _, _ in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for name, _, _ in VARIANTS:
        cells = []
        for fields, _, _ in SIZES:
            extra = instructions[(name, fields)] - instructions[(VARIANTS[0][0], fields)]
            sign = "+" if extra >= 0 else "−"
            cells.append(f"{instructions[(name, fields)]:,.0f} ({sign}{abs(extra):,.0f}) / "
                         f"{statistics.median(times[(name, fields)]) * 1e6:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n(instructions: callgrind, whole server; in parentheses, against (0). "
          f"µs: median of {rounds} rounds, pipelined DELs, same run.)")


if __name__ == "__main__":
    main()
