#!/usr/bin/env bash
# The Wasm tax, instruction by instruction (issue 17): instructions per HSET for (a) no module,
# (c) the empty trigger, (d) never_matches, (e) last_updated, (p) last_updated with TYPE and TIME
# pipelined, (f) the native module, (l) the Lua script a client would run instead (EVALSHA) and
# (v) the same script sent as EVAL, and where they go, from callgrind (bench/callgrind.sh,
# bench/tax.py); then (e)'s guest code by Wasm function, from a build of last_updated with its
# function names and the module's perf map.
#
#   bench/tax.sh [REQUESTS]     # per variant, default 20000
#
# Needs scripts/setup.sh, the native baseline (built here) and valgrind; c++filt (binutils), where
# it is, gives the guest's functions their Rust names. About 8 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(cd "$ROOT" && cargo build --release --quiet -p native-last-updated)
exec python3 "$ROOT/bench/tax.py" "$@"
