#!/usr/bin/env bash
# Profiles one benchmark variant under the HSET pipeline-16 workload:
#
#   bench/profile.sh <variant-letter> [seconds]     # e.g. bench/profile.sh e 10
#
# Starts that variant's server (with WASM_TRIGGERS_PERFMAP=1, so that our
# module writes /tmp/perf-<pid>.map and perf names the guests' functions),
# runs redis-benchmark in the background, records `perf record -F 2000 -g`
# of the server for the given seconds (default 10) into bench/.profile/perf.data,
# then prints the top of the report (with call graphs; add `-g none` to the
# perf report command for a flat list). Guest functions show as
# wasm[0]::function[N] when the guest was built with `strip = true`.
# Run bench/run.sh (or bench/setup.sh) once first so that everything is built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: $0 <variant-letter a..h> [seconds]" >&2
    exit 2
fi
VARIANT="$1"
SECONDS_TO_RECORD="${2:-10}"
python3 "$ROOT/bench/bench.py" --profile "$VARIANT" --seconds "$SECONDS_TO_RECORD"
/usr/bin/perf report -i "$ROOT/bench/.profile/perf.data" --sort dso,sym --stdio --no-children \
    2>/dev/null | head -80 || true  # head closes the pipe early
