#!/bin/sh
# S3 read benchmark (issue 5; not a test): `read_text` + `count` over a
# 1 GiB object on a local S3 server, next to `curl` fetching the same
# object in ranged GETs of the same size (32 MiB) with the same
# parallelism (2 at a time), in the same run. Prints a markdown table of
# medians and the runnel / curl throughput ratio (target: >= 0.70).
#   sh bench/s3.sh [BUILD]
#     BENCH_SIZE=1GiB BENCH_RUNS=3 BENCH_DIR=/dev/shm/runnel-bench
#     BENCH_MAX_LOAD=1.0 BENCH_LOAD_WAIT=300 (wait up to that many seconds
#     for the 1-minute load average to drop below BENCH_MAX_LOAD)
#
# The server is @20minutes/s3rver (node.js, checks SigV4 signatures; the
# one tests/integration/test_s3.sh uses), on 127.0.0.1 with its objects on
# tmpfs, started here and stopped on exit. The corpus comes from
# bench/gen_corpus (as in bench/run.sh) and is uploaded with curl. Each
# row also reports the CPU seconds the server process used (from
# /proc/PID/stat): when they approach the wall time, node is the
# bottleneck, not the client.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIZE=${BENCH_SIZE:-1GiB}
RUNS=${BENCH_RUNS:-3}
DIR=${BENCH_DIR:-/dev/shm/runnel-bench}
CORPUS=$DIR/corpus-$SIZE.txt
BLOCK=$((32 << 20)) # read_text's blocksize below, and curl's range size
THREADS=2           # runnel's --threads, and curl's parallelism
BUCKET=bench
KEY=corpus.txt
MAXLOAD=${BENCH_MAX_LOAD:-1.0}

log() { echo "s3 bench: $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

for tool in node curl xargs; do
    command -v $tool >/dev/null 2>&1 || { log "$tool not found"; exit 1; }
done
S3RVER_SRC=$SRC
. "$SRC/tests/integration/s3rver.sh"

W=$(mktemp -d /dev/shm/runnel-s3bench-XXXXXX) # server data and outputs
trap 's3rver_stop; rm -rf "$W"' EXIT
trap 'exit 130' HUP INT TERM PIPE

mkdir -p "$DIR"
[ -s "$CORPUS" ] || "$BUILD/bench/gen_corpus" "$SIZE" "$CORPUS" >&2
BYTES=$(stat -c %s "$CORPUS")
# wc -l counts newlines; read_text also counts a last line without one
LINES=$(wc -l <"$CORPUS")
[ "$(tail -c 1 "$CORPUS" | od -An -c | tr -d ' ')" = '\n' ] ||
    LINES=$((LINES + 1))

# wait for a quiet machine before anything of ours runs
waited=0
while [ "$waited" -lt "${BENCH_LOAD_WAIT:-300}" ] &&
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAXLOAD" 'BEGIN {exit !(l >= m)}'; do
    [ "$waited" -eq 0 ] && log "load $(load): waiting for < $MAXLOAD (up to ${BENCH_LOAD_WAIT:-300}s)"
    sleep 10
    waited=$((waited + 10))
done
LOADW=$(load)

s3rver_install "$BUILD" "$W/npm.log" ||
    { log "cannot install @20minutes/s3rver: $(tail -3 "$W/npm.log")"; exit 1; }
s3rver_start "$BUILD" "$W/s3data" "$BUCKET" "$W/s3" ||
    { log "the S3 server did not start: $(cat "$W/s3.err")"; exit 1; }
EP="http://127.0.0.1:$S3PORT"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_ENDPOINT_URL="$EP" AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN
export RUNNEL_BUILD_DIR="$BUILD"
SIGV4="aws:amz:us-east-1:s3"

log "uploading $CORPUS ($BYTES bytes) to $EP/$BUCKET/$KEY"
curl -sS -f --aws-sigv4 "$SIGV4" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$CORPUS" \
    "$EP/$BUCKET/$KEY" >/dev/null

# the ranges read_text's blocks cover, one "a-b" per line
i=0
: >"$W/ranges"
while [ $((i * BLOCK)) -lt "$BYTES" ]; do
    a=$((i * BLOCK))
    b=$((a + BLOCK - 1))
    [ "$b" -lt "$BYTES" ] || b=$((BYTES - 1))
    echo "$a-$b" >>"$W/ranges"
    i=$((i + 1))
done
NRANGES=$i

# curl_ranged THREADS URL RANGES: every range of RANGES, THREADS at a time,
# one curl (one connection) per range, bodies to /dev/null; prints the
# bytes received. A script of its own, so that /usr/bin/time can run it.
cat >"$W/curl_ranged" <<'EOF'
#!/bin/sh
set -e
xargs -P "$1" -I {} curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 \
    --user S3RVER:S3RVER -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -r {} -o /dev/null -w '%{size_download}\n' "$2" <"$3" |
    awk '{s += $1} END {print s}'
EOF
CURL_RANGED="sh $W/curl_ranged $THREADS $EP/$BUCKET/$KEY $W/ranges"

printf 'source: {read_text: {urls: "s3://%s/%s", blocksize: %d}}\nsteps: [count]\n' \
    "$BUCKET" "$KEY" "$BLOCK" >"$W/s3.yaml"
printf 'source: {read_text: {urls: "%s", blocksize: %d}}\nsteps: [count]\n' \
    "$CORPUS" "$BLOCK" >"$W/local.yaml"

# CPU seconds (user + system) the server has used so far
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' \
        "/proc/$S3PID/stat"
}

RESULTS=$W/results
: >"$RESULTS"
# measure NAME RUNS WANT CMD...: runs CMD RUNS times and checks that its
# output is WANT each time; appends "NAME wall client-CPU server-CPU"
# (seconds) per run to RESULTS
measure() {
    name=$1 runs=$2 want=$3
    shift 3
    i=0
    while [ "$i" -lt "$runs" ]; do
        c0=$(server_cpu)
        /usr/bin/time -f "%e %U %S" -o "$W/time1" "$@" >"$W/out" 2>"$W/err" ||
            { log "$name failed: $(tail -3 "$W/err")"; exit 1; }
        c1=$(server_cpu)
        got=$(tr -d ' \n' <"$W/out")
        [ "$got" = "$want" ] ||
            { log "$name: got '$got', expected '$want'"; exit 1; }
        read -r s u k <"$W/time1"
        echo "$name $s $u $k $c0 $c1" |
            awk '{print $1, $2, $3 + $4, $6 - $5}' >>"$RESULTS"
        log "$name: $s s"
        i=$((i + 1))
    done
}

LOAD0=$(load)
log "load before setup: $LOADW, at the start of timing: $LOAD0"

cat "$CORPUS" >/dev/null
# warm-up: one fetch of everything (the server's page cache, node's JIT)
$CURL_RANGED >/dev/null
# interleaved, so a change of load hits both sides alike
for _ in $(seq "$RUNS"); do
    measure curl 1 "$BYTES" $CURL_RANGED
    measure runnel_s3 1 "$LINES" \
        "$BUILD/runnel" run "$W/s3.yaml" --threads "$THREADS" --quiet
done
measure runnel_local "$RUNS" "$LINES" \
    "$BUILD/runnel" run "$W/local.yaml" --threads "$THREADS" --quiet
LOAD1=$(load)

# med NAME COLUMN: the median of COLUMN (2 wall, 3 client CPU, 4 server
# CPU) over NAME's runs
med() {
    awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$RESULTS" | sort -g |
        awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
CURL_S=$(med curl 2)
RN_S=$(med runnel_s3 2)

echo
echo "object: s3://$BUCKET/$KEY, $BYTES bytes ($LINES lines, $NRANGES ranges of" \
    "$((BLOCK >> 20)) MiB) on @20minutes/s3rver, 127.0.0.1, data on tmpfs"
echo "$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M') UTC, load average before setup" \
    "$LOADW, at the start of timing $LOAD0 (after our upload), at end $LOAD1;" \
    "medians of $RUNS runs, curl and runnel interleaved"
echo
echo "| run | seconds | MB/s | client CPU s | server CPU s | vs curl |"
echo "|---|---:|---:|---:|---:|---:|"
for k in curl runnel_s3 runnel_local; do
    case $k in
    curl) label="curl, $THREADS ranged GETs at a time (xargs -P$THREADS)" ;;
    runnel_s3)
        label="runnel \`read_text\` s3:// + \`count\`, --threads $THREADS" ;;
    runnel_local) label="runnel, same manifest on the local file" ;;
    esac
    awk -v l="$label" -v s="$(med $k 2)" -v c="$(med $k 3)" \
        -v v="$(med $k 4)" -v b="$BYTES" -v ref="$CURL_S" -v k="$k" 'BEGIN {
        local = k == "runnel_local"
        printf "| %s | %.2f | %.0f | %.2f | %s | %s |\n", l, s, b / 1e6 / s,
            c, local ? "-" : sprintf("%.2f", v),
            local ? "-" : sprintf("%.2f", ref / s) }'
done
echo
awk -v a="$CURL_S" -v b="$RN_S" 'BEGIN {
    r = a / b
    printf "runnel / curl throughput: %.2f (target >= 0.70: %s)\n", r,
        (r >= 0.70 ? "met" : "NOT met") }'
