#!/usr/bin/env bash
# The soak test (see bench/soak.py): sets up like bench/run.sh, then runs
# millions of events through a trigger that fails one time in ten, and
# writes bench/SOAK.md. Not part of the default test run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/bench/setup.sh"
exec python3 "$ROOT/bench/soak.py" "$@"
