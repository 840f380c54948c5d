#!/bin/sh
# The memory budget (--memory-limit, docs/ARCHITECTURE.md "Memory"): a
# task that cannot fit fails in words instead of the process growing
# without bound, and a worker's finished partitions past its share move
# to disk and are served from there, with the exact answer.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

# ---- a 200 MB line under a 64 MiB limit: a clear error, bounded memory
$PY -c 'import sys; sys.stdout.write("x" * 200_000_000)' >"$T/bigline.txt"
printf 'name: big\nsource: {read_text: {urls: "%s"}}\nsteps: [count]\n' "$T/bigline.txt" >"$T/big.yaml"
expect_fail "one line bigger than the limit" 1 "the memory limit of 64 MiB was reached" \
    /usr/bin/time -f "%M" -o "$T/rss" "$RUNNEL" run "$T/big.yaml" --memory-limit 64MiB
rss=$(tail -1 "$T/rss")
# (AddressSanitizer's shadow and quarantine count in the RSS too)
margin=$((100 * 1024))
ldd "$RUNNEL" 2>/dev/null | grep -q libasan && margin=$((400 * 1024))
[ "$rss" -lt $((64 * 1024 + margin)) ] && ok || bad "peak RSS $rss KiB under a 64 MiB limit"
grep -q "textio.read_text (partition 0)" "$T/err" && ok || bad "the error names the operator: $(cat "$T/err")"
# without a limit it fits
expect_ok "the same without a limit" "$RUNNEL" run "$T/big.yaml" --memory-limit 0
check "its count" 1 "$(cat "$T/out")"
expect_fail "a bad size" 2 "--memory-limit" "$RUNNEL" run "$T/big.yaml" --memory-limit lots

# ---- a worker keeps its partitions within its share: the rest on disk
start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2 --memory-limit 96MiB || { finish; exit 1; }
cat >"$T/many.yaml" <<Y
name: many
source: {range: {n: 3000000, npartitions: 12}}
steps: [json_dump]
Y
expect_ok "a job whose results pass the share" "$RUNNEL" run "$T/many.yaml" --scheduler "$SCHED" --quiet
check "every result came back" 3000000 "$(wc -l <"$T/out")"
check "in order" "0 2999999" "$(head -1 "$T/out" | tr -d '"') $(tail -1 "$T/out" | tr -d '"')"
expect_ok "info" "$RUNNEL" info --scheduler "$SCHED" --json
$PY -c '
import json, sys
w = list(json.load(open(sys.argv[1]))["workers"].values())[0]
assert w["memory_limit"] == 96 << 20, w["memory_limit"]
assert w["spilled"]["files"] > 0 and w["spilled"]["bytes"] > 0, w["spilled"]
assert w["memory"] > w["memory_accounted"] > 0, w
' "$T/out" && ok || bad "spill counters in info: $(cat "$T/out")"
# the spilled files go with the job's release, and at the next start
sleep 1
n=$(find "$T/w1/spill" -name '*.rnp' | wc -l)
check "no spilled partition left after the job" 0 "$n"
no_sanitizer_reports
finish
