#!/usr/bin/env bash
# Builds the example trigger libraries to Wasm components in target/wasm/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/target/wasm"
mkdir -p "$OUT"
build() { # <workspace dir>
    (cd "$1" && cargo build --release --target wasm32-wasip2 --quiet)
    for wasm in "$1"/target/wasm32-wasip2/release/*.wasm; do
        cp "$wasm" "$OUT/"
    done
}
build "$ROOT/examples-wasm"
if [ -d "$ROOT/tests/guests" ]; then build "$ROOT/tests/guests"; fi
if [ -d "$ROOT/bench/guests" ]; then build "$ROOT/bench/guests"; fi
ls "$OUT"/*.wasm >&2
