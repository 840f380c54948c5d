#!/bin/sh
# Fault tolerance and elasticity on loopback (heartbeat timeout 2 s):
#   - kill -9 a worker mid-job: the exact answer anyway;
#   - SIGSTOP a worker mid-job: declared lost, the exact answer; after
#     SIGCONT it registers again under a new id;
#   - a worker added mid-job receives work (seen in `runnel info`);
#   - a task whose plugin kills its worker, three times: the job fails
#     naming plugin, operator and partition; scheduler and the remaining
#     worker keep running.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

HB=2s
start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2
start_worker w2 --nthreads 2
build_slow || bad "cannot compile the test plugin"
R() { timeout 180 "$RUNNEL" "$@"; }

# 20 tasks of 10 elements x 25 ms, then a sum: about 1.3 s on 4 threads
cat >"$T/slow.yaml" <<Y
name: slowsum
plugins: ["$T/libslow.so"]
source: {range: {n: 200, npartitions: 20}}
steps: [{slow.sleep: {ms: 25}}, sum]
Y
check "warm-up run" "19900" "$(R run "$T/slow.yaml" --scheduler "$SCHED" 2>/dev/null)"

# run_with_fault NAME SIGNAL PID: runs the slow job, sends SIGNAL to PID
# once the job has made progress, checks the exact answer.
run_with_fault() {
    R run "$T/slow.yaml" --scheduler "$SCHED" --quiet >"$T/$1.out" 2>"$T/$1.err" &
    rpid=$!
    wait_for "progress before $1" 30 sh -c "[ \$(RUNNEL_SCHEDULER=$SCHED '$RUNNEL' jobs --json | $PY -c 'import json,sys; print(max([j[\"tasks_done\"] for j in json.load(sys.stdin) if j[\"state\"] == \"running\"] + [0]))') -ge 3 ]"
    kill "-$2" "$3"
    wait "$rpid"
    rc=$?
    check "$1: exit status" "0" "$rc"
    check "$1: exact result" "19900" "$(cat "$T/$1.out")"
    [ -s "$T/$1.err" ] && bad "$1: stderr: $(head -c 600 "$T/$1.err")" || ok
}

# ---- kill -9 -------------------------------------------------------------
run_with_fault kill9 KILL "$PID_w1"
grep -q "worker .* (w1) lost" "$T/sched.log" && ok || bad "w1 not declared lost: $(tail -5 "$T/sched.log")"
alive "$SPID" && ok || bad "the scheduler died"
alive "$PID_w2" && ok || bad "w2 died"

# ---- SIGSTOP ---------------------------------------------------------------
start_worker w3 --nthreads 2
run_with_fault sigstop STOP "$PID_w2"
grep -q "worker .* (w2) lost: no heartbeat" "$T/sched.log" && ok || bad "w2 not declared lost: $(tail -5 "$T/sched.log")"
kill -CONT "$PID_w2"
wait_for "w2 to register again" 30 sh -c "[ \$(grep -c 'registered with' '$T/w2.log') -ge 2 ]"
wait_for "two workers" 30 sh -c "[ \"\$(RUNNEL_SCHEDULER=$SCHED '$RUNNEL' info --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 2 ]"
check "after SIGCONT" "19900" "$(R run "$T/slow.yaml" --scheduler "$SCHED" 2>&1)"

# ---- a worker added mid-job receives work --------------------------------
kill -TERM "$PID_w2" # w3 alone, one job of 120 tasks x 100 ms on 2 threads
wait_for "w2 retired" 30 sh -c "[ \"\$(RUNNEL_SCHEDULER=$SCHED '$RUNNEL' info --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 1 ]"
cat >"$T/long.yaml" <<Y
name: elastic
plugins: ["$T/libslow.so"]
source: {range: {n: 600, npartitions: 120}}
steps: [{slow.sleep: {ms: 20}}, sum]
Y
R run "$T/long.yaml" --scheduler "$SCHED" --quiet >"$T/elastic.out" 2>"$T/elastic.err" &
rpid=$!
sleep 1
start_worker w4 --nthreads 2
wait "$rpid"
check "elastic: exit status" "0" "$?"
check "elastic: exact result" "179700" "$(cat "$T/elastic.out")"
done4=$(worker_done w4)
[ "${done4:-0}" -gt 0 ] && ok || bad "w4, added mid-job, ran no task ($done4): $(cat "$T/info.json")"

# ---- a plugin that kills its workers: three strikes ------------------------
start_worker w5 --nthreads 1
start_worker w6 --nthreads 1
cat >"$T/boom.yaml" <<Y
name: boom
plugins: ["$T/libslow.so"]
source: {range: {n: 100, npartitions: 10}}
steps: [{slow.boom: {at: 55}}, sum]
Y
expect_fail "three workers lost" 1 "plugin slow, operator slow.boom, partition 5" \
    R run "$T/boom.yaml" --scheduler "$SCHED"
grep -q "running on 3 workers that were lost" "$T/err" && ok || bad "boom: $(cat "$T/err")"
alive "$SPID" && ok || bad "the scheduler died"
check "one worker left" "1" "$(n_workers)"
check "the cluster still works" "19900" "$(R run "$T/slow.yaml" --scheduler "$SCHED" 2>&1)"

# ---- the scheduler goes away and comes back on the same port ------------
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
mv "$T/sched.log" "$T/sched1.log.txt"
"$RUNNEL" scheduler --listen "127.0.0.1:$PORT" --state-dir "$T/state" --heartbeat-timeout 2s \
    >"$T/sched.log" 2>&1 &
SPID=$!
CPIDS="$CPIDS $SPID"
wait_for "the new scheduler" 30 grep -q "listening at" "$T/sched.log"
wait_for "the worker to reconnect" 30 sh -c "[ \"\$(RUNNEL_SCHEDULER=$SCHED '$RUNNEL' info --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 1 ]"
R run "$T/slow.yaml" --scheduler "$SCHED" >"$T/out" 2>"$T/err"
check "after a scheduler restart" "19900" "$(cat "$T/out")"
# the plugin store is persistent: nothing was pushed again
grep -q "pushed" "$T/err" && bad "pushed again after the restart: $(cat "$T/err")" || ok

no_sanitizer_reports
finish
