#!/usr/bin/env bash
# End to end through the outbox, on this machine: redis-benchmark writes hashes as fast as it
# can (HSET h:__rand_int__ f v, pipeline 16, 32 clients) to Redis 8 with the outbox rule
# `all_hashes EVENTS @hash`, while `outbox-tail` reads the outbox with a consumer group and
# acknowledges every entry. Prints the write rate, the rate entries reached the consumer, and
# its lag (entries written, not yet delivered) sampled every half second.
#
#   bench/outbox.sh [requests]       # default 200000
#
# Needs scripts/setup.sh (the servers) and `cargo build --release --workspace` (outbox-tail).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS="${1:-200000}"
BIN="$ROOT/.cache/redis-8/bin"
TAIL="$ROOT/target/release/outbox-tail"
for file in "$BIN/redis-server" "$TAIL" "$ROOT/target/release/libwasm_triggers.so"; do
    [ -x "$file" ] || [ -f "$file" ] || { echo "$file is missing: run scripts/setup.sh" >&2; exit 1; }
done
DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cli() { "$BIN/redis-cli" -p "$PORT" "$@"; }
cleanup() {
    [ -n "${READER:-}" ] && kill "$READER" 2>/dev/null || true
    cli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
"$BIN/redis-server" --port "$PORT" --dir "$DIR" --save '' --appendonly no --daemonize yes \
    --logfile "$DIR/redis.log" --loadmodule "$ROOT/target/release/libwasm_triggers.so"
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done
cli OUTBOX ADD all_hashes EVENTS @hash >/dev/null

now() { date +%s.%N; }
"$TAIL" --node "127.0.0.1:$PORT" --group bench --consumer c1 --lag-every 0.5 \
    >"$DIR/entries" 2>"$DIR/lag" &
READER=$!
START=$(now)
"$BIN/redis-benchmark" -p "$PORT" -c 32 -P 16 -r 1000000 -n "$REQUESTS" -q \
    HSET 'h:__rand_int__' f v >/dev/null
WRITTEN=$(now)
APPENDED=$(cli INFO triggers | tr -d '\r' | awk -F: '/^triggers_outbox_appended:/ { print $2 }')
for _ in $(seq 1200); do
    [ "$(wc -l <"$DIR/entries")" -ge "$APPENDED" ] && break
    sleep 0.05
done
DELIVERED=$(now)
COUNT=$(wc -l <"$DIR/entries")
python3 - "$REQUESTS" "$APPENDED" "$COUNT" "$START" "$WRITTEN" "$DELIVERED" "$DIR/lag" <<'PY'
import json, sys
requests, appended, count = (int(x) for x in sys.argv[1:4])
start, written, delivered = (float(x) for x in sys.argv[4:7])
lags = []
for line in open(sys.argv[7]):
    try:
        lags.append(json.loads(line)["lag"])
    except (ValueError, KeyError):
        pass
print(f"writes: {requests} HSETs in {written - start:.2f} s, {requests / (written - start):,.0f}/s; "
      f"{appended} outbox entries")
print(f"consumer: {count} entries delivered and acknowledged in {delivered - start:.2f} s, "
      f"{count / (delivered - start):,.0f}/s; the last {delivered - written:.2f} s after the "
      f"writes ended")
if lags:
    print(f"lag while writing and after (every 0.5 s): max {max(lags):,}, samples {lags}")
PY
