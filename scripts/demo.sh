#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), starts Redis 8 with the module and
# the four example trigger libraries loaded, and shows each trigger fire.
# The server keeps running until Ctrl-C (or exits at once with DEMO_EXIT=1).
#
#   PORT=6400 scripts/demo.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-6399}"

"$ROOT/scripts/setup.sh"

BIN="$ROOT/.cache/redis-8/bin"
DIR="$(mktemp -d)"
cli() { "$BIN/redis-cli" -p "$PORT" "$@"; }
show() { printf '\033[1m127.0.0.1:%s> %s\033[0m\n' "$PORT" "$*"; cli --no-raw "$@"; }
stop() { cli shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"; }

"$BIN/redis-server" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" \
    --logfile "$DIR/redis.log" --loadmodule "$ROOT/target/release/libwasm_triggers.so" &
trap stop EXIT INT TERM
for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done

echo
echo "Redis $("$BIN/redis-server" --version | cut -d' ' -f3 | cut -d= -f2) on port $PORT, with the triggers module. Loading the examples:"
for example in last_updated name_counter expired_orders archive_deleted; do
    printf '\033[1m$ redis-cli -x TRIGGER LOAD < target/wasm/%s.wasm\033[0m\n' "$example"
    cli -x TRIGGER LOAD <"$ROOT/target/wasm/$example.wasm"
done

echo; echo "# last_updated: every modified hash gets __last_updated__"
show HSET user:1 name ada
show HGETALL user:1

echo; echo "# name_counter: on_fired reads each name inside MULTI/EXEC, run counts after EXEC"
printf 'MULTI\nHSET x name tom\nHSET x name jerry\nEXEC\n' | cli >/dev/null
echo "(MULTI; HSET x name tom; HSET x name jerry; EXEC)"
show MGET name_tom name_jerry

echo; echo "# expired_orders: an expiring checkout goes to the outbox with its content, with no client listening"
show HSET checkout:order-42 total 42.50 items 3
show PEXPIRE checkout:order-42 100
sleep 0.5
show OUTBOX STREAMS
STREAM="$(cli --raw OUTBOX STREAMS | sed -n 6p)"
show XRANGE "$STREAM" - +
echo "(read every slot's outbox stream on every node: target/release/outbox-tail --node 127.0.0.1:$PORT)"

echo; echo "# archive_deleted: a deleted hash is kept in archive:<key>, read before the server freed it"
show DEL user:1
show HGETALL archive:user:1

echo; echo "# statistics"
show TRIGGER LIST LIBRARY expired_orders
show INFO triggers

echo
if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo "Redis keeps running on port $PORT: try \`$BIN/redis-cli -p $PORT\`. Ctrl-C stops it."
wait
