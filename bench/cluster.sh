#!/bin/sh
# Cluster benchmarks of issue 4 (not a test). Everything is measured in the
# same run on this machine, on loopback, and printed as a markdown table:
#
#  1. worker-to-worker partition transfer: bench/transfer.c (compiled here
#     against BUILD's librunnel-harness.a) runs the worker's FetchPartition
#     code path between two processes: partstore -> rn_chunk_send_partition
#     (encoded piece by piece into 1 MiB Chunks) -> gRPC ->
#     rn_chunk_recv_partition (chunk checks, decoded as chunks arrive). GB/s
#     of encoded partition bytes.
#  2. per-task overhead: `range {n: N, npartitions: N}` -> json_dump ->
#     count on a scheduler + 2 workers x 1 thread, next to the same graph on
#     dask.distributed (LocalCluster 2 workers x 1 thread, bench/dask_tasks.py).
#  3. word count (examples/wordcount/wordcount.yaml, 1 GiB, blocksize
#     32 MiB) on that cluster next to the local run with 2 threads, runs
#     interleaved.
#
#   sh bench/cluster.sh [BUILD]
#     BENCH_RUNS=3 BENCH_TASKS=20000 BENCH_DASK_TASKS=20000 BENCH_DASK=1
#     BENCH_FETCHES=20 BENCH_PART_SIZE=64MiB BENCH_SIZE=1GiB
#     BENCH_BUILD=build-bench (where transfer is compiled)
#     BENCH_SNAPSHOT=1 (run copies of BUILD's binaries, safe from rebuilds)
#     BENCH_MAX_LOAD=1.0 BENCH_LOAD_WAIT=300 (wait up to that many seconds
#     for the 1-minute load average to drop below BENCH_MAX_LOAD)
#     BENCH_ONLY=transfer (the transfer rows only: no cluster, no Dask)
#     BENCH_TLS=1 (also the rows over mutual TLS, issue 10: a CA and
#     identities are made in the temporary directory; the transfer with
#     both sides worker identities, then a second cluster started with
#     --tls for the per-task and word-count rows; plaintext rows as above)
#
# It starts and stops its own scheduler and workers (127.0.0.1, ephemeral
# ports); every process it starts is stopped on exit, even on failure.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
BUILD0=$(cd "${1:-build}" && pwd)
RUNS=${BENCH_RUNS:-3}
NTASKS=${BENCH_TASKS:-20000}
NDASK=${BENCH_DASK_TASKS:-$NTASKS}
FETCHES=${BENCH_FETCHES:-20}
PSIZE=${BENCH_PART_SIZE:-64MiB}
SIZE=${BENCH_SIZE:-1GiB}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}
CORPUS=$DIR/corpus-$SIZE.txt
BB=${BENCH_BUILD:-build-bench}
PY=/usr/bin/python3
TLS=${BENCH_TLS:-0}

T=$(mktemp -d "${TMPDIR:-/tmp}/runnel-bench-XXXXXX")
export RUNNEL_CACHE_DIR="$T/cache"
PIDS=""   # daemons we started
BG=""     # a timed foreground job run in the background (for cleanup)

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# term_wait PIDS...: SIGTERM, up to 10 s, then SIGKILL; reaps.
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
    # workers first (they retire through the scheduler), then the scheduler
    others=""
    for p in $PIDS; do [ "$p" = "${SPID:-}" ] || others="$others $p"; done
    # shellcheck disable=SC2086
    [ -n "$others" ] && term_wait $others
    [ -n "${SPID:-}" ] && term_wait "$SPID"
    PIDS="" SPID=""
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# poll SECS CMD...: runs CMD every 0.1 s until it succeeds.
poll() {
    secs=$1
    shift
    n=0
    while [ $n -lt $((secs * 10)) ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}
# timed SECS OUT CMD...: runs CMD under `timeout` (its own process group:
# Dask's worker processes go with it), stdout to OUT, stderr to OUT.err,
# the wall seconds to OUT.s. Runs in this shell (never in $(...)) so that
# cleanup can stop it.
timed() {
    secs=$1 out=$2
    shift 2
    t0=$(now)
    timeout "$secs" "$@" >"$out" 2>"$out.err" &
    BG=$!
    rc=0
    wait "$BG" || rc=$?
    BG=""
    t1=$(now)
    [ $rc -eq 0 ] || { log "failed ($rc): $* : $(tail -3 "$out.err")"; return 1; }
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' >"$out.s"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
json_field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2"; }

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

# A snapshot of the build (BENCH_SNAPSHOT=0: use it in place): every
# process of the run uses the same binaries even if BUILD is rebuilt
# meanwhile. Shipped plugins are found through RUNNEL_PLUGIN_PATH.
if [ "${BENCH_SNAPSHOT:-1}" = 1 ]; then
    BUILD=$T/build
    mkdir -p "$BUILD/plugins" "$BUILD/examples/wordcount" "$BUILD/bench" "$BUILD/core" "$BUILD/sdk"
    cp "$BUILD0/runnel" "$BUILD/"
    cp "$BUILD0"/plugins/*.so "$BUILD/plugins/"
    cp "$BUILD0/examples/wordcount/libwords.so" "$BUILD/examples/wordcount/"
    cp "$BUILD0/bench/gen_corpus" "$BUILD/bench/"
    cp -r "$BUILD0/core/proto" "$BUILD0/core/librunnel-harness.a" "$BUILD/core/"
    cp "$BUILD0/sdk/librunnel-sdk.a" "$BUILD/sdk/"
    mkdir -p "$BUILD/core/CMakeFiles/runnel.dir"
    cp "$BUILD0/core/CMakeFiles/runnel.dir/link.txt" "$BUILD/core/CMakeFiles/runnel.dir/" 2>/dev/null || true
else
    BUILD=$BUILD0
fi
RUNNEL=$BUILD/runnel
export RUNNEL_PLUGIN_PATH="$BUILD/plugins" RUNNEL_BUILD_DIR="$BUILD"
BUILT=$(date -u -r "$BUILD0/runnel" '+%Y-%m-%d %H:%M UTC')
log "runnel: $BUILD0/runnel ($("$RUNNEL" --version 2>&1 | head -1), built $BUILT)"

RESULTS=$T/results
: >"$RESULTS"
row() { echo "$*" >>"$RESULTS"; }

# ---- mutual TLS material (BENCH_TLS=1) -------------------------------------
# A cluster CA and one identity per process, as docs/SECURITY.md issues
# them: the scheduler, two workers, a client.
if [ "$TLS" = 1 ]; then
    "$RUNNEL" security init "$T/tls/ca" >/dev/null 2>&1 || die "runnel security init failed"
    for id in scheduler:sched worker:w1 worker:w2 client:bench; do
        "$RUNNEL" security issue "$T/tls/ca" --role "${id%%:*}" --name "${id#*:}" \
            --out "$T/tls/${id#*:}" >/dev/null 2>&1 || die "runnel security issue $id failed"
    done
    log "TLS: CA and identities in $T/tls"
fi

# The transfer rows of the table (from $RESULTS).
transfer_rows() {
    for shape in lines blobs; do
        for streams in 1 2; do
            l=$(grep "^transfer_${shape}_$streams " "$RESULTS")
            g=$(echo "$l" | cut -d' ' -f2)
            v=$(echo "$l" | sed 's/.* values=\([0-9]*\).*/\1/')
            b=$(echo "$l" | sed 's/.* bytes=\([0-9]*\).*/\1/')
            if [ $streams = 1 ]; then
                ref=$(phases_text "$shape")
            else
                ref=$(echo "$l" | sed 's/.* encode_GBps=\([0-9.]*\) decode_GBps=\([0-9.]*\).*/codec alone: encode \1 GB\/s, decode \2 GB\/s/')
            fi
            awk -v s="$shape" -v k="$streams" -v g="$g" -v v="$v" -v b="$b" -v n="$FETCHES" \
                -v ps="$(echo "$PSIZE" | sed 's/^\([0-9.]*\)/\1 /')" -v ref="$ref" 'BEGIN {
                printf "| transfer: %d fetches of a %s partition (%s: %d values, %.1f MB encoded), %d stream%s | %.2f GB/s | %s | %.2f of target | >= 1.5 GB/s | %s |\n",
                    n, ps, s, v, b / 1e6, k, (k > 1 ? "s at once" : ""), g, ref, g / 1.5, (g >= 1.5 ? "yes" : "**no**")}'
        done
    done
}
# phases_text SHAPE [tls_]: the --phases run's figures, in words.
phases_text() {
    awk -v n="phases_${2:-}$1" -v t="$(grep "^thread_${2:-}$1 " "$RESULTS")" '$1 == n {split(t, a, " "); printf "per fetch: %.0f ms until the first chunk, %.0f ms stream decoded as it arrives (%.2f GB/s), %.0f ms end; the receiving thread ran %.0f ms, waited %.0f ms for a CPU", $2, $3, $4, $5, a[2], a[3]}' "$RESULTS"
}
# The transfer rows over mutual TLS, next to plaintext of the same run.
# The target (issue 10) is 1.0 GB/s; with 2 streams at once the row is
# judged as the plaintext rows are, on the total.
transfer_tls_rows() {
    for shape in lines blobs; do
        for streams in 1 2; do
            l=$(grep "^transfer_tls_${shape}_$streams " "$RESULTS")
            g=$(echo "$l" | cut -d' ' -f2)
            p=$(get "transfer_${shape}_$streams" 2)
            v=$(echo "$l" | sed 's/.* values=\([0-9]*\).*/\1/')
            b=$(echo "$l" | sed 's/.* bytes=\([0-9]*\).*/\1/')
            ref=""
            [ $streams = 1 ] && ref="; TLS $(phases_text "$shape" tls_)"
            awk -v s="$shape" -v k="$streams" -v g="$g" -v p="$p" -v v="$v" -v b="$b" -v n="$FETCHES" \
                -v ps="$(echo "$PSIZE" | sed 's/^\([0-9.]*\)/\1 /')" -v ref="$ref" 'BEGIN {
                printf "| transfer over mutual TLS: %d fetches of a %s partition (%s: %d values, %.1f MB encoded), %d stream%s | %.2f GB/s%s | plaintext %.2f GB/s (TLS / plaintext = %.2f)%s | %.2f of target | >= 1.0 GB/s | %s |\n",
                    n, ps, s, v, b / 1e6, k, (k > 1 ? "s at once" : ""), g,
                    (k > 1 ? sprintf(" (%.2f per stream)", g / k) : ""), p, g / p, ref,
                    g / 1.0, (g >= 1.0 ? "yes" : "**no**")}'
        done
    done
}
get() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS"; }

# ---- 1. transfer ---------------------------------------------------------
mkdir -p "$BB"
# the libraries the runnel binary links with, as the build linked it
# (relative paths are relative to BUILD/core)
LINK=$BUILD/core/CMakeFiles/runnel.dir/link.txt
if [ -s "$LINK" ]; then
    LIBS=$(sed -n 's/.*librunnel-harness\.a \(.*\)$/\1/p' "$LINK" | sed "s# \.\./# $BUILD/core/../#g")
else
    LIBS="$BUILD/sdk/librunnel-sdk.a $(pkg-config --libs grpc libprotobuf-c yaml-0.1 jansson libcrypto libarchive zlib) -ldl -lm"
fi
# shellcheck disable=SC2086
cc -O2 -g -std=c11 -Wall -Wextra -Wno-unused-parameter -pthread \
    -I"$SRC/core" -I"$SRC/sdk/include" -I"$BUILD/core/proto" \
    bench/transfer.c -o "$BB/transfer" "$BUILD/core/librunnel-harness.a" $LIBS ||
    die "cannot compile bench/transfer.c"
# transfer_runs TAG ARGS...: the rows of one kind of transport (TAG ""
# plaintext, "tls_" mutual TLS; ARGS go to every transfer run).
transfer_runs() {
    tag=$1
    shift
    for shape in lines blobs; do
        for streams in 1 2; do
            : >"$T/gbps"
            i=0
            while [ $i -lt "$RUNS" ]; do
                timed 300 "$T/transfer.out" "$BB/transfer" --shape $shape --size "$PSIZE" \
                    --fetches "$FETCHES" --streams $streams "$@" || die "transfer $* failed"
                r=$(grep '^RESULT' "$T/transfer.out")
                log "transfer: $r"
                echo "$r" | sed 's/.* GBps=\([0-9.]*\).*/\1/' >>"$T/gbps"
                i=$((i + 1))
            done
            g=$(median <"$T/gbps")
            row "transfer_$tag${shape}_$streams $g $r"
        done
        # where a fetch's time goes (one more run, timed by phase)
        timed 300 "$T/transfer.out" "$BB/transfer" --shape $shape --size "$PSIZE" \
            --fetches "$FETCHES" --phases "$@" || die "transfer --phases $* failed"
        p=$(grep '^PHASES' "$T/transfer.out")
        log "transfer: $p"
        row "phases_$tag$shape $(echo "$p" | sed 's/.*after \([0-9.]*\) ms.*stream \([0-9.]*\) ms (\([0-9.]*\) GB.*end \([0-9.]*\) ms.*/\1 \2 \3 \4/')"
        t=$(grep '^THREAD' "$T/transfer.out")
        log "transfer: $t"
        row "thread_$tag$shape $(echo "$t" | sed 's/.*ran \([0-9.]*\) ms, waited \([0-9.]*\) ms for a CPU, \([0-9.-]*\) ms.*/\1 \2 \3/')"
    done
}
transfer_runs ""
# over TLS: the fetcher is worker w1, the server worker w2 (as between two
# workers of a TLS cluster: each verifies the other's certificate)
[ "$TLS" = 1 ] && transfer_runs tls_ --tls "$T/tls/w1" --server-tls "$T/tls/w2"
LOAD_TRANSFER=$(load)

if [ "${BENCH_ONLY:-}" = transfer ]; then
    echo
    echo "$(nproc) cores, run started $START (load average $LOAD0), ended $(date -u +%H:%M) UTC (load average $(load));"
    echo "runnel: $BUILD0 (built $BUILT); medians of $RUNS run(s)"
    echo
    echo "| benchmark | runnel | reference (same run) | ratio | target | met |"
    echo "|---|---:|---:|---:|---:|:---:|"
    transfer_rows
    [ "$TLS" = 1 ] && transfer_tls_rows
    exit 0
fi

# ---- the cluster: a scheduler and 2 workers x 1 thread -------------------
# start_cluster TAG [TLS]: SCHED is its address, SPID the scheduler, WPIDS
# the workers; CLIENT_TLS the client's arguments. With TLS every process
# has its own identity and the addresses are tls://.
start_cluster() {
    tag=$1 stls=""
    CLIENT_TLS=""
    if [ "${2:-}" = tls ]; then
        stls="--tls $T/tls/sched"
        CLIENT_TLS="--tls $T/tls/bench"
    fi
    # shellcheck disable=SC2086
    "$RUNNEL" scheduler --listen 127.0.0.1:0 --state-dir "$T/state$tag" $stls \
        >"$T/sched$tag.log" 2>&1 &
    SPID=$!
    poll 30 grep -q "listening at" "$T/sched$tag.log" ||
        die "the scheduler did not start: $(cat "$T/sched$tag.log")"
    PORT=$(sed -n 's/.*listening at [a-z]*:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/sched$tag.log")
    SCHED=tcp://127.0.0.1:$PORT
    [ -n "$stls" ] && SCHED=tls://127.0.0.1:$PORT
    WPIDS=""
    for w in w1 w2; do
        wtls=""
        [ -n "$stls" ] && wtls="--tls $T/tls/$w"
        # shellcheck disable=SC2086
        "$RUNNEL" worker "$SCHED" --nthreads 1 --name $w --listen 127.0.0.1:0 \
            --local-dir "$T/$tag$w" $wtls >"$T/$tag$w.log" 2>&1 &
        WPIDS="$WPIDS $!"
        PIDS="$PIDS $!"
        poll 30 grep -q "registered with" "$T/$tag$w.log" ||
            die "worker $w did not register: $(cat "$T/$tag$w.log")"
    done
    log "cluster: $SCHED, 2 workers x 1 thread"
}
# Workers first (they retire through the scheduler), then the scheduler.
stop_cluster() {
    # shellcheck disable=SC2086
    term_wait $WPIDS
    term_wait "$SPID"
    PIDS="" SPID="" WPIDS=""
}

cat >"$T/tasks.yaml" <<Y
name: tasks
source: {range: {n: $NTASKS, npartitions: $NTASKS}}
steps: [json_dump, count]
Y
cat >"$T/warm.yaml" <<Y
source: {range: {n: 100, npartitions: 100}}
steps: [json_dump, count]
Y
# ---- 2. per-task overhead ------------------------------------------------
# task_runs TAG: RUNS runs of the per-task job on the cluster at SCHED.
task_runs() {
    tag=$1
    # shellcheck disable=SC2086
    timed 60 "$T/warm.out" "$RUNNEL" run "$T/warm.yaml" --scheduler "$SCHED" $CLIENT_TLS --quiet ||
        die "warm-up job failed"
    : >"$T/tasks.s"
    i=0
    while [ $i -lt "$RUNS" ]; do
        # shellcheck disable=SC2086
        timed 600 "$T/tasks.out" "$RUNNEL" run "$T/tasks.yaml" --scheduler "$SCHED" $CLIENT_TLS \
            --json --quiet || die "tasks job failed"
        s=$(cat "$T/tasks.out.s")
        grep -q "\"result\": \[$NTASKS\]" "$T/tasks.out" || die "tasks job: wrong result: $(cat "$T/tasks.out")"
        log "runnel tasks$tag: ${s}s ($(json_field tasks "$T/tasks.out") tasks)"
        echo "$s" >>"$T/tasks.s"
        i=$((i + 1))
    done
    rtasks=$(json_field tasks "$T/tasks.out")
    row "tasks_runnel$tag $(median <"$T/tasks.s") $rtasks $NTASKS"
}

# ---- 3. word count: cluster vs local ------------------------------------
mkdir -p "$DIR"
[ -s "$CORPUS" ] || "$BUILD/bench/gen_corpus" "$SIZE" "$CORPUS" >&2
BYTES=$(stat -c %s "$CORPUS")
"$BUILD/bench/gen_corpus" 1MiB "$T/small.txt" >/dev/null 2>&1
export BLOCKSIZE="${BENCH_BLOCKSIZE:-32MiB}"
# wc_runs TAG: RUNS runs of the word count on the cluster at SCHED and
# locally with 2 threads, interleaved; the outputs are checked equal.
wc_runs() {
    tag=$1
    cat "$CORPUS" >/dev/null
    # warm-up: the plugin is pushed and fetched by the workers once
    CORPUS=$T/small.txt
    # shellcheck disable=SC2086
    timed 60 "$T/wc.out" "$RUNNEL" run examples/wordcount/wordcount.yaml \
        --scheduler "$SCHED" $CLIENT_TLS --quiet || die "warm-up word count failed"
    CORPUS=$DIR/corpus-$SIZE.txt
    : >"$T/wc_cluster.s"
    : >"$T/wc_local.s"
    i=0
    while [ $i -lt "$RUNS" ]; do
        # shellcheck disable=SC2086
        timed 600 "$T/wc_cluster.out" "$RUNNEL" run examples/wordcount/wordcount.yaml \
            --scheduler "$SCHED" $CLIENT_TLS --quiet || die "cluster word count failed"
        s=$(cat "$T/wc_cluster.out.s")
        echo "$s" >>"$T/wc_cluster.s"
        timed 600 "$T/wc_local.out" "$RUNNEL" run examples/wordcount/wordcount.yaml \
            --threads 2 --quiet || die "local word count failed"
        l=$(cat "$T/wc_local.out.s")
        echo "$l" >>"$T/wc_local.s"
        log "word count$tag: cluster ${s}s, local ${l}s"
        cmp -s "$T/wc_cluster.out" "$T/wc_local.out" || die "cluster$tag and local word counts differ"
        i=$((i + 1))
    done
    row "wc_cluster$tag $(median <"$T/wc_cluster.s")"
    row "wc_local$tag $(median <"$T/wc_local.s")"
}

export CORPUS
start_cluster ""
task_runs ""
if [ "${BENCH_DASK:-1}" = 1 ] && $PY -c 'import dask.bag, distributed' 2>/dev/null; then
    if timed 900 "$T/dask.out" $PY bench/dask_tasks.py --n "$NDASK" --workers 2 \
        --threads-per-worker 1; then
        r=$(grep '^RESULT' "$T/dask.out")
        log "dask tasks: $r"
        e=$(echo "$r" | sed 's/.* elapsed_s=\([0-9.]*\).*/\1/')
        k=$(echo "$r" | sed 's/.* tasks=\([0-9]*\).*/\1/')
        row "tasks_dask $e $k $NDASK"
    fi
fi
wc_runs ""
stop_cluster
if [ "$TLS" = 1 ]; then
    start_cluster _tls tls
    task_runs _tls
    wc_runs _tls
    stop_cluster
fi
LOAD1=$(load)

# ---- the table ------------------------------------------------------------
echo
echo "$(nproc) cores, run started $START (load average $LOAD0), ended $(date -u +%H:%M) UTC (load average $LOAD1);"
echo "runnel: $BUILD0/runnel (built $BUILT)"
echo "cluster: scheduler + 2 workers x 1 thread on 127.0.0.1; medians of $RUNS run(s) (Dask: 1 run)"
echo
echo "| benchmark | runnel | reference (same run) | ratio | target | met |"
echo "|---|---:|---:|---:|---:|:---:|"
transfer_rows
rs=$(get tasks_runnel 2) rk=$(get tasks_runnel 3) rn=$(get tasks_runnel 4)
ds=$(get tasks_dask 2) dk=$(get tasks_dask 3) dn=$(get tasks_dask 4)
if [ -n "$ds" ]; then
    awk -v rs="$rs" -v rk="$rk" -v rn="$rn" -v ds="$ds" -v dk="$dk" -v dn="$dn" 'BEGIN {
        printf "| per task: %d partitions, runnel %d tasks / Dask %d tasks (%s) | %.0f us/task (%.2f s) | Dask %.0f us/task (%.2f s) | Dask / runnel = %.1f | >= 20 | %s |\n",
            rn, rk, dk, (dn == rn ? "same job" : sprintf("Dask ran %d partitions", dn)),
            rs / rk * 1e6, rs, ds / dk * 1e6, ds, (ds / dk) / (rs / rk), ((ds / dk) / (rs / rk) >= 20 ? "yes" : "**no**")
        printf "| per partition (wall / partitions) | %.0f us | Dask %.0f us | Dask / runnel = %.1f | >= 20 | %s |\n",
            rs / rn * 1e6, ds / dn * 1e6, (ds / dn) / (rs / rn), ((ds / dn) / (rs / rn) >= 20 ? "yes" : "**no**") }'
else
    awk -v rs="$rs" -v rk="$rk" -v rn="$rn" 'BEGIN {
        printf "| per task: %d partitions, %d tasks | %.0f us/task (%.2f s) | Dask not run | - | >= 20x | - |\n", rn, rk, rs / rk * 1e6, rs }'
fi
cs=$(get wc_cluster 2) ls=$(get wc_local 2)
awk -v cs="$cs" -v ls="$ls" -v b="$BYTES" -v sz="$(echo "$SIZE" | sed 's/^\([0-9.]*\)/\1 /')" 'BEGIN {
    printf "| word count %s, cluster (2 workers x 1 thread) vs local (--threads 2) | %.2f s, %.0f MB/s | local %.2f s, %.0f MB/s | cluster / local throughput = %.2f | >= 0.75 | %s |\n",
        sz, cs, b / 1e6 / cs, ls, b / 1e6 / ls, ls / cs, (ls / cs >= 0.75 ? "yes" : "**no**") }'

# ---- the TLS table (BENCH_TLS=1) -----------------------------------------
[ "$TLS" = 1 ] || exit 0
echo
echo "Mutual TLS (issue 10): the same benchmarks with every connection mutual TLS"
echo "(a CA and an identity per process: scheduler, workers w1 and w2, a client);"
echo "load average after the transfer rows $LOAD_TRANSFER"
echo
echo "| benchmark | runnel over TLS | reference (same run) | ratio | target | met |"
echo "|---|---:|---:|---:|---:|:---:|"
transfer_tls_rows
ts=$(get tasks_runnel_tls 2) tk=$(get tasks_runnel_tls 3) tn=$(get tasks_runnel_tls 4)
if [ -n "$ds" ]; then
    awk -v ts="$ts" -v tk="$tk" -v tn="$tn" -v rs="$rs" -v rk="$rk" -v ds="$ds" -v dk="$dk" -v dn="$dn" 'BEGIN {
        printf "| per task over TLS: %d partitions, runnel %d tasks / Dask %d tasks (plaintext Dask, same job) | %.0f us/task (%.2f s) | Dask %.0f us/task (%.2f s); runnel plaintext %.0f us/task | Dask / runnel-TLS = %.1f | >= 20 | %s |\n",
            tn, tk, dk, ts / tk * 1e6, ts, ds / dk * 1e6, ds, rs / rk * 1e6,
            (ds / dk) / (ts / tk), ((ds / dk) / (ts / tk) >= 20 ? "yes" : "**no**")
        printf "| per partition over TLS (wall / partitions) | %.0f us | Dask %.0f us | Dask / runnel-TLS = %.1f | >= 20 | %s |\n",
            ts / tn * 1e6, ds / dn * 1e6, (ds / dn) / (ts / tn), ((ds / dn) / (ts / tn) >= 20 ? "yes" : "**no**") }'
else
    awk -v ts="$ts" -v tk="$tk" -v tn="$tn" -v rs="$rs" -v rk="$rk" 'BEGIN {
        printf "| per task over TLS: %d partitions, %d tasks | %.0f us/task (%.2f s) | Dask not run; runnel plaintext %.0f us/task | - | >= 20 | - |\n",
            tn, tk, ts / tk * 1e6, ts, rs / rk * 1e6 }'
fi
tcs=$(get wc_cluster_tls 2) tls_=$(get wc_local_tls 2)
awk -v cs="$tcs" -v ls="$tls_" -v pc="$cs" -v b="$BYTES" -v sz="$(echo "$SIZE" | sed 's/^\([0-9.]*\)/\1 /')" 'BEGIN {
    printf "| word count %s, TLS cluster (2 workers x 1 thread) vs local (--threads 2) | %.2f s, %.0f MB/s | local %.2f s, %.0f MB/s (interleaved); plaintext cluster %.2f s | cluster-TLS / local throughput = %.2f | >= 0.70 | %s |\n",
        sz, cs, b / 1e6 / cs, ls, b / 1e6 / ls, pc, ls / cs, (ls / cs >= 0.70 ? "yes" : "**no**") }'
