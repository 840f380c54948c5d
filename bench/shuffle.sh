#!/bin/sh
# Grouping benchmarks of issue 12 (not a test): keyed folds and groupby on
# JSON-lines logs, locally and on a cluster on loopback, next to Dask bag,
# all in the same run, printed as a markdown table.
#
# Data: bench/gen_logs writes N records {"user", "bytes", "status", "url"}
# with users Zipf-distributed over 1 M ids (seed 42), and the expected
# bytes per user computed from the numbers it wrote (the reference). On
# tmpfs, kept between runs, read once before timing.
#
# Manifests (read_text blocksize BENCH_BLOCKSIZE -> json_parse -> ...):
#   foldby      foldby {key: user, value: bytes, agg: sum}
#   foldby-np8  the same with npartitions: 8 (the hash shuffle)
#   groupby     groupby {key: user, npartitions: 8} -> pluck {key: 1} ->
#               flatten -> foldby {key: user, value: bytes, agg: sum}
#               (no shipped operator sums a list inside an element: the
#               groups are flattened back into their records and folded)
#
# Rows, in rounds (one run of each per round, medians of BENCH_RUNS):
#   foldby and groupby locally (--threads 2) and on a scheduler + 2
#   workers x 1 thread; foldby-np8 on those 2 workers and on a second
#   cluster of 1 worker x 1 thread (scaling). Then, once, on the first
#   BENCH_DASK_RECORDS records (a prefix of the same stream): runnel's
#   foldby and groupby on the 2-worker cluster, Dask bag foldby and
#   groupby(shuffle='tasks') on LocalCluster(n_workers=2,
#   threads_per_worker=1) with /usr/bin/python3 (bench/dask_groupby.py),
#   PYTHONHASHSEED exported so that the worker processes hash alike.
#
# Every answer is checked: runnel's local and cluster outputs are equal
# byte for byte, and equal (sorted) to the generator's reference; Dask's
# to the reference of its data set.
#
# Shuffle throughput: the workers run with -v and log every partition
# they fetch from another worker (bytes as encoded on the wire, time from
# opening the stream to the last value decoded). Per worker: the bytes
# it fetched / the time it spent fetching them, over the shuffling jobs
# (foldby-np8 and groupby on 2 workers). Cross-checked against the TCP
# byte counters of the workers' connections to each other (ss -ti). Next
# to it, the transfer path alone for values of that shape: bench/transfer.c
# --shape groups (64 MiB partitions fetched from an idle peer; the codec's
# encode and decode alone), compiled here against BUILD as in cluster.sh.
#
#   sh bench/shuffle.sh [BUILD]
#     BENCH_RECORDS=10000000 BENCH_DASK_RECORDS=2000000 BENCH_RUNS=3
#     BENCH_DASK=1 BENCH_DASK_TIMEOUT=1800 BENCH_BLOCKSIZE=16MiB
#     BENCH_NPART=8 BENCH_DIR=/dev/shm/runnel-bench
#     BENCH_SNAPSHOT=1 (run copies of BUILD's binaries, safe from rebuilds)
#     BENCH_MAX_LOAD=1.0 BENCH_MAX_BUSY=25 BENCH_LOAD_WAIT=1200 (wait up
#     to that many seconds for the 1-minute load average to drop below
#     BENCH_MAX_LOAD and the CPUs to be less than BENCH_MAX_BUSY % busy
#     over 5 s)
#
# It starts and stops its own schedulers and workers (127.0.0.1,
# ephemeral ports); every process it starts is stopped on exit.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
BUILD0=$(cd "${1:-build}" && pwd)
RUNS=${BENCH_RUNS:-3}
NREC=${BENCH_RECORDS:-10000000}
DREC=${BENCH_DASK_RECORDS:-2000000}
[ "$DREC" -le "$NREC" ] || DREC=$NREC
BS=${BENCH_BLOCKSIZE:-16MiB}
NP=${BENCH_NPART:-8}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/runnel-shuffle-XXXXXX")
export RUNNEL_CACHE_DIR="$T/cache"
PIDS=""   # daemons we started
SPIDS=""  # the schedulers among them
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
    # a timed job (Dask: its own process group, so its workers go too)
    [ -n "$BG" ] && { kill -- "-$BG" 2>/dev/null || true; term_wait "$BG"; }
    # workers first (they retire through the scheduler), then schedulers
    others=""
    for p in $PIDS; do
        case " $SPIDS " in *" $p "*) ;; *) others="$others $p" ;; esac
    done
    # shellcheck disable=SC2086
    [ -n "$others" ] && term_wait $others
    # shellcheck disable=SC2086
    [ -n "$SPIDS" ] && term_wait $SPIDS
    PIDS="" SPIDS=""
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() { echo "shuffle.sh: $*" >&2; exit 1; }
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
# timed SECS OUT CMD...: runs CMD under `timeout` (which makes its own
# process group: Dask's worker processes go with it), stdout to OUT, stderr to
# OUT.err; the wall seconds to OUT.s, the peak RSS of the command (KiB,
# its largest process: /usr/bin/time) to OUT.rss. Runs in this shell
# (never in $(...)) so that cleanup can stop it.
timed() {
    secs=$1 out=$2
    shift 2
    t0=$(now)
    timeout "$secs" /usr/bin/time -f "%M" -o "$out.rss" "$@" >"$out" 2>"$out.err" &
    BG=$!
    rc=0
    wait "$BG" || rc=$?
    BG=""
    t1=$(now)
    [ $rc -eq 0 ] || { log "failed ($rc): $* : $(tail -3 "$out.err")"; return 1; }
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' >"$out.s"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

# ---- a quiet machine ----------------------------------------------------
# The 1-minute load average lags: another benchmark that started a few
# seconds ago (one waiting for the same quiet moment) does not show yet.
# So the CPUs must also be mostly idle over 5 s (BENCH_MAX_BUSY percent).
MAXLOAD=${BENCH_MAX_LOAD:-1.0}
MAXBUSY=${BENCH_MAX_BUSY:-25}
WAIT=${BENCH_LOAD_WAIT:-1200}
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
busy_pct() {
    set -- $(cpu_ticks)
    b0=$1 i0=$2
    sleep 5
    set -- $(cpu_ticks)
    awk -v b="$(($1 - b0))" -v i="$(($2 - i0))" 'BEGIN {printf "%d\n", (b + i > 0 ? 100 * b / (b + i) : 0)}'
}
quiet() {
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAXLOAD" 'BEGIN {exit !(l < m)}' &&
        [ "$(busy_pct)" -lt "$MAXBUSY" ]
}
# quiet, then quiet again after a random pause (two benchmarks waiting
# for the same moment should not both take it)
quiet_twice() {
    quiet || return 1
    sleep "$(($(od -An -N1 -tu1 /dev/urandom) % 20))"
    quiet
}
waited=0
while [ "$waited" -lt "$WAIT" ] && ! quiet_twice; do
    [ "$waited" -eq 0 ] && log "load $(load): waiting for < $MAXLOAD and CPUs < $MAXBUSY% busy (up to ${WAIT}s)"
    sleep 10
    waited=$((waited + 20))
done
LOAD0=$(load)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
log "load at start: $LOAD0 (waited ${waited}s)"

# ---- a snapshot of the build --------------------------------------------
if [ "${BENCH_SNAPSHOT:-1}" = 1 ]; then
    BUILD=$T/build
    mkdir -p "$BUILD/plugins" "$BUILD/bench"
    cp "$BUILD0/runnel" "$BUILD/"
    cp "$BUILD0"/plugins/*.so "$BUILD/plugins/"
    cp "$BUILD0/bench/gen_logs" "$BUILD/bench/"
    mkdir -p "$BUILD/core/CMakeFiles/runnel.dir" "$BUILD/sdk"
    cp -r "$BUILD0/core/proto" "$BUILD0/core/librunnel-harness.a" "$BUILD/core/"
    cp "$BUILD0/sdk/librunnel-sdk.a" "$BUILD/sdk/"
    cp "$BUILD0/core/CMakeFiles/runnel.dir/link.txt" "$BUILD/core/CMakeFiles/runnel.dir/" 2>/dev/null || true
else
    BUILD=$BUILD0
fi
RUNNEL=$BUILD/runnel
export RUNNEL_PLUGIN_PATH="$BUILD/plugins"
BUILT=$(date -u -r "$BUILD0/runnel" '+%Y-%m-%d %H:%M UTC')
log "runnel: $BUILD0/runnel ($("$RUNNEL" --version 2>&1 | head -1), built $BUILT)"

# ---- data ------------------------------------------------------------------
mkdir -p "$DIR"
# gen N: DIR/logs-N.jsonl and its reference (USER SUM COUNT, by name)
gen() {
    f=$DIR/logs-$1.jsonl
    if [ ! -s "$f" ] || [ ! -s "$f.ref" ]; then
        log "generating $1 records in $f"
        "$BUILD/bench/gen_logs" "$1" "$f.tmp" --ref "$f.ref.tmp" >&2 || die "gen_logs failed"
        mv "$f.tmp" "$f"
        LC_ALL=C sort "$f.ref.tmp" | awk '{print $1, $2}' >"$f.ref"
        rm -f "$f.ref.tmp"
    fi
    cat "$f" >/dev/null
}
gen "$NREC"
DATA=$DIR/logs-$NREC.jsonl
BYTES=$(stat -c %s "$DATA")
USERS=$(wc -l <"$DATA.ref")
gen "$DREC"
DDATA=$DIR/logs-$DREC.jsonl
DBYTES=$(stat -c %s "$DDATA")
log "data: $NREC records ($BYTES bytes, $USERS users); Dask rows: $DREC records ($DBYTES bytes)"

# manifest NAME DATA STEPS...: $T/NAME.yaml
manifest() {
    name=$1 data=$2
    shift 2
    {
        echo "name: $name"
        echo "source: {read_text: {urls: \"$data\", blocksize: $BS}}"
        echo "steps:"
        echo "  - json_parse"
        for s in "$@"; do echo "  - $s"; done
    } >"$T/$name.yaml"
}
FOLD="foldby: {key: user, value: bytes, agg: sum}"
FOLD8="foldby: {key: user, value: bytes, agg: sum, npartitions: $NP}"
GROUP8="groupby: {key: user, npartitions: $NP}"
manifest foldby "$DATA" "$FOLD"
manifest foldby-np8 "$DATA" "$FOLD8"
manifest groupby "$DATA" "$GROUP8" "pluck: {key: 1}" flatten "$FOLD"
manifest dfoldby "$DDATA" "$FOLD"
manifest dgroupby "$DDATA" "$GROUP8" "pluck: {key: 1}" flatten "$FOLD"

# check WHAT OUT REF: runnel's ["user", sum] lines (or Dask's "user sum"
# lines), sorted, equal the reference
check() {
    sed 's/^\["\(.*\)", \(-*[0-9]*\)\]$/\1 \2/' "$2" | LC_ALL=C sort >"$T/check"
    cmp -s "$T/check" "$3" ||
        die "$1: the answer differs from the reference ($(wc -l <"$T/check") users, $(wc -l <"$3") expected; $(diff "$T/check" "$3" | head -3 | tr '\n' ' '))"
}

# ---- two clusters: 2 workers x 1 thread, and 1 worker x 1 thread ---------
# start_scheduler VAR: sets VAR to its URL
start_scheduler() {
    "$RUNNEL" scheduler --listen 127.0.0.1:0 --state-dir "$T/state-$1" >"$T/sched-$1.log" 2>&1 &
    PIDS="$PIDS $!"
    SPIDS="$SPIDS $!"
    poll 30 grep -q "listening at" "$T/sched-$1.log" ||
        die "the scheduler did not start: $(cat "$T/sched-$1.log")"
    port=$(sed -n 's/.*listening at tcp:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/sched-$1.log")
    eval "$1=tcp://127.0.0.1:$port"
}
# start_worker NAME SCHED: -v logs every fetch; NAME_pid, NAME_port
start_worker() {
    "$RUNNEL" -v worker "$2" --nthreads 1 --name "$1" --listen 127.0.0.1:0 \
        --local-dir "$T/$1" >"$T/$1.log" 2>&1 &
    eval "$1_pid=$!"
    PIDS="$PIDS $!"
    poll 30 grep -q "registered with" "$T/$1.log" ||
        die "worker $1 did not register: $(cat "$T/$1.log")"
    eval "$1_port=$(sed -n 's/.*worker tcp:\/\/[^ ]*:\([0-9][0-9]*\) .*serving peers.*/\1/p' "$T/$1.log" | head -1)"
}
start_scheduler SCHED2
start_worker w1 "$SCHED2"
start_worker w2 "$SCHED2"
start_scheduler SCHED1
start_worker w3 "$SCHED1"
# shellcheck disable=SC2154
log "clusters: $SCHED2 (w1 :$w1_port, w2 :$w2_port), $SCHED1 (w3 :$w3_port)"
# warm-up: plugins fetched by every worker, peer channels opened
head -c 4000000 "$DDATA" | sed '$d' >"$T/warm.jsonl"
manifest warm "$T/warm.jsonl" "$GROUP8" "pluck: {key: 1}" flatten "$FOLD8"
for s in "$SCHED2" "$SCHED1"; do
    timed 120 "$T/warm.out" "$RUNNEL" run "$T/warm.yaml" --scheduler "$s" --quiet ||
        die "warm-up job failed"
done

# tcp_bytes PID PORT: bytes PID received on its connections to PORT
tcp_bytes() {
    ss -tinpH 2>/dev/null | awk -v pid="pid=$1," -v port=":$2" '
        /^[^ \t]/ { mine = index($0, pid) > 0 && $5 ~ (port "$") ; next }
        mine { for (i = 1; i <= NF; i++) if ($i ~ /^bytes_received:/) { split($i, a, ":"); s += a[2] } }
        END { printf "%d\n", s }'
}
# fetches W FROM: the fetch lines of worker W's log after line FROM, as
# "bytes ms" (the whole log without FROM)
fetches() {
    tail -n +"$(($2 + 1))" "$T/$1.log" | grep 'worker: fetched job' |
        sed 's/.*: \([0-9]*\) bytes, [0-9]* values in \([0-9.]*\) ms$/\1 \2/'
}

RESULTS=$T/results
: >"$RESULTS"
row() { echo "$*" >>"$RESULTS"; }

# run ROW WHERE YAML: one timed run (WHERE: local | SCHED2 | SCHED1);
# appends the seconds to $T/ROW.s, keeps the output as $T/ROW.out, and
# for the 2-worker cluster the fetch log and TCP counters of the run
run() {
    r=$1 where=$2 y=$3
    l1=$(wc -l <"$T/w1.log") l2=$(wc -l <"$T/w2.log")
    b1=$(tcp_bytes "$w1_pid" "$w2_port") b2=$(tcp_bytes "$w2_pid" "$w1_port")
    case $where in
    local) timed 900 "$T/$r.out" "$RUNNEL" run "$T/$y.yaml" --threads 2 --quiet || die "$r failed" ;;
    SCHED2) timed 900 "$T/$r.out" "$RUNNEL" run "$T/$y.yaml" --scheduler "$SCHED2" --quiet || die "$r failed" ;;
    SCHED1) timed 900 "$T/$r.out" "$RUNNEL" run "$T/$y.yaml" --scheduler "$SCHED1" --quiet || die "$r failed" ;;
    esac
    cat "$T/$r.out.s" >>"$T/$r.s"
    cat "$T/$r.out.rss" >>"$T/$r.rss"
    if [ "$where" = SCHED2 ]; then
        sleep 0.2 # the last log lines
        fetches w1 "$l1" >>"$T/$r.f1"
        fetches w2 "$l2" >>"$T/$r.f2"
        echo "$(($(tcp_bytes "$w1_pid" "$w2_port") - b1)) $(($(tcp_bytes "$w2_pid" "$w1_port") - b2))" >>"$T/$r.tcp"
    fi
    log "  $r: $(cat "$T/$r.out.s") s"
}

# ---- the rounds ------------------------------------------------------------
i=1
while [ "$i" -le "$RUNS" ]; do
    log "round $i of $RUNS (load $(load))"
    run fold_local local foldby
    run fold_c2 SCHED2 foldby
    run fold8_c2 SCHED2 foldby-np8
    run fold8_c1 SCHED1 foldby-np8
    run group_local local groupby
    run group_c2 SCHED2 groupby
    # local == cluster, whatever npartitions: byte for byte
    for r in fold_c2 fold8_c2 fold8_c1 group_local group_c2; do
        cmp -s "$T/fold_local.out" "$T/$r.out" || die "$r differs from the local foldby"
    done
    [ "$i" -eq 1 ] && { check foldby "$T/fold_local.out" "$DATA.ref"; log "  answers equal each other and the reference"; }
    i=$((i + 1))
done
# peak RSS: of the local runs (for a cluster run it would be the client's)
for r in fold_local fold_c2 fold8_c2 fold8_c1 group_local group_c2; do
    case $r in *_local) m=$(sort -n "$T/$r.rss" | tail -1) ;; *) m=0 ;; esac
    row "$r $(median <"$T/$r.s") $m $(sort -n "$T/$r.s" | head -1)"
done

# ---- the transfer path alone, for values shaped like groupby's buckets -----
# bench/transfer.c (as in bench/cluster.sh): one worker fetching 64 MiB
# partitions of [user, [[partition, record...]]] from an idle peer, and
# the codec alone on the same partition
LINK=$BUILD/core/CMakeFiles/runnel.dir/link.txt
if [ -s "$LINK" ]; then
    LIBS=$(sed -n 's/.*librunnel-harness\.a \(.*\)$/\1/p' "$LINK" | sed "s# \.\./# $BUILD/core/../#g")
else
    LIBS="$BUILD/sdk/librunnel-sdk.a $(pkg-config --libs grpc libprotobuf-c yaml-0.1 jansson libcrypto libarchive zlib) -ldl -lm"
fi
# shellcheck disable=SC2086
if cc -O2 -g -std=c11 -Wall -Wextra -Wno-unused-parameter -pthread \
    -I"$SRC/core" -I"$SRC/sdk/include" -I"$BUILD/core/proto" \
    bench/transfer.c -o "$T/transfer" "$BUILD/core/librunnel-harness.a" $LIBS; then
    : >"$T/xfer.gbps"
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        timed 300 "$T/xfer.out" "$T/transfer" --shape groups --size 64MiB --fetches 10 ||
            die "transfer failed"
        r=$(grep '^RESULT' "$T/xfer.out")
        log "transfer: $r"
        echo "$r" | sed 's/.* GBps=\([0-9.]*\).*/\1/' >>"$T/xfer.gbps"
        i=$((i + 1))
    done
    row "xfer $(median <"$T/xfer.gbps") $(echo "$r" | sed 's/.* encode_GBps=\([0-9.]*\) decode_GBps=\([0-9.]*\).*/\1 \2/')"
else
    log "cannot compile bench/transfer.c: no transfer row"
fi

# ---- the Dask rows: runnel and Dask on the first DREC records --------------
run dfold_c2 SCHED2 dfoldby
check "foldby ($DREC records)" "$T/dfold_c2.out" "$DDATA.ref"
run dgroup_c2 SCHED2 dgroupby
check "groupby ($DREC records)" "$T/dgroup_c2.out" "$DDATA.ref"
row "dfold_c2 $(cat "$T/dfold_c2.s") 0 $(cat "$T/dfold_c2.s")"
row "dgroup_c2 $(cat "$T/dgroup_c2.s") 0 $(cat "$T/dgroup_c2.s")"
DASKNOTE="not run"
if [ "${BENCH_DASK:-1}" = 1 ] && $PY -c 'import dask.bag, distributed' 2>/dev/null; then
    export PYTHONHASHSEED=0
    DASKNOTE="PYTHONHASHSEED=0; answers equal the reference"
    for op in foldby groupby; do
        log "dask $op on $DREC records (load $(load))"
        if timed "${BENCH_DASK_TIMEOUT:-1800}" "$T/dask_$op.txt" $PY bench/dask_groupby.py "$DDATA" \
            --op $op --out "$T/dask_$op.ans" --blocksize "$BS" --workers 2 --threads-per-worker 1; then
            r=$(grep '^RESULT' "$T/dask_$op.txt")
            log "  $r"
            check "Dask $op" "$T/dask_$op.ans" "$DDATA.ref"
            e=$(echo "$r" | sed 's/.* elapsed_s=\([0-9.]*\).*/\1/')
            row "dask_$op $e 0 $e"
            row "dparts_$op $(echo "$r" | sed 's/.* partitions=\([0-9]*\).*/\1/')"
        else
            DASKNOTE="$DASKNOTE; $op failed or timed out"
        fi
    done
fi
LOAD1=$(load)
for w in w1 w2 w3; do
    eval "p=\$${w}_pid"
    row "hwm_$w $(awk '/^VmHWM:/ {print $2}' "/proc/$p/status")"
done

# ---- the table ---------------------------------------------------------------
get() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS"; }
echo
echo "$(nproc) cores, run started $START (load average $LOAD0), ended $(date -u '+%H:%M UTC') (load $LOAD1)"
echo "runnel: $BUILD0/runnel (built $BUILT); data: $NREC records, $BYTES bytes, $USERS users (Dask rows: $DREC records); blocksize $BS"
echo "cluster: scheduler + 2 workers x 1 thread (and + 1 worker x 1 thread) on 127.0.0.1; medians of $RUNS run(s); Dask: 1 run each, $DASKNOTE"
echo "every runnel answer: local = cluster (byte for byte) = the generator's reference"
echo
echo "| benchmark | seconds (median) | M records/s | best run, s | peak RSS |"
echo "|---|---:|---:|---:|---:|"
line() { # NAME LABEL RECORDS
    s=$(get "$1" 2) m=$(get "$1" 3) b=$(get "$1" 4)
    [ -n "$s" ] || return 0
    awk -v l="$2" -v s="$s" -v n="$3" -v m="${m:-0}" -v b="$b" 'BEGIN {
        printf "| %s | %.2f | %.3f | %.2f | %s |\n", l, s, n / s / 1e6, b, (m > 0 ? sprintf("%.0f MiB", m / 1024) : "-") }'
}
line fold_local "runnel foldby, local, 2 threads ($NREC records)" "$NREC"
line fold_c2 "runnel foldby, cluster 2 x 1 ($NREC)" "$NREC"
line fold8_c2 "runnel foldby npartitions $NP, cluster 2 x 1 ($NREC)" "$NREC"
line fold8_c1 "runnel foldby npartitions $NP, cluster 1 x 1 ($NREC)" "$NREC"
line group_local "runnel groupby + sum, local, 2 threads ($NREC)" "$NREC"
line group_c2 "runnel groupby + sum, cluster 2 x 1 ($NREC)" "$NREC"
line dfold_c2 "runnel foldby, cluster 2 x 1 ($DREC, 1 run)" "$DREC"
line dgroup_c2 "runnel groupby + sum, cluster 2 x 1 ($DREC, 1 run)" "$DREC"
line dask_foldby "Dask bag foldby, LocalCluster 2 x 1 ($DREC, $(get dparts_foldby 2) partitions)" "$DREC"
line dask_groupby "Dask bag groupby(shuffle='tasks') + map sum, 2 x 1 ($DREC, $(get dparts_groupby 2) partitions)" "$DREC"
echo
echo "Worker peak RSS over the whole run (VmHWM): w1 $(($(get hwm_w1 2) / 1024)) MiB, w2 $(($(get hwm_w2 2) / 1024)) MiB, w3 (1-worker cluster) $(($(get hwm_w3 2) / 1024)) MiB"
echo
echo "| target | runnel | reference (same run) | ratio | target | met |"
echo "|---|---:|---:|---:|---:|:---:|"
ratio() { # LABEL RUNNEL_ROW N DASK_ROW D
    rs=$(get "$2" 2) ds=$(get "$4" 2)
    if [ -z "$ds" ]; then
        echo "| $1 | $rs s | Dask not run | - | >= 20 | - |"
        return 0
    fi
    awk -v l="$1" -v rs="$rs" -v n="$3" -v ds="$ds" -v d="$5" 'BEGIN {
        r = (n / rs) / (d / ds)
        printf "| %s | %.3f M records/s (%d in %.2f s) | Dask %.3f M records/s (%d in %.2f s) | %.1f | >= 20 | %s |\n",
            l, n / rs / 1e6, n, rs, d / ds / 1e6, d, ds, r, (r >= 20 ? "yes" : "**no**") }'
}
ratio "foldby sum per user, cluster 2 x 1 vs Dask foldby" fold_c2 "$NREC" dask_foldby "$DREC"
ratio "foldby, same data set ($DREC records)" dfold_c2 "$DREC" dask_foldby "$DREC"
ratio "groupby + per-group sum, cluster 2 x 1 vs Dask groupby (tasks)" group_c2 "$NREC" dask_groupby "$DREC"
ratio "groupby, same data set ($DREC records)" dgroup_c2 "$DREC" dask_groupby "$DREC"
awk -v a="$(get fold8_c2 2)" -v b="$(get fold8_c1 2)" -v ba="$(get fold8_c2 4)" -v bb="$(get fold8_c1 4)" -v np="$NP" 'BEGIN {
    printf "| scaling: foldby npartitions %d, 2 workers vs 1 (1 thread each) | %.2f s | 1 worker %.2f s | %.2f (best runs: %.2f s vs %.2f s, %.2f) | >= 1.6 | %s |\n",
        np, a, b, b / a, ba, bb, bb / ba, (b / a >= 1.6 ? "yes" : "**no**") }'
# shuffle throughput per worker, over the runs of a row (and the transfer
# path alone for such values)
xg=$(get xfer 2) xe=$(get xfer 3) xd=$(get xfer 4)
[ -n "$xg" ] && awk -v g="$xg" -v e="$xe" -v d="$xd" 'BEGIN {
    printf "| transfer alone: 64 MiB partitions of groupby-shaped values ([user, [[partition, record...]]]), 1 stream from an idle peer (bench/transfer.c --shape groups) | %.0f MB/s | codec alone: encode %.0f MB/s, decode %.0f MB/s | %.2f of target | >= 500 MB/s | %s |\n",
        g * 1000, e * 1000, d * 1000, g * 2, (g >= 0.5 ? "yes" : "**no**") }'
for r in fold8_c2 group_c2; do
    cat "$T/$r.f1" | awk '{b += $1; t += $2; n++} END {printf "%d %.3f %d\n", b, t, n}' >"$T/$r.w1"
    cat "$T/$r.f2" | awk '{b += $1; t += $2; n++} END {printf "%d %.3f %d\n", b, t, n}' >"$T/$r.w2"
    awk '{a += $1; b += $2} END {printf "%d %d\n", a, b}' "$T/$r.tcp" >"$T/$r.tcpsum"
    read -r b1 t1 n1 <"$T/$r.w1"
    read -r b2 t2 n2 <"$T/$r.w2"
    read -r k1 k2 <"$T/$r.tcpsum"
    label=$([ "$r" = fold8_c2 ] && echo "foldby npartitions $NP" || echo "groupby npartitions $NP")
    awk -v l="$label" -v b1="$b1" -v t1="$t1" -v n1="$n1" -v b2="$b2" -v t2="$t2" -v n2="$n2" \
        -v k1="$k1" -v k2="$k2" -v runs="$RUNS" -v js="$(get "$r" 2)" 'BEGIN {
        r1 = (t1 > 0 ? b1 / 1e3 / t1 : 0); r2 = (t2 > 0 ? b2 / 1e3 / t2 : 0)
        lo = (r1 < r2 ? r1 : r2)
        printf "| shuffle throughput per worker (%s): encoded bytes fetched / time fetching | w1 %.0f MB/s, w2 %.0f MB/s | per job: w1 %.1f MB in %d fetches (%.0f ms), w2 %.1f MB in %d (%.0f ms); TCP received w1 %.1f MB, w2 %.1f MB; job %.2f s | %.2f of target | >= 500 MB/s | %s |\n",
            l, r1, r2, b1 / 1e6 / runs, n1 / runs, t1 / runs, b2 / 1e6 / runs, n2 / runs, t2 / runs,
            k1 / 1e6 / runs, k2 / 1e6 / runs, js, lo / 500, (lo >= 500 ? "yes" : "**no**") }'
done
