#!/bin/sh
# Memory benchmarks of issue 11 (not a test). Everything is measured in the
# same run on this machine and printed as a markdown table:
#
#  1. frequencies over 20 M distinct keys: `read_text` (blocksize 32 MiB)
#     -> `frequencies`, `runnel run --json` with `--memory-limit 0` (no
#     limit) and `--memory-limit 256MiB`, runs interleaved: wall seconds,
#     peak RSS (/usr/bin/time), spilled bytes and files (--json). Every
#     run's answer is sorted and compared with the expected one (each key
#     once, counted 1): the limited and the unlimited answers are equal.
#  2. bytes per key: `read_text` -> `distinct` -> `count` over 3 M distinct
#     keys (`seq 1 3000000 | sed 's/^/key/'`, 4-10 bytes), no limit, one
#     table (blocksize 64 MiB: one split) and two (16 MiB: a table per
#     thread, merged): peak RSS, next to the same job on 10 keys (the
#     process without a table).
#  3. Dask beside them: bench/dask_memory.py, dask.bag on
#     LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=256MiB)
#     with PYTHONHASHSEED=0 exported to the workers, the same data and
#     blocksize; what it does within BENCH_DASK_TIMEOUT seconds.
#
# The keys: `key%08d` of (i * 7368787 + 1234567) mod 20000000 for i in
# 0..19999999, one per line (a permutation: every key once, in an order
# that is not sorted; 240 MB), written once to BENCH_DIR (tmpfs).
#
#   sh bench/memory.sh [BUILD]
#     BENCH_RUNS=3 BENCH_KEYS=20000000 BENCH_LIMIT=256MiB BENCH_DISTINCT=3000000
#     BENCH_DASK=1 BENCH_DASK_TIMEOUT=900 BENCH_DASK_NOLIMIT=0 (also Dask
#     without a memory limit) BENCH_DIR=/dev/shm/runnel-bench
#     BENCH_MAX_LOAD=1.0 BENCH_LOAD_WAIT=300 (as bench/cluster.sh)
#     BENCH_SNAPSHOT=1 (run copies of BUILD's binaries, safe from rebuilds)
#     BENCH_LOCAL_DIR (runnel's --local-dir, where it spills; default a
#     temporary directory under TMPDIR, /tmp: a disk here, unlike the data)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
BUILD0=$(cd "${1:-build}" && pwd)
RUNS=${BENCH_RUNS:-3}
NKEYS=${BENCH_KEYS:-20000000}
LIMIT=${BENCH_LIMIT:-256MiB}
NDIST=${BENCH_DISTINCT:-3000000}
DTIMEOUT=${BENCH_DASK_TIMEOUT:-900}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/runnel-mem-XXXXXX")
# where runnel spills (Dask: $T/dask)
LOCAL=$(mktemp -d "${BENCH_LOCAL_DIR:-${TMPDIR:-/tmp}}/runnel-mem-local-XXXXXX")
O=$DIR/mem-out.$$ # the answers: hundreds of MB, on tmpfs
BG=""             # a timed job run in the background (for cleanup)

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
term_wait() {
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    i=0
    while [ $i -lt 100 ]; do
        left=0
        for p in "$@"; do alive "$p" && left=1; done
        [ $left -eq 0 ] && break
        sleep 0.1
        i=$((i + 1))
    done
    for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
cleanup() {
    [ -n "$BG" ] && term_wait "$BG"
    rm -rf "$T" "$O" "$LOCAL"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

die() { echo "memory.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
maxof() { sort -n | tail -1; }

# measure NAME CMD...: runs CMD under /usr/bin/time (and `timeout`, its own
# process group) in this shell, stdout to $O/NAME.out, stderr to
# $T/NAME.err; appends "seconds peak_rss_KiB user sys" to $T/NAME.times.
measure() {
    name=$1
    shift
    rc=0
    timeout 1800 /usr/bin/time -f "%e %M %U %S" -o "$T/time1" "$@" \
        >"$O/$name.out" 2>"$T/$name.err" &
    BG=$!
    wait "$BG" || rc=$?
    BG=""
    [ $rc -eq 0 ] || die "$name failed ($rc): $(tail -3 "$T/$name.err")"
    cat "$T/time1" >>"$T/$name.times"
}
# spilled OUT: "bytes files" from runnel run --json
spilled() {
    tail -c 300 "$1" | sed -n 's/.*"spilled": {"bytes": \([0-9]*\), "files": \([0-9]*\)}.*/\1 \2/p'
}

# ---- a quiet machine ----------------------------------------------------
MAXLOAD=${BENCH_MAX_LOAD:-1.0}
waited=0
while [ "$waited" -lt "${BENCH_LOAD_WAIT:-300}" ] &&
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAXLOAD" 'BEGIN {exit !(l >= m)}'; do
    [ "$waited" -eq 0 ] && log "load $(load): waiting for < $MAXLOAD (up to ${BENCH_LOAD_WAIT:-300}s)"
    sleep 10
    waited=$((waited + 10))
done
LOAD0=$(load)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
log "load at start: $LOAD0 ($START)"

# A snapshot of the build, as bench/cluster.sh does
if [ "${BENCH_SNAPSHOT:-1}" = 1 ]; then
    BUILD=$T/build
    mkdir -p "$BUILD/plugins"
    cp "$BUILD0/runnel" "$BUILD/"
    cp "$BUILD0"/plugins/*.so "$BUILD/plugins/"
else
    BUILD=$BUILD0
fi
RUNNEL=$BUILD/runnel
export RUNNEL_PLUGIN_PATH="$BUILD/plugins"
BUILT=$(date -u -r "$BUILD0/runnel" '+%Y-%m-%d %H:%M UTC')
log "runnel: $BUILD0/runnel ($("$RUNNEL" --version 2>&1 | head -1), built $BUILT)"

# ---- data ------------------------------------------------------------------
mkdir -p "$DIR" "$O"
KEYS=$DIR/keys-$NKEYS.txt
# 7368787 is prime: i -> i * 7368787 mod n is a permutation unless it divides n
[ $((NKEYS % 7368787)) -ne 0 ] || die "BENCH_KEYS must not be a multiple of 7368787"
if [ ! -s "$KEYS" ] || [ "$(stat -c %s "$KEYS")" -ne $((NKEYS * 12)) ]; then
    [ "$NKEYS" -le 100000000 ] || die "BENCH_KEYS: at most 100000000 (8 digits)"
    log "writing $KEYS"
    awk -v n="$NKEYS" 'BEGIN {for (i = 0; i < n; i++) printf "key%08d\n", (i * 7368787 + 1234567) % n}' \
        >"$KEYS.tmp"
    mv "$KEYS.tmp" "$KEYS"
fi
SEQ=$DIR/seq-$NDIST.txt
[ -s "$SEQ" ] || seq 1 "$NDIST" | sed 's/^/key/' >"$SEQ"
head -10 "$SEQ" >"$T/tiny.txt"
# the expected answer of frequencies, sorted: every key once, counted 1
awk -v n="$NKEYS" 'BEGIN {for (i = 0; i < n; i++) printf "\"key%08d\", 1\n", i}' >"$O/expected"
cat "$KEYS" "$SEQ" >/dev/null

cat >"$T/freq.yaml" <<'Y'
name: frequencies
source:
  read_text:
    urls: ${KEYFILE}
    blocksize: 32MiB
steps:
  - frequencies
Y
cat >"$T/distinct.yaml" <<'Y'
name: distinct
source:
  read_text:
    urls: ${KEYFILE}
    blocksize: ${BLOCKSIZE}
steps:
  - distinct
  - count
Y

# ---- 1. frequencies, without and with a limit, interleaved ------------------
# check NAME: the run's answer sorted equals the expected one
check() {
    sed -e 's/^{"name": "[^"]*", "result": \[\[//' -e 's/\]\], "partitions".*$//' \
        -e 's/\], \[/\n/g' "$O/$1.out" | LC_ALL=C sort -S 512M >"$O/sorted"
    n=$(wc -l <"$O/sorted")
    cmp -s "$O/sorted" "$O/expected" || die "$1: the answer ($n keys) is not every key once, counted 1"
    echo "$n"
}
KEYFILE=$KEYS
export KEYFILE
i=0
while [ $i -lt "$RUNS" ]; do
    for lim in 0 "$LIMIT"; do
        name=freq_$lim
        measure "$name" "$RUNNEL" run "$T/freq.yaml" --memory-limit "$lim" --local-dir "$LOCAL" \
            --json --quiet
        spilled "$O/$name.out" >>"$T/$name.spill"
        n=$(check "$name")
        log "frequencies, --memory-limit $lim: $(tail -1 "$T/$name.times") (s KiB user sys), spilled $(tail -1 "$T/$name.spill") (bytes files), $n keys, exact"
        [ -z "$(find "$LOCAL" -type f)" ] || die "spill files left in $LOCAL after the run: $(find "$LOCAL" -type f | head -3)"
    done
    i=$((i + 1))
done
rm -f "$O"/*.out "$O/sorted"

# ---- 2. bytes per key ----------------------------------------------------------
dist_runs() { # NAME FILE BLOCKSIZE RUNS
    i=0
    while [ $i -lt "$4" ]; do
        KEYFILE=$2 BLOCKSIZE=$3
        export KEYFILE BLOCKSIZE
        measure "$1" "$RUNNEL" run "$T/distinct.yaml" --memory-limit 0 \
            --local-dir "$LOCAL" --json --quiet
        grep -q "\"result\": \[$(wc -l <"$2")\]" "$O/$1.out" || die "$1: wrong count: $(head -c 200 "$O/$1.out")"
        log "distinct -> count $1: $(tail -1 "$T/$1.times") (s KiB user sys), right"
        i=$((i + 1))
    done
}
dist_runs dist_tiny "$T/tiny.txt" 64MiB 1
dist_runs dist_one "$SEQ" 64MiB "$RUNS"
dist_runs dist_two "$SEQ" 16MiB "$RUNS"
LOAD1=$(load)

# ---- 3. Dask ------------------------------------------------------------------
DASK=""
if [ "${BENCH_DASK:-1}" = 1 ] && $PY -c 'import dask.bag, distributed, psutil' 2>/dev/null; then
    DASK=1
    export PYTHONHASHSEED=0 # the worker processes inherit it
    dask_run() { # NAME ARGS...
        name=$1
        shift
        rc=0
        timeout $((DTIMEOUT + 120)) $PY bench/dask_memory.py --timeout "$DTIMEOUT" \
            --local-dir "$T/dask" "$@" >"$T/$name.out" 2>"$T/$name.err" &
        BG=$!
        wait "$BG" || rc=$?
        BG=""
        r=$(grep '^RESULT' "$T/$name.out" || echo "RESULT outcome=exit-$rc")
        log "dask $name: $r $(grep '^DETAIL' "$T/$name.out" | cut -c1-200)"
        echo "$name $r paused=$(grep -c 'Pausing worker' "$T/$name.err")" >>"$T/dask.results"
    }
    dask_run dask_freq "$KEYS" --job frequencies --expect "$NKEYS" --blocksize 32MiB \
        --memory-limit "$LIMIT"
    # what a Dask user tries next: partitions of 4 MiB (~330 k keys each)
    dask_run dask_freq_small "$KEYS" --job frequencies --expect "$NKEYS" --blocksize 4MiB \
        --memory-limit "$LIMIT"
    dask_run dask_dist "$SEQ" --job distinct-count --expect "$NDIST" --blocksize 64MiB \
        --memory-limit "$LIMIT"
    if [ "${BENCH_DASK_NOLIMIT:-0}" = 1 ]; then
        dask_run dask_freq_nolimit "$KEYS" --job frequencies --expect "$NKEYS" --blocksize 32MiB \
            --memory-limit 0
    fi
fi
LOAD2=$(load)

# ---- the table ---------------------------------------------------------------
f() { awk -v k="$2" '{print $k}' "$T/$1.times"; }   # column k of every run
cpu() { awk '{print $3 + $4}' "$T/$1.times" | median; } # user + sys
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
BYTES=$(stat -c %s "$KEYS")
s0=$(f freq_0 1 | median) s1=$(f "freq_$LIMIT" 1 | median)
r0=$(f freq_0 2 | maxof) r1=$(f "freq_$LIMIT" 2 | maxof)
sp=$(awk '{print $1}' "$T/freq_$LIMIT.spill" | median) sf=$(awk '{print $2}' "$T/freq_$LIMIT.spill" | median)
sp0=$(awk '{b += $1} END {print b + 0}' "$T/freq_0.spill")
rt=$(f dist_tiny 2 | maxof)
d1=$(f dist_one 2 | maxof) d2=$(f dist_two 2 | maxof)
ds1=$(f dist_one 1 | median) ds2=$(f dist_two 1 | median)
c0=$(cpu freq_0) c1=$(cpu "freq_$LIMIT") dc1=$(cpu dist_one) dc2=$(cpu dist_two)

echo
echo "$(nproc) cores, run started $START (load average $LOAD0), runnel rows done at load $LOAD1, Dask done at load $LOAD2;"
echo "runnel: $BUILD0/runnel (built $BUILT); medians of $RUNS run(s) interleaved, peak RSS the largest of them"
echo
echo "| job | memory limit | seconds | M keys/s | CPU s (user + sys) | peak RSS | spilled | answer |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk -v n="$NKEYS" -v b="$BYTES" -v s="$s0" -v c="$c0" -v r="$r0" -v sp="$sp0" 'BEGIN {
    printf "| runnel `frequencies`, %g M distinct keys (%.0f MB) | none | %.2f | %.2f | %.2f | %.0f MiB | %s | exact (every key once, counted 1) |\n",
        n / 1e6, b / 1e6, s, n / 1e6 / s, c, r / 1024, (sp > 0 ? sp " bytes" : "0") }'
awk -v n="$NKEYS" -v lim="$LIMIT" -v s="$s1" -v c="$c1" -v r="$r1" -v sp="$sp" -v sf="$sf" 'BEGIN {
    printf "| runnel `frequencies`, same keys | %s | %.2f | %.2f | %.2f | %.0f MiB | %.0f MB in %d files | exact, equal to the unlimited run |\n",
        lim, s, n / 1e6 / s, c, r / 1024, sp / 1e6, sf }'
awk -v n="$NDIST" -v s="$ds1" -v c="$dc1" -v r="$d1" -v t="$rt" 'BEGIN {
    printf "| runnel `distinct` -> `count`, %g M keys (`key1`...`key%d`), one table (blocksize 64 MiB) | none | %.2f | %.2f | %.2f | %.0f MiB (%.0f B/key above the %.0f MiB of 10 keys) | 0 | right (%d) |\n",
        n / 1e6, n, s, n / 1e6 / s, c, r / 1024, (r - t) * 1024 / n, t / 1024, n }'
awk -v n="$NDIST" -v s="$ds2" -v c="$dc2" -v r="$d2" -v t="$rt" 'BEGIN {
    printf "| runnel `distinct` -> `count`, same keys, two tables (blocksize 16 MiB) | none | %.2f | %.2f | %.2f | %.0f MiB (%.0f B/key above the %.0f MiB of 10 keys) | 0 | right (%d) |\n",
        s, n / 1e6 / s, c, r / 1024, (r - t) * 1024 / n, t / 1024, n }'
if [ -n "$DASK" ]; then
    while read -r name rest; do
        v() { echo "$rest" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
        case $name in
        dask_freq) what="Dask \`frequencies()\`, the $NKEYS keys, blocksize 32 MiB" n=$NKEYS ;;
        dask_freq_small) what="Dask \`frequencies()\`, the $NKEYS keys, blocksize 4 MiB" n=$NKEYS ;;
        dask_dist) what="Dask \`distinct().count()\`, the $NDIST keys, blocksize 64 MiB" n=$NDIST ;;
        *) what="Dask \`frequencies()\`, the $NKEYS keys, blocksize 32 MiB" n=$NKEYS ;;
        esac
        lim=$(v memory_limit)
        [ "$lim" = 0 ] && lim=none
        awk -v w="$what" -v lim="$lim" -v o="$(v outcome)" -v ok="$(v ok)" -v s="$(v elapsed_s)" -v n="$n" \
            -v tr="$(v peak_tree_rss_mib)" -v wr="$(v peak_worker_rss_mib)" -v k="$(v killed)" \
            -v rs="$(v restarts)" -v p="$(v paused)" -v keys="$(v keys)" 'BEGIN {
            printf "| %s (LocalCluster 2 workers x 1 thread) | %s | %.2f%s | %s | - | %s MiB (all processes; largest worker %s MiB) | %s worker kills, %s restarts, %s pauses | %s |\n",
                w, (lim == "none" ? "none" : lim " per worker"), s, (o == "done" ? "" : " (" o ")"), (o == "done" ? sprintf("%.2f", n / 1e6 / s) : "-"),
                tr, wr, k, rs, p, (o != "done" ? "none: " o : (ok == 1 ? "right (" keys ")" : "**wrong** (" keys " keys)")) }'
    done <"$T/dask.results"
fi
echo
echo "| target (issue 11) | measured | target | met |"
echo "|---|---:|---:|:---:|"
awk -v r="$r1" -v lim="$LIMIT" 'BEGIN {
    printf "| peak RSS, `frequencies` with --memory-limit %s | %.0f MiB | <= 320 MiB | %s |\n", lim, r / 1024, (r / 1024 <= 320 ? "yes" : "**no**") }'
awk -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" 'BEGIN {
    printf "| throughput with the limit / without | %.2f (%.2f s / %.2f s; by CPU time %.2f) | >= 0.40 | %s |\n", s0 / s1, s0, s1, c0 / c1, (s0 / s1 >= 0.40 ? "yes" : "**no**") }'
echo "| answer with the limit | exact ($NKEYS keys, equal to the unlimited run's) | exact | yes |"
awk -v r="$d1" -v r2="$d2" -v n="$NDIST" 'BEGIN {
    printf "| peak RSS, `distinct` -> `count` of %g M keys, no limit | %.0f MiB (one table), %.0f MiB (two) | <= 250 MiB | %s |\n", n / 1e6, r / 1024, r2 / 1024, (r / 1024 <= 250 && r2 / 1024 <= 250 ? "yes" : "**no**") }'
