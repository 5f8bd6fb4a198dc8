#!/usr/bin/env bash
# The forwarder to RabbitMQ on this machine, with Redis 8 and a real broker
# started for the run (tests/examples/forwarder_bench.rs): SET throughput
# without a rule, with an outbox rule, and with forwarding on, as ratios to
# the first in alternating rounds of one run; end-to-end messages per second
# into the queue; and the drain rate of a backlog after an outage.
#
#   bench/forwarder.sh [requests] [rounds]     # default 100000 3
#
# Needs scripts/setup.sh (Redis 8, RabbitMQ, the module).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet -p wasm-triggers
cargo run --release --quiet -p wasm-triggers-tests --example forwarder_bench -- "$@"
