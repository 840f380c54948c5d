#!/bin/sh
# Word-count benchmark (not a test): runnel next to `wc -w`, a plain C hash
# count and Dask, on the same corpus, in the same run. Prints a markdown
# table of medians (seconds, MB/s, ratio to runnel, peak RSS).
#   sh bench/run.sh [BUILD]      BENCH_SIZE=1GiB BENCH_RUNS=3 BENCH_DASK=1
set -eu
BUILD=${1:-build}
SIZE=${BENCH_SIZE:-1GiB}
RUNS=${BENCH_RUNS:-3}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}   # tmpfs: measure CPU, not the disk
CORPUS=$DIR/corpus-$SIZE.txt
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$DIR" "$OUT"
[ -s "$CORPUS" ] || "$BUILD/bench/gen_corpus" "$SIZE" "$CORPUS" >&2
BYTES=$(stat -c %s "$CORPUS")
cat "$CORPUS" >/dev/null

export RUNNEL_BUILD_DIR="$BUILD" CORPUS BLOCKSIZE=${BENCH_BLOCKSIZE:-32MiB}
RESULTS=$OUT/results.txt
: >"$RESULTS"

# measure NAME RUNS CMD...: median wall seconds and max peak RSS (KiB)
measure() {
    name=$1 runs=$2
    shift 2
    : >"$OUT/times"
    rss=0
    i=0
    while [ $i -lt "$runs" ]; do
        /usr/bin/time -f "%e %M" -o "$OUT/time1" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || {
            echo "$name failed: $(tail -3 "$OUT/$name.err")" >&2
            return 0
        }
        read -r s m <"$OUT/time1"
        echo "$s" >>"$OUT/times"
        [ "$m" -gt "$rss" ] && rss=$m
        i=$((i + 1))
    done
    med=$(sort -n "$OUT/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$name $med $rss" >>"$RESULTS"
    echo "$name: ${med}s, peak RSS $((rss / 1024)) MiB" >&2
}

measure runnel_2threads "$RUNS" "$BUILD/runnel" run examples/wordcount/wordcount.yaml --threads 2 --quiet
measure runnel_1thread "$RUNS" "$BUILD/runnel" run examples/wordcount/wordcount.yaml --threads 1 --quiet
measure wc_w "$RUNS" wc -w "$CORPUS"
measure wc_hash "$RUNS" "$BUILD/bench/wc_hash" "$CORPUS"
if [ "${BENCH_DASK:-1}" = 1 ] && /usr/bin/python3 -c 'import dask.bag, distributed' 2>/dev/null; then
    measure dask_distributed 1 /usr/bin/python3 bench/dask_wordcount.py "$CORPUS" \
        --scheduler distributed --workers 2 --threads-per-worker 1 --blocksize 32MiB
    measure dask_processes 1 /usr/bin/python3 bench/dask_wordcount.py "$CORPUS" \
        --scheduler processes --workers 2 --blocksize 32MiB
fi

# correctness: runnel's top 10 equals the plain C count's
sed 's/^\["\(.*\)", \([0-9]*\)\]$/\2 \1/' "$OUT/runnel_2threads.out" | awk '{print $1, $2}' >"$OUT/a"
grep -E '^ +[0-9]+ ' "$OUT/wc_hash.out" | awk '{print $1, $2}' | head -10 >"$OUT/b"
if cmp -s "$OUT/a" "$OUT/b"; then echo "top 10 agrees with wc_hash" >&2; else
    echo "WARNING: top 10 differs from wc_hash" >&2; fi

ref=$(awk '$1 == "runnel_2threads" {print $2}' "$RESULTS")
echo
echo "corpus: $CORPUS ($BYTES bytes), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| tool | seconds (median of $RUNS) | MB/s | runnel is N x faster | peak RSS |"
echo "|---|---:|---:|---:|---:|"
while read -r name s rss; do
    awk -v n="$name" -v s="$s" -v b="$BYTES" -v r="$ref" -v m="$rss" \
        'BEGIN {printf "| %s | %.2f | %.0f | %.2f | %.0f MiB |\n", n, s, b/1e6/s, s/r, m/1024}'
done <"$RESULTS"
