#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), then runs every check and test:
# formatting, clippy, the unit tests, the SDK's doc examples, the
# integration tests against real Redis 8.0 and 8.6, Valkey 8.1 and Valkey 9.1
# servers,
# and the examples' own tests (`cargo test` in examples-wasm).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
(cd examples-wasm && cargo fmt --all --check)
(cd tests/guests && cargo fmt --all --check)
(cd bench/guests && cargo fmt --all --check)
(cd fuzz && cargo fmt --all --check)

step "cargo clippy -D warnings"
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
(cd examples-wasm && cargo clippy --release --all-targets --quiet -- -D warnings)
(cd tests/guests && cargo clippy --release --quiet -- -D warnings)
(cd bench/guests && cargo clippy --release --quiet -- -D warnings)

step "cargo doc -D warnings (the SDK and the harness)"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p wasm-triggers-sdk -p wasm-triggers-harness

version() { "$ROOT/.cache/$1/bin/$2" --version | cut -d' ' -f3 | cut -d= -f2; }
step "tests: unit, doc and integration (Redis $(version redis-8 redis-server) and $(version redis-86 redis-server), Valkey $(version valkey-8 valkey-server), Valkey $(version valkey-9 valkey-server))"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
status=0
# --no-fail-fast: a failing test binary does not hide the others' results.
if [ $# -gt 0 ]; then
    cargo test --release --workspace --no-fail-fast "$@" 2>&1 | tee "$LOG" || status=$?
else
    # Two lanes. The forwarder's tests (tests/tests/forwarder*.rs) spend most
    # of their time waiting for RabbitMQ brokers to boot, so they run beside
    # the others instead of after them. Everything is built first: the lanes
    # only run tests. --workspace in each, so that no lane rebuilds a crate
    # with other features.
    cargo test --release --workspace --no-run 2>&1 | tee "$LOG" || status=$?
    forwarder=() others=()
    for test in tests/tests/*.rs; do
        name="$(basename "$test" .rs)"
        case "$name" in
            forwarder*) forwarder+=(--test "$name") ;;
            *) others+=(--test "$name") ;;
        esac
    done
    LANE_LOG="$(mktemp)"
    trap 'rm -f "$LOG" "$LANE_LOG"' EXIT
    cargo test --release --workspace --no-fail-fast "${forwarder[@]}" >"$LANE_LOG" 2>&1 &
    lane=$!
    # --lib would run bench/native-baseline's, which only runs inside Redis
    # (`test = false`, which --lib overrides): excluded, with no rebuild (its
    # one dependency has the module's features).
    cargo test --release --workspace --exclude native-last-updated --no-fail-fast --lib --bins \
        "${others[@]}" 2>&1 | tee -a "$LOG" || status=$?
    cargo test --release --workspace --no-fail-fast --doc 2>&1 | tee -a "$LOG" || status=$?
    wait "$lane" || status=$?
    step "the forwarder's tests (run beside the others)"
    tee -a "$LOG" <"$LANE_LOG"
fi
# The examples' own tests, as a trigger author runs them: `cargo test` in
# their workspace, through wasm-triggers-harness: on Redis 8.0 (the
# harness's default), then on Valkey 9.
if [ $# -eq 0 ]; then
    step "the examples' own tests (cargo test in examples-wasm, wasm-triggers-harness), on Redis 8.0"
    (cd examples-wasm && cargo test --release 2>&1) | tee -a "$LOG" || status=$?
    step "the examples' own tests, on Valkey 9 (TRIGGERS_SERVER)"
    (cd examples-wasm && TRIGGERS_SERVER="$ROOT/.cache/valkey-9/bin/valkey-server" cargo test --release 2>&1) \
        | tee -a "$LOG" || status=$?
fi
# One closing line for the whole run, summed over cargo's per-binary lines.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^error: .*(test failed|targets? failed)/ { e++ }
     END { printf "\ntests: %d passed, %d failed%s\n", p, f, e ? " (and a test binary failed: see its error above)" : "" }' "$LOG"
exit "$status"
