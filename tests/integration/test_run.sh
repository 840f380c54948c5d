#!/bin/sh
# runnel run / lint end to end on the embedded local cluster: word count
# against sort | uniq -c, the shipped operators in pipelines, sinks, and
# every kind of bad input (clear error, non-zero exit, no partial output).
. "$2/tests/integration/lib.sh"
setup "$@"

# ---- word count equals sort | uniq -c --------------------------------
"$BUILD/bench/gen_corpus" 3MiB "$T/corpus.txt" >/dev/null 2>&1
tr -s ' ' '\n' <"$T/corpus.txt" | grep -v '^$' | sort | uniq -c |
    awk '{print $2, $1}' | sort -k2,2nr -k1,1 | head -10 >"$T/want_top"
want_distinct=$(tr -s ' ' '\n' <"$T/corpus.txt" | grep -v '^$' | sort -u | wc -l)
for bs in 64KiB 1MiB 1GiB; do
    for th in 1 2; do
        CORPUS="$T/corpus.txt" BLOCKSIZE=$bs "$RUNNEL" run examples/wordcount/wordcount.yaml \
            --threads $th >"$T/top" 2>"$T/err" || bad "wordcount bs=$bs: $(cat "$T/err")"
        sed 's/^\["\(.*\)", \([0-9]*\)\]$/\1 \2/' "$T/top" | sort -k2,2nr -k1,1 >"$T/got_top"
        if cmp -s "$T/want_top" "$T/got_top"; then ok; else
            bad "wordcount top10 bs=$bs threads=$th: $(diff "$T/want_top" "$T/got_top" | head -5)"
        fi
        got=$(CORPUS="$T/corpus.txt" BLOCKSIZE=$bs "$RUNNEL" run examples/wordcount/distinct.yaml --threads $th 2>&1)
        check "distinct bs=$bs threads=$th" "$want_distinct" "$got"
    done
done
# the same over a gzip copy and over several files by glob
mkdir -p "$T/parts"
split -l 20000 "$T/corpus.txt" "$T/parts/p-"
for f in "$T"/parts/p-*; do mv "$f" "$f.txt"; done
gzip -k "$T/parts/p-aa.txt" && rm "$T/parts/p-aa.txt"
got=$(CORPUS="$T/parts/*" "$RUNNEL" run examples/wordcount/distinct.yaml 2>&1)
check "distinct over glob with a .gz" "$want_distinct" "$got"

# ---- shipped operators in pipelines ------------------------------------
cat >"$T/range.yaml" <<'Y'
name: sums
source: {range: {n: 1000, npartitions: 7}}
steps:
  - sum
Y
check "range+sum" "499500" "$("$RUNNEL" run "$T/range.yaml" 2>&1)"
cat >"$T/mean.yaml" <<'Y'
source: {range: {n: 5, npartitions: 2}}
steps: [mean]
Y
check "range+mean" "2.0" "$("$RUNNEL" run "$T/mean.yaml" 2>&1)"
# order-sensitive folds combine in partition order (a tree, fan-in 8)
cat >"$T/take.yaml" <<'Y'
source: {range: {n: 1000, npartitions: 70}}
steps:
  - take: {n: 30}
  - sum
Y
check "take over 70 partitions keeps order" "435" "$("$RUNNEL" run "$T/take.yaml" --threads 2 2>&1)"
printf 'source: {range: {n: 1000, npartitions: 70}}\nsteps: [count]\n' >"$T/count.yaml"
check "count over 70 partitions" "1000" "$("$RUNNEL" run "$T/count.yaml" 2>&1)"
printf '{"user": "ann", "bytes": 10}\n{"user": "bob", "bytes": 5}\n\n{"user": "ann", "bytes": 7, "status": 500}\n' >"$T/log.jsonl"
cat >"$T/json.yaml" <<Y
name: users
source: {read_text: {urls: "$T/log.jsonl"}}
steps:
  - grep: {pattern: user}
  - json_parse
  - pluck: {key: user}
  - frequencies
  - topk: {k: 5, key: 1}
Y
check "json pipeline" '["ann", 2]
["bob", 1]' "$("$RUNNEL" run "$T/json.yaml" 2>&1)"
"$RUNNEL" run "$T/json.yaml" --json >"$T/out" 2>&1
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "users" and d["result"] == [["ann", 2], ["bob", 1]], d
assert d["tasks"] >= 1 and d["bytes_read"] > 0, d
' "$T/out" && ok || bad "--json output: $(cat "$T/out")"

# ---- the jsonlogs example against a Python reference ---------------------
/usr/bin/python3 - "$SRC/examples/jsonlogs/access.jsonl" >"$T/want_logs" <<'PY'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
errs = collections.Counter(r["path"] for r in recs if r["status"] >= 500)
for p, n in sorted(errs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:3]:
    print(json.dumps([p, n]))
by = collections.Counter()
for r in recs:
    by[r["user"]] += r["bytes"]
for u, n in sorted(by.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:5]:
    print(json.dumps([u, n]))
PY
{ "$RUNNEL" run examples/jsonlogs/errors_by_path.yaml; "$RUNNEL" run examples/jsonlogs/bytes_per_user.yaml; } >"$T/got_logs" 2>&1
if cmp -s "$T/want_logs" "$T/got_logs"; then ok; else bad "jsonlogs: $(diff "$T/want_logs" "$T/got_logs")"; fi

# ---- sink: one file per partition, published atomically ----------------
cat >"$T/sink.yaml" <<Y
source: {range: {n: 10, npartitions: 3}}
steps: [json_dump]
sink: {to_textfiles: {path: "$T/sinkout/part-*.txt"}}
Y
expect_ok "sink run" "$RUNNEL" run "$T/sink.yaml"
check "sink files" "3" "$(ls "$T/sinkout" | wc -l)"
check "sink content" "45" "$(cat "$T"/sinkout/part-*.txt | awk '{s+=$1} END {print s}')"
check "sink prints where it wrote" "3" "$("$RUNNEL" run "$T/sink.yaml" | grep -c 'part-[0-9]*\.txt')"

# ---- bad input ---------------------------------------------------------
printf 'name: x\nsource: {range: {n: 3}}\nsteps:\n  - sum: [\n' >"$T/malformed.yaml"
expect_fail "malformed yaml" 1 "malformed.yaml:" "$RUNNEL" lint "$T/malformed.yaml"
printf 'name: x\nsource: {range: {n: 3}}\nsteps:\n  - frobnicate\n' >"$T/unknown.yaml"
expect_fail "unknown operator" 1 "unknown.yaml:4:5: unknown operator 'frobnicate'" "$RUNNEL" lint "$T/unknown.yaml"
expect_fail "unknown operator (run)" 1 "unknown.yaml:4:5: unknown operator 'frobnicate'" "$RUNNEL" run "$T/unknown.yaml"
printf 'source: {range: {n: ten}}\n' >"$T/badparam.yaml"
expect_fail "bad parameter type" 1 "badparam.yaml:1:21:" "$RUNNEL" lint "$T/badparam.yaml"
printf 'source: {range: {n: 3, bogus: 1}}\n' >"$T/unknownparam.yaml"
expect_fail "unknown parameter" 1 "unknown parameter 'bogus'" "$RUNNEL" lint "$T/unknownparam.yaml"
printf 'source: {range: {}}\n' >"$T/missingparam.yaml"
expect_fail "missing required parameter" 1 "missingparam.yaml:1:" "$RUNNEL" lint "$T/missingparam.yaml"
printf 'source: {range: {n: 3}}\nsteps:\n  - count\n  - sum\n' >"$T/midfold.yaml"
expect_fail "scalar fold mid-pipeline" 1 "midfold.yaml:4:5:" "$RUNNEL" lint "$T/midfold.yaml"
printf 'source: {range: {n: 3}}\nsorce: 1\n' >"$T/unknownkey.yaml"
expect_fail "unknown top-level key" 1 "unknownkey.yaml:2:1: unknown key 'sorce'" "$RUNNEL" lint "$T/unknownkey.yaml"
printf 'source: {read_text: {urls: "%s/missing.txt"}}\n' "$T" >"$T/missing.yaml"
expect_fail "missing input file" 1 "missing.txt" "$RUNNEL" run "$T/missing.yaml"
printf 'source: {read_text: {urls: "%s/nomatch/*.txt"}}\n' "$T" >"$T/emptyglob.yaml"
expect_fail "empty glob" 1 "no file matches" "$RUNNEL" run "$T/emptyglob.yaml"
expect_fail "missing manifest" 1 "nope.yaml" "$RUNNEL" run "$T/nope.yaml"
# corrupt and truncated gzip
head -c 4000 "$T/corpus.txt" | gzip >"$T/full.gz"
head -c 1000 "$T/full.gz" >"$T/trunc.txt.gz"
printf 'source: {read_text: {urls: "%s/trunc.txt.gz"}}\nsteps: [count]\n' "$T" >"$T/trunc.yaml"
expect_fail "truncated gz" 1 "trunc.txt.gz" "$RUNNEL" run "$T/trunc.yaml"
cp "$T/full.gz" "$T/corrupt.txt.gz"
printf 'garbagegarbagegarbage' | dd of="$T/corrupt.txt.gz" bs=1 seek=100 conv=notrunc 2>/dev/null
printf 'source: {read_text: {urls: "%s/corrupt.txt.gz"}}\nsteps: [count]\n' "$T" >"$T/corrupt.yaml"
expect_fail "corrupt gz" 1 "corrupt.txt.gz" "$RUNNEL" run "$T/corrupt.yaml"
# a binary file fed to json_parse: the error names operator and partition
head -c 3000 "$BUILD/runnel" >"$T/binary.dat"
printf 'source: {read_text: {urls: "%s/binary.dat"}}\nsteps: [json_parse, count]\n' "$T" >"$T/binary.yaml"
expect_fail "binary to json_parse" 1 "json.json_parse (partition 0)" "$RUNNEL" run "$T/binary.yaml"
# a failing task leaves no partial output files
printf 'ok\nboom\n' >"$T/boom.txt"
cat >"$T/failsink.yaml" <<Y
plugins: ["$BUILD/tests/plugins/libgood.so"]
source: {read_text: {urls: "$T/boom.txt"}}
steps: [fail_on]
sink: {to_textfiles: {path: "$T/failout/*.txt"}}
Y
expect_fail "failing task" 1 "good.fail_on (partition 0): met the bad value 'boom'" "$RUNNEL" run "$T/failsink.yaml"
check "no partial output" "0" "$(ls -A "$T/failout" 2>/dev/null | wc -l)"

finish
