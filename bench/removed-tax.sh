#!/usr/bin/env bash
# What a trigger that asks for removed values costs a workload it does not match: `HSET
# h:__rand_int__ f v` at pipeline 16 on Redis 8.0, with the module and the example
# expired_orders loaded (prefix `checkout:`, event `expired`, removed values asked), against the
# same server without the module. Both sides in one run:
#
#   (1) instructions per HSET over the whole server (callgrind, bench/callgrind.sh);
#   (2) requests per second: the two servers side by side, ROUNDS alternating rounds of
#       redis-benchmark (1,000,000 requests each), and the ratio of the medians.
#
# The goals: at most 300 instructions more, and a ratio of at least 0.97.
#
#   bench/removed-tax.sh [ROUNDS]     # default 4
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-4}"
BIN="$ROOT/.cache/redis-8/bin"
MODULE="$ROOT/target/release/libwasm_triggers.so"
for file in "$BIN/redis-server" "$MODULE" "$ROOT/target/wasm/expired_orders.wasm"; do
    [ -e "$file" ] || { echo "$file is missing: run scripts/setup.sh first" >&2; exit 1; }
done

count() { "$ROOT/bench/callgrind.sh" --requests 20000 "$@" | sed 's/.*: \([0-9]*\) instructions.*/\1/'; }
bare=$(count --module none)
with=$(count --module "$MODULE" --library expired_orders)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
DIR="$(mktemp -d)"
PLAIN=$(free_port) LOADED=$(free_port)
cleanup() {
    for port in "$PLAIN" "$LOADED"; do "$BIN/redis-cli" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/plain" "$DIR/loaded"
"$BIN/redis-server" --port "$PLAIN" --dir "$DIR/plain" --save '' --daemonize yes --logfile "$DIR/plain.log"
"$BIN/redis-server" --port "$LOADED" --dir "$DIR/loaded" --save '' --daemonize yes --logfile "$DIR/loaded.log" \
    --loadmodule "$MODULE"
for port in "$PLAIN" "$LOADED"; do
    until "$BIN/redis-cli" -p "$port" PING >/dev/null 2>&1; do sleep 0.1; done
done
"$BIN/redis-cli" -p "$LOADED" -x TRIGGER LOAD <"$ROOT/target/wasm/expired_orders.wasm" >/dev/null
rate() {
    "$BIN/redis-benchmark" -p "$1" -c 32 -P 16 -r 1000000 -n 1000000 --csv HSET 'h:__rand_int__' f v \
        | awk -F'"' 'NR == 2 { print $4 }'
}
plain=() loaded=()
for round in $(seq 1 "$ROUNDS"); do
    # Alternating which goes first.
    if [ $((round % 2)) = 1 ]; then plain+=("$(rate "$PLAIN")"); loaded+=("$(rate "$LOADED")")
    else loaded+=("$(rate "$LOADED")"); plain+=("$(rate "$PLAIN")"); fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-50s %12s %12s\n' "Redis 8.0, HSET at pipeline 16" "no module" "expired_orders"
printf '%-50s %12d %12d\n' "instructions per HSET (callgrind)" "$bare" "$with"
printf '%-50s %12s %12s\n' "requests/s, each round" "${plain[*]}" "${loaded[*]}"
printf '%-50s %12.0f %12.0f\n' "requests/s, median" "$(median "${plain[@]}")" "$(median "${loaded[@]}")"
printf '%-50s %12d %12s\n' "instructions more per HSET (goal: at most 300)" "$((with - bare))" ""
printf '%-50s %12s %12s\n' "throughput ratio (goal: at least 0.97)" \
    "$(python3 -c "print(f'{$(median "${loaded[@]}") / $(median "${plain[@]}"):.3f}')")" ""
