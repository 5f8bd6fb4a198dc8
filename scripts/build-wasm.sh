#!/usr/bin/env bash
# Builds the example trigger libraries to Wasm components in target/wasm/,
# and each example with wasm-pack (core modules) in target/wasm-pack/.
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

# wasm-pack, as the README tells users: `--no-opt` (no wasm-opt download),
# the wasm32-unknown-unknown target (wasm-bindgen cannot take wasip2), and
# the tools the setup installed (`--mode no-install`: nothing downloaded).
PACK="$ROOT/target/wasm-pack"
mkdir -p "$PACK"
for example in "$ROOT"/examples-wasm/*/; do
    name="$(basename "$example")"
    [ -f "$example/Cargo.toml" ] || continue
    (cd "$example" && PATH="$ROOT/.cache/tools/bin:$PATH" wasm-pack --quiet build --no-opt \
        --mode no-install --out-dir "$PACK/$name" -- --target wasm32-unknown-unknown)
    cp "$PACK/$name/${name}_bg.wasm" "$PACK/"
done
ls "$PACK"/*_bg.wasm >&2
