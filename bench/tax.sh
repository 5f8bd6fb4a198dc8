#!/usr/bin/env bash
# The Wasm tax, instruction by instruction (issue 17): instructions per HSET for (a) no module,
# (c) the empty trigger, (d) never_matches, (e) last_updated and (f) the native module, and where
# they go, from callgrind (bench/callgrind.sh, bench/tax.py).
#
#   bench/tax.sh [REQUESTS]     # per variant, default 20000
#
# Needs scripts/setup.sh, the native baseline (cargo build --release -p native-last-updated) and
# valgrind. About 5 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(cd "$ROOT" && cargo build --release --quiet -p native-last-updated)
exec python3 "$ROOT/bench/tax.py" "$@"
