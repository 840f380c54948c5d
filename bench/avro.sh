#!/bin/sh
# Avro benchmark of issue 6 (not a test): count the records of a deflate
# Avro file and sum one long field, runnel next to avro-c, in the same
# run on the same machine. Prints a markdown table of medians.
#
#  - the data: bench/avro_gen.c (avro-c's writer, an independent one)
#    writes N page views (the schema of examples/avro: a nested record
#    with an enum, three strings, an int, two longs, a union with null and
#    an array of strings), deflate, 64 KiB blocks, on tmpfs (/dev/shm: the
#    disk is not measured), read once before timing;
#  - runnel: read_avro -> count, and read_avro -> pluck {key: bytes} ->
#    sum, with --threads 1 (per core) and --threads 2 (blocksize 8 MiB:
#    ~9 splits for the 4 M records' 73 MB);
#  - avro-c's generic reader: bench/avro_c_count.c (avro_file_reader +
#    avro_value_t, counts and sums `bytes`), the anchor;
#  - `avrocat FILE > /dev/null` (Debian's avro-bin: the same reader, then
#    JSON).
# runnel's count and sum must equal avro_c_count's (and the generator's).
#
#   sh bench/avro.sh [BUILD]
#     BENCH_RUNS=3 BENCH_AVRO_RECORDS=4000000 BENCH_BLOCKSIZE=8MiB
#     BENCH_DIR=/dev/shm/runnel-bench BENCH_BUILD=build-bench (where the
#     two C programs are compiled) BENCH_AVROCAT=1
#     BENCH_SNAPSHOT=1 (run copies of BUILD's binaries, safe from rebuilds)
#     BENCH_MAX_LOAD=1.0 BENCH_LOAD_WAIT=300 (wait up to that many seconds
#     for the 1-minute load average to drop below BENCH_MAX_LOAD)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
BUILD0=$(cd "${1:-build}" && pwd)
RUNS=${BENCH_RUNS:-3}
N=${BENCH_AVRO_RECORDS:-4000000}
BS=${BENCH_BLOCKSIZE:-8MiB}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}
BB=${BENCH_BUILD:-build-bench}
FILE=$DIR/avro-pageviews-$N.avro

T=$(mktemp -d "${TMPDIR:-/tmp}/runnel-avro-bench-XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
export RUNNEL_CACHE_DIR="$T/cache"

die() { echo "avro.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

[ -x "$BUILD0/runnel" ] || die "no runnel in $BUILD0 (build it first)"
[ -f /usr/include/avro.h ] || die "avro-c is missing (apt-get install libavro-dev avro-bin)"

# ---- the two C programs and the data ----------------------------------
mkdir -p "$BB" "$DIR"
for p in avro_gen avro_c_count; do
    cc -O2 -g -std=c11 -Wall -Wextra "bench/$p.c" -o "$BB/$p" -lavro ||
        die "cannot compile bench/$p.c"
done
if [ ! -s "$FILE" ] || [ ! -s "$FILE.expect" ]; then
    log "writing $FILE ($N records, avro-c, deflate; ~30 s)"
    rm -f "$FILE.expect"
    "$BB/avro_gen" "$FILE" "$N" >"$T/expect" || die "avro_gen failed"
    mv "$T/expect" "$FILE.expect"
fi
BYTES=$(stat -c %s "$FILE")
cat "$FILE" >/dev/null

# ---- a snapshot of the build -------------------------------------------
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
log "runnel: $BUILD0/runnel (built $BUILT)"

# ---- manifests ---------------------------------------------------------
cat >"$T/count.yaml" <<EOF
name: avro-bench-count
source:
  read_avro: {urls: ["$FILE"], blocksize: $BS}
steps:
  - count
EOF
cat >"$T/sum.yaml" <<EOF
name: avro-bench-sum
source:
  read_avro: {urls: ["$FILE"], blocksize: $BS}
steps:
  - pluck: {key: bytes}
  - sum
EOF

# ---- a quiet machine ---------------------------------------------------
MAXLOAD=${BENCH_MAX_LOAD:-1.0}
waited=0
while [ "$waited" -lt "${BENCH_LOAD_WAIT:-300}" ] &&
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAXLOAD" 'BEGIN {exit !(l >= m)}'; do
    [ "$waited" -eq 0 ] && log "load $(load): waiting for < $MAXLOAD (up to ${BENCH_LOAD_WAIT:-300}s)"
    sleep 10
    waited=$((waited + 10))
done
LOAD0=$(load)
log "load at start: $LOAD0"

# ---- the runs ----------------------------------------------------------
# Rounds: every tool once per round, so that a burst of load elsewhere
# hits all of them alike. run NAME CMD...: one timed run, stdout kept.
run() {
    name=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$T/time1" "$@" >"$T/$name.out" 2>"$T/$name.err" ||
        die "$name failed: $(tail -3 "$T/$name.err")"
    cat "$T/time1" >>"$T/$name.times"
}
TOOLS="runnel_count_1t runnel_sum_1t runnel_count_2t runnel_sum_2t avro_c_reader"
[ "${BENCH_AVROCAT:-1}" = 1 ] && command -v avrocat >/dev/null && TOOLS="$TOOLS avrocat"
i=0
while [ $i -lt "$RUNS" ]; do
    for t in $TOOLS; do
        case $t in
        runnel_count_1t) run $t "$RUNNEL" run "$T/count.yaml" --threads 1 --quiet ;;
        runnel_sum_1t) run $t "$RUNNEL" run "$T/sum.yaml" --threads 1 --quiet ;;
        runnel_count_2t) run $t "$RUNNEL" run "$T/count.yaml" --threads 2 --quiet ;;
        runnel_sum_2t) run $t "$RUNNEL" run "$T/sum.yaml" --threads 2 --quiet ;;
        avro_c_reader) run $t "$BB/avro_c_count" "$FILE" bytes ;;
        avrocat) run $t sh -c "avrocat \"\$1\" >/dev/null" sh "$FILE" ;;
        esac
        log "$t: $(tail -1 "$T/$t.times" | cut -d' ' -f1)s"
    done
    i=$((i + 1))
done
LOAD1=$(load)
log "load at end: $LOAD1"

# ---- correctness -------------------------------------------------------
read -r want_n want_sum <"$FILE.expect"
read -r c_n c_sum <"$T/avro_c_reader.out"
ok=1
for t in runnel_count_1t runnel_count_2t; do
    [ "$(cat "$T/$t.out")" = "$c_n" ] || { log "MISMATCH: $t says $(cat "$T/$t.out"), avro-c $c_n"; ok=0; }
done
for t in runnel_sum_1t runnel_sum_2t; do
    [ "$(cat "$T/$t.out")" = "$c_sum" ] || { log "MISMATCH: $t says $(cat "$T/$t.out"), avro-c $c_sum"; ok=0; }
done
[ "$c_n $c_sum" = "$want_n $want_sum" ] || { log "MISMATCH: avro-c read $c_n $c_sum, the generator wrote $want_n $want_sum"; ok=0; }
[ $ok = 1 ] && log "count $c_n and sum $c_sum: runnel = avro-c = the generator"

# ---- the table ---------------------------------------------------------
ref=$(awk '{print $1}' "$T/avro_c_reader.times" | median)
echo
echo "file: $FILE ($N records, $BYTES bytes, deflate), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load $LOAD0 at start, $LOAD1 at end"
echo
echo "| tool | threads | seconds (median of $RUNS) | M records/s | M records/s per thread | CPU s (user+sys) | M records per CPU s | x avro-c reader | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in $TOOLS; do
    s=$(awk '{print $1}' "$T/$t.times" | median)
    cpu=$(awk '{print $2 + $3}' "$T/$t.times" | median)
    rss=$(awk '{print $4}' "$T/$t.times" | sort -n | tail -1)
    case $t in *_2t) th=2 ;; *) th=1 ;; esac
    awk -v t="$t" -v th="$th" -v s="$s" -v c="$cpu" -v n="$N" -v r="$ref" -v m="$rss" 'BEGIN {
        printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f MiB |\n",
            t, th, s, n / s / 1e6, n / s / 1e6 / th, c, n / c / 1e6, r / s, m / 1024 }'
done
s1=$(awk '{print $1}' "$T/runnel_sum_1t.times" | median)
c1=$(awk '{print $2 + $3}' "$T/runnel_sum_1t.times" | median)
awk -v s="$s1" -v c="$c1" -v n="$N" 'BEGIN { r = n / s / 1e6;
    printf "\nrunnel pluck+sum, 1 thread: %.2f M records/s (wall), %.2f M per CPU second; target >= 2.5 per core: %s\n",
        r, n / c / 1e6, (r >= 2.5 ? "met" : "NOT met") }'
[ $ok = 1 ] || die "results differ (see above)"
