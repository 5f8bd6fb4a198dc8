#!/usr/bin/env bash
# wasm-pack's builds of the examples against their wasip2 builds, on Redis 8
# (tests/examples/wasm_pack_bench.rs): file and library sizes, and the time
# of TRIGGER LOAD, in alternating rounds of one run.
#
#   bench/wasm-pack.sh [rounds]     # default 21
#
# Needs scripts/setup.sh (Redis 8, the module, both builds of the examples).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet -p wasm-triggers
cargo run --release --quiet -p wasm-triggers-tests --example wasm_pack_bench -- "$@"
