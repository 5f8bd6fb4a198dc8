#!/usr/bin/env bash
# What a removed value costs per event (`with_removed_value`): instructions per DEL of a
# 5-field and of a 10,000-field hash, counted by callgrind, and µs per DEL, for a trigger on
# `del` that does not ask, one that asks for another prefix, and one that asks (value held;
# value used). See bench/removed_value.py.
#
#   bench/removed-value.sh [ROUNDS]     # timed rounds (default 5)
#
# Needs scripts/setup.sh (Redis 8, the module, target/wasm/removed_reader.wasm) and valgrind.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in valgrind callgrind_control; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install valgrind)" >&2; exit 1; }
done
for file in .cache/redis-8/bin/redis-server target/release/libwasm_triggers.so target/wasm/removed_reader.wasm; do
    [ -e "$ROOT/$file" ] || { echo "$file is missing: run scripts/setup.sh first" >&2; exit 1; }
done
exec python3 "$ROOT/bench/removed_value.py" "$@"
