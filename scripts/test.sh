#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), then runs every check and test:
# formatting, clippy, the unit tests, the SDK's doc examples, the
# integration tests against real Redis 8.0 and 8.6, Valkey 8.1 and Valkey 9.1
# servers, and the examples' own tests (`cargo test` in examples-wasm).
# With arguments, runs only `cargo test --release --workspace <arguments>`
# after the checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

# Each step says when it starts, in minutes and seconds since this script
# started (the setup's lines count from the setup's start).
step() { printf '\n\033[1m== [%d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
(cd examples-wasm && cargo fmt --all --check)
(cd tests/guests && cargo fmt --all --check)
(cd bench/guests && cargo fmt --all --check)
(cd fuzz && cargo fmt --all --check)

step "only module/src/server/ calls the Redis module API"
# The compiler refuses unsafe code elsewhere in the module (`lib.rs`); this
# keeps the API's raw names and C callbacks in server/ too.
if grep -rnE 'raw::|extern "C"' module/src --include='*.rs' | grep -v '^module/src/server/'; then
    echo "the lines above reach the Redis module API outside module/src/server/: add a safe wrapper there" >&2
    exit 1
fi

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
    # Three lanes, because the integration tests mostly wait on servers (a
    # cluster converging, a broker booting): run one after the other, they
    # kept the two cores 40% busy. Lane 1, most of the forwarder's tests
    # (RabbitMQ brokers) and then the examples' own tests; lane 2, the tests
    # of clusters and replicas; lane 3, the rest (forwarder_settings.rs
    # included, for the lanes to take about as long), the unit tests and the
    # doc tests. Everything is built first: the lanes only run tests.
    # --workspace in each, so that no lane rebuilds a crate with other
    # features.
    cargo test --release --workspace --no-run 2>&1 | tee "$LOG" || status=$?
    (cd examples-wasm && cargo test --no-run 2>&1) | tee -a "$LOG" || status=$?
    forwarder=() clusters=() others=()
    for test in tests/tests/*.rs; do
        name="$(basename "$test" .rs)"
        case "$name" in
            forwarder | forwarder_connection) forwarder+=(--test "$name") ;;
            cluster* | outbox_cluster | outbox_consumer | outbox_takeover | atomic_migration | reshard | replication)
                clusters+=(--test "$name") ;;
            *) others+=(--test "$name") ;;
        esac
    done
    LANE1="$(mktemp)" LANE2="$(mktemp)"
    trap 'rm -f "$LOG" "$LANE1" "$LANE2"' EXIT
    step "tests, in three lanes"
    (
        lane=0
        cargo test --release --workspace --no-fail-fast "${forwarder[@]}" 2>&1 || lane=$?
        # The examples' own tests, as a trigger author runs them: `cargo
        # test` in their workspace, through wasm-triggers-harness, on Redis
        # 8.0 (the harness's default), then on Valkey 9.
        step "the examples' own tests (cargo test in examples-wasm, wasm-triggers-harness), on Redis 8.0"
        (cd examples-wasm && cargo test 2>&1) || lane=$?
        step "the examples' own tests, on Valkey 9 (TRIGGERS_SERVER)"
        (cd examples-wasm && TRIGGERS_SERVER="$ROOT/.cache/valkey-9/bin/valkey-server" cargo test 2>&1) || lane=$?
        step "lane 1 is done"
        exit $lane
    ) >"$LANE1" 2>&1 &
    lane1=$!
    (
        cargo test --release --workspace --no-fail-fast "${clusters[@]}" 2>&1 && lane=0 || lane=$?
        step "lane 2 is done"
        exit $lane
    ) >"$LANE2" 2>&1 &
    lane2=$!
    # --lib would run bench/native-baseline's, which only runs inside Redis
    # (`test = false`, which --lib overrides): excluded, with no rebuild (its
    # one dependency has the module's features).
    cargo test --release --workspace --exclude native-last-updated --no-fail-fast --lib --bins \
        "${others[@]}" 2>&1 | tee -a "$LOG" || status=$?
    cargo test --release --workspace --no-fail-fast --doc 2>&1 | tee -a "$LOG" || status=$?
    step "lane 3 is done; lane 2: the tests of clusters and replicas"
    wait "$lane2" || status=$?
    tee -a "$LOG" <"$LANE2"
    step "lane 1: the forwarder's tests, then the examples' own tests"
    wait "$lane1" || status=$?
    tee -a "$LOG" <"$LANE1"
fi
# One closing line for the whole run, summed over cargo's per-binary lines.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^error: .*(test failed|targets? failed)/ { e++ }
     END { printf "\ntests: %d passed, %d failed%s\n", p, f, e ? " (and a test binary failed: see its error above)" : "" }' "$LOG"
exit "$status"
