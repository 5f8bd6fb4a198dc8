#!/usr/bin/env bash
# The benchmark in one command: installs and builds everything (bench/setup.sh,
# which runs scripts/setup.sh), builds the native baseline, then runs
# bench/bench.py, which writes bench/RESULTS.md.
#
#   bench/run.sh                 # 3 rounds (a few tens of minutes)
#   bench/run.sh --quick         # 1 round of short runs, a smoke test
#   bench/run.sh --only a,b,e    # some variants only ((a) is always added)
#   bench/run.sh --rounds 5 --notes notes.md --out bench/RESULTS.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/bench/setup.sh"
(cd "$ROOT" && cargo build --release -p native-last-updated)
exec python3 "$ROOT/bench/bench.py" "$@"
