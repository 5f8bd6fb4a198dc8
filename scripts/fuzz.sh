#!/usr/bin/env bash
# Fuzzes what TRIGGER LOAD does with the bytes it is given, with cargo-fuzz
# (libFuzzer), starting from the example and test libraries.
#
#   scripts/fuzz.sh [seconds] [target]
#
# seconds: how long to fuzz (default 600). target: trigger_load (default:
# header check, baseline compiler, instantiation, describe, validation) or
# trigger_load_optimized (the same, then Cranelift's code must describe the
# same library). See fuzz/fuzz_targets/.
#
# Installs what it lacks: what scripts/setup.sh installs (clang for
# bindgen, the wasm32-wasip2 target; it also builds the libraries to seed
# with), and cargo-fuzz. cargo-fuzz needs a nightly compiler: it uses rustup's
# nightly toolchain if there is one, else the stable one with
# RUSTC_BOOTSTRAP=1 (FUZZ_STABLE=1 forces that). The corpus grows in
# fuzz/corpus/<target>/ and is kept between runs; crashes, timeouts and
# out-of-memory inputs go to fuzz/artifacts/<target>/. Replay one with
#   scripts/fuzz.sh replay <target> <file>
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

# --- what a fresh machine lacks ---------------------------------------------
"$ROOT/scripts/setup.sh"
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi
if [ "${FUZZ_STABLE:-0}" != 1 ] && rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz() { cargo +nightly fuzz "$@"; }
    log "toolchain: $(rustup run nightly rustc --version)"
else
    fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
    log "toolchain: $(rustc --version), with RUSTC_BOOTSTRAP=1"
fi

if [ "${1:-}" = replay ]; then
    fuzz run "$2" "$3"
    exit
fi

DURATION="${1:-600}"
TARGET="${2:-trigger_load}"
CORPUS="fuzz/corpus/$TARGET"
# The longest one input may take: a compile, then a describe stopped at
# triggers.max-execution-time (500 ms). Cranelift, instrumented, takes
# about ten seconds on the largest seeds, and runs on one thread.
TIMEOUT=10
if [ "$TARGET" = trigger_load_optimized ]; then TIMEOUT=120; fi
ARTIFACTS="fuzz/artifacts/$TARGET"

# --- the seed corpus: the example, test and benchmark libraries (setup.sh) ---
mkdir -p "$CORPUS" "$ARTIFACTS"
cp target/wasm/*.wasm "$CORPUS/"
# Inputs up to 256 KB, or the largest seed: libFuzzer truncates longer ones.
largest="$(wc -c target/wasm/*.wasm | grep -v ' total$' | sort -n | tail -n1 | awk '{print $1}')"
MAX_LEN=$((largest > 262144 ? largest : 262144))

# --- fuzz ---------------------------------------------------------------------
log "building $TARGET"
fuzz build "$TARGET"
STAMP="$(mktemp)"
trap 'rm -f "$STAMP"' EXIT
# The whole output; the terminal gets lines cut short, as cargo-fuzz prints
# a failing input in full.
OUT="fuzz/artifacts/$TARGET.log"
log "fuzzing $TARGET for $DURATION s (inputs up to $MAX_LEN bytes, corpus $CORPUS)"
status=0
# -rss_limit_mb: wasmtime reserves gigabytes of address space per instance,
# but only the resident memory counts.
fuzz run "$TARGET" "$CORPUS" -- \
    -max_total_time="$DURATION" -max_len="$MAX_LEN" -rss_limit_mb=4096 -timeout="$TIMEOUT" \
    -print_final_stats=1 2>&1 | tee "$OUT" | cut -c1-300 || status=$?

# --- what it found ----------------------------------------------------------
echo
log "summary of $TARGET (exit status $status)"
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$OUT" | tail -n2 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|slowest_unit_time_sec|peak_rss_mb)' "$OUT" || true
echo "corpus: $(find "$CORPUS" -type f | wc -l) inputs in $CORPUS; the whole output: $OUT"
new="$(find "$ARTIFACTS" -type f -newer "$STAMP")"
if [ -n "$new" ]; then
    echo "artifacts of this run (replay with: scripts/fuzz.sh replay $TARGET <file>;"
    echo "crash-, timeout- and oom- are failures, slow-unit- only took over 10 s):"
    echo "$new"
else
    echo "artifacts of this run: none"
fi
exit "$status"
