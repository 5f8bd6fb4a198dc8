#!/usr/bin/env bash
# What an outbox rule's append costs, against what a client pays for its own XADD: instructions
# per request over the whole Redis 8.0 process (callgrind, bench/callgrind.sh), the three counted
# one after the other in one run, at pipeline 16:
#
#   (a) a bare `HSET h:__rand_int__ f v`, no module;
#   (b) a client's `XADD` of an outbox entry's fields to one of 16,384 streams, no module;
#   (c) the HSET of (a) with the module and the rule `OUTBOX ADD all EVENTS @hash`.
#
# The goal: (c) <= (a) + (b). Every stream exists before the count (a warm-up of 200,000
# requests fills all 16,384 slots' streams), as on a server that has run for a while.
#
# --before OTHER.so adds (c) with another build of the module (an older one), counted in the same run.
#
#   bench/outbox-append.sh [--requests N] [--module PATH.so] [--before OTHER.so]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS=20000
MODULE="$ROOT/target/release/libwasm_triggers.so"
BEFORE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) REQUESTS="$2"; shift 2 ;;
        --module) MODULE="$2"; shift 2 ;;
        --before) BEFORE="$2"; shift 2 ;;
        *) echo "usage: $0 [--requests N] [--module PATH.so] [--before OTHER.so]" >&2; exit 2 ;;
    esac
done
count() { "$ROOT/bench/callgrind.sh" --requests "$REQUESTS" --warmup 200000 "$@" | sed 's/.*: \([0-9]*\) instructions.*/\1/'; }
# The fields of an outbox entry, as the rule writes them.
ENTRY="db 0 event hset key h:000000123456 time 1765000000000 source rule:all"
bare=$(count --module none)
xadd=$(count --module none --keys 16384 --command "XADD o:__rand_int__ * $ENTRY")
rule=$(count --module "$MODULE" --library none --rule 'all EVENTS @hash')
if [ -n "$BEFORE" ]; then before=$(count --module "$BEFORE" --library none --rule 'all EVENTS @hash'); fi
printf '%-58s %8s\n' "Redis 8.0, pipeline 16, instructions per request" ""
printf '%-58s %8d\n' "(a) HSET, no module" "$bare"
printf '%-58s %8d\n' "(b) XADD of an entry's fields to one of 16,384 streams" "$xadd"
printf '%-58s %8d\n' "(c) HSET with the rule all EVENTS @hash" "$rule"
printf '%-58s %8d\n' "the rule's cost, (c) - (a)" "$((rule - bare))"
if [ -n "$BEFORE" ]; then
    printf '%-58s %8d\n' "(c) with $(basename "$BEFORE")" "$before"
    printf '%-58s %8d\n' "its rule's cost" "$((before - bare))"
fi
printf '%-58s %8s\n' "(c) / ((a) + (b)): the goal is at most 1" \
    "$(python3 -c "print(f'{$rule / ($bare + $xadd):.3f}')")"
