#!/usr/bin/env bash
# The forwarder to RabbitMQ on this machine, with Redis 8 and a real broker
# started for the run (tests/examples/forwarder_bench.rs): SET throughput
# without a rule, with an outbox rule, and with forwarding on, as ratios to
# the first in alternating rounds of one run; end-to-end messages per second
# into the queue; the drain rate of a backlog after an outage; and the
# forwarder draining a backlog over 64 streams beside a plain lapin client
# publishing as many messages with confirms (at most 1,000 unconfirmed) to
# the same broker, and beside amqplib doing the same (if Node is here), with
# a second client's PING p99 during each; and end to end at steady write
# rates below the broker's (the forwarder's largest backlog and lag).
#
#   bench/forwarder.sh [drain] [requests] [rounds]     # default 100000 3; drain: only the last part
#   BEFORE_MODULE=old.so bench/forwarder.sh drain     # and an older build's forwarder in the same rounds
#   bench/forwarder.sh keep-up [seconds]               # only the end to end at steady write rates (default 10 s)
#
# Needs scripts/setup.sh (Redis 8, RabbitMQ, the module).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The second anchor, amqplib (Node's AMQP client), from the npm registry at
# the version and SHA-512 of bench/amqplib/package-lock.json (`npm ci`
# checks them), under .cache/amqplib. Skipped without Node.
if command -v node >/dev/null && command -v npm >/dev/null; then
    ANCHOR="$ROOT/.cache/amqplib"
    if ! cmp -s "$ROOT/bench/amqplib/package-lock.json" "$ANCHOR/package-lock.json" 2>/dev/null; then
        rm -rf "$ANCHOR" && mkdir -p "$ANCHOR"
        cp "$ROOT/bench/amqplib/package.json" "$ROOT/bench/amqplib/package-lock.json" "$ANCHOR/"
        (cd "$ANCHOR" && npm ci --no-audit --no-fund --silent)
    fi
    export AMQPLIB_PUBLISHER="$ROOT/bench/amqplib/publish.js" NODE_PATH="$ANCHOR/node_modules"
else
    echo "no node: the amqplib anchor is left out" >&2
fi
cargo build --release --quiet --workspace --examples
"$ROOT/target/release/examples/forwarder_bench" "$@"
