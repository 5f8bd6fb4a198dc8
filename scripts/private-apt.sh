# Sourced by scripts/setup.sh and bench/setup.sh: apt-get with a private
# configuration, to fetch packages of another Debian suite (trixie's Redis
# source, bullseye's libssl1.1) without touching the machine's apt setup.

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
# as its only sources, and its lists and cache under <dir>.
private_apt() {
    local dir="$1"
    shift
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    apt-get -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null" \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "APT::Sandbox::User=root" "$@"
}
