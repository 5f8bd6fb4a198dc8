#!/usr/bin/env python3
"""The Wasm tax, instruction by instruction: run through `bench/tax.sh`.

Runs `bench/callgrind.sh` (Redis 8, `HSET h:__rand_int__ f v`, pipeline 16,
after a warm-up that lets the libraries switch to optimized code) for

    (a) no module
    (c) the `empty` trigger (every key, every event, does nothing)
    (d) the `never_matches` trigger (a prefix no key has)
    (e) the `last_updated` example (TYPE, TIME, HSET from `run`)
    (f) the native module doing the same three calls from a post-notification job

and prints the instructions per HSET (the inclusive cost of Redis'
`readQueryFromClient`, as issue 17 measured them), then where they go: the
inclusive cost, per HSET, of the functions that make up an event's path.
Callgrind cannot name the guest's compiled code, so "guest code" is what
is left of the guest call once the host functions it calls are taken out.
Python 3 standard library only.
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE = os.path.join(ROOT, "target/release/libnative_last_updated.so")

VARIANTS = [
    ("a", "no module", ["--module", "none"]),
    ("c", "empty trigger", ["--library", "empty"]),
    ("d", "never_matches", ["--library", "never_matches"]),
    ("e", "last_updated", ["--library", "last_updated"]),
    ("f", "native last_updated", ["--module", NATIVE, "--library", "none"]),
]

# (row, functions whose inclusive costs add up to it). A function name is
# matched against callgrind_annotate's `file:function` entries.
PARTS = [
    ("a request (readQueryFromClient)", ["readQueryFromClient"]),
    ("  the HSET command itself, with its notification", ["hsetCommand"]),
    ("    Redis: module notification (context, client)", ["moduleNotifyKeyspaceEvent"]),
    ("      ours: the notification handler", ["on_keyspace_event", "on_hash_event"]),
    ("  post-notification jobs (Redis)", ["firePostExecutionUnitJobs"]),
    ("    ours: the job", ["RunJob::run", "native_last_updated::stamp"]),
    ("      RM_Call (3 for last_updated)", ["RM_Call"]),
    ("      guest call: entry to exit", ["TypedFunc<Params,Return>::call"]),
    ("        the export looked up (lifted_core_func)", ["Func::lifted_core_func"]),
    ("        trap handling entry and exit (catch_traps)", ["catch_traps"]),
    ("        lowering into the guest (realloc calls)", ["LowerContext<T>::realloc"]),
    ("        post-return", ["Func::post_return_impl"]),
    ("        host.call, with its RM_Call", ["wasm::host::call::call"]),
]


def annotate(directory):
    """Inclusive instructions per function name, from callgrind's output."""
    files = [os.path.join(directory, f) for f in os.listdir(directory) if f.startswith("cg.out")]
    costs = {}
    for path in files:
        text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                              capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            match = re.match(r"\s*([\d,]+)\s+\([\d. %]+\)\s+(\S.*?)(?: \[.*\])?$", line)
            if not match:
                continue
            count = int(match.group(1).replace(",", ""))
            name = match.group(2)
            costs[name] = max(costs.get(name, 0), count)
    return costs


def part(costs, names):
    """The cost of the functions whose name ends with one of `names`."""
    total = 0
    for wanted in names:
        found = [c for n, c in costs.items() if n.endswith(":" + wanted) or n.endswith(wanted)]
        total += max(found, default=0)
    return total


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for letter, name, args in VARIANTS:
            keep = os.path.join(work, letter)
            print(f"({letter}) {name} ...", file=sys.stderr)
            subprocess.run([os.path.join(ROOT, "bench/callgrind.sh"), *args,
                            "--requests", str(requests), "--keep", keep],
                           check=True, stdout=subprocess.DEVNULL)
            results[letter] = annotate(keep)

    def per(letter, names):
        return part(results[letter], names) / requests

    print("| per HSET | " + " | ".join(f"({l}) {n}" for l, n, _ in VARIANTS) + " |")
    print("|---|" + "---:|" * len(VARIANTS))
    for row, names in PARTS:
        cells = [f"{per(l, names):,.0f}" for l, _, _ in VARIANTS]
        print(f"| {row} | " + " | ".join(cells) + " |")
    # Guest code: the guest call less what it spends in the host.
    host = ["Func::lifted_core_func", "catch_traps", "LowerContext<T>::realloc",
            "Func::post_return_impl", "wasm::host::call::call"]
    guest = [per(l, ["TypedFunc<Params,Return>::call"]) - sum(per(l, [h]) for h in host)
             for l, _, _ in VARIANTS]
    print("|         guest code (the rest of the guest call) | "
          + " | ".join(f"{g:,.0f}" if g > 0 else "0" for g in guest) + " |")
    total = {l: per(l, ["readQueryFromClient"]) for l, _, _ in VARIANTS}
    tax = total["e"] - total["f"]
    print(f"\n(f)/(e) = {total['f'] / total['e']:.2f}; the Wasm tax, (e) − (f): {tax:,.0f} "
          f"instructions per event ({requests:,} requests per variant, callgrind).")


if __name__ == "__main__":
    main()
