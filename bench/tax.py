#!/usr/bin/env python3
"""The Wasm tax, instruction by instruction: run through `bench/tax.sh`.

Runs `bench/callgrind.sh` (Redis 8, `HSET h:__rand_int__ f v`, pipeline 16,
after a warm-up that lets the libraries switch to optimized code) for

    (a) no module
    (c) the `empty` trigger (every key, every event, does nothing)
    (d) the `never_matches` trigger (a prefix no key has)
    (e) the `last_updated` example (TYPE, TIME, HSET from `run`)
    (p) `last_updated` with TYPE and TIME in one crossing (a `Pipeline`,
        `bench/guests/last_updated_pipelined`)
    (f) the native module doing the same three calls from a post-notification job
    (l) no module: a Lua script doing the client's HSET and the trigger's
        work (`bench/lua/last_updated.lua`, `EVALSHA … 1 h:<n> f v`), what a
        user would run instead of the trigger
    (v) the same script sent whole with `EVAL` (its comment lines left out),
        which Redis hashes on every call to find it

and prints the instructions per HSET (the inclusive cost of Redis'
`readQueryFromClient`, as issue 17 measured them), then where they go: the
inclusive cost, per HSET, of the functions that make up an event's path.
Callgrind cannot name the guest's compiled code: "guest code" is its cost by
address. A last run of (e), built with the names of its functions and with
the module writing a perf map (`WASM_TRIGGERS_PERFMAP=1`), splits that code
by Wasm function. Python 3 standard library only.
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
    ("p", "last_updated, pipelined", ["--library", "last_updated_pipelined"]),
    ("f", "native last_updated", ["--module", NATIVE, "--library", "none"]),
    ("l", "Lua script instead (EVALSHA)", ["--module", "none",
                                 "--lua", os.path.join(ROOT, "bench/lua/last_updated.lua")]),
    ("v", "the same script sent as EVAL", ["--module", "none",
                                 "--eval", os.path.join(ROOT, "bench/lua/last_updated.lua")]),
]

# (row, functions whose inclusive costs add up to it). A name matches a
# function (`moduleNotifyKeyspaceEvent` also its `.part.0` clone) or the end
# of a Rust path (`RunJob::run`); a tuple of names is one function the
# compiler may have inlined into another, the first that is there.
GUEST_CALL = ("TypedFunc<Params,Return>::call", "Func::call_raw")
PARTS = [
    ("a request (readQueryFromClient)", ["readQueryFromClient"]),
    ("  the HSET command, with its notification", ["hsetCommand"]),
    ("    Redis: the notification to modules", ["moduleNotifyKeyspaceEvent"]),
    ("      the module's handler", ["on_keyspace_event", "on_hash_event"]),
    ("  post-notification jobs", ["firePostExecutionUnitJobs"]),
    ("    the module's job", ["redis_module::context::post_notification_job"]),
    ("      RM_Call (3 for last_updated)", ["RM_Call"]),
    ("      the guest call, entry to exit", [GUEST_CALL]),
    ("        the export looked up again (lifted_core_func)", ["Func::lifted_core_func"]),
    ("        lowering into the guest (realloc calls)", ["LowerContext<T>::realloc"]),
    ("        post-return", ["Func::post_return_impl"]),
    ("        host.call, with its RM_Call", [("wasm::host::call::call_v0_2",
                                              "wasm::host::call::call")]),
    ("          of which RM_Call", []),
    ("        host.call's results lowered (within the realloc row and the rest)",
     ["HostFn<T,P,R>>::lower_result"]),
]


def function_of(entry):
    """`file:function` as callgrind_annotate prints it: the function."""
    return entry.split(":", 1)[1] if ":" in entry else entry


def annotate(directory, inclusive):
    """Instructions per function (inclusive or self), from callgrind's output."""
    files = [os.path.join(directory, f) for f in os.listdir(directory) if f.startswith("cg.out")]
    costs = {}
    flag = "--inclusive=yes" if inclusive else "--inclusive=no"
    for path in files:
        text = subprocess.run(["callgrind_annotate", flag, "--threshold=100", path],
                              capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            match = re.match(r"\s*([\d,]+)\s+\([\d. %]+\)\s+(\S.*?)(?: \[.*\])?$", line)
            if not match:
                continue
            name = function_of(match.group(2))
            count = int(match.group(1).replace(",", ""))
            if inclusive:
                costs[name] = max(costs.get(name, 0), count)
            else:
                costs[name] = costs.get(name, 0) + count
    return costs


def matches(function, wanted):
    return (function == wanted or function.startswith(wanted + ".")
            or function.endswith("::" + wanted) or ("::" in wanted and function.endswith(wanted)))


def part(costs, names):
    """The inclusive cost of the functions named."""
    def cost(wanted):
        alternatives = wanted if isinstance(wanted, tuple) else (wanted,)
        for name in alternatives:
            found = max((c for f, c in costs.items() if matches(f, name)), default=0)
            if found:
                return found
        return 0
    return sum(cost(w) for w in names)


def guest_functions(requests):
    """Instructions per HSET of (e)'s guest code, by Wasm function: (e) built
    with its name section (`strip = false`), the guest's addresses named by
    the perf map the module writes."""
    target = os.path.join(ROOT, "target/wasm-names")
    env = {**os.environ, "CARGO_PROFILE_RELEASE_STRIP": "false", "CARGO_TARGET_DIR": target}
    subprocess.run(["cargo", "build", "--release", "--quiet", "--target", "wasm32-wasip2",
                    "-p", "last_updated"], cwd=os.path.join(ROOT, "examples-wasm"), env=env,
                   check=True)
    wasm = os.path.join(target, "wasm32-wasip2/release/last_updated.wasm")
    with tempfile.TemporaryDirectory() as keep:
        print("(e) last_updated, by guest function ...", file=sys.stderr)
        subprocess.run([os.path.join(ROOT, "bench/callgrind.sh"), "--library", wasm,
                        "--requests", str(requests), "--keep", keep],
                       env={**os.environ, "WASM_TRIGGERS_PERFMAP": "1"}, check=True,
                       stdout=subprocess.DEVNULL)
        own = annotate(keep, inclusive=False)
        pids = [f.rsplit(".", 1)[1] for f in os.listdir(keep) if f.startswith("cg.out")]
    ranges = []  # (start, end, name); later entries (optimized code) first
    for pid in pids:
        path = f"/tmp/perf-{pid}.map"
        if not os.path.exists(path):
            continue
        with open(path) as perf_map:
            for line in perf_map:
                start, size, name = line.rstrip("\n").split(" ", 2)
                ranges.append((int(start, 16), int(start, 16) + int(size, 16), name))
        os.remove(path)
    ranges.reverse()
    by_name = {}
    for function, cost in own.items():
        if not re.fullmatch(r"0x[0-9a-f]+", function):
            continue
        address = int(function, 16)
        name = next((n for s, e, n in ranges if s <= address < e), "(not in the perf map)")
        name = re.sub(r"^wasm\[\d+\]::function\[\d+\]::", "", name)
        by_name[name] = by_name.get(name, 0) + cost / requests
    return sorted(merge_demangled(by_name).items(), key=lambda item: -item[1])


def merge_demangled(by_name):
    """The costs by Rust path, with c++filt (binutils) where it is: the
    hash suffix and the crate disambiguators dropped."""
    names = list(by_name)
    try:
        plain = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                               text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        plain = names
    if len(plain) != len(names):
        plain = names
    merged = {}
    for name, readable in zip(names, plain):
        readable = re.sub(r"::h[0-9a-f]{16}$", "", re.sub(r"\[[0-9a-f]{16}\]", "", readable))
        merged[readable] = merged.get(readable, 0) + by_name[name]
    return merged


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    inclusive, own = {}, {}
    with tempfile.TemporaryDirectory() as work:
        for letter, name, args in VARIANTS:
            library = args[args.index("--library") + 1] if "--library" in args else None
            wasm = os.path.join(ROOT, f"target/wasm/{library}.wasm")
            if library not in (None, "none") and "/" not in library and not os.path.exists(wasm):
                # A build from before the variant existed (a table before a change).
                print(f"({letter}) {name}: not built here, left out", file=sys.stderr)
                continue
            keep = os.path.join(work, letter)
            print(f"({letter}) {name} ...", file=sys.stderr)
            subprocess.run([os.path.join(ROOT, "bench/callgrind.sh"), *args,
                            "--requests", str(requests), "--keep", keep],
                           check=True, stdout=subprocess.DEVNULL)
            inclusive[letter] = annotate(keep, inclusive=True)
            own[letter] = annotate(keep, inclusive=False)

    measured = [v for v in VARIANTS if v[0] in inclusive]

    def per(letter, names):
        return part(inclusive[letter], names) / requests

    rows = []
    for row, names in PARTS:
        if not names:  # RM_Call inside host.call: all of them, for (e)
            rows.append((row, [per(l, ["RM_Call"]) if l in "ep" else 0 for l, _, _ in measured]))
            continue
        rows.append((row, [per(l, names) for l, _, _ in measured]))
    # The guest's compiled code has no symbols: callgrind names it by
    # address. Its own cost is the guest code; the rest of the guest call
    # is wasmtime's entry and exit (trap handling, argument lifting).
    guest = [sum(c for f, c in own[l].items() if re.fullmatch(r"0x[0-9a-f]+", f)) / requests
             for l, _, _ in measured]
    inside = ["Func::lifted_core_func", "LowerContext<T>::realloc", "Func::post_return_impl",
              ("wasm::host::call::call_v0_2", "wasm::host::call::call")]
    rest = [per(l, [GUEST_CALL]) - sum(per(l, [h]) for h in inside) - g
            for (l, _, _), g in zip(measured, guest)]
    rows.append(("        guest code (compiled Wasm, by address)", guest))
    rows.append(("        the rest: wasmtime's entry and exit, lifting", rest))

    print("| per HSET | " + " | ".join(f"({l}) {n}" for l, n, _ in measured) + " |")
    print("|---|" + "---:|" * len(measured))
    for row, cells in rows:
        print(f"| {row} | " + " | ".join(f"{max(c, 0):,.0f}" for c in cells) + " |")
    total = {l: per(l, ["readQueryFromClient"]) for l, _, _ in measured}
    tax = total["e"] - total["f"]
    print(f"\n(f)/(e) = {total['f'] / total['e']:.2f}; the Wasm tax, (e) − (f): {tax:,.0f} "
          f"instructions per event ({requests:,} requests per variant, callgrind). The trigger "
          f"against the Lua script a client would run instead, (e)/(l): "
          f"{total['e'] / total['l']:.2f}; against the script sent as EVAL, (e)/(v): "
          f"{total['e'] / total['v']:.2f}.")
    if "p" in total:
        print(f"With TYPE and TIME in one crossing: (f)/(p) = {total['f'] / total['p']:.2f}, "
              f"(p)/(l) = {total['p'] / total['l']:.2f}.")

    functions = guest_functions(requests)
    print("\n| (e)'s guest code by Wasm function | per HSET |\n|---|---:|")
    shown = [(n, c) for n, c in functions if c >= 50]
    for name, cost in shown:
        print(f"| `{name}` | {cost:,.0f} |")
    rest = sum(c for n, c in functions if c < 50)
    print(f"| {len(functions) - len(shown)} more, under 50 each | {rest:,.0f} |")
    print(f"| all the guest code | {sum(c for _, c in functions):,.0f} |")


if __name__ == "__main__":
    main()
