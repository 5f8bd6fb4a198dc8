#!/usr/bin/env bash
# Instructions per request of the benchmark's HSET pipeline-16 workload, counted by callgrind
# over the whole redis-server process: a figure that repeats on a noisy machine, unlike a rate.
#
#   bench/callgrind.sh [--module PATH.so|none] [--library NAME|none] [--rule 'NAME ARGS…']
#                      [--requests N] [--warmup N] [--command 'CMD ARGS…'] [--keys N] [--keep DIR]
#                      [--lua FILE] [--eval FILE]
#
# Starts Redis 8 (.cache/redis-8, from scripts/setup.sh) under valgrind with the module
# (default target/release/libwasm_triggers.so; "none" for no module), loads the library
# (target/wasm/<NAME>.wasm, default last_updated; a path loads that file; "none" for no library)
# and the outbox rule given (`OUTBOX ADD NAME ARGS…`, e.g. --rule 'all EVENTS @hash'), warms up
# with --warmup requests (default: as many as counted) and waits for the optimized code, then
# counts N more (--requests, default 20000) `HSET h:__rand_int__ f v` at pipeline 16 (--command
# another one, `__rand_int__` one of --keys numbers, default 1000000) and prints the
# instructions per request. Give two
# --module builds in two runs to compare them. --lua FILE loads that script (SCRIPT LOAD) and
# counts `EVALSHA <sha> 1 h:__rand_int__ f v` instead (with --module none: the same work as a
# trigger, done by a script the client runs); --eval FILE counts `EVAL <FILE's text> 1
# h:__rand_int__ f v`, the script (its comment lines left out) sent whole each time, which
# Redis hashes to find it. --keep DIR copies callgrind's output there, for
# callgrind_annotate (bench/tax.sh). WASM_TRIGGERS_PERFMAP=1 in the environment has the module
# name the guests' functions in /tmp/perf-<pid>.map, <pid> as in DIR/cg.out.<pid>.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/target/release/libwasm_triggers.so"
LIBRARY=last_updated
RULE=""
REQUESTS=20000
WARMUP=""
COMMAND="HSET h:__rand_int__ f v"
KEYS=1000000
KEEP=""
LUA=""
EVAL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --module) MODULE="$2"; shift 2 ;;
        --library) LIBRARY="$2"; shift 2 ;;
        --rule) RULE="$2"; shift 2 ;;
        --requests) REQUESTS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --command) COMMAND="$2"; shift 2 ;;
        --keys) KEYS="$2"; shift 2 ;;
        --keep) KEEP="$2"; shift 2 ;;
        --lua) LUA="$2"; shift 2 ;;
        --eval) EVAL="$2"; shift 2 ;;
        *) echo "usage: $0 [--module PATH.so|none] [--library NAME|none] [--rule 'NAME ARGS…'] [--requests N] [--warmup N] [--command 'CMD ARGS…'] [--keys N] [--keep DIR] [--lua FILE] [--eval FILE]" >&2; exit 2 ;;
    esac
done
BIN="$ROOT/.cache/redis-8/bin"
for tool in valgrind callgrind_control; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install valgrind)" >&2; exit 1; }
done
[ -x "$BIN/redis-server" ] || { echo "run scripts/setup.sh first" >&2; exit 1; }

DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cleanup() {
    "$BIN/redis-cli" -p "$PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

LOAD=()
if [ "$MODULE" = none ]; then
    LIBRARY=none; RULE=""
elif [ "$(basename "$MODULE")" = libwasm_triggers.so ]; then
    # Under valgrind a pipeline's triggers can take longer than the default
    # time limit, and Redis would answer -BUSY: a minute, for the count.
    LOAD=(--loadmodule "$MODULE" max-execution-time 60000)
else
    LOAD=(--loadmodule "$MODULE")
fi
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/cg.out.%p" \
    "$BIN/redis-server" --port "$PORT" --dir "$DIR" --save '' --appendonly no \
    "${LOAD[@]}" >"$DIR/valgrind.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
    "$BIN/redis-cli" -p "$PORT" PING >/dev/null 2>&1 && break
    sleep 0.2
done
if [ "$LIBRARY" != none ]; then
    # A name is an example in target/wasm; a path is a component to load as it is.
    case "$LIBRARY" in */*) WASM="$LIBRARY" ;; *) WASM="$ROOT/target/wasm/$LIBRARY.wasm" ;; esac
    "$BIN/redis-cli" -p "$PORT" -x TRIGGER LOAD <"$WASM" >/dev/null
fi
if [ -n "$RULE" ]; then
    # shellcheck disable=SC2086  # the rule's words are separate arguments
    "$BIN/redis-cli" -p "$PORT" OUTBOX ADD $RULE >/dev/null
fi
if [ -n "$LUA" ]; then
    SHA="$("$BIN/redis-cli" -p "$PORT" SCRIPT LOAD "$(cat "$LUA")")"
    COMMAND="EVALSHA $SHA 1 h:__rand_int__ f v"
fi
# The command's words, split on spaces without expanding `*`; a script sent
# with EVAL is one word.
read -ra WORDS <<<"$COMMAND"
if [ -n "$EVAL" ]; then
    WORDS=(EVAL "$(grep -v '^--' "$EVAL")" 1 'h:__rand_int__' f v)
    COMMAND="EVAL"
fi
workload() {
    "$BIN/redis-benchmark" -p "$PORT" -c 32 -P 16 -r "$KEYS" -n "$1" -q "${WORDS[@]}" >/dev/null
}
workload "${WARMUP:-$REQUESTS}"
# Cranelift's code replaces the baseline code in the background.
sleep 15
callgrind_control -i on "$PID" >/dev/null 2>&1
workload "$REQUESTS"
callgrind_control -i off "$PID" >/dev/null 2>&1
"$BIN/redis-cli" -p "$PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$PID" 2>/dev/null || true
TOTAL=$(grep -h "^summary:\|^totals:" "$DIR"/cg.out.* | awk '{ s += $2 } END { print s }')
if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$DIR"/cg.out.* "$KEEP/"; fi
echo "$(basename "$MODULE") (library $LIBRARY${RULE:+, rule $RULE}): $((TOTAL / REQUESTS)) instructions per ${COMMAND%% *} ($TOTAL over $REQUESTS)"
