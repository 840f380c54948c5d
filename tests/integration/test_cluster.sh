#!/bin/sh
# The cluster on loopback: a real scheduler and two workers (ephemeral
# ports). `runnel info --json` has the scheduler_info() shape; run
# --scheduler prints exactly what the local run prints (word count, fold
# pipelines over several stages, order-sensitive folds, sinks); plugins
# are pushed by hash once; submit/jobs/status/cancel; bad input gets clear
# errors and breaks nothing; SIGTERM retires a worker.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2
start_worker w2 --nthreads 2
R() { timeout 120 "$RUNNEL" "$@"; }

# ---- info: the shape of Dask's scheduler_info() ------------------------
expect_ok "info --json" R info --scheduler "$SCHED" --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["type", "id", "address", "services", "started", "workers"], list(d)
assert d["type"] == "Scheduler" and d["id"].startswith("Scheduler-"), d
assert d["address"].startswith("tcp://") and d["services"]["grpc"] > 0, d
assert len(d["workers"]) == 2, d["workers"]
names = set()
for addr, w in d["workers"].items():
    assert addr.startswith("tcp://127.0.0.1:"), addr
    for k in ("name", "nthreads", "memory_limit", "memory", "tasks", "partitions",
              "plugins", "last_seen"):
        assert k in w, (k, w)
    assert w["nthreads"] == 2 and w["last_seen"] > d["started"] - 1, w
    assert any(p["name"] == "agg" for p in w["plugins"]), w["plugins"]
    names.add(w["name"])
assert names == {"w1", "w2"}, names
' "$T/out" && ok || bad "info --json: $(cat "$T/out")"
expect_ok "info text" R info --scheduler "$SCHED"
grep -q "workers   2" "$T/out" && ok || bad "info text: $(cat "$T/out")"

# ---- word count: the same output as the local run ----------------------
"$BUILD/bench/gen_corpus" 2MiB "$T/corpus.txt" >/dev/null 2>&1
for bs in 64KiB 1MiB; do
    CORPUS="$T/corpus.txt" BLOCKSIZE=$bs R run examples/wordcount/wordcount.yaml \
        --threads 1 >"$T/local" 2>"$T/err" || bad "local wordcount: $(cat "$T/err")"
    CORPUS="$T/corpus.txt" BLOCKSIZE=$bs R run examples/wordcount/wordcount.yaml \
        --scheduler "$SCHED" >"$T/cluster" 2>"$T/err.$bs" || bad "cluster wordcount: $(cat "$T/err.$bs")"
    if [ -s "$T/local" ] && cmp -s "$T/local" "$T/cluster"; then ok; else
        bad "wordcount bs=$bs: $(diff "$T/local" "$T/cluster" | head -5)"
    fi
    CORPUS="$T/corpus.txt" BLOCKSIZE=$bs R run examples/wordcount/distinct.yaml \
        --threads 1 >"$T/local" 2>&1
    CORPUS="$T/corpus.txt" BLOCKSIZE=$bs R run examples/wordcount/distinct.yaml \
        --scheduler "$SCHED" >"$T/cluster" 2>&1
    check "distinct bs=$bs" "$(cat "$T/local")" "$(cat "$T/cluster")"
done
# the plugin named by path was pushed by hash once: the second run sent nothing
grep -q "pushed plugin words" "$T/err.64KiB" && ok || bad "first run did not push words"
grep -q "pushed plugin" "$T/err.1MiB" && bad "second run pushed again: $(cat "$T/err.1MiB")" || ok

# ---- fold pipelines over several stages --------------------------------
printf '{"user": "ann", "bytes": 10}\n{"user": "bob", "bytes": 5}\n\n{"user": "ann", "bytes": 7}\n{"user": "cy", "bytes": 1}\n' >"$T/log.jsonl"
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
cat >"$T/sum.yaml" <<'Y'
name: sums
source: {range: {n: 100000, npartitions: 37}}
steps: [sum]
Y
cat >"$T/take.yaml" <<'Y'
source: {range: {n: 1000, npartitions: 20}}
steps: [{take: {n: 7}}]
Y
cat >"$T/mean.yaml" <<'Y'
source: {range: {n: 5, npartitions: 2}}
steps: [mean]
Y
cat >"$T/map.yaml" <<'Y'
source: {range: {n: 25, npartitions: 4}}
steps: [json_dump]
Y
cat >"$T/empty.yaml" <<'Y'
source: {range: {n: 0, npartitions: 1}}
steps: [count]
Y
for y in json sum take mean map empty; do
    R run "$T/$y.yaml" --threads 1 --json >"$T/local" 2>"$T/err" || bad "local $y: $(cat "$T/err")"
    R run "$T/$y.yaml" --scheduler "$SCHED" --json >"$T/cluster" 2>"$T/err" ||
        bad "cluster $y: $(cat "$T/err")"
    $PY -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["result"] == b["result"] and a["partitions"] == b["partitions"], (a, b)
' "$T/local" "$T/cluster" && ok || bad "$y: local $(cat "$T/local") cluster $(cat "$T/cluster")"
done
check "json pipeline, printed" "$(R run "$T/json.yaml" --threads 1 2>&1)" \
    "$(R run "$T/json.yaml" --scheduler "$SCHED" 2>&1)"

# a sink writes one file per partition, where the local run would
cat >"$T/sink.yaml" <<Y
source: {range: {n: 10, npartitions: 3}}
steps: [json_dump]
sink: {to_textfiles: {path: "$T/sinkout/part-*.txt"}}
Y
expect_ok "sink run" R run "$T/sink.yaml" --scheduler "$SCHED"
check "sink files" "3" "$(ls "$T/sinkout" | wc -l)"
check "sink content" "45" "$(cat "$T"/sinkout/part-*.txt | awk '{s+=$1} END {print s}')"
check "sink prints where it wrote" "3" "$(grep -c 'part-[0-9]*\.txt' "$T/out")"

# ---- plugins: push by hash, list, refuse what is not a plugin ----------
build_slow || bad "cannot compile the test plugin"
expect_ok "plugin push" R plugin push "$T/libslow.so" --scheduler "$SCHED"
id=$(sha256sum "$T/libslow.so" | cut -d' ' -f1)
check "push prints the id" "sha256:$id pushed" "$(cat "$T/out")"
expect_ok "plugin push again" R plugin push "$T/libslow.so" --scheduler "$SCHED"
check "second push sends nothing" "sha256:$id already there" "$(cat "$T/out")"
expect_ok "plugin list --scheduler" R plugin list --scheduler "$SCHED" --json
$PY -c '
import json, sys
l = json.load(open(sys.argv[1]))
assert any(p["id"] == sys.argv[2] and p["name"] == "slow" for p in l), l
' "$T/out" "$id" && ok || bad "plugin list: $(cat "$T/out")"
test -f "$T/state/plugins/$id.so" && ok || bad "plugin not persisted in the state dir"
printf 'not a plugin\n' >"$T/libfake.so"
expect_fail "push a non-plugin" 1 "not an ELF shared object" \
    R plugin push "$T/libfake.so" --scheduler "$SCHED"
# a manifest may name the pushed plugin by id
cat >"$T/byid.yaml" <<Y
plugins: ["sha256:$id"]
source: {range: {n: 10, npartitions: 2}}
steps: [{slow.sleep: {ms: 1}}, sum]
Y
check "manifest naming a plugin by id" "45" "$(R run "$T/byid.yaml" --scheduler "$SCHED" 2>&1)"
# the workers that ran its tasks fetched it, verified it and cached it in
# their local dir (which workers run the 2 tasks is the scheduler's choice)
cached=$(ls "$T"/w1/plugins/"$id".so "$T"/w2/plugins/"$id".so 2>/dev/null | head -1)
[ -n "$cached" ] && [ "$(sha256sum <"$cached" | cut -d' ' -f1)" = "$id" ] && ok ||
    bad "plugin not cached: $(ls -R "$T/w1" "$T/w2")"

# ---- submit / jobs / status / cancel ------------------------------------
rm -rf "$T/sinkout"
expect_ok "submit" R submit "$T/sink.yaml" --scheduler "$SCHED"
job=$(cat "$T/out")
case "$job" in j-*) ok ;; *) bad "submit printed '$job'" ;; esac
expect_ok "status --wait" R status "$job" --scheduler "$SCHED" --wait
grep -q "^$job *done" "$T/out" && ok || bad "status: $(cat "$T/out")"
check "submitted job wrote its files" "3" "$(ls "$T/sinkout" | wc -l)"
cat >"$T/long.yaml" <<Y
name: long
plugins: ["$T/libslow.so"]
source: {range: {n: 400, npartitions: 40}}
steps: [{slow.sleep: {ms: 50}}, count]
Y
expect_ok "submit long" R submit "$T/long.yaml" --scheduler "$SCHED"
long=$(cat "$T/out")
expect_ok "cancel" R cancel "$long" --scheduler "$SCHED"
grep -q "^$long *cancelled" "$T/out" && ok || bad "cancel: $(cat "$T/out")"
expect_ok "status --json" R status "$long" --scheduler "$SCHED" --json
$PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["state"] == "cancelled" and "cancelled" in j["error"], j
' "$T/out" && ok || bad "status --json: $(cat "$T/out")"
expect_ok "jobs --json" R jobs --scheduler "$SCHED" --json
$PY -c '
import json, sys
jobs = {j["id"]: j for j in json.load(open(sys.argv[1]))}
assert jobs[sys.argv[2]]["state"] == "done", jobs[sys.argv[2]]
assert jobs[sys.argv[3]]["state"] == "cancelled", jobs[sys.argv[3]]
assert all(j["state"] in ("done", "cancelled") for j in jobs.values()), jobs
' "$T/out" "$job" "$long" && ok || bad "jobs: $(cat "$T/out")"
expect_ok "jobs text" R jobs --scheduler "$SCHED"

# ---- bad input: clear errors, nothing crashes --------------------------
expect_fail "unknown job" 1 "unknown job 'j-nope'" R status j-nope --scheduler "$SCHED"
expect_fail "cancel unknown job" 1 "unknown job 'j-nope'" R cancel j-nope --scheduler "$SCHED"
expect_fail "unreachable scheduler" 1 "cannot reach 127.0.0.1:1" \
    R info --scheduler tcp://127.0.0.1:1
expect_fail "bad scheduler URL" 1 "unsupported scheme" R info --scheduler http://x:1
expect_fail "URL without port" 1 "the port is missing" R jobs --scheduler tcp://localhost
expect_fail "no scheduler" 2 "--scheduler tcp://HOST:PORT is required" env -u RUNNEL_SCHEDULER "$RUNNEL" jobs
expect_fail "bad manifest" 1 "missing.yaml" R run "$T/missing.yaml" --scheduler "$SCHED"
# bytes that are not HTTP/2 at all, then a cut connection
$PY -c '
import socket, sys
for junk in (b"\x00" * 64, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 300, b"GET / HTTP/1.1\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(junk)
    s.close()
' "$PORT" && ok || bad "could not send junk"
expect_ok "still answers after junk" R info --scheduler "$SCHED" --json

# ---- SIGTERM retires a worker cleanly ----------------------------------
kill -TERM "$PID_w2"
exited() { ! alive "$1"; }
wait_for "w2 to exit" 30 exited "$PID_w2"
grep -q "retired" "$T/w2.log" && ok || bad "w2 did not retire: $(tail -3 "$T/w2.log")"
wait_for "one worker left" 10 sh -c "[ \"\$(RUNNEL_SCHEDULER=$SCHED \"$RUNNEL\" info --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 1 ]"
check "sum on one worker" "4999950000" "$(R run "$T/sum.yaml" --scheduler "$SCHED" 2>&1)"

alive "$SPID" && ok || bad "the scheduler died"
alive "$PID_w1" && ok || bad "worker w1 died"
no_sanitizer_reports
finish
