#!/bin/sh
# read_avro end to end with the runnel CLI: the Avro example's answers
# against python3-avro's, for several blocksizes, threads and workers, on
# files written by python3-avro (deflate) and avro-c (snappy, xz); bad
# files fail with the file and byte offset named and a non-zero exit; the
# example again on a scheduler and two workers on loopback.
. "$2/tests/integration/lib.sh"
setup "$@"

PY=/usr/bin/python3
"$PY" examples/avro/gen_pageviews.py "$T/pv.avro" 3000 ||
    bad "gen_pageviews.py failed"
avromod --codec=snappy --block-size=4096 "$T/pv.avro" "$T/pv-snappy.avro" ||
    bad "avromod snappy failed"
avromod --codec=lzma --block-size=16384 "$T/pv.avro" "$T/pv-xz.avro" ||
    bad "avromod lzma failed"

# What python3-avro reads: bytes per user (top 6) and top 3 paths.
"$PY" - "$T/pv.avro" >"$T/want" <<'P'
import collections, sys
import avro.datafile, avro.io
r = avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader())
b, u = collections.Counter(), collections.Counter()
for x in r:
    b[x["user"]["name"]] += x["bytes"]
    u[x["url"].split("?")[0]] += 1
for k, v in sorted(b.items(), key=lambda kv: (-kv[1], kv[0]))[:6]:
    print('["%s", %d]' % (k, v))
for k, v in sorted(u.items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
    print('["%s", %d]' % (k, v))
P

# example_case FILE BLOCKSIZE RUN-OPTIONS...: both answers as python's
example_case() {
    f=$1 bs=$2
    shift 2
    PAGEVIEWS="$T/$f.avro" BLOCKSIZE=$bs "$RUNNEL" run \
        examples/avro/bytes_per_user.yaml "$@" >"$T/got" 2>"$T/err" ||
        bad "bytes_per_user $f bs=$bs $*: $(cat "$T/err")"
    PAGEVIEWS="$T/$f.avro" BLOCKSIZE=$bs "$RUNNEL" run \
        examples/avro/top_urls.yaml "$@" >>"$T/got" 2>"$T/err" ||
        bad "top_urls $f bs=$bs $*: $(cat "$T/err")"
    if cmp -s "$T/want" "$T/got"; then ok; else
        bad "avro example $f bs=$bs $*: $(diff "$T/want" "$T/got" | head -6)"
    fi
}

for f in pv pv-snappy pv-xz; do
    for bs in 700 16KiB 64MiB; do
        example_case $f $bs --threads 1
        example_case $f $bs --threads 2
        example_case $f $bs --workers 2
    done
done
# blocksize 1: a split per byte, most of them holding no marker
example_case pv 1 --threads 2
example_case pv-snappy 1 --workers 2

# A glob over the three copies: three times the records.
cat >"$T/count.yaml" <<Y
name: avro-count
source: {read_avro: {urls: "$T/pv*.avro", blocksize: 2KiB}}
steps:
  - count
Y
check "count over a glob" "9000" "$("$RUNNEL" run "$T/count.yaml" 2>&1)"

# Values as JSON: a nested record, an enum, a union, an array.
cat >"$T/take.yaml" <<Y
name: avro-take
source: {read_avro: {urls: "$T/pv.avro"}}
steps:
  - pluck: {key: user}
  - take: {n: 1}
Y
got=$("$RUNNEL" run "$T/take.yaml" 2>&1)
want=$("$PY" - "$T/pv.avro" <<'P'
import sys, avro.datafile, avro.io
x = next(iter(avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader())))
print('{"name": "%s", "country": "%s"}' % (x["user"]["name"], x["user"]["country"]))
P
)
check "pluck user of the first record" "$want" "$got"

# ---- to_avro: one file per partition, read back by python3-avro ----------
cat >"$T/sink.yaml" <<Y
name: avro-sink
source: {read_avro: {urls: "$T/pv.avro", blocksize: 16KiB}}
sink:
  to_avro:
    path: $T/sinkout/part-*.avro
    codec: deflate
    schema: '{"type": "record", "name": "V", "fields": [
      {"name": "user", "type": {"type": "record", "name": "U", "fields": [
        {"name": "name", "type": "string"},
        {"name": "country", "type": {"type": "enum", "name": "C",
                                     "symbols": ["DE", "FR", "JP", "US"]}}]}},
      {"name": "url", "type": "string"},
      {"name": "bytes", "type": "long"},
      {"name": "referrer", "type": ["null", "string"]}]}'
Y
expect_ok "to_avro run" "$RUNNEL" run "$T/sink.yaml" --threads 2
# one file per partition: one partition per 16 KiB split
nparts=$(( ($(wc -c <"$T/pv.avro") + 16383) / 16384 ))
check "to_avro files" "$nparts" "$(ls "$T/sinkout" | grep -c '^part-[0-9]*\.avro$')"
got=$("$PY" - "$T/sinkout" <<'P'
import glob, sys, avro.datafile, avro.io
n = b = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.avro")):
    for x in avro.datafile.DataFileReader(open(f, "rb"), avro.io.DatumReader()):
        n += 1
        b += x["bytes"]
print(n, b)
P
)
want=$("$PY" - "$T/pv.avro" <<'P'
import sys, avro.datafile, avro.io
r = list(avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader()))
print(len(r), sum(x["bytes"] for x in r))
P
)
check "to_avro read back by python3-avro" "$want" "$got"
# a value that does not fit: the task fails naming the field, no file
sed 's/"name": "bytes", "type": "long"/"name": "bytes", "type": "string"/;s|/sinkout/|/sinkout2/|' \
    "$T/sink.yaml" >"$T/sink-bad.yaml"
expect_fail "to_avro bad value" 1 "field 'bytes': expected string, got int" \
    "$RUNNEL" run "$T/sink-bad.yaml"
check "to_avro bad value leaves no file" "0" "$(ls "$T/sinkout2" 2>/dev/null | grep -c avro)"

# ---- bad input -----------------------------------------------------------
printf 'not avro at all\n' >"$T/bad-magic.avro"
head -c 20000 "$T/pv.avro" >"$T/cut.avro"
: >"$T/zero.avro"
for f in bad-magic cut zero; do
    sed "s|pv\*.avro|$f.avro|" "$T/count.yaml" >"$T/bad.yaml"
    case $f in
        bad-magic) needle="wrong magic" ;;
        cut) needle="truncated block" ;;
        zero) needle="byte 0" ;;
    esac
    expect_fail "read_avro $f" 1 "$needle" "$RUNNEL" run "$T/bad.yaml"
    grep -qF "$T/$f.avro" "$T/err" || bad "read_avro $f: error lacks the path"
done

# ---- the example on a cluster: a scheduler and two workers on loopback --
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"
if start_scheduler && start_worker w1 --nthreads 2 && start_worker w2 --nthreads 2; then
    example_case pv 16KiB --scheduler "$SCHED"
    example_case pv-snappy 700 --scheduler "$SCHED"
    example_case pv-xz 64MiB --scheduler "$SCHED"
else
    bad "could not start the cluster"
fi
no_sanitizer_reports

finish
