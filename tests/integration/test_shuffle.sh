#!/bin/sh
# The hash shuffle (issue 12): a keyed fold with `npartitions: N` ends in
# N partitions cut by ranges of the key hash. Locally and on a scheduler
# + 2 workers the answers equal a Python reference and each other, byte
# for byte (the cut is the same in every process); a worker killed -9
# mid-shuffle and a shuffle larger than the workers' memory limit give
# the exact answer.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

# ---- data and references
seq 1 60000 | sed 's/^/key/' >"$T/k.txt"
cat "$T/k.txt" "$T/k.txt" "$T/k.txt" | $PY -c '
import random, sys
lines = sys.stdin.read().splitlines()
random.Random(7).shuffle(lines)
print("\n".join(lines))' >"$T/keys.txt"
$PY -c '
import collections, json, sys
c = collections.Counter(open(sys.argv[1]).read().split())
for k, n in c.items():
    print(json.dumps([k, n]))' "$T/keys.txt" | sort >"$T/freq.want"

freq_yaml() { # NAME NPARTS [extra steps...]
    n=$1 np=$2
    shift 2
    {
        printf 'name: %s\n' "$n"
        printf 'source: {read_text: {urls: "%s", blocksize: 128KiB}}\n' "$T/keys.txt"
        printf 'steps:\n  - frequencies: {npartitions: %s}\n' "$np"
        for s in "$@"; do printf '  - %s\n' "$s"; done
    } >"$T/$n.yaml"
}

# ---- locally
freq_yaml f1 1
freq_yaml f4 4
expect_ok "frequencies, one partition" "$RUNNEL" run "$T/f1.yaml" --quiet
cp "$T/out" "$T/f1.out"
expect_ok "frequencies, 4 partitions" "$RUNNEL" run "$T/f4.yaml" --quiet
cp "$T/out" "$T/f4.out"
cmp -s "$T/f1.out" "$T/f4.out" && ok || bad "4 partitions in order differ from one"
sort "$T/f4.out" | cmp -s - "$T/freq.want" && ok ||
    bad "frequencies differ from Python: $(sort "$T/f4.out" | diff - "$T/freq.want" | head -3)"
expect_ok "lint shows the shuffle" "$RUNNEL" lint "$T/f4.yaml"
grep -q "hash-shuffled into 4 partitions" "$T/out" && ok || bad "lint: $(cat "$T/out")"
freq_yaml f5count 5 count
expect_ok "frequencies into 5, then count" "$RUNNEL" run "$T/f5count.yaml" --quiet
check "distinct keys counted across 5 partitions" 60000 "$(cat "$T/out")"
# a second shuffle after the first: how many keys were seen how often
freq_yaml hist 4 "pluck: {key: 1}" "frequencies: {npartitions: 2}"
expect_ok "two shuffles in a row" "$RUNNEL" run "$T/hist.yaml" --quiet
check "every key three times" "[3, 60000]" "$(cat "$T/out")"

# N files written from N partitions, the same keys in the same files in
# every process (the hash is stable across processes and machines)
sink_yaml() { # NAME DIR
    cat >"$T/$1.yaml" <<Y
name: $1
source: {read_text: {urls: "$T/keys.txt", blocksize: 128KiB}}
steps:
  - distinct: {npartitions: 3}
sink: {to_textfiles: {path: "$2/part-*.txt"}}
Y
}
sink_yaml s1 "$T/s1"
sink_yaml s2 "$T/s2"
expect_ok "distinct into 3 files" "$RUNNEL" run "$T/s1.yaml" --quiet
check "3 files" 3 "$(ls "$T/s1" | wc -l)"
expect_ok "the same in another process" "$RUNNEL" run "$T/s2.yaml" --quiet --threads 1
for f in 0 1 2; do
    cmp -s "$T/s1/part-$f.txt" "$T/s2/part-$f.txt" && ok || bad "part-$f differs between processes"
done
cat "$T/s1"/part-*.txt | sort | cmp -s - "$(sort "$T/k.txt" >"$T/k.sorted"; echo "$T/k.sorted")" && ok ||
    bad "the 3 files do not hold every key once"
# the cut is by ranges of the hash: no file is empty, none holds all
for f in 0 1 2; do
    n=$(wc -l <"$T/s1/part-$f.txt")
    [ "$n" -gt 10000 ] && [ "$n" -lt 30000 ] && ok || bad "part-$f holds $n of 60000 keys"
done

# wrong values are refused with the manifest's position
bad_np() { # VALUE NEEDLE
    printf 'name: b\nsource: {range: {n: 10}}\nsteps:\n  - frequencies: {npartitions: %s}\n' "$1" >"$T/bad.yaml"
    expect_fail "npartitions $1" 1 "$2" "$RUNNEL" lint "$T/bad.yaml"
}
bad_np 0 "bad.yaml:4:32: agg.frequencies: npartitions: expected an int from 1 to 4096"
bad_np 5000 "expected an int from 1 to 4096, got int 5000"
bad_np x "got string 'x'"
printf 'name: b\nsource: {range: {n: 10}}\nsteps:\n  - count: {npartitions: 2}\n' >"$T/bad.yaml"
expect_fail "npartitions on a fold that is not keyed" 1 "unknown parameter 'npartitions'" "$RUNNEL" lint "$T/bad.yaml"

# ---- on a cluster: scheduler + 2 workers
start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2 || { finish; exit 1; }
start_worker w2 --nthreads 2 || { finish; exit 1; }
expect_ok "frequencies into 4 on the cluster" "$RUNNEL" run "$T/f4.yaml" --scheduler "$SCHED" --quiet
cmp -s "$T/f4.out" "$T/out" && ok || bad "the cluster's answer differs from the local one"
expect_ok "two shuffles on the cluster" "$RUNNEL" run "$T/hist.yaml" --scheduler "$SCHED" --quiet
check "every key three times (cluster)" "[3, 60000]" "$(cat "$T/out")"
sink_yaml s3 "$T/s3"
expect_ok "3 files from the cluster" "$RUNNEL" run "$T/s3.yaml" --scheduler "$SCHED" --quiet
for f in 0 1 2; do
    cmp -s "$T/s1/part-$f.txt" "$T/s3/part-$f.txt" && ok || bad "part-$f differs between local and cluster"
done
# a shuffle whose reducers read more map outputs than one task message
# carried before (1024): 1100 map tasks, 2 reducers
printf 'name: wide\nsource: {range: {n: 3300, npartitions: 1100}}\nsteps:\n  - frequencies: {npartitions: 2}\n  - count\n' >"$T/wide.yaml"
expect_ok "a shuffle of 1100 map tasks (cluster)" timeout 120 "$RUNNEL" run "$T/wide.yaml" --scheduler "$SCHED" --quiet
check "3300 distinct ints" 3300 "$(cat "$T/out")"
# a plugin's keyed fold shuffles the same way
$PY -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(120000):
        f.write(json.dumps({"user": "u%d" % (i * 7919 % 5003), "bytes": i % 977}) + "\n")
' "$T/logs.jsonl"
$PY -c '
import collections, json, sys
s = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    s[r["user"]] += r["bytes"]
for k, v in s.items():
    print(json.dumps([k, v]))' "$T/logs.jsonl" | sort >"$T/sumby.want"
cat >"$T/sumby.yaml" <<Y
name: sumby
plugins: ["$BUILD/examples/jsonlogs/liblogs.so"]
source: {read_text: {urls: "$T/logs.jsonl", blocksize: 256KiB}}
steps:
  - json_parse
  - logs.sum_by: {key: user, field: bytes, npartitions: 3}
Y
expect_ok "a plugin's keyed fold into 3 (cluster)" "$RUNNEL" run "$T/sumby.yaml" --scheduler "$SCHED" --quiet
sort "$T/out" | cmp -s - "$T/sumby.want" && ok ||
    bad "sum_by differs from Python: $(sort "$T/out" | diff - "$T/sumby.want" | head -3)"

# kill -9 a worker mid-shuffle: its map outputs are recomputed, exact
build_slow || bad "cannot compile the test plugin"
head -n 8000 "$T/keys.txt" >"$T/few.txt"
$PY -c '
import collections, json, sys
for k, n in collections.Counter(open(sys.argv[1]).read().split()).items():
    print(json.dumps([k, n]))' "$T/few.txt" | sort >"$T/few.want"
cat >"$T/slowfreq.yaml" <<Y
name: slowfreq
plugins: ["$T/libslow.so"]
source: {read_text: {urls: "$T/few.txt", blocksize: 4KiB}}
steps:
  - {slow.sleep: {ms: 1}}
  - frequencies: {npartitions: 4}
Y
timeout 240 "$RUNNEL" run "$T/slowfreq.yaml" --scheduler "$SCHED" --quiet >"$T/kill.out" 2>"$T/kill.err" &
RUN=$!
kill_after_tasks w1 4 "$RUN"
wait "$RUN" && ok || bad "the shuffle with a killed worker failed: $(cat "$T/kill.err"); scheduler: $(tail -n 20 "$T/sched.log")"
sort "$T/kill.out" | cmp -s - "$T/few.want" && ok || bad "answer after kill -9 differs"

# a shuffle larger than the workers' memory: spilled, exact. A reducer's
# result partition is built in memory (docs/ARCHITECTURE.md, "What does
# not spill yet") and two run at once on the worker: 16 reducers keep each
# result a few MB (4 did not fit 64 MiB once reducers became fast)
start_worker w3 --nthreads 2 --memory-limit 64MiB || { finish; exit 1; }
kill "$PID_w2" 2>/dev/null
i=0
while [ $i -lt 100 ] && [ "$(n_workers)" != 1 ]; do
    sleep 0.2
    i=$((i + 1))
done
check "one worker left" 1 "$(n_workers)"
seq 1 1200000 | sed 's/^/bigkey/' >"$T/big.txt"
cat >"$T/bigfreq.yaml" <<Y
name: bigfreq
source: {read_text: {urls: "$T/big.txt", blocksize: 1MiB}}
steps:
  - frequencies: {npartitions: 16}
  - pluck: {key: 1}
  - sum
Y
expect_ok "a shuffle past a 64 MiB worker" "$RUNNEL" run "$T/bigfreq.yaml" --scheduler "$SCHED" --quiet
check "every big key counted once" 1200000 "$(cat "$T/out")"
info_py "[w['spilled']['files'] for w in d['workers'].values()][0] > 0" >"$T/spilled" 2>&1
check "the worker spilled" True "$(cat "$T/spilled")"

no_sanitizer_reports
finish
