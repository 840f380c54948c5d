#!/bin/sh
# Runs every libFuzzer target for SECONDS each, starting from its seeds,
# with the inputs it finds kept in a scratch directory. Exit status 1 when
# a target crashes (the reproducer is left in the current directory).
#   sh tests/fuzz/run.sh BUILD_FUZZ_DIR SECONDS
set -eu
B=${1:-build-fuzz}
SECS=${2:-60}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/runnel-fuzz-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
status=0
for f in "$B"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    short=${name#fuzz_}
    mkdir -p "$WORK/$short"
    echo "== $name for ${SECS}s" >&2
    if ! "$f" "$WORK/$short" "$SRC/tests/fuzz/corpus/$short" \
        -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 \
        $( [ -f "$SRC/tests/fuzz/$short.dict" ] && echo "-dict=$SRC/tests/fuzz/$short.dict") \
        -print_final_stats=1 >"$WORK/$short.log" 2>&1; then
        echo "$name FAILED:" >&2
        tail -40 "$WORK/$short.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$WORK/$short.log" | tail -2 >&2
    fi
done
exit $status
