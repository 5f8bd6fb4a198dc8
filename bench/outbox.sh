#!/usr/bin/env bash
# End to end through the outbox, on this machine: redis-benchmark writes hashes as fast as it
# can (HSET h:__rand_int__ f v, pipeline 16, 32 clients) to Redis 8 with the outbox rule
# `all_hashes EVENTS @hash`, while `outbox-tail` reads the outbox with a consumer group and
# acknowledges every entry. Prints the write rate, the rate entries reached the consumer, and
# its lag (entries written, not yet delivered) sampled every half second.
#
#   bench/outbox.sh [requests]               # default 200000
#   TAIL=path/to/outbox-tail bench/outbox.sh  # another build's
#
# With `drain`, the consumer draining a backlog instead, beside a plain client doing the same
# (tests/examples/outbox_bench.rs says how), and an older build's if BEFORE_TAIL is set:
#
#   [BEFORE_TAIL=old/outbox-tail] bench/outbox.sh drain [entries] [rounds]   # default 200000 3
#
# With `keep-up`, end to end at steady write rates below the server's (the same example):
#
#   bench/outbox.sh keep-up [seconds]    # default 10
#
# Needs scripts/setup.sh (the servers) and `cargo build --release --workspace` (outbox-tail).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
    drain | keep-up)
        [ "$1" = drain ] && shift
        (cd "$ROOT" && cargo build --release --quiet --workspace --examples)
        exec "$ROOT/target/release/examples/outbox_bench" "$@"
        ;;
esac
REQUESTS="${1:-200000}"
BIN="$ROOT/.cache/redis-8/bin"
TAIL="${TAIL:-$ROOT/target/release/outbox-tail}"
for file in "$BIN/redis-server" "$TAIL" "$ROOT/target/release/libwasm_triggers.so"; do
    [ -x "$file" ] || [ -f "$file" ] || { echo "$file is missing: run scripts/setup.sh" >&2; exit 1; }
done
DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cli() { "$BIN/redis-cli" -p "$PORT" "$@"; }
cleanup() {
    [ -n "${READER:-}" ] && kill "$READER" 2>/dev/null || true
    pkill -f "$TAIL --node 127.0.0.1:$PORT" 2>/dev/null || true
    cli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
"$BIN/redis-server" --port "$PORT" --dir "$DIR" --save '' --appendonly no --daemonize yes \
    --logfile "$DIR/redis.log" --loadmodule "$ROOT/target/release/libwasm_triggers.so"
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done
cli OUTBOX ADD all_hashes EVENTS @hash >/dev/null

now() { date +%s.%N; }
# The consumer's lines are counted as they come (a pipe into a counter that
# writes its count to a file), so that the lag (entries appended, not yet
# delivered) is sampled without asking the server anything.
"$TAIL" --node "127.0.0.1:$PORT" --group bench --consumer c1 2>"$DIR/errors" | python3 -c '
import os, sys
count, out = 0, sys.argv[1]
def save():
    with open(out + ".tmp", "w") as f:
        f.write(str(count))
    os.replace(out + ".tmp", out)
while chunk := sys.stdin.buffer.read1(1 << 20):
    count += chunk.count(b"\n")
    save()
' "$DIR/count" &
READER=$!
delivered() { cat "$DIR/count" 2>/dev/null || echo 0; }
appended() { cli INFO triggers | tr -d '\r' | awk -F: '/^triggers_outbox_appended:/ { print $2 }'; }
START=$(now)
"$BIN/redis-benchmark" -p "$PORT" -c 32 -P 16 -r 1000000 -n "$REQUESTS" -q \
    HSET 'h:__rand_int__' f v >/dev/null &
WRITER=$!
LAGS=()
while kill -0 "$WRITER" 2>/dev/null; do
    sleep 0.5
    LAGS+=($(( $(appended) - $(delivered) )))
done
wait "$WRITER"
WRITTEN=$(now)
APPENDED=$(appended)
for _ in $(seq 2400); do
    [ "$(delivered)" -ge "$APPENDED" ] && break
    sleep 0.025
done
DELIVERED=$(now)
COUNT=$(delivered)
pkill -f "$TAIL --node 127.0.0.1:$PORT" 2>/dev/null || true
python3 - "$REQUESTS" "$APPENDED" "$COUNT" "$START" "$WRITTEN" "$DELIVERED" "${LAGS[@]}" <<'PY'
import sys
requests, appended, count = (int(x) for x in sys.argv[1:4])
start, written, delivered = (float(x) for x in sys.argv[4:7])
lags = [int(x) for x in sys.argv[7:]]
print(f"writes: {requests} HSETs in {written - start:.2f} s, {requests / (written - start):,.0f}/s; "
      f"{appended} outbox entries")
print(f"consumer: {count} entries delivered in {delivered - start:.2f} s, "
      f"{count / (delivered - start):,.0f}/s; the last {delivered - written:.2f} s after the "
      f"writes ended")
if lags:
    print(f"lag while writing (every 0.5 s): max {max(lags):,}, samples {lags}")
PY
